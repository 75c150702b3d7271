'use strict';
// The fleet's test helpers (issue 19): a real etcd on free loopback ports, three qgate
// instances with [fleet] in front of qmock backends, and etcd's JSON gateway read directly.
// Used by tests/integration/fleet.test.js and bench/fleet_bench.js.

const http = require('http');
const path = require('path');
const {
  startQmock, startQgate, qconnect, pollUntil, deadPort,
} = require('./lib.js');

const ETCD = '/usr/bin/etcd';
const LEASE_MS = 2000;  // etcd's shortest lease is about 2 s; an instance gone leaves in that

function etcdPost(port, route, body, ms = 2000) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request({
      host: '127.0.0.1', port, path: route, method: 'POST', timeout: ms,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
    }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        try { resolve(JSON.parse(text.split('\n')[0])); } catch (e) { reject(e); }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`etcd ${route}: timed out`)));
    req.on('error', reject);
    req.end(data);
  });
}

const b64 = (s) => Buffer.from(s).toString('base64');

/** The keys under `prefix` as relative key -> value. */
async function etcdKeys(etcd, prefix) {
  const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  const r = await etcdPost(etcd.port, '/v3/kv/range', { key: b64(prefix), range_end: b64(end) });
  return Object.fromEntries((r.kvs || []).map((kv) => [
    Buffer.from(kv.key, 'base64').toString().slice(prefix.length),
    Buffer.from(kv.value || '', 'base64').toString()]));
}

/** Starts etcd on two free loopback ports (picked by binding port 0; another pair when they
 *  were taken meanwhile), its data in ctx.dir. `ports` restarts it on the same ones. */
async function startEtcd(ctx, ports = null, tries = 3) {
  for (let attempt = 0; attempt < tries; attempt++) {
    const client = ports ? ports.port : await deadPort();
    const peer = ports ? ports.peer : await deadPort();
    const url = (p) => `http://127.0.0.1:${p}`;
    const proc = ctx.spawn(`etcd-${client}`, ETCD, [
      '--name', 'fleet', '--data-dir', path.join(ctx.dir, 'etcd-data'),
      '--listen-client-urls', url(client), '--advertise-client-urls', url(client),
      '--listen-peer-urls', url(peer), '--initial-advertise-peer-urls', url(peer),
      '--initial-cluster', `fleet=${url(peer)}`, '--log-level', 'warn',
    ]);
    const up = await pollUntil(async () => {
      if (!proc.alive) return 'exited';
      try {
        const r = await etcdPost(client, '/v3/kv/range', { key: b64('x') }, 500);
        return r.header ? 'up' : null;
      } catch { return null; }
    }, { what: 'etcd answering', timeoutMs: 15000, intervalMs: 50 }).catch(() => 'slow');
    if (up === 'up') return { proc, port: client, peer };
    proc.kill();
    await proc.exited;
    if (ports) break;  // a restart keeps its ports
  }
  throw new Error('etcd did not start (see its log)');
}

/** One instance: a request listener on group rdb, consistent hashing on the first argument,
 *  `backends` from its file, and [fleet] on `etcd`. */
function startInstance(ctx, etcd, name, backends, fleet = {}, more = '') {
  const knobs = {
    etcd: `["127.0.0.1:${etcd.port}"]`, prefix: '"/it/"', instance: `"${name}"`,
    lease_ttl_ms: LEASE_MS, groups: '["rdb"]', timeout_ms: 500, ...fleet,
  };
  const extra = ['[fleet]', ...Object.entries(knobs).map(([k, v]) => `${k} = ${v}`),
    more].join('\n');
  return startQgate(ctx, {
    procName: name, shards: 2, listeners: [{ group: 'rdb', mode: 'request' }],
    backends, limits: { eject_after_failures: 2 },
    routes: [{ match: ['*'], group: 'rdb', policy: 'consistent-hash', hash_arg: 1 }],
    extra,
  });
}

async function admin(ctx, gw, text) {
  const q = await qconnect(ctx, gw.admin);
  try { return await q.k(text); } finally { await q.close(); }
}

/** .qgate.backends[] as name -> row. */
async function backendsOf(ctx, gw) {
  const [keys, values] = await admin(ctx, gw, '.qgate.backends[]');
  return Object.fromEntries(keys.map((k, i) => [k.name, { ...k, ...values[i] }]));
}

/** etcd, three qmock backends b1..b3 (files of every instance) and instances g1..g3. */
async function startFleet(ctx, fleet = {}, backendsFor = null, moreFor = () => '') {
  const etcd = await startEtcd(ctx);
  const mocks = [];
  for (const n of ['b1', 'b2', 'b3']) mocks.push(await startQmock(ctx, { name: n }));
  const files = mocks.map((m) => ({ name: m.name, group: 'rdb', port: m.port, conns: 2 }));
  const gws = [];
  for (const n of ['g1', 'g2', 'g3']) {
    gws.push(await startInstance(ctx, etcd, n, backendsFor ? backendsFor(n, files) : files,
                                 fleet, moreFor(n)));
  }
  for (const gw of gws) {
    await pollUntil(async () => (await admin(ctx, gw, '.qgate.fleet[]')).length === 3,
                    { what: 'three instances in .qgate.fleet[]', timeoutMs: 10000, intervalMs: 50 });
  }
  return { etcd, mocks, gws };
}

module.exports = {
  ETCD, LEASE_MS, etcdPost, etcdKeys, b64, startEtcd, startInstance, admin, backendsOf,
  startFleet,
};

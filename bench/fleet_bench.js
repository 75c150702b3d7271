'use strict';
// The fleet benchmark (issue 19): a real etcd, three qgate instances with [fleet]
// (tests/integration/fleet_lib.js) and qmock backends on loopback.
//  1. Propagation: CHANGES changes written straight to etcd (a backend key put, then deleted,
//     in turn); for each, the time from the write until every instance has applied it, as each
//     one reports it: its instance key's `generation` (written by its keeper as soon as its
//     watcher applied the generation) seen through a watch on instances/. p50 / p99 / max of
//     "all three applied", and of each instance alone.
//  2. Routing speed with a fleet vs without: qbench (closed loop, conns x depth) against
//     instance g1 and against a qgate with the same file and no [fleet], ROUNDS rounds
//     interleaved, SECONDS each.
// Run: QGATE_BUILD=$PWD/build node bench/fleet_bench.js [changes=200] [rounds=3] [seconds=5]
const http = require('node:http');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const lib = require(path.join(__dirname, '..', 'tests', 'integration', 'lib.js'));
const fleet = require(path.join(__dirname, '..', 'tests', 'integration', 'fleet_lib.js'));

const CHANGES = Number(process.argv[2] || 200);
const ROUNDS = Number(process.argv[3] || 3);
const SECONDS = Number(process.argv[4] || 5);
const PREFIX = '/it/';

/** Watches PREFIX + instances/ and keeps each instance's latest generation; waiters resolve
 *  when every instance reports a generation above the one given. */
function watchInstances(etcdPort) {
  const gens = {};
  const waiters = [];
  const key = Buffer.from(PREFIX + 'instances/').toString('base64');
  const end = Buffer.from(PREFIX + 'instances0').toString('base64');
  const body = JSON.stringify({ create_request: { key, range_end: end } });
  const req = http.request({ host: '127.0.0.1', port: etcdPort, path: '/v3/watch', method: 'POST' });
  let pending = '';
  req.on('response', (res) => res.on('data', (d) => {
    pending += d;
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      const now = process.hrtime.bigint();
      for (const ev of (JSON.parse(line).result || {}).events || []) {
        if (ev.type === 'DELETE') continue;
        const name = Buffer.from(ev.kv.key, 'base64').toString().slice((PREFIX + 'instances/').length);
        gens[name] = JSON.parse(Buffer.from(ev.kv.value, 'base64').toString()).generation;
        for (const w of waiters) if (!w.at[name] && gens[name] > w.before[name]) w.at[name] = now;
      }
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (Object.keys(waiters[i].before).every((n) => waiters[i].at[n])) {
          waiters[i].resolve(waiters[i].at);
          waiters.splice(i, 1);
        }
      }
    }
  }));
  req.end(body);
  return {
    gens,
    close: () => req.destroy(),
    /** Resolves with name -> hrtime when every instance in `before` passed its generation. */
    after(before, ms = 5000) {
      return lib.within(new Promise((resolve) => waiters.push({ before, at: {}, resolve })), ms,
                        'every instance applying the change');
    },
  };
}

function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
const fmt = (xs) => `p50 ${pct(xs, 50).toFixed(2)} ms, p99 ${pct(xs, 99).toFixed(2)} ms, ` +
  `max ${Math.max(...xs).toFixed(2)} ms`;

async function propagation(ctx, etcd, gws) {
  const extra = await lib.startQmock(ctx, { name: 'bx' });
  const w = watchInstances(etcd.port);
  await lib.pollUntil(() => gws.every((g) => w.gens[g.proc.name] >= 1),
                      { what: 'the watch seeing every instance', timeoutMs: 10000 });
  const all = [];
  const each = Object.fromEntries(gws.map((g) => [g.proc.name, []]));
  const value = JSON.stringify({ group: 'rdb', address: `127.0.0.1:${extra.port}` });
  for (let i = 0; i < CHANGES; i++) {
    const before = Object.fromEntries(gws.map((g) => [g.proc.name, w.gens[g.proc.name]]));
    const done = w.after(before);
    const k = fleet.b64(PREFIX + 'backends/bx');
    const t0 = process.hrtime.bigint();
    if (i % 2 === 0) await fleet.etcdPost(etcd.port, '/v3/kv/put', { key: k, value: fleet.b64(value) });
    else await fleet.etcdPost(etcd.port, '/v3/kv/deleterange', { key: k });
    const at = await done;
    const ms = (t) => Number(t - t0) / 1e6;
    for (const [n, t] of Object.entries(at)) each[n].push(ms(t));
    all.push(Math.max(...Object.values(at).map(ms)));
  }
  w.close();
  console.log(`propagation over ${CHANGES} changes (write to etcd -> applied, as reported):`);
  console.log(`  all three: ${fmt(all)}`);
  for (const [n, xs] of Object.entries(each)) console.log(`  ${n} alone: ${fmt(xs)}`);
}

function qbench(port) {
  const r = spawnSync(path.join(lib.BUILD, 'tools', 'qbench', 'qbench'), [
    '--target', `127.0.0.1:${port}`, '--conns', '8', '--depth', '8', '--duration', String(SECONDS),
    '--warmup', '1', '--json'], { encoding: 'utf8', timeout: (SECONDS + 30) * 1000 });
  if (r.status !== 0) throw new Error(`qbench: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function routingSpeed(ctx, mocks, gws) {
  const files = mocks.map((m) => ({ name: m.name, group: 'rdb', port: m.port, conns: 2 }));
  const plain = await lib.startQgate(ctx, {
    procName: 'plain', shards: 2, listeners: [{ group: 'rdb', mode: 'request' }],
    backends: files, limits: { eject_after_failures: 2 },
    routes: [{ match: ['*'], group: 'rdb', policy: 'consistent-hash', hash_arg: 1 }],
  });
  const rows = [];
  for (let r = 0; r < ROUNDS; r++) {
    const pair = [['fleet (g1)', gws[0].port], ['no fleet', plain.port]];
    for (const [label, port] of r % 2 === 0 ? pair : [...pair].reverse()) {  // order alternates
      const j = qbench(port);
      rows.push({ round: r, label, rate: j.msgs_per_s ?? j.rate ?? j.throughput, j });
      console.log(`  round ${r} ${label}: ${JSON.stringify(j)}`);
    }
  }
  return rows;
}

(async () => {
  const ctx = new lib.Ctx({ diagnostic: (m) => process.stderr.write(m + '\n') });
  try {
    const { etcd, mocks, gws } = await fleet.startFleet(ctx);
    if (CHANGES > 0) await propagation(ctx, etcd, gws);
    console.log(`routing speed, qbench --conns 8 --depth 8, ${SECONDS} s, ${ROUNDS} rounds:`);
    await routingSpeed(ctx, mocks, gws);
  } catch (e) {
    ctx.failed = true;
    ctx.dumpLogs();
    throw e;
  } finally {
    await ctx.cleanup();
  }
})();

'use strict';
// The TorQ discovery client (issue 17, src/ctl/discovery.cc): qgate asks a discovery process
// (qmock --discovery: TorQ's register, getservices, .servers.procupdate) for the rdb processes
// and serves them as the group rdb; the processes are qmocks that register themselves
// (qmock --discovery-register). What each test proves:
//  * a process is learnt from the procupdate pushed when it registers (refresh far away:
//    discovery_updates moves, discovery_refreshes does not), serves, and is listed with source
//    `discovery`; before it, a call has no backend;
//  * with refresh_ms 200: two processes serve; one killed leaves discovery, the next refresh
//    drops it from .qgate.backends[] and calls keep succeeding on the other; an hdb process
//    registered with the same discovery never becomes a backend;
//  * the discovery process killed: qgate keeps serving the last view (its failures counted),
//    reconnects when discovery is back on its port, and learns the re-registered process again;
//    SIGTERM then ends qgate (exit 0) with the discovery thread running;
//  * against a scripted discovery process in the test (lib.js startFakeBackend with
//    autoAnswer; what qmock never sends): rows qgate cannot serve (unix, a malformed host,
//    another proctype) are skipped and counted, a `:tcps://` one is a TLS backend (verified
//    against [discovery] tls_ca) and serves, a
//    host name (one /etc/hosts maps to 127.0.0.1: no DNS query leaves the box) serves, a sync
//    call from discovery is answered with a q error, the login and the getservices call are
//    what TorQ's gateway sends.

const {
  itest, assert, startQmock, startQgate, qconnect, stats, counter, waitCounter, pollUntil,
  settled, startFakeBackend, MSG, qmsg, qstr, qsym, qsyms, qlist, qtable, errorText,
} = require('./lib.js');
const { makePki } = require('./tls_lib');

/** A name /etc/hosts maps to 127.0.0.1 other than localhost (the machine's own, usually), so
 * that resolving it sends no DNS query; 'localhost' when there is none. */
function loopbackName() {
  const fs = require('node:fs');
  for (const line of fs.readFileSync('/etc/hosts', 'utf8').split('\n')) {
    const f = line.replace(/#.*/, '').trim().split(/\s+/);
    const name = f.slice(1).find((n) => n !== 'localhost' && /^[A-Za-z0-9.-]+$/.test(n));
    if (f[0] === '127.0.0.1' && name) return name;
  }
  return 'localhost';
}

function rowsOf(keyed) {
  const [keys, values] = keyed;
  return keys.map((k, i) => ({ ...k, ...values[i] }));
}

async function backends(ctx, gw) {
  const q = await qconnect(ctx, gw.admin);
  try {
    return Object.fromEntries(rowsOf(await q.k('.qgate.backends[]')).map((r) => [r.name, r]));
  } finally { await q.close(); }
}

async function waitBackends(ctx, gw, want, what) {
  let last;
  try {
    await pollUntil(async () => {
      last = Object.keys(await backends(ctx, gw)).sort();
      return JSON.stringify(last) === JSON.stringify(want);
    }, { what: `${what}: backends ${JSON.stringify(want)}`, timeoutMs: 10000, intervalMs: 50 });
  } catch (e) {
    e.message += ` (last ${JSON.stringify(last)})`;
    throw e;
  }
}

function startDiscovery(ctx, port = 0) {
  return startQmock(ctx, { name: 'disc', port, args: ['--discovery'] });
}

/** A qmock that registers with the discovery process as `procname` of `proctype`. */
function startProcess(ctx, disc, procname, proctype = 'rdb') {
  return startQmock(ctx, {
    name: procname,
    args: ['--discovery-register', `127.0.0.1:${disc.port}`, '--proctype', proctype,
      '--procname', procname, '--discovery-retry-ms', '100'],
  });
}

/** A request listener routing name[] to rdb, whose backends come from discovery only. */
function startGateway(ctx, disc, refreshMs, more = []) {
  return startQgate(ctx, {
    shards: 2,
    listeners: [{ group: 'rdb', mode: 'request' }],
    routes: [{ match: ['name'], group: 'rdb' }],
    limits: { reconnect_min_ms: 50, reconnect_max_ms: 200 },
    extra: ['[discovery]', `addresses = ["127.0.0.1:${disc.port}"]`, 'proctypes = ["rdb"]',
      `refresh_ms = ${refreshMs}`, ...more].join('\n'),
  });
}

const COLS = ['procname', 'proctype', 'hpup', 'attributes'];
/** A getservices answer (or, with `cols` in register's order, a procupdate table). */
function servicesTable(rows, cols = COLS) {
  const col = (c) => rows.map((r) => r[COLS.indexOf(c)]);
  const emptyDict = Buffer.from([99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);  // ()!()
  return qtable(cols, cols.map((c) => (c === 'attributes' ? qlist(...col(c).map(() => emptyDict))
    : qsyms(col(c)))));
}

/** `n` calls of name[]: the backends that answered, by count (errors as 'error: text'). */
async function callNames(q, n) {
  const seen = {};
  for (let i = 0; i < n; ++i) {
    const r = await settled(q.k('name', i));
    const key = r.e ? `error: ${r.e.message}` : String(r.v);
    seen[key] = (seen[key] || 0) + 1;
  }
  return seen;
}

itest('discovery: a process is learnt from the procupdate pushed when it registers, serves, ' +
  'and is listed with source discovery', async (t, ctx) => {
  const disc = await startDiscovery(ctx);
  const gw = await startGateway(ctx, disc, 60000);
  await waitCounter(ctx, gw, 'discovery_refreshes', 1);  // the first getservices, empty
  const q = await qconnect(ctx, gw.port);
  const none = await settled(q.k('name', 0));
  assert.equal(none.e && none.e.message, 'qgate: no backend available for group rdb');
  assert.deepEqual(await backends(ctx, gw), {});

  await startProcess(ctx, disc, 'rdb1');
  const s = await waitCounter(ctx, gw, 'discovery_updates', 1);
  await waitBackends(ctx, gw, ['rdb1'], 'rdb1 learnt');
  const b = (await backends(ctx, gw)).rdb1;
  assert.equal(b.source, 'discovery');
  assert.equal(b.group, 'rdb');
  assert.match(b.address, /^127\.0\.0\.1:\d+$/);
  assert.deepEqual(await callNames(q, 10), { rdb1: 10 });
  const after = await stats(ctx, gw);
  assert.equal(counter(s, 'discovery_refreshes'), 1, 'learnt from the push, not a refresh');
  assert.equal(counter(after, 'discovery_refreshes'), 1);
  assert.equal(counter(after, 'discovery_connects'), 1);
  assert.equal(counter(after, 'discovery_failures'), 0);
});

itest('discovery: two processes serve; one killed drains at the next refresh and calls go on ' +
  'to the other; a proctype not asked for is never a backend', async (t, ctx) => {
  const disc = await startDiscovery(ctx);
  const gw = await startGateway(ctx, disc, 200);
  const r1 = await startProcess(ctx, disc, 'rdb1');
  await startProcess(ctx, disc, 'rdb2');
  await startProcess(ctx, disc, 'hdb1', 'hdb');
  await waitBackends(ctx, gw, ['rdb1', 'rdb2'], 'both learnt');
  const q = await qconnect(ctx, gw.port);
  const both = await callNames(q, 40);
  assert.deepEqual(Object.keys(both).sort(), ['rdb1', 'rdb2'], JSON.stringify(both));

  const refreshes = counter(await stats(ctx, gw), 'discovery_refreshes');
  r1.proc.kill('SIGKILL');
  await waitBackends(ctx, gw, ['rdb2'], 'rdb1 dropped by a refresh');
  assert.ok(counter(await stats(ctx, gw), 'discovery_refreshes') > refreshes);
  assert.deepEqual(await callNames(q, 20), { rdb2: 20 });
  assert.equal((await backends(ctx, gw)).hdb1, undefined);
});

itest('discovery: the discovery process killed, qgate keeps serving the last view and ' +
  'reconnects when it is back', async (t, ctx) => {
  let disc = await startDiscovery(ctx);
  const gw = await startGateway(ctx, disc, 200);
  await startProcess(ctx, disc, 'rdb1');
  await waitBackends(ctx, gw, ['rdb1'], 'rdb1 learnt');
  const q = await qconnect(ctx, gw.port);

  const port = disc.port;
  disc.proc.kill('SIGKILL');
  await waitCounter(ctx, gw, 'discovery_failures', 3);  // the link lost, then reconnects refused
  assert.deepEqual(await callNames(q, 10), { rdb1: 10 }, 'the last view serves');
  assert.deepEqual(Object.keys(await backends(ctx, gw)), ['rdb1']);

  disc = await startDiscovery(ctx, port);
  const back = await waitCounter(ctx, gw, 'discovery_connects', 2, 10000);
  // rdb1 registers again (its retry timer), before or after qgate's first getservices: an
  // answer of the new discovery process lists it.
  const refreshes = counter(back, 'discovery_refreshes');
  await waitCounter(ctx, gw, 'discovery_refreshes', refreshes + 2, 10000);
  await waitBackends(ctx, gw, ['rdb1'], 'rdb1 after the restart');
  assert.deepEqual(await callNames(q, 10), { rdb1: 10 });
  // SIGTERM with the discovery link up: the discovery thread stops with the drain, exit 0.
  await q.close();
  const t0 = Date.now();
  assert.deepEqual(await gw.proc.stop('SIGTERM', 10000), { code: 0, signal: null });
  t.diagnostic(`exit after SIGTERM: ${Date.now() - t0} ms`);
});

itest('discovery: rows qgate cannot serve are skipped and counted; a sync call from the ' +
  'discovery process is answered with a q error', async (t, ctx) => {
  const rdb1 = await startQmock(ctx, { name: 'rdb1' });
  const rdb2 = await startQmock(ctx, { name: 'rdb2' });
  // A `:tcps://` hpup is a TLS backend (issue 18), verified against [discovery] tls_ca.
  const pki = makePki(ctx.dir);
  const rdbtls = await startQmock(ctx, { name: 'rdbtls', args: ['--tls-cert', pki.cert, '--tls-key', pki.key] });
  const hp = (m) => `:127.0.0.1:${m.port}`;
  const disc = await startFakeBackend(ctx, { autoAnswer: () => servicesTable([
    ['rdb1', 'rdb', hp(rdb1)],
    ['rdbtls', 'rdb', `:TCPS://127.0.0.1:${rdbtls.port}`],
    ['rdbunix', 'rdb', `:unix://${rdb2.port}`],
    ['rdbbad', 'rdb', `:bad_host:${rdb2.port}`],
    ['rdbname', 'rdb', `:${loopbackName().toUpperCase()}:${rdb2.port}`],
    ['hdb1', 'hdb', hp(rdb2)],
  ]) });
  const gw = await startGateway(ctx, disc, 60000, [`tls_ca = ${JSON.stringify(pki.ca)}`]);
  await waitBackends(ctx, gw, ['rdb1', 'rdbname', 'rdbtls'], 'the usable rows');
  const s = await stats(ctx, gw);
  assert.equal(counter(s, 'discovery_refreshes'), 1);
  assert.equal(counter(s, 'discovery_skipped'), 3, 'unix, a malformed host, hdb');
  assert.deepEqual(disc.handshakes, [Buffer.from('qgate\x03\x00', 'latin1')]);
  assert.equal(disc.frames[0][1], MSG.sync);
  assert.deepEqual(disc.frames[0].subarray(8),
    qlist(qsym('getservices'), qsyms(['rdb']), Buffer.from([0xff, 1])));

  // A sync call from discovery: a q error comes back, and the link stays up.
  disc.send(qmsg(MSG.sync, qstr('1+1')));
  await pollUntil(() => disc.frames.length >= 2, { what: 'the answer to the sync call' });
  assert.equal(disc.frames[1][1], MSG.response);
  assert.equal(errorText(disc.frames[1]), 'qgate: a discovery client answers no calls');

  // A procupdate in register's column order (proctype first) adds rdb2.
  disc.send(qmsg(MSG.async, qlist(qsym('.servers.procupdate'),
    servicesTable([['rdb2', 'rdb', hp(rdb2)]], ['proctype', 'procname', 'hpup', 'attributes']))));
  await waitBackends(ctx, gw, ['rdb1', 'rdb2', 'rdbname', 'rdbtls'], 'rdb2 pushed');
  const q = await qconnect(ctx, gw.port);
  assert.deepEqual(Object.keys(await callNames(q, 40)).sort(), ['rdb1', 'rdb2', 'rdbtls']);
  const after = await stats(ctx, gw);
  assert.ok(counter(after, 'backend_tls_handshakes') >= 1, 'rdbtls reached over TLS');
  assert.equal(counter(after, 'backend_tls_failures'), 0);
  assert.equal(counter(after, 'discovery_updates'), 1);
  assert.equal(counter(after, 'discovery_failures'), 0);
  assert.equal(counter(after, 'discovery_connects'), 1);
});

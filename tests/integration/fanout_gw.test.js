'use strict';
// Fan-out in request mode: TorQ's .gw.* calls over qmock RDB and HDB groups, decoded results
// compared with the joined table computed from each backend called directly.

const nodeq = require('node-q');
const {
  itest, assert, startStack, qconnect, stats, counter, waitCounter, assertTrades, expectedTrades,
  RawClient, MSG, qmsg, qlist, qstr, qsym, qlong, decode, netnsPeer, netnsCall, qsyms,
} = require('./lib.js');

const REQ = { mode: 'request', group: 'rdb' };
const BACKENDS = [{ name: 'rdb1', group: 'rdb' }, { name: 'hdb1', group: 'hdb' }];
const TYPES = nodeq.symbols(['rdb', 'hdb']);
const QUERY = ['getTrades', '`AAPL', 5];

const rejectsWith = (p, text) => assert.rejects(p, (e) => {
  assert.equal(e.message, text);
  return true;
});

/** getTrades[`sym;n] on each backend, called directly on its own port (qgate not involved). */
async function direct(ctx, mocks, sym, n) {
  const out = [];
  for (const name of ['rdb1', 'hdb1']) {
    const q = await qconnect(ctx, mocks[name].port, { user: 'gw', password: 'pw' });
    out.push(await q.k('getTrades', `\`${sym}`, n));
    await q.close();
  }
  return out;
}

itest('.gw.syncexec: raze of the rdb and hdb tables, in server-type order', async (t, ctx) => {
  const { gw, mocks } = await startStack(ctx, { listeners: [REQ], backends: BACKENDS });
  const q = await qconnect(ctx, gw.port);
  const parts = await direct(ctx, mocks, 'AAPL', 5);
  assertTrades(parts[0], expectedTrades('AAPL', 5), 'rdb direct');
  const got = await q.k('.gw.syncexec', QUERY, TYPES);
  assertTrades(got, [...parts[0], ...parts[1]], 'syncexec');
  const one = await q.k('.gw.syncexec', QUERY, nodeq.symbol('hdb'));
  assertTrades(one, parts[1], 'one server type');
  const s = await stats(ctx, gw);
  assert.ok(counter(s, 'fanout_joined') >= 2);
  assert.equal(counter(s, 'fanout_column_bytes_copied'), 0, 'raze of tables copies no column byte');
});

const RED = { extra: '[fanout]\nreducer = "red"\n' };
const WITH_RED = [...BACKENDS, { name: 'red1', group: 'red' }];

itest('.gw.syncexecj: raze, first, and a custom join applied by the reducer', async (t, ctx) => {
  const { gw, mocks } = await startStack(ctx, { listeners: [REQ], backends: WITH_RED, ...RED });
  const q = await qconnect(ctx, gw.port);
  const parts = await direct(ctx, mocks, 'MSFT', 4);
  assertTrades(await q.k('.gw.syncexecj', ['getTrades', '`MSFT', 4], TYPES, nodeq.symbol('raze')),
    [...parts[0], ...parts[1]], 'syncexecj raze');
  assertTrades(await q.k('.gw.syncexecj', ['getTrades', '`MSFT', 4], nodeq.symbols(['hdb', 'rdb']),
    nodeq.symbol('first')), parts[1], 'syncexecj first = the first server type');
  // counts[results] on the reducer: (join; (r1; r2)) -> count each.
  const counts = await q.k('.gw.syncexecj', ['getTrades', '`MSFT', 4], TYPES, nodeq.symbol('counts'));
  assert.deepEqual(Array.from(counts, Number), [4, 4]);
  const s = await stats(ctx, gw);
  assert.equal(counter(s, 'fanout_reducer_calls'), 1);
  // A join the reducer does not know fails with TorQ's join-failure text.
  await rejectsWith(q.k('.gw.syncexecj', ['getTrades', '`MSFT', 4], TYPES, nodeq.symbol('nosuch')),
    'failed to apply supplied join function to results: nosuch');
});

itest('.gw.asyncexec: the client sends async and reads the async reply (deferred sync)', async (t, ctx) => {
  const { gw, mocks } = await startStack(ctx, { listeners: [REQ], backends: BACKENDS });
  const q = await qconnect(ctx, gw.port);
  const parts = await direct(ctx, mocks, 'IBM', 3);
  await q.ks('.gw.asyncexec', ['getTrades', '`IBM', 3], TYPES);
  assertTrades(await q.next(), [...parts[0], ...parts[1]], 'asyncexec');
  // Missing server types: an `error: ` string, as an async message.
  await q.ks('.gw.asyncexec', ['getTrades', '`IBM', 3], nodeq.symbols(['rdb', 'other', 'x']));
  assert.equal(await q.next(),
    'error: not all of the requested server types are available; missing other x');
  // A backend's q error.
  await q.ks('.gw.asyncexec', ['fail', '`boom'], nodeq.symbol('rdb'));
  assert.equal(await q.next(), 'error: boom');
});

itest('.gw.asyncexecjpt: postback delivery, timeout, error in the postback', async (t, ctx) => {
  const { gw, mocks } = await startStack(ctx, { listeners: [REQ], backends: WITH_RED, ...RED });
  const q = await qconnect(ctx, gw.port);
  const parts = await direct(ctx, mocks, 'GOOG', 2);
  const query = ['getTrades', '`GOOG', 2];
  await q.ks('.gw.asyncexecjpt', query, TYPES, nodeq.symbol('raze'), nodeq.symbol('pb'),
    nodeq.timespan(new Date(5000)));
  const pb = await q.next();
  assert.equal(pb.length, 3, '(postback; query; result)');
  assert.equal(pb[0], 'pb');
  assert.deepEqual(pb[1], ['getTrades', 'GOOG', 2]);
  assertTrades(pb[2], [...parts[0], ...parts[1]], 'postback result');
  // A custom join through the reducer, delivered in the postback.
  await q.ks('.gw.asyncexecjpt', query, TYPES, nodeq.symbol('counts'), nodeq.symbol('pb'),
    nodeq.timespan(new Date(5000)));
  const pc = await q.next();
  assert.equal(pc[0], 'pb');
  assert.deepEqual(Array.from(pc[2], Number), [2, 2]);
  // No postback (`()`): the bare result.
  await q.ks('.gw.asyncexecjpt', query, TYPES, nodeq.symbol('raze'), [], nodeq.timespan(null));
  assertTrades(await q.next(), [...parts[0], ...parts[1]], 'no postback');
  // Timeout: the backends sleep 3 s, far past the 150 ms deadline; the answer comes at the
  // deadline (not before it), in the postback, long before the backends could have answered.
  const t0 = Date.now();
  await q.ks('.gw.asyncexecjpt', ['sleep', 3000], TYPES, nodeq.symbol('raze'), nodeq.symbol('pb'),
    nodeq.timespan(new Date(150)));
  const to = await q.next(10000);
  const waited = Date.now() - t0;
  assert.equal(to[0], 'pb');
  assert.equal(to[2], 'error: query has exceeded specified timeout value');
  // >= 149: qgate's timers and Date.now() tick in whole ms on different clocks.
  assert.ok(waited >= 149, `answered after ${waited} ms, before the 150 ms deadline`);
  assert.ok(waited < 3000, `answered after ${waited} ms: when the backends finish`);
  assert.ok(counter(await stats(ctx, gw), 'fanout_timeouts') >= 1);
});

itest('errors: missing type, q error, wrong message type, backend lost mid-query', async (t, ctx) => {
  const { gw, mocks } = await startStack(ctx, { listeners: [REQ], backends: BACKENDS });
  const q = await qconnect(ctx, gw.port);
  await rejectsWith(q.k('.gw.syncexec', QUERY, nodeq.symbols(['rdb', 'other'])),
    'not all of the requested server types are available; missing other');
  await assert.rejects(q.k('.gw.syncexec', ['fail', '`boom'], TYPES),
    (e) => /^queries failed on server\(s\) (rdb|hdb)\.  Error\(s\) were boom$/.test(e.message));
  await rejectsWith(q.k('.gw.asyncexec', QUERY, TYPES),
    'qgate: .gw.asyncexec must be sent async (neg h)');
  await rejectsWith(q.k('.gw.syncexec', QUERY), 'rank');
  // The hdb dies while it runs the query: an error, never a hang.
  const lost = rejectsWith(q.kt(10000, '.gw.syncexec', ['sleep', 3000], TYPES),
    'backend hdb server handling query closed the connection');
  await waitCounter(ctx, gw, 'backend_load_hdb1', 1);
  await mocks.hdb1.proc.stop();
  await lost;
  const s = await stats(ctx, gw);
  assert.ok(counter(s, 'fanout_errors') >= 4);
  assert.ok(counter(s, 'fanout_missing_types') >= 1);
});

itest('100 concurrent fan-out calls from 10 clients on both shards, each result checked', async (t, ctx) => {
  const { gw } = await startStack(ctx, {
    listeners: [REQ], backends: [...BACKENDS, { name: 'hdb2', group: 'hdb' }], shards: 2,
  });
  const clients = [];
  for (let i = 0; i < 10; i++) clients.push(await qconnect(ctx, gw.port));
  const calls = [];
  for (let i = 0; i < 100; i++) {
    const n = 1 + (i % 7);
    const sym = ['AAPL', 'MSFT', 'IBM'][i % 3];
    calls.push(clients[i % 10].kt(20000, '.gw.syncexec', ['getTrades', `\`${sym}`, n], TYPES)
      .then((got) => assertTrades(got, [...expectedTrades(sym, n), ...expectedTrades(sym, n)],
        `call ${i}`)));
  }
  await Promise.all(calls);
  const s = await stats(ctx, gw);
  assert.ok(counter(s, 'fanout_joined') >= 100);
  assert.ok(counter(s, 'xshard_requests') > 0, 'the groups live on different shards');
  assert.equal(counter(s, 'fanout_column_bytes_copied'), 0);
});

itest('string-form .gw.* calls (Java / Excel clients): the query text runs as value <text>', async (t, ctx) => {
  const { gw } = await startStack(ctx, { listeners: [REQ], backends: WITH_RED, ...RED });
  const q = await qconnect(ctx, gw.port);
  const want = expectedTrades('AAPL', 3);
  assertTrades(await q.k('.gw.syncexec["getTrades[`AAPL;3]";`rdb`hdb]'), [...want, ...want],
    'string-form syncexec');
  assertTrades(await q.k('.gw.syncexecj[(`getTrades;`AAPL;3);`hdb`rdb;`raze]'), [...want, ...want],
    'string-form syncexecj with a list query');
  await q.ks('.gw.asyncexecjpt["getTrades[`AAPL;3]";`rdb`hdb;`raze;`pb;0D00:00:05]');
  const pb = await q.next();
  assert.equal(pb[0], 'pb');
  // The query argument's text as written, quotes included (src/join/README.md: qgate does not
  // evaluate q, so it passes back the source, where q would pass the evaluated string).
  assert.equal(pb[1], '"getTrades[`AAPL;3]"', 'the query text is passed back');
  assertTrades(pb[2], [...want, ...want], 'string-form postback result');
  // A lambda join is sent to the reducer as a lambda (qmock cannot apply lambdas: 'type, which
  // proves it got there) and its failure is TorQ's join-failure text.
  await assert.rejects(q.k('.gw.syncexecj[(`getTrades;`AAPL;3);`rdb`hdb;{count each x}]'),
    (e) => e.message === 'failed to apply supplied join function to results: type');
  assert.equal(counter(await stats(ctx, gw), 'fanout_reducer_calls'), 1);
});

itest('many parts: a reply of more iovecs than one sendmsg takes; compressed partials', async (t, ctx) => {
  const { gw, mocks } = await startStack(ctx, {
    listeners: [REQ],
    backends: [
      { name: 'rdb1', group: 'rdb', conns: 4 },
      { name: 'hdb1', group: 'hdb', mock: { compress: 'always' } },
    ],
  });
  const q = await qconnect(ctx, gw.port);
  // 24 parts of a 4-column table: 3 + 4 x 25 = 103 iovecs, over io::kIovMax (64) per sendmsg.
  const types = nodeq.symbols(Array(24).fill('rdb'));
  const want = expectedTrades('IBM', 6);
  const got = await q.k('.gw.syncexec', ['getTrades', '`IBM', 6], types);
  assertTrades(got, Array(24).fill(want).flat(), '24 parts');
  // hdb1 compresses its replies (q's algorithm), as a raw call to it shows; the gather
  // decompresses them for the join.
  const query = qlist(qsym('getTrades'), qsym('IBM'), qlong(300));
  const direct = await RawClient.connect(ctx, mocks.hdb1.port, { auth: 'gw:pw' });
  assert.equal((await direct.call(qmsg(MSG.sync, query))).compressed, 1, 'hdb1 compresses');
  const big = expectedTrades('IBM', 300);
  assertTrades(await q.k('.gw.syncexec', ['getTrades', '`IBM', 300], TYPES), [...big, ...big],
    'a compressed partial');
  assert.equal(counter(await stats(ctx, gw), 'fanout_column_bytes_copied'), 0);
});


itest('a remote client gets the joined reply compressed, as q would send it', async (t, ctx) => {
  // The remote client runs in a network namespace of its own, across a veth pair: qgate sees a
  // peer that is not on loopback, which is when q compresses.
  if (process.env.QGATE_NO_NETNS === '1') {
    return t.skip('QGATE_NO_NETNS=1: no network namespace, so no non-local peer');
  }
  const peer = netnsPeer(ctx);
  const { gw } = await startStack(ctx, {
    listeners: [{ ...REQ, listen: '0.0.0.0:0' }], backends: BACKENDS,
  });
  const call = qmsg(MSG.sync, qlist(qstr('.gw.syncexec'),
    qlist(qsym('getTrades'), qsym('IBM'), qlong(2000)), qsyms(['rdb', 'hdb'])));
  const want = expectedTrades('IBM', 2000);
  const remote = await netnsCall(ctx, peer, peer.hostAddr, gw.port, call);
  assert.equal(remote[1], MSG.response);
  assert.equal(remote[2], 1, 'compressed for the remote peer');
  const plainSize = Number(remote.readUInt32LE(8));  // a compressed body starts with it
  assert.ok(remote.length * 2 <= plainSize, `${remote.length} bytes, from ${plainSize}`);
  assertTrades(decode(remote), [...want, ...want], 'compressed joined reply');
  const s = await stats(ctx, gw);
  assert.equal(counter(s, 'fanout_compressed'), 1);
  assert.ok(counter(s, 'fanout_column_bytes_copied') > 0, 'compression is the one copy, counted');
  // A loopback client of the same listener gets it plain.
  const local = await RawClient.connect(ctx, gw.port);
  const r = await local.call(call);
  assert.equal(r.compressed, 0, 'plain for a loopback peer');
  assert.equal(r.length, plainSize, 'the same message, uncompressed');
  assertTrades(decode(r.frame), [...want, ...want], 'plain joined reply');
  assert.equal(counter(await stats(ctx, gw), 'fanout_compressed'), 1);
});

itest('.gw.syncexec: the parts run in parallel (two backends, 1500 ms of work each)', async (t, ctx) => {
  // qmock --work-ms --zpg defer: getTrades answers after W ms, as a -30! deferred response
  // (so the backend stays free for qgate's health and probe queries). Parts sent one
  // after the other would take at least 2W; parallel ones take W plus the plumbing. The bound
  // is the configured 2W, not a guess at how fast this machine is.
  const W = 1500;
  const slow = BACKENDS.map((b) => ({ ...b, mock: { workMs: W, zpg: 'defer' } }));
  const { gw, mocks } = await startStack(ctx, { listeners: [REQ], backends: slow });
  const q = await qconnect(ctx, gw.port);
  const t0 = Date.now();
  const parts = await direct(ctx, mocks, 'AAPL', 5);
  const serial = Date.now() - t0;
  // 1 ms per measurement: Date.now() ticks in whole ms.
  assert.ok(serial >= 2 * W - 2, `each backend works ${W} ms (two direct calls took ${serial} ms)`);
  const t1 = Date.now();
  const got = await q.k('.gw.syncexec', QUERY, TYPES);
  const fan = Date.now() - t1;
  assertTrades(got, [...parts[0], ...parts[1]], 'syncexec');
  assert.ok(fan >= W - 1, `fan-out took ${fan} ms: not before the parts' ${W} ms of work`);
  assert.ok(fan < 2 * W, `fan-out took ${fan} ms: parallel parts, not serial (${2 * W} ms)`);
});

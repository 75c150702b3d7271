'use strict';
// Fan-out lifetimes: clients that vanish mid fan-out, timeouts with parts still running, and
// the per-shard context pool (fanout.contexts_max) coming back whole afterwards.

const nodeq = require('node-q');
const {
  itest, assert, startStack, qconnect, stats, counter, waitCounter, assertTrades, expectedTrades,
} = require('./lib.js');

const REQ = { mode: 'request', group: 'rdb' };
const TYPES = nodeq.symbols(['rdb', 'hdb']);

itest('clients gone mid fan-out and timed-out fan-outs give their contexts back', async (t, ctx) => {
  const { gw } = await startStack(ctx, {
    listeners: [REQ],
    backends: [{ name: 'rdb1', group: 'rdb', conns: 2 }, { name: 'hdb1', group: 'hdb', conns: 2 }],
    shards: 1,
    extra: '[fanout]\ncontexts_max = 2\n',
  });
  // Two clients start slow fan-outs and disconnect before the parts answer.
  for (let i = 0; i < 2; i++) {
    const q = await qconnect(ctx, gw.port);
    q.kt(20000, '.gw.syncexec', ['sleep', 200], TYPES).catch(() => {});
    await waitCounter(ctx, gw, 'fanout_calls', i + 1);
    q.socket.destroy();
  }
  // Both contexts are in use now: a third fan-out is refused at once, and counted.
  const q = await qconnect(ctx, gw.port);
  await assert.rejects(q.k('.gw.syncexec', ['getTrades', '`A', 1], TYPES),
    (e) => e.message === 'qgate: busy');
  assert.ok(counter(await stats(ctx, gw), 'fanout_busy') >= 1);
  // The parts finish, their replies are discarded, and the contexts come back.
  const want = expectedTrades('A', 2);
  let ok = null;
  for (let i = 0; i < 100 && !ok; i++) {  // bounded: the sleeps end within ~400 ms
    ok = await q.k('.gw.syncexec', ['getTrades', '`A', 2], TYPES).catch(() => null);
    if (!ok) await new Promise((r) => setTimeout(r, 20));
  }
  assertTrades(ok, [...want, ...want], 'after the vanished clients');
  // Timeouts leave parts running; sequential calls past the pool size all succeed afterwards.
  for (let i = 0; i < 2; i++) {
    await q.ks('.gw.asyncexecjpt', ['sleep', 300], TYPES, nodeq.symbol('raze'), [],
      nodeq.timespan(new Date(10)));
    assert.equal(await q.next(), 'error: query has exceeded specified timeout value');
  }
  // Both contexts wait for their parts (300 ms): an async call is refused with TorQ's prefix.
  await q.ks('.gw.asyncexec', ['getTrades', '`A', 2], TYPES);
  assert.equal(await q.next(), 'error: qgate: busy');
  for (let i = 0; i < 6; i++) {
    let got = null;
    for (let k = 0; k < 100 && !got; k++) {
      got = await q.k('.gw.syncexec', ['getTrades', '`A', 2], TYPES).catch(() => null);
      if (!got) await new Promise((r) => setTimeout(r, 20));
    }
    assertTrades(got, [...want, ...want], `call ${i}`);
  }
});

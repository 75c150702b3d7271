'use strict';
// Fan-out lifetimes: clients that vanish mid fan-out, timeouts with parts still running, and
// the per-shard context pool (fanout.contexts_max) coming back whole afterwards. The backends
// are held with SIGSTOP while parts must stay outstanding, so nothing depends on a sleep
// lasting long enough; SIGCONT lets the parts finish.

const nodeq = require('node-q');
const {
  itest, assert, startStack, qconnect, stats, counter, waitCounter, pollUntil, assertTrades,
  expectedTrades,
} = require('./lib.js');

const REQ = { mode: 'request', group: 'rdb' };
const TYPES = nodeq.symbols(['rdb', 'hdb']);
const NAMES = ['rdb1', 'hdb1'];

/**
 * Waits until neither backend has a part queued or in flight. With one shard a part's reply
 * reaches its fan-out (which frees the context with its last part) before the backend's load
 * is published (pool_links.cc pool_complete), so load 0 means the contexts are back.
 */
async function partsBack(ctx, gw) {
  await pollUntil(async () => {
    const s = await stats(ctx, gw);
    return NAMES.every((n) => counter(s, `backend_load_${n}`) === 0);
  }, { what: 'every part back from its backend', timeoutMs: 10000 });
}

itest('clients gone mid fan-out and timed-out fan-outs give their contexts back', async (t, ctx) => {
  const { gw, mocks } = await startStack(ctx, {
    listeners: [REQ],
    backends: [{ name: 'rdb1', group: 'rdb', conns: 2 }, { name: 'hdb1', group: 'hdb', conns: 2 }],
    shards: 1,
    extra: '[fanout]\ncontexts_max = 2\n',
    // A stopped backend must not be failed for a slow handshake of a pool connection.
    limits: { connect_timeout_ms: 60000 },
  });
  const hold = (sig) => NAMES.forEach((n) => mocks[n].proc.kill(sig));
  const want = expectedTrades('A', 2);
  const q = await qconnect(ctx, gw.port);
  assertTrades(await q.k('.gw.syncexec', ['getTrades', '`A', 2], TYPES), [...want, ...want],
    'before');
  const calls0 = counter(await stats(ctx, gw), 'fanout_calls');

  // Two clients start fan-outs the stopped backends cannot answer, and disconnect.
  hold('SIGSTOP');
  for (let i = 0; i < 2; i++) {
    const gone = await qconnect(ctx, gw.port);
    const call = gone.kt(20000, '.gw.syncexec', ['getTrades', '`A', 1], TYPES)
      .then((v) => ({ v }), (e) => ({ e: e.message }));
    await waitCounter(ctx, gw, 'fanout_calls', calls0 + i + 1);
    gone.socket.resetAndDestroy();  // a FIN alone is a half-close, answered
    assert.deepEqual(await call, { e: 'connection closed' }, `client ${i} got no answer`);
  }
  // Both contexts are in use now: a third fan-out is refused at once, and counted.
  await assert.rejects(q.k('.gw.syncexec', ['getTrades', '`A', 1], TYPES),
    (e) => e.message === 'qgate: busy');
  assert.ok(counter(await stats(ctx, gw), 'fanout_busy') >= 1);
  // The parts finish, their replies are discarded, and the contexts come back.
  hold('SIGCONT');
  await partsBack(ctx, gw);
  assertTrades(await q.k('.gw.syncexec', ['getTrades', '`A', 2], TYPES), [...want, ...want],
    'after the vanished clients');

  // Timeouts leave parts outstanding, each holding its context.
  hold('SIGSTOP');
  for (let i = 0; i < 2; i++) {
    await q.ks('.gw.asyncexecjpt', ['getTrades', '`A', 2], TYPES, nodeq.symbol('raze'), [],
      nodeq.timespan(new Date(10)));
    assert.equal(await q.next(), 'error: query has exceeded specified timeout value');
  }
  // Both contexts wait for their parts: an async call is refused with TorQ's prefix.
  await q.ks('.gw.asyncexec', ['getTrades', '`A', 2], TYPES);
  assert.equal(await q.next(), 'error: qgate: busy');
  hold('SIGCONT');
  await partsBack(ctx, gw);
  // More sequential calls than the pool holds: each context came back after its call.
  for (let i = 0; i < 6; i++) {
    assertTrades(await q.k('.gw.syncexec', ['getTrades', '`A', 2], TYPES), [...want, ...want],
      `call ${i}`);
  }
});

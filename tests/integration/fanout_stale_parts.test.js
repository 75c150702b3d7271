'use strict';
// The chaos stall (TESTING.md "Chaos", issue 16): request calls that went unanswered until
// their route's timeout while fan-out clients shared the listener and a group was down. A
// `.gw.*` call that fails before it makes its children (TorQ's "not all of the requested
// server types are available", a custom join with no reducer, too many server types) still
// let go of the children its context had held in a previous fan-out: slots by then carrying
// other clients' calls, which were marked abandoned, so their backends skipped them or
// discarded their replies, and they waited for the timeout.
//
// Deterministic here (one shard, so every slot and context comes from one LIFO free list):
// a fan-out over rdb and hdb leaves its context's parts pointing at two freed slots; hdb is
// killed; request calls to rdb (held in flight by SIGSTOP, so nothing depends on timing) take
// those slots; a `.gw.syncexec` over rdb and hdb then fails at once ("missing hdb"). After
// SIGCONT every request call must get its own value, none the route's 'timeout'.

const nodeq = require('node-q');
const {
  itest, assert, startStack, qconnect, stats, counter, waitCounter, pollUntil,
} = require('./lib.js');

const TYPES = nodeq.symbols(['rdb', 'hdb']);
const CALLS = 4;

itest('a fan-out refused for a missing server type leaves other clients\' calls alone',
  { timeout: 60000 }, async (t, ctx) => {
    const { gw, mocks } = await startStack(ctx, {
      listeners: [{ mode: 'request', group: 'rdb' }],
      backends: [{ name: 'rdb1', group: 'rdb', conns: 1 }, { name: 'hdb1', group: 'hdb', conns: 1 }],
      routes: [{ match: ['*'], group: 'rdb', timeout_ms: 3000 }],
      shards: 1,
      // hdb1 is ejected at its first refused reconnect; a stopped rdb1 is not failed for it.
      limits: { eject_after_failures: 1, reconnect_min_ms: 20, reconnect_max_ms: 100,
        connect_timeout_ms: 60000 },
    });
    const fan = await qconnect(ctx, gw.port);
    const got = await fan.k('.gw.syncexec', ['tag', '`f'], TYPES);
    assert.deepEqual(got, [['rdb1', 'f'], ['hdb1', 'f']].flat(), 'the fan-out joins both parts');

    mocks.hdb1.proc.kill('SIGKILL');
    await pollUntil(async () => counter(await stats(ctx, gw), 'backend_live_hdb1') === 0,
      { what: 'hdb1 ejected', timeoutMs: 10000 });

    // Request calls held in flight on a stopped rdb1: they take the slots freed last (the
    // fan-out's parts) from the shard's free list.
    mocks.rdb1.proc.kill('SIGSTOP');
    const s0 = await stats(ctx, gw);
    const clients = [];
    for (let i = 0; i < CALLS; i++) clients.push(await qconnect(ctx, gw.port));
    const calls = clients.map((q, i) => q.kt(15000, 'tag', nodeq.symbol(`r${i}`))
      .then((v) => ({ v }), (e) => ({ e: e.message })));
    await pollUntil(async () => counter(await stats(ctx, gw), 'backend_load_rdb1') === CALLS,
      { what: `${CALLS} calls at rdb1`, timeoutMs: 10000 });

    // The same context, refused before it has children.
    await assert.rejects(fan.k('.gw.syncexec', ['tag', '`g'], TYPES),
      (e) => e.message === 'not all of the requested server types are available; missing hdb');

    mocks.rdb1.proc.kill('SIGCONT');
    const out = await Promise.all(calls);
    assert.deepEqual(out, clients.map((_, i) => ({ v: ['rdb1', `r${i}`] })),
      'every request call answered with its own value (none abandoned to its timeout)');
    const s = await waitCounter(ctx, gw, 'requests_routed', counter(s0, 'requests_routed') + CALLS);
    assert.equal(counter(s, 'request_timeouts'), counter(s0, 'request_timeouts'), 'no timeout');
    assert.equal(counter(s, 'request_late_replies'), counter(s0, 'request_late_replies'),
      'no reply discarded as late');
    assert.equal(counter(s, 'bugs'), 0, 'no checked invariant broken');
  });

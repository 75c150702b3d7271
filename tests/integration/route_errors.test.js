'use strict';
// Request mode when things go wrong: every error qgate writes, reached for real, as a q error
// (response frame, type -128) a client can trap; backend errors passing through unchanged; a
// backend killed mid-query; ejection and recovery; clients vanishing with calls queued.

const {
  itest, assert, startStack, startQmock, qconnect, RawClient, MSG, qmsg, qlist, qstr, qsym, qlong,
  errorText, stats, counter, waitCounter,
} = require('./lib.js');

const REQ = { mode: 'request', group: 'rdb' };
// Tests of the backend's queue use one connection carrying one call at a time (pipeline off):
// later calls then wait in the queue, where busy, skipping and re-routing apply.
const FAST_HEALTH = { reconnect_min_ms: 20, reconnect_max_ms: 200, eject_after_failures: 2 };

const rejectsWith = (p, text) => assert.rejects(p, (e) => {
  assert.equal(e.message, text);
  return true;
});

itest('no route, backend q error, and the raw error frame', async (t, ctx) => {
  const { gw } = await startStack(ctx, {
    listeners: [REQ],
    routes: [{ match: ['tag', 'fail', 'echo'], group: 'rdb' }],
  });
  const q = await qconnect(ctx, gw.port);
  await rejectsWith(q.k('nosuch', 1), 'qgate: no route for nosuch');
  await rejectsWith(q.k('1+1'), 'qgate: no route for <string query>');
  await rejectsWith(q.k('fail', '`boom'), 'boom');  // the backend's own error, unchanged
  assert.equal(await q.k('echo', 5), 5, 'the connection is still good');
  const raw = await RawClient.connect(ctx, gw.port);
  const r = await raw.call(qmsg(MSG.sync, qlist(qstr('.foo.bar'), qlong(1))));
  assert.equal(r.type, MSG.response);
  assert.equal(r.frame[8], 0x80, 'type -128');
  assert.equal(errorText(r.frame), 'qgate: no route for .foo.bar');
  // An async call with no route is dropped (q tells an async caller nothing), and counted.
  await raw.write(qmsg(MSG.async, qlist(qstr('nosuch'), qlong(1))));
  const s = await waitCounter(ctx, gw, 'async_dropped', 1);
  assert.ok(counter(s, 'request_no_route') >= 3);
});

itest('no backend available: a group whose backends are all down', async (t, ctx) => {
  const { gw } = await startStack(ctx, {
    listeners: [REQ],
    backends: [{ name: 'rdb1' }, { name: 'hdb1', group: 'hdb', mock: false }],
    routes: [{ match: ['hist*'], group: 'hdb' }, { match: ['*'], group: 'rdb' }],
    limits: FAST_HEALTH,
  });
  await waitCounter(ctx, gw, 'backends_ejected', 1, 10000);
  const q = await qconnect(ctx, gw.port);
  await rejectsWith(q.k('histTrades', 1), 'qgate: no backend available for group hdb');
  assert.equal(await q.k('name[]'), 'rdb1', 'the other group is served');
  const s = await stats(ctx, gw);
  assert.equal(counter(s, 'backend_live_hdb1'), 0);
  assert.ok(counter(s, 'request_no_backend') >= 1);
});

itest('busy: a full queue rejects at once; timeout: answered, late reply discarded', async (t, ctx) => {
  const { gw } = await startStack(ctx, {
    listeners: [REQ],
    backends: [{ name: 'rdb1', conns: 1, pipeline: 'off' }],
    routes: [
      { match: ['sleep'], group: 'rdb', queue_max: 1 },
      { match: ['slowly'], group: 'rdb', timeout_ms: 200 },
      { match: ['*'], group: 'rdb', queue_max: 1 },
    ],
  });
  const a = await qconnect(ctx, gw.port);
  const b = await qconnect(ctx, gw.port);
  const c = await qconnect(ctx, gw.port);
  const inflight = a.kt(20000, 'sleep', 600);
  await waitCounter(ctx, gw, 'backend_load_rdb1', 1);
  const queued = b.kt(20000, 'echo', 2);
  await waitCounter(ctx, gw, 'backend_load_rdb1', 2);
  await rejectsWith(c.k('echo', 3), 'qgate: busy');
  assert.equal(await inflight, 600);
  assert.equal(await queued, 2);
  assert.ok(counter(await stats(ctx, gw), 'request_busy') >= 1);

  // Timeout: `slowly` waits behind a sleep on the only connection and times out while queued:
  // answered at its 200 ms timeout, not before, and not when the 2 s sleep ahead of it ends.
  const blocker = a.kt(20000, 'sleep', 2000);         // occupies the only connection
  let blockerDone = false;
  const blocked = blocker.finally(() => { blockerDone = true; });
  blocked.catch(() => {});  // awaited below; this only keeps an early failure the one reported
  await waitCounter(ctx, gw, 'backend_load_rdb1', 1);
  const t0 = Date.now();
  await rejectsWith(b.kt(10000, 'slowly', 1), 'qgate: timeout after 200ms');
  const waited = Date.now() - t0;
  // >= 199: qgate's timers and Date.now() tick in whole ms on different clocks.
  assert.ok(waited >= 199, `answered after ${waited} ms, before the 200 ms timeout`);
  assert.ok(!blockerDone && waited < 2000, `answered after ${waited} ms: not at the timeout`);
  assert.equal(await blocked, 2000);
  // The timed-out call was queued: it is skipped, never sent; the connection serves the next.
  assert.equal(await b.k('echo', 9), 9);
  const s = await waitCounter(ctx, gw, 'requests_skipped', 1);
  assert.ok(counter(s, 'request_timeouts') >= 1);
});

itest('timeout while in flight: the late reply is discarded, the next call gets its own', async (t, ctx) => {
  const { gw } = await startStack(ctx, {
    listeners: [REQ],
    backends: [{ name: 'rdb1', conns: 1 }],
    routes: [{ match: ['sleep'], group: 'rdb', timeout_ms: 150 }, { match: ['*'], group: 'rdb' }],
  });
  const q = await qconnect(ctx, gw.port);
  await rejectsWith(q.kt(5000, 'sleep', 500), 'qgate: timeout after 150ms');
  assert.equal(await q.kt(5000, 'echo', 42), 42, 'not the late 500');
  const s = await waitCounter(ctx, gw, 'request_late_replies', 1);
  assert.ok(counter(s, 'request_timeouts') >= 1);
});

itest('backend killed mid-query: disconnected error; queued calls re-routed; recovery', async (t, ctx) => {
  const { gw, mocks } = await startStack(ctx, {
    listeners: [REQ],
    backends: [{ name: 'rdb1', conns: 1, pipeline: 'off' }, { name: 'rdb2', conns: 1, pipeline: 'off' }],
    routes: [{ match: ['*'], group: 'rdb', policy: 'first-available' }],
    limits: FAST_HEALTH,
  });
  const q = await qconnect(ctx, gw.port);
  const other = await qconnect(ctx, gw.port);
  assert.equal(await q.k('name[]'), 'rdb1', 'first-available: rdb1 while it lives');
  const inflight = q.kt(20000, 'sleep', 3000).then((v) => ({ v }), (e) => ({ e }));
  await waitCounter(ctx, gw, 'backend_load_rdb1', 1);
  const queued = other.kt(20000, 'tag', 1);  // waits behind the sleep on rdb1
  await waitCounter(ctx, gw, 'backend_load_rdb1', 2);
  await mocks.rdb1.proc.stop('SIGKILL');
  const r = await inflight;
  assert.ok(r.e, `sleep must fail, got ${JSON.stringify(r.v)}`);
  assert.equal(r.e.message, 'qgate: backend rdb1 disconnected');
  // The queued call was never sent: once rdb1 is ejected it is routed again, to rdb2.
  assert.deepEqual(await queued, ['rdb2', 1]);
  assert.equal(await q.k('name[]'), 'rdb2', 'the client connection survives');
  let s = await stats(ctx, gw);
  assert.ok(counter(s, 'requests_rerouted') >= 1);
  assert.ok(counter(s, 'disconnect_errors') >= 1);

  // rdb1 comes back on a new port? No: a backend's address is fixed, so restart it there.
  const port = mocks.rdb1.port;
  const revived = await startQmock(ctx, { name: 'rdb1', users: ['gw:pw'], port });
  assert.equal(revived.port, port);
  await waitCounter(ctx, gw, 'backends_recovered', 1, 10000);
  assert.equal(await q.k('name[]'), 'rdb1', 'traffic returns to the primary');
  s = await stats(ctx, gw);
  assert.equal(counter(s, 'backend_live_rdb1'), 1);
  assert.ok(counter(s, 'backend_reconnects') >= 1);
});

itest('a client that disconnects loses its queued calls; others are unaffected', async (t, ctx) => {
  const { gw } = await startStack(ctx, {
    listeners: [REQ],
    backends: [{ name: 'rdb1', conns: 1, pipeline: 'off' }],
  });
  const a = await qconnect(ctx, gw.port);
  const gone = await RawClient.connect(ctx, gw.port);
  const block = a.kt(20000, 'sleep', 400);
  await waitCounter(ctx, gw, 'backend_load_rdb1', 1);
  // Five 10 s sleeps queued behind it: running even one would hold the connection 10 s.
  const msgs = [];
  for (let i = 0; i < 5; i++) msgs.push(qmsg(MSG.sync, qlist(qstr('sleep'), qlong(10000))));
  await gone.write(Buffer.concat(msgs));
  await waitCounter(ctx, gw, 'backend_load_rdb1', 6);
  // A reset: a FIN alone is a half-close, answered (README 'Half-closed clients').
  gone.sock.resetAndDestroy();
  await waitCounter(ctx, gw, 'requests_abandoned', 5);
  assert.equal(await block, 400);
  const t0 = Date.now();
  assert.equal(await a.kt(60000, 'echo', 1), 1);
  const waited = Date.now() - t0;
  assert.ok(waited < 10000, `echo answered after ${waited} ms: an abandoned sleep ran`);
  const s = await waitCounter(ctx, gw, 'requests_skipped', 5);
  assert.equal(counter(s, 'backend_load_rdb1'), 0);
});

itest('unsolicited async from a backend on a shared connection is dropped and counted', async (t, ctx) => {
  // One pool connection: qgate reads the backend's messages in the order qmock (serial) sent
  // them, so a stray one passed on to the client would reach it before the reply of any later
  // call on that connection.
  const { gw } = await startStack(ctx, {
    listeners: [REQ], backends: [{ name: 'rdb1', conns: 1 }],
  });
  const raw = await RawClient.connect(ctx, gw.port);
  // An async call: forwarded; the backend answers it with neg[.z.w] 7, which nobody awaits.
  await raw.write(qmsg(MSG.async, qlist(qstr('defer'), qlong(7))));
  await waitCounter(ctx, gw, 'backend_unsolicited', 1);
  // callback sends the async (`upd;5) before its reply 5: the client gets the reply alone.
  const cb = await raw.call(qmsg(MSG.sync, qlist(qstr('callback'), qsym('upd'), qlong(5))));
  assert.equal(cb.type, MSG.response, 'the reply, not the async (`upd;5)');
  assert.deepEqual(cb.body, qlong(5));
  const s = await waitCounter(ctx, gw, 'backend_unsolicited', 2);
  assert.ok(counter(s, 'async_requests') >= 1);
  // Both strays are behind us on the connection: the next call's reply is the very next frame.
  const next = await raw.call(qmsg(MSG.sync, qlist(qstr('echo'), qlong(9))));
  assert.equal(next.type, MSG.response);
  assert.deepEqual(next.body, qlong(9), 'the echo reply is the next frame');
  assert.equal(raw.buffered, 0, 'nothing else reached the client');
});

itest('a call over request_bytes_max is read past and answered with an error', async (t, ctx) => {
  const { gw } = await startStack(ctx, { listeners: [REQ], limits: { request_bytes_max: 4096 } });
  const q = await qconnect(ctx, gw.port);
  const big = 'x'.repeat(10000);
  const got = await Promise.all([
    q.k('echo', 1).then((v) => ({ v })),
    q.k('echo', big).then((v) => ({ v }), (e) => ({ e: e.message })),
    q.k('echo', 3).then((v) => ({ v })),
  ]);
  assert.deepEqual(got, [{ v: 1 }, { e: 'qgate: request too large' }, { v: 3 }]);
  assert.ok(counter(await stats(ctx, gw), 'request_too_large') >= 1);
});

itest('health query: a hung backend (SIGSTOP) is ejected, and recovers on SIGCONT', async (t, ctx) => {
  const { gw, mocks } = await startStack(ctx, {
    listeners: [REQ],
    backends: [{ name: 'rdb1' }, { name: 'rdb2' }],
    limits: { ...FAST_HEALTH, health_interval_ms: 100, connect_timeout_ms: 300 },
  });
  await waitCounter(ctx, gw, 'backend_health_queries', 2);
  mocks.rdb1.proc.kill('SIGSTOP');
  await waitCounter(ctx, gw, 'backends_ejected', 1, 10000);
  let s = await stats(ctx, gw);
  assert.ok(counter(s, 'backend_health_fail') >= 1);
  assert.equal(counter(s, 'backend_live_rdb1'), 0);
  const q = await qconnect(ctx, gw.port);
  for (let i = 0; i < 4; i++) assert.equal(await q.k('name[]'), 'rdb2');
  mocks.rdb1.proc.kill('SIGCONT');
  await waitCounter(ctx, gw, 'backends_recovered', 1, 10000);
  s = await stats(ctx, gw);
  assert.equal(counter(s, 'backend_live_rdb1'), 1);
});

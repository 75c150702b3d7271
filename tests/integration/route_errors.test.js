'use strict';
// Request mode when things go wrong: every error qgate writes, reached for real, as a q error
// (response frame, type -128) a client can trap; backend errors passing through unchanged; a
// backend killed mid-query; ejection and recovery; clients vanishing with calls queued.

const {
  itest, assert, startStack, startQmock, qconnect, RawClient, MSG, qmsg, qlist, qstr, qlong,
  errorText, stats, counter, waitCounter,
} = require('./lib.js');

const REQ = { mode: 'request', group: 'rdb' };
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
    backends: [{ name: 'rdb1', conns: 1 }],
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

  // Timeout: `slowly` waits behind a sleep on the only connection and times out while queued.
  const t0 = Date.now();
  const blocker = a.kt(20000, 'sleep', 800);          // occupies the only connection
  await waitCounter(ctx, gw, 'backend_load_rdb1', 1);
  await rejectsWith(b.kt(5000, 'slowly', 1), 'qgate: timeout after 200ms');
  const waited = Date.now() - t0;
  assert.ok(waited < 700, `timed out early (${waited} ms), not after the sleep`);
  assert.equal(await blocker, 800);
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
    backends: [{ name: 'rdb1', conns: 1 }, { name: 'rdb2', conns: 1 }],
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
    backends: [{ name: 'rdb1', conns: 1 }],
  });
  const a = await qconnect(ctx, gw.port);
  const gone = await RawClient.connect(ctx, gw.port);
  const block = a.kt(20000, 'sleep', 400);
  await waitCounter(ctx, gw, 'backend_load_rdb1', 1);
  const msgs = [];
  for (let i = 0; i < 5; i++) msgs.push(qmsg(MSG.sync, qlist(qstr('sleep'), qlong(1000))));
  await gone.write(Buffer.concat(msgs));
  await waitCounter(ctx, gw, 'backend_load_rdb1', 6);
  gone.destroy();
  await waitCounter(ctx, gw, 'requests_abandoned', 5);
  assert.equal(await block, 400);
  const t0 = Date.now();
  assert.equal(await a.k('echo', 1), 1);
  assert.ok(Date.now() - t0 < 900, 'the abandoned 5 s of sleeps were skipped');
  const s = await waitCounter(ctx, gw, 'requests_skipped', 5);
  assert.equal(counter(s, 'backend_load_rdb1'), 0);
});

itest('unsolicited async from a backend on a shared connection is dropped and counted', async (t, ctx) => {
  const { gw } = await startStack(ctx, { listeners: [REQ] });
  const q = await qconnect(ctx, gw.port);
  await q.ks('defer', 7);  // async call: forwarded; the backend answers with neg[.z.w] 7
  await waitCounter(ctx, gw, 'backend_unsolicited', 1);
  assert.equal(await q.k('callback', '`upd', 5), 5, 'callback reply arrives, its async is dropped');
  const s = await waitCounter(ctx, gw, 'backend_unsolicited', 2);
  assert.ok(counter(s, 'async_requests') >= 1);
  assert.deepEqual(q.errors, [], 'nothing unexpected reached the client');
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

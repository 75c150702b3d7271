'use strict';
// README "Behaviour decisions", session mode and shutdown, one test per promise:
//  * no reachable backend: sync requests get the no-backend error, async ones are dropped and
//    counted (async_dropped);
//  * limits.drain_timeout_ms bounds a drain held up by a call that is never answered;
//  * at SIGTERM idle clients are closed at once, a busy one as soon as its call is answered.

const {
  itest, assert, startStack, qconnect, RawClient, MSG, qmsg, qlist, qstr, qlong, syncCall,
  errorText, stats, counter, waitCounter, within, delay,
} = require('./lib.js');

const NO_BACKEND = 'qgate: no backend available for group rdb';
const asyncCall = (name, ...args) => qmsg(MSG.async, qlist(qstr(name), ...args));

itest('session, no backend: N async dropped and counted, M sync answered with the error',
  async (t, ctx) => {
    const { gw } = await startStack(ctx, { backends: [{ name: 'rdb1', mock: false }] });
    // Frames that arrive with the handshake take their own path (the session keeps them until
    // the backend has failed): 2 async + 1 sync there.
    const early = await RawClient.open(ctx, gw.port);
    await early.write(Buffer.concat([Buffer.from('u:p\x03\x00', 'latin1'),
      asyncCall('echo', qlong(1)), asyncCall('echo', qlong(2)), syncCall('echo', qlong(3))]));
    assert.equal((await early.readExact(1, 10000))[0], 3, 'handshake answered');
    const e0 = await early.readFrame(10000);
    assert.equal(e0.type, MSG.response);
    assert.equal(errorText(e0.frame), NO_BACKEND);
    // Then 4 async + 2 sync interleaved, in separate writes and one batch.
    const raw = await RawClient.connect(ctx, gw.port);
    await raw.write(asyncCall('echo', qlong(4)));
    await raw.write(syncCall('echo', qlong(5)));
    await raw.write(Buffer.concat([asyncCall('echo', qlong(6)), asyncCall('echo', qlong(7)),
      syncCall('echo', qlong(8)), asyncCall('echo', qlong(9))]));
    for (let i = 0; i < 2; i++) {
      const r = await raw.readFrame(10000);
      assert.equal(r.type, MSG.response, `sync ${i + 1} answered`);
      assert.equal(errorText(r.frame), NO_BACKEND, `sync ${i + 1}`);
    }
    // A last sync: its error is the next frame, so nothing was sent for the asyncs before it.
    const last = await raw.call(syncCall('echo', qlong(10)), 10000);
    assert.equal(errorText(last.frame), NO_BACKEND, 'no frame answered an async message');
    assert.equal(raw.buffered, 0, 'nothing after the last error');
    const s = await waitCounter(ctx, gw, 'async_dropped', 6);
    assert.equal(counter(s, 'async_dropped'), 6, '2 + 4 async messages dropped');
    assert.equal(counter(s, 'no_backend_errors'), 4, '1 + 3 sync requests answered');
  });

// Sends SIGTERM and resolves with the exit and the ms it took. The shard loops have been
// idle for `idleMs` before the signal (the deadline must run from the signal, not from the
// loop's last wake-up).
async function sigterm(gw, { idleMs, boundMs }) {
  if (idleMs) await delay(idleMs);  // the condition under test, not a synchronisation
  const t0 = Date.now();
  gw.proc.kill('SIGTERM');
  const exit = await within(gw.proc.exited, boundMs, 'qgate exit after SIGTERM');
  return { exit, ms: Date.now() - t0 };
}

for (const mode of ['session', 'request']) {
  itest(`${mode} mode: drain_timeout_ms bounds a drain held up by a call never answered`,
    async (t, ctx) => {
      const DRAIN = 1500;
      const { gw } = await startStack(ctx, {
        listeners: [{ group: 'rdb', mode }],
        limits: { drain_timeout_ms: DRAIN },
      });
      const q = await qconnect(ctx, gw.port);
      assert.equal(await q.k('echo', 1), 1);
      const fwd = mode === 'session' ? 'msgs_fwd' : 'requests_routed';
      const before = counter(await stats(ctx, gw), fwd);
      // qmock sleeps far longer than the test: the call stays in flight through the drain.
      const busy = q.kt(60000, 'sleep', 50000).then((v) => ({ v }), (e) => ({ e }));
      await waitCounter(ctx, gw, fwd, before + 1);
      const { exit, ms } = await sigterm(gw, { idleMs: 1000, boundMs: DRAIN + 5000 });
      assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
      assert.ok(ms >= DRAIN - 50, `qgate waited the drain timeout (${ms} ms >= ${DRAIN})`);
      const r = await within(busy, 5000, 'busy call settles');
      assert.ok(r.e, `the call was cut off, not answered (${JSON.stringify(r.v)})`);
      assert.equal(r.e.message, 'connection closed');
    });

  itest(`${mode} mode SIGTERM: idle client closed at once, busy one after its answer, exit 0`,
    async (t, ctx) => {
      const SLEEP = 3000;
      // Three shards: whichever shard the clients land on, one holds neither them nor the
      // backend's pool, and it must still notice that the drain is over.
      const { gw } = await startStack(ctx, {
        shards: 3,
        listeners: [{ group: 'rdb', mode }],
        limits: { drain_timeout_ms: 30000 },
      });
      const idle = await qconnect(ctx, gw.port);
      assert.equal(await idle.k('echo', 1), 1);
      const q = await qconnect(ctx, gw.port);
      const fwd = mode === 'session' ? 'msgs_fwd' : 'requests_routed';
      const before = counter(await stats(ctx, gw), fwd);
      const events = [];
      const busy = q.kt(30000, 'sleep', SLEEP).then(
        (v) => { events.push('answer'); return { v }; }, (e) => ({ e }));
      const busyClosed = q.closedP.then(() => events.push('busy closed'));
      await waitCounter(ctx, gw, fwd, before + 1);  // qgate holds the call: the client is busy
      const t0 = Date.now();
      gw.proc.kill('SIGTERM');
      await idle.waitClosed(10000);
      events.push('idle closed');
      const r = await within(busy, 30000, 'busy call');
      assert.equal(r.v, SLEEP, `the busy call is answered (${r.e && r.e.message})`);
      await within(busyClosed, 10000, 'busy client closed after its answer');
      const exit = await within(gw.proc.exited, 10000, 'qgate exit');
      const ms = Date.now() - t0;
      assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
      assert.deepEqual(events, ['idle closed', 'answer', 'busy closed']);
      assert.ok(ms < 30000 - 5000, `exit followed the answer, not the drain timeout (${ms} ms)`);
    });
}

'use strict';
// README "Behaviour decisions" promises that had only weak tests, one test each:
//  * SIGINT shuts down as SIGTERM does; SIGHUP reloads the file (unchanged here: nothing
//    changes) and never drains;
//  * request mode answers the handshake with capability min(client, 3) (0 without a byte);
//  * an async call with no route is dropped and counted, and the client is sent nothing;
//  * a call timed out in flight keeps its pooled connection busy until the late reply;
//  * a client paused at requests_per_client_max is read again once half its calls are answered;
//  * a client paused at out_bytes_high is read again only below out_bytes_low;
//  * a string-form .gw.* query reaches the backend as the char vector `value <text>`.
// Where a call must stay unanswered for as long as the test says, the backend is a fake in
// this process that answers on cue (lib.js startFakeBackend), or a qmock under SIGSTOP.
// "qgate did not do X" is checked after an event that would have followed X: with one shard,
// a round trip through another backend takes several turns of the loop that would have done it.

const {
  itest, assert, startStack, startQgate, startQmock, startRecordingStack, recordedFrames,
  startFakeBackend, qgateHeldBytes, qconnect, RawClient, MSG, qmsg, qlist, qstr, qlong,
  syncText, decode, errorText, stats, counter, waitCounter, within, pollUntil, tcpQueues,
  waitRepliesHeld, waitUnreadByQgate, payloadPattern, qcall, settled, payloadReplyLen,
} = require('./lib.js');

const REQ = { mode: 'request', group: 'rdb' };
const exitOf = (e) => ({ code: e.code, signal: e.signal });

// ---------------------------------------------------------------- signals

for (const mode of ['session', 'request']) {
  itest(`${mode} mode SIGINT: idle client closed at once, busy one after its answer, exit 0`,
    async (t, ctx) => {
      const { gw, mocks } = await startStack(ctx, {
        listeners: [{ group: 'rdb', mode }], limits: { drain_timeout_ms: 30000 },
      });
      const idle = await qconnect(ctx, gw.port);
      const busy = await qconnect(ctx, gw.port);
      assert.equal(await idle.k('echo', 1), 1);
      assert.equal(await busy.k('echo', 2), 2);
      mocks.rdb1.proc.kill('SIGSTOP');  // busy's next call stays in flight until SIGCONT
      ctx.defer(() => mocks.rdb1.proc.kill('SIGCONT'));
      const fwd = mode === 'session' ? 'msgs_fwd' : 'requests_routed';
      const before = counter(await stats(ctx, gw), fwd);
      const events = [];
      const answer = settled(busy.kt(30000, 'echo', 3)).then((r) => {
        events.push('answer');
        return r;
      });
      const busyClosed = busy.closedP.then(() => events.push('busy closed'));
      await waitCounter(ctx, gw, fwd, before + 1);  // qgate holds the call: busy is busy
      gw.proc.kill('SIGINT');
      await idle.waitClosed(10000);
      events.push('idle closed');
      assert.ok(gw.proc.alive, 'qgate waits for the busy client');
      assert.deepEqual(events, ['idle closed'], 'the busy client is still connected');
      mocks.rdb1.proc.kill('SIGCONT');
      const r = await within(answer, 30000, 'the busy call');
      assert.equal(r.v, 3, `the busy call is answered (${r.e && r.e.message})`);
      await within(busyClosed, 10000, 'busy client closed after its answer');
      const exit = await within(gw.proc.exited, 10000, 'qgate exit after SIGINT');
      assert.deepEqual(exitOf(exit), { code: 0, signal: null });
      assert.deepEqual(events, ['idle closed', 'answer', 'busy closed']);
    });
}

itest('request mode SIGHUP: reloads, no drain; idle and busy clients served; SIGTERM after',
  async (t, ctx) => {
    const { gw, mocks } = await startStack(ctx, { listeners: [REQ] });
    const idle = await qconnect(ctx, gw.port);
    const busy = await qconnect(ctx, gw.port);
    assert.equal(await idle.k('echo', 1), 1);
    mocks.rdb1.proc.kill('SIGSTOP');
    ctx.defer(() => mocks.rdb1.proc.kill('SIGCONT'));
    const before = counter(await stats(ctx, gw), 'requests_routed');
    const inflight = settled(busy.kt(30000, 'echo', 2));
    await waitCounter(ctx, gw, 'requests_routed', before + 1);
    const warn = 'reload (SIGHUP): generation';
    for (let i = 1; i <= 2; i++) {  // a second one too: the first did not change anything
      // (the reload waits for every shard to adopt the generation, the busy one included)
      gw.proc.kill('SIGHUP');
      await pollUntil(() => gw.proc.logText().split(warn).length - 1 === i,
        { what: `SIGHUP reload ${i} in the qgate log`, timeoutMs: 5000 });
    }
    assert.ok(!/draining/.test(gw.proc.logText()), 'SIGHUP did not start a drain');
    // A drain would have closed the idle client at once and refused new ones.
    const late = await qconnect(ctx, gw.port);
    mocks.rdb1.proc.kill('SIGCONT');
    assert.equal((await inflight).v, 2, 'the busy call is answered');
    assert.equal(await idle.k('echo', 3), 3, 'the idle client is still served');
    assert.equal(await late.k('echo', 4), 4, 'a client connected after SIGHUP is served');
    assert.equal(await busy.k('echo', 5), 5, 'the busy client stays connected');
    assert.ok(gw.proc.alive, 'qgate survived SIGHUP');
    const exit = await gw.proc.stop('SIGTERM', 10000);
    assert.deepEqual(exitOf(exit), { code: 0, signal: null }, 'SIGTERM still shuts down');
  });

// ---------------------------------------------------------------- handshake

itest('request mode handshake: capability min(client, 3); none offered gets 0', async (t, ctx) => {
  const fake = await startFakeBackend(ctx);
  const gw = await startQgate(ctx, {
    listeners: [REQ],
    backends: [{ name: 'rdb1', group: 'rdb', port: fake.port, credentials: 'gw:pw', conns: 1 }],
  });
  const offers = [0, 1, 2, 3, 5, 6, null];
  const got = [];
  let calls = 0;
  for (const cap of offers) {
    const c = await RawClient.connect(ctx, gw.port, { cap });
    got.push(c.capability);
    // An offered 0 is a NUL: it ends the handshake (read up to its NUL, as q does), and the
    // NUL after it is the first byte of what follows. Only the answer byte is checked there.
    if (cap === 0) continue;
    const i = calls++;
    // The connection serves calls at that capability (the fake answers on cue).
    await c.write(qcall(MSG.sync, 'echo', qlong(i)));
    await fake.waitFrames(i + 1);
    assert.deepEqual(fake.frames[i], qcall(MSG.sync, 'echo', qlong(i)), `call ${i} forwarded`);
    fake.answer(qlong(i));
    const r = await c.readFrame(10000);
    assert.deepEqual(r.body, qlong(i), `client offering ${cap}: answered`);
    assert.equal(c.received, 1 + r.length, `client offering ${cap}: one byte, then the reply`);
  }
  assert.deepEqual(got, [0, 1, 2, 3, 3, 3, 0], `capabilities answered to ${offers}`);
  // The one pooled connection shook hands with the backend's credentials and capability 3.
  assert.deepEqual(fake.handshakes, [Buffer.from('gw:pw\x03\x00', 'latin1')]);
});

// ---------------------------------------------------------------- no route, timeout

itest('async calls with no route are dropped and counted; the client gets no frame',
  async (t, ctx) => {
    const { gw } = await startStack(ctx, {
      listeners: [REQ], routes: [{ match: ['echo'], group: 'rdb' }],
    });
    const raw = await RawClient.connect(ctx, gw.port);
    await raw.write(Buffer.concat([qcall(MSG.async, 'nosuch', qlong(1)),
      qmsg(MSG.async, qstr('1+1')), qcall(MSG.async, '.foo.bar', qlong(3))]));
    const r = await raw.call(qcall(MSG.sync, 'echo', qlong(4)));
    assert.equal(r.type, MSG.response);
    assert.deepEqual(r.body, qlong(4), 'the first frame answers the sync call');
    // A second sync call: once its answer is in, any frame sent before it is too.
    const r2 = await raw.call(qcall(MSG.sync, 'echo', qlong(5)));
    assert.deepEqual(r2.body, qlong(5));
    assert.equal(raw.received, 1 + r.length + r2.length, 'the two answers are all it got');
    const s = await waitCounter(ctx, gw, 'async_dropped', 3);
    assert.equal(counter(s, 'async_dropped'), 3, 'each async call without a route counted');
    assert.equal(counter(s, 'request_no_route'), 3, 'all three had no route');
  });

/** One shard, backend rdb1 = a fake answering on cue (conns 1), aux1 = a qmock (group aux). */
async function fakeStack(ctx, { routes = [], limits = {}, conns = 1 } = {}) {
  const fake = await startFakeBackend(ctx);
  const aux = await startQmock(ctx, { name: 'aux1', users: ['gw:pw'] });
  const gw = await startQgate(ctx, {
    shards: 1, listeners: [REQ], limits,
    backends: [{ name: 'rdb1', group: 'rdb', port: fake.port, credentials: 'gw:pw', conns },
      { name: 'aux1', group: 'aux', port: aux.port, credentials: 'gw:pw' }],
    routes: [...routes, { match: ['tag'], group: 'aux' }, { match: ['*'], group: 'rdb' }],
  });
  const auxq = await qconnect(ctx, gw.port);
  let n = 0;
  // A round trip through aux1 on the same (only) shard: whatever qgate was about to do for
  // the other clients when the test looked has been done by the time it returns.
  const barrier = async () => {
    n += 1;
    const got = Array.from(await auxq.k('tag', n), (x) => (typeof x === 'string' ? x : Number(x)));
    assert.deepEqual(got, ['aux1', n], 'aux round trip');
  };
  return { gw, fake, barrier, barriers: () => n };
}

itest('timeout in flight: answered at once; the connection stays busy until the late reply',
  async (t, ctx) => {
    const TIMEOUT = 300;
    const { gw, fake, barrier } = await fakeStack(ctx, {
      routes: [{ match: ['slow'], group: 'rdb', timeout_ms: TIMEOUT }],
    });
    const raw = await RawClient.connect(ctx, gw.port);
    const x = qcall(MSG.sync, 'slow', qlong(1));
    const t0 = Date.now();
    await raw.write(x);
    await fake.waitFrames(1);
    assert.deepEqual(fake.frames[0], x, 'the call is in flight at the backend');
    const r = await raw.readFrame(10000);
    const waited = Date.now() - t0;
    assert.equal(errorText(r.frame), `qgate: timeout after ${TIMEOUT}ms`);
    // >= TIMEOUT - 1: qgate's timers and Date.now() tick in whole ms on different clocks.
    assert.ok(waited >= TIMEOUT - 1, `answered after ${waited} ms, not before the timeout`);
    let s = await stats(ctx, gw);
    assert.equal(counter(s, 'request_timeouts'), 1);
    assert.equal(counter(s, 'request_late_replies'), 0, 'the backend has not answered');
    // The next call is routed to the same backend but not sent: its one connection is busy.
    const routed = counter(s, 'requests_routed');
    const y = qcall(MSG.sync, 'echo', qlong(2));
    await raw.write(y);
    await waitCounter(ctx, gw, 'requests_routed', routed + 1);
    await barrier();
    assert.equal(fake.frames.length, 1, 'the backend got nothing after the timed-out call');
    assert.equal(fake.inKernel(), 0, 'and nothing is on its way to it');
    assert.equal(counter(await stats(ctx, gw), 'backend_load_rdb1'), 2,
      'one in flight, one queued');
    fake.answer(qlong(1));  // the late reply: discarded, then the connection serves the next
    await fake.waitFrames(2);
    assert.deepEqual(fake.frames[1], y, 'the queued call is sent once the late reply came');
    s = await waitCounter(ctx, gw, 'request_late_replies', 1);
    assert.equal(counter(s, 'request_late_replies'), 1, 'the late reply was discarded');
    fake.answer(qlong(2));
    const ry = await raw.readFrame(10000);
    assert.deepEqual(ry.body, qlong(2), 'the next call gets its own answer');
    await barrier();
    assert.equal(raw.received, 1 + r.length + ry.length, 'the late reply never reached it');
  });

// ---------------------------------------------------------------- client limits

itest('requests_per_client_max: a paused client is read again once half its calls are answered',
  async (t, ctx) => {
    const QUOTA = 8;
    const { gw, fake, barrier, barriers } = await fakeStack(ctx, {
      limits: { requests_per_client_max: QUOTA },
    });
    // Calls routed: the client's, and one per barrier (auxq's).
    const routed = async () => counter(await stats(ctx, gw), 'requests_routed') - barriers();
    const raw = await RawClient.connect(ctx, gw.port);
    const echo = (i) => qcall(MSG.sync, 'echo', qlong(i));
    await raw.write(Buffer.concat(Array.from({ length: QUOTA }, (_, i) => echo(i))));
    await waitCounter(ctx, gw, 'requests_routed', QUOTA);
    await fake.waitFrames(1);
    await barrier();
    assert.equal(await routed(), QUOTA, 'the quota\'s calls are routed');
    let s = await stats(ctx, gw);
    assert.equal(counter(s, 'client_quota_pauses'), 1, 'paused at the quota');
    const late = Buffer.concat([echo(QUOTA), echo(QUOTA + 1)]);
    await raw.write(late);
    await waitUnreadByQgate(gw, raw, late.length);
    const me = raw.sock.localPort;
    const unread = () => tcpQueues(gw.port).find((q) => q.remotePort === me)?.rxQueue;
    // Answered one at a time (the one pooled connection carries one call at a time).
    for (let i = 0; i < QUOTA / 2; i++) {
      assert.equal(fake.frames.length, i + 1, `call ${i} is the one at the backend`);
      fake.answer(qlong(i));
      assert.deepEqual((await raw.readFrame(10000)).body, qlong(i), `reply ${i}`);
      await fake.waitFrames(i + 2);  // qgate took the reply and sent the next call
      if (i + 1 < QUOTA / 2) {
        await barrier();
        assert.equal(unread(), late.length, `${QUOTA - i - 1} outstanding: still not read`);
        assert.equal(await routed(), QUOTA, `${QUOTA - i - 1} outstanding: nothing more routed`);
      }
    }
    // Half answered: the held-back calls are read and routed.
    await waitUnreadByQgate(gw, raw, 0);
    await pollUntil(async () => (await routed()) === QUOTA + 2,
      { what: 'the held-back calls routed', timeoutMs: 10000 });
    for (let i = QUOTA / 2; i < QUOTA + 2; i++) {
      await fake.waitFrames(i + 1);
      fake.answer(qlong(i));
      assert.deepEqual((await raw.readFrame(10000)).body, qlong(i), `reply ${i}, in order`);
    }
    assert.deepEqual(fake.frames, Array.from({ length: QUOTA + 2 }, (_, i) => echo(i)),
      'every call reached the backend once, in order');
    s = await stats(ctx, gw);
    assert.equal(counter(s, 'client_quota_pauses'), 1, 'paused once');
  });

const KIB = 1024;
const MIB = 1 << 20;

itest('out_bytes_low: a client paused at out_bytes_high is read only once below out_bytes_low',
  async (t, ctx) => {
    // The client's kernel takes qgate's bytes in window updates of 1.5 to 6 MB on loopback
    // (receive buffer autotuning), so the band between the watermarks is twice that: a probe
    // lands inside it, and the first one below LOW still finds replies queued in qgate.
    const HIGH = 18 * MIB;
    const LOW = 8 * MIB;
    const R = 256 * KIB;
    const N = 144;  // 36 MiB of replies: HIGH, and more than the kernel buffers hold
    const { gw } = await startStack(ctx, {
      listeners: [REQ], backends: [{ name: 'rdb1', conns: 1 }],
      limits: { out_bytes_high: HIGH, out_bytes_low: LOW },
    });
    const raw = await RawClient.connect(ctx, gw.port);
    raw.sock.pause();
    await raw.write(Buffer.concat(Array.from({ length: N },
      () => qcall(MSG.sync, 'payload', qlong(R)))));
    await waitRepliesHeld(ctx, gw, raw, N * payloadReplyLen(R), HIGH + MIB, 30000);
    await raw.write(qcall(MSG.sync, 'echo', qlong(1)));  // read and routed, then the pause
    await waitCounter(ctx, gw, 'slow_reader_pauses', 1);
    const late = qcall(MSG.sync, 'echo', qlong(2));
    await raw.write(late);
    await waitUnreadByQgate(gw, raw, late.length);
    const replyTotal = N * payloadReplyLen(R) + 17;  // the payloads and echo 1's long reply
    const total = 1 + replyTotal;  // and the handshake byte
    const routed = () => stats(ctx, gw).then((s) => counter(s, 'requests_routed'));
    assert.equal(await routed(), N + 1);

    // What qgate holds once nothing moves: node paused, qgate's sends stopped by the window.
    const steadyHeld = async () => {
      let prev = null;
      return pollUntil(async () => {
        const h = await qgateHeldBytes(ctx, gw, raw, total, replyTotal);
        const same = h !== null && h === prev;
        prev = h;
        return same ? { held: h } : null;
      }, { what: 'held bytes steady', timeoutMs: 10000, intervalMs: 30 });
    };
    // Lets the client read about `n` more bytes, then stops it again.
    const readAbout = async (n) => {
      const target = raw.received + n;
      raw.sock.resume();
      await pollUntil(() => raw.received >= target,
        { what: `read to ${target}`, timeoutMs: 10000, intervalMs: 2 });
      raw.sock.pause();
    };
    const probes = [];
    let { held } = await steadyHeld();
    assert.ok(held > HIGH, `qgate held ${held} bytes, over out_bytes_high`);
    for (let step = 0; step < 400 && held > LOW; step++) {
      assert.equal(await routed(), N + 1, `held ${held} > out_bytes_low: the late call not read`);
      assert.equal(tcpQueues(gw.port).find((q) => q.remotePort === raw.sock.localPort)?.rxQueue,
        late.length, `held ${held}: the late call still unread in qgate's socket`);
      if (probes[probes.length - 1] !== held) probes.push(held);
      await readAbout(Math.max(64 * KIB, Math.min(MIB, (held - LOW) >> 3)));
      ({ held } = await steadyHeld());
    }
    t.diagnostic(`held at the probes: ${probes.join(' ')}; then ${held}`);
    assert.ok(held <= LOW, `drained to ${held}`);
    assert.ok(probes.some((h) => h < HIGH), 'some probe was below out_bytes_high');
    // Below out_bytes_low, with replies still queued in qgate: it reads the late call.
    // (held counts echo 2's reply once sent: 17 bytes less than qgate's queue.)
    assert.ok(held > 0, `qgate still holds replies (${held} bytes)`);
    await waitCounter(ctx, gw, 'requests_routed', N + 2);
    await waitUnreadByQgate(gw, raw, 0);
    raw.sock.resume();
    const want = payloadPattern(R);
    for (let i = 0; i < N; i++) {
      const f = await raw.readFrame(30000);
      assert.equal(f.length, payloadReplyLen(R), `payload ${i}: length`);
      assert.ok(f.body.subarray(6).equals(want), `payload ${i}: bytes intact`);
    }
    for (const v of [1, 2]) {
      assert.equal(Number(decode((await raw.readFrame(10000)).frame)), v, `echo ${v}, in order`);
    }
    assert.equal(counter(await stats(ctx, gw), 'slow_reader_pauses'), 1, 'paused once');
  });

// ---------------------------------------------------------------- .gw string form

itest('.gw.* string form: the backend receives the char vector `value <text>`, exactly',
  async (t, ctx) => {
    const { gw, mocks } = await startRecordingStack(ctx, {
      listeners: [REQ], backends: [{ name: 'rdb1', group: 'rdb' }, { name: 'hdb1', group: 'hdb' }],
    });
    const raw = await RawClient.connect(ctx, gw.port);
    const query = '"echo[`abc]"';  // the query argument as written in the call's text
    const r = await raw.call(syncText(`.gw.syncexec[${query};\`rdb\`hdb]`));
    assert.equal(r.type, MSG.response);
    assert.deepEqual(decode(r.frame), ['abc', 'abc'], 'raze of both results');
    const r2 = await raw.call(syncText('.gw.syncexec["tag[1 2]";`hdb]'));
    assert.deepEqual(decode(r2.frame, { long2number: true }), ['hdb1', [1, 2]]);
    assert.deepEqual(recordedFrames(mocks.rdb1.record), [syncText(`value ${query}`)],
      'rdb1 got exactly value "echo[`abc]", a sync char vector');
    assert.deepEqual(recordedFrames(mocks.hdb1.record),
      [syncText(`value ${query}`), syncText('value "tag[1 2]"')], 'hdb1 got both, as value');
  });

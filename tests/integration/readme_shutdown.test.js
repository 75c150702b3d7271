'use strict';
// README "Behaviour decisions", shutdown (SIGTERM):
//  * qgate stops accepting: while a busy client keeps it alive, a new connection is refused or
//    closed without a handshake reply;
//  * a call qgate has not read when the signal arrives is not served.
// A backend that must stay busy is a qmock stopped with SIGSTOP (its call stays in flight for
// exactly as long as the test says) and resumed with SIGCONT.
//
// "A call still on the wire" is pinned for a client that is paused (its replies piled up past
// out_bytes_high): qgate holds its replies, not the call, which waits unread in qgate's
// socket (checked in /proc/net/tcp); the backend's record shows it never got there. For a
// client with nothing in flight the order of "signal seen" and "bytes read" inside qgate
// cannot be forced from outside (both are pending events of one loop turn), so that case has
// no deterministic test.

const {
  itest, assert, startStack, startRecordingStack, recordedFrames, qconnect, RawClient, MSG,
  qmsg, qlist, qstr, qlong, decode, payloadPattern, counter, stats, waitCounter, within,
  waitRepliesHeld, waitUnreadByQgate, qcall, settled, payloadReplyLen, tryConnect,
} = require('./lib.js');


for (const mode of ['session', 'request']) {
  itest(`${mode} mode SIGTERM: a connect while a busy client keeps qgate alive gets no handshake`,
    async (t, ctx) => {
      // One shard: once the idle client is closed, the only listener has seen the drain.
      const { gw, mocks } = await startStack(ctx, {
        shards: 1, listeners: [{ group: 'rdb', mode }], limits: { drain_timeout_ms: 30000 },
      });
      const control = await tryConnect(ctx, gw.port);  // the same probe before the signal
      assert.deepEqual(control, { answered: true }, 'before SIGTERM the handshake is answered');
      const idle = await qconnect(ctx, gw.port);
      const busy = await qconnect(ctx, gw.port);
      assert.equal(await busy.k('echo', 1), 1);
      mocks.rdb1.proc.kill('SIGSTOP');
      ctx.defer(() => mocks.rdb1.proc.kill('SIGCONT'));
      const fwd = mode === 'session' ? 'msgs_fwd' : 'requests_routed';
      const before = counter(await stats(ctx, gw), fwd);
      const pending = settled(busy.kt(30000, 'echo', 2));
      await waitCounter(ctx, gw, fwd, before + 1);  // qgate holds the call: the client is busy
      gw.proc.kill('SIGTERM');
      await idle.waitClosed(10000);  // the drain has started
      const late = await tryConnect(ctx, gw.port);
      // Refused (the listener is gone), or reset / closed without a byte: a connect that was
      // already in the kernel's accept queue when the listener closed is reset by the kernel,
      // and one qgate accepts while draining is closed unread. None gets a handshake reply.
      assert.ok(['ECONNREFUSED', 'ECONNRESET'].includes(late.refused) || late.closedAfter === 0,
        `the new connection is refused or closed without a byte (${JSON.stringify(late)})`);
      assert.ok(gw.proc.alive, 'qgate was still draining (the busy client kept it alive)');
      mocks.rdb1.proc.kill('SIGCONT');
      assert.equal((await pending).v, 2, 'the busy client is answered');
      const exit = await within(gw.proc.exited, 10000, 'qgate exit');
      assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
    });
}

const MIB = 1 << 20;

itest('SIGTERM: a call qgate has not read yet is not served (paused slow reader)',
  async (t, ctx) => {
    const HIGH = MIB;
    const N = 16;
    // out_bytes_low 0: reading resumes only once every reply is sent, the moment the drain
    // finds the client idle and closes it.
    const { gw, mocks } = await startRecordingStack(ctx, {
      listeners: [{ group: 'rdb', mode: 'request' }], backends: [{ name: 'rdb1', conns: 1 }],
      limits: { out_bytes_high: HIGH, out_bytes_low: 0, drain_timeout_ms: 30000 },
    });
    const raw = await RawClient.connect(ctx, gw.port);
    raw.sock.pause();
    await raw.write(Buffer.concat(Array.from({ length: N },
      () => qcall(MSG.sync, 'payload', qlong(MIB)))));
    await waitRepliesHeld(ctx, gw, raw, N * payloadReplyLen(MIB), 2 * HIGH);
    await raw.write(qcall(MSG.sync, 'echo', qlong(1)));  // read and routed, then the pause
    await waitCounter(ctx, gw, 'slow_reader_pauses', 1);
    const late = qcall(MSG.sync, 'echo', qlong(2));
    await raw.write(late);
    await waitUnreadByQgate(gw, raw, late.length);
    assert.equal(counter(await stats(ctx, gw), 'requests_routed'), N + 1);
    gw.proc.kill('SIGTERM');
    raw.sock.resume();
    // qgate sends every reply it holds, then closes. The close finds the unread call in its
    // socket, so the kernel resets the connection and may discard replies the client has not
    // read yet: count what arrives, but the proof that the call was not served is the backend.
    const want = payloadPattern(MIB);
    const got = [];
    for (let i = 0; i < N + 2; i++) {
      let f;
      try { f = await raw.readFrame(30000); } catch (e) {
        if (e.code === 'EOF') break;
        throw e;
      }
      if (f.length === payloadReplyLen(MIB)) {
        assert.ok(f.body.subarray(6).equals(want), `payload ${i} intact`);
        got.push('payload');
      } else {
        got.push(Number(decode(f.frame)));
      }
    }
    assert.ok(!got.includes(2), `no answer to the unread call (${got.length} frames)`);
    await raw.waitEof(10000);
    const exit = await within(gw.proc.exited, 10000, 'qgate exit');
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
    const echoes = recordedFrames(mocks.rdb1.record).map((f) => decode(f, { long2number: true }))
      .filter((v) => v[0] === 'echo').map((v) => v[1]);
    assert.deepEqual(echoes, [1], 'the backend never received the unread call');
  });

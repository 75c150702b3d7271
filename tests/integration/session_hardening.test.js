'use strict';
// Issue 16, items 5, 6, 8, 9: session mode does not trust its backend (bad capability byte,
// malformed or oversized reply frames, a reply that stops half-way), a half-closed client
// (shutdown(SHUT_WR), as `printf ... | nc` does) is answered in both modes, and a bad first
// frame is counted in session mode as in request mode.

const { serveFakeQ } = require('./fake_q.js');
const {
  itest, assert, startStack, startQgate, RawClient, MSG, header, qmsg, qlong, syncCall, syncText,
  decode, errorText, stats, counter, waitCounter,
} = require('./lib.js');

/**
 * A backend in the test process: answers the handshake with `cap`, then each sync frame with
 * the raw bytes `reply(frame, i)` returns (i counts sync frames from 0; null: nothing).
 */
async function startScripted(ctx, { cap = 3, reply }) {
  const srv = await serveFakeQ(ctx, {
    cap,
    onConn: () => ({ i: 0 }),
    onFrame: (frame, sock, conn) => {
      if (frame[1] !== MSG.sync) return;
      const out = reply(frame, conn.i++);
      if (out) sock.write(out);
    },
  });
  return srv.address().port;
}

async function scriptedGateway(ctx, script, limits = {}) {
  const port = await startScripted(ctx, script);
  return startQgate(ctx, { backends: [{ name: 'fake', port }], limits });
}

const answer7 = () => qmsg(MSG.response, qlong(7));

itest('session: a backend answering capability 0xff: the client gets min(offered, answer)', async (t, ctx) => {
  const gw = await scriptedGateway(ctx, { cap: 0xff, reply: answer7 });
  for (const [offer, want] of [[3, 3], [1, 1], [6, 6], [null, 0]]) {
    const raw = await RawClient.open(ctx, gw.port);
    assert.equal(await raw.handshake('user:pw', offer), want, `client offers ${offer}`);
    assert.equal(decode((await raw.call(syncCall('echo', qlong(1)))).frame), 7);
    raw.destroy();
  }
});

itest('session: a malformed frame from the backend: the waiting call gets the disconnected error, then the close', async (t, ctx) => {
  const bad = Buffer.concat([header(MSG.response, 17, { endian: 7 }), qlong(1)]);
  const gw = await scriptedGateway(ctx, { reply: (f, i) => (i === 0 ? answer7() : bad) });
  const before = await stats(ctx, gw);
  const raw = await RawClient.connect(ctx, gw.port);
  assert.equal(decode((await raw.call(syncCall('echo', qlong(1)))).frame), 7, 'first reply fine');
  const r = await raw.call(syncCall('echo', qlong(2)));
  assert.equal(errorText(r.frame), 'qgate: backend fake disconnected');
  await raw.waitEof(5000);
  const s = await waitCounter(ctx, gw, 'malformed_frames', counter(before, 'malformed_frames') + 1);
  assert.equal(counter(s, 'disconnect_errors') - counter(before, 'disconnect_errors'), 1);
});

for (const mode of ['session', 'request']) {
  itest(`${mode} mode: a reply over message_bytes_max is refused with the disconnected error`, async (t, ctx) => {
    const { gw } = await startStack(ctx, {
      listeners: [{ group: 'rdb', mode }], limits: { message_bytes_max: 1048576 },
    });
    const raw = await RawClient.connect(ctx, gw.port);
    const ok = await raw.call(syncText('payload[1000000]'), 20000);
    assert.equal(ok.length, 8 + 6 + 1000000, 'under the limit: passes');
    const r = await raw.call(syncText('payload[1500000]'), 20000);
    assert.equal(errorText(r.frame), 'qgate: backend rdb1 disconnected');
    assert.ok(counter(await stats(ctx, gw), 'malformed_frames') >= 1);
  });
}

itest('session_reply_timeout_ms: a backend silent with a call owed: q error after the timeout, then close', async (t, ctx) => {
  const { gw } = await startStack(ctx, { limits: { session_reply_timeout_ms: 400 } });
  const raw = await RawClient.connect(ctx, gw.port);
  assert.equal(decode((await raw.call(syncCall('echo', qlong(1)))).frame), 1);
  const t0 = Date.now();
  const r = await raw.call(syncText('sleep[5000]'), 4000);
  const waited = Date.now() - t0;
  assert.equal(errorText(r.frame), 'qgate: timeout after 400ms');
  assert.ok(waited >= 390, `answered after ${waited} ms, not before the 400 ms timeout`);
  await raw.waitEof(3000);
  const s = await waitCounter(ctx, gw, 'session_reply_timeouts', 1);
  assert.equal(counter(s, 'session_reply_timeouts'), 1);
});

itest('session_reply_timeout_ms: a reply header followed by silence: the client is closed', async (t, ctx) => {
  // 8 header bytes and 2 of the 1000 announced: the message can never be completed.
  const part = Buffer.concat([header(MSG.response, 1000), Buffer.from([4, 0])]);
  const gw = await scriptedGateway(ctx, { reply: () => part }, { session_reply_timeout_ms: 300 });
  const raw = await RawClient.connect(ctx, gw.port);
  const t0 = Date.now();
  await raw.write(syncCall('echo', qlong(1)));
  const got = await raw.waitEof(5000);
  const waited = Date.now() - t0;
  assert.equal(got, 1 + part.length, 'the partial reply, then the close (no error can follow)');
  assert.ok(waited >= 290, `closed after ${waited} ms, not before the 300 ms timeout`);
  await waitCounter(ctx, gw, 'session_reply_timeouts', 1);
});

itest('session_reply_timeout_ms is off by default: a slow reply still arrives', async (t, ctx) => {
  const { gw } = await startStack(ctx);
  const raw = await RawClient.connect(ctx, gw.port);
  assert.equal(decode((await raw.call(syncText('sleep[1500]'), 5000)).frame), 1500);
  assert.equal(counter(await stats(ctx, gw), 'session_reply_timeouts'), 0);
});

for (const mode of ['session', 'request']) {
  itest(`${mode} mode: a half-closed client gets every answer, then the close`, async (t, ctx) => {
    const { gw } = await startStack(ctx, { listeners: [{ group: 'rdb', mode }] });
    // After the handshake: five calls, then shutdown(SHUT_WR).
    const raw = await RawClient.connect(ctx, gw.port);
    const calls = [];
    for (let i = 0; i < 5; i++) calls.push(syncText(i === 2 ? 'sleep[200]' : `echo[${i}]`));
    await raw.write(Buffer.concat(calls));
    raw.sock.end();
    const got = [];
    for (let i = 0; i < 5; i++) got.push(decode((await raw.readFrame(5000)).frame));
    assert.deepEqual(got.map(Number), [0, 1, 200, 3, 4]);
    await raw.waitEof(5000);
    // As `printf 'u:p\3\0<call>' | nc` does: handshake and call in one write, EOF at once.
    const nc = await RawClient.open(ctx, gw.port);
    await nc.write(Buffer.concat([Buffer.from('u:p\x03\x00', 'latin1'), syncText('echo[42]')]));
    nc.sock.end();
    assert.equal((await nc.readExact(1, 5000))[0], 3);
    assert.equal(Number(decode((await nc.readFrame(5000)).frame)), 42);
    await nc.waitEof(5000).catch((e) => { throw new Error(`nc: ${e.message}`); });
    // A call cut short by the EOF is owed nothing: the whole one before it is answered.
    const cut = await RawClient.connect(ctx, gw.port);
    const half = syncText('echo[8]');
    await cut.write(Buffer.concat([syncText('echo[7]'), half.subarray(0, 10)]));
    cut.sock.end();
    const seven = await cut.readFrame(5000);
    assert.equal(Number(decode(seven.frame)), 7);
    assert.equal(await cut.waitEof(5000).catch((e) => { throw new Error(`cut: ${e.message}`); }), 1 + seven.length, 'then the close, nothing more');
  });
}

for (const mode of ['session', 'request']) {
  itest(`${mode} mode: a bad first frame sent with the handshake is counted, and closes`, async (t, ctx) => {
    const { gw } = await startStack(ctx, { listeners: [{ group: 'rdb', mode }] });
    const before = counter(await stats(ctx, gw), 'malformed_frames');
    const raw = await RawClient.open(ctx, gw.port);
    const bad = Buffer.concat([header(9, 17), qlong(1)]);
    await raw.write(Buffer.concat([Buffer.from('u:p\x03\x00', 'latin1'), bad]));
    raw.sock.end();
    await raw.waitEof(5000);
    const s = await waitCounter(ctx, gw, 'malformed_frames', before + 1);
    assert.equal(counter(s, 'malformed_frames') - before, 1);
  });
}

'use strict';
// Session mode at the byte level: compression passes through unchanged, very large messages both
// ways, the handshake byte, malformed frames and bad handshakes.

const {
  itest, assert, startStack, qconnect, RawClient, MSG, header, qmsg, qstr, qlist, qbytesHeader,
  syncText, decode, payloadPattern, stats, counter, waitCounter, expectedTrades, syncCall, qlong,
  assertTrades,
} = require('./lib.js');

itest('handshake: one capability byte, the min of client and upstream', async (t, ctx) => {
  const { gw } = await startStack(ctx);
  // qmock answers at most 3 (q 3.x); qgate must not promise the client more than upstream does.
  for (const [cap, want] of [[3, 3], [1, 1], [6, 3], [5, 3], [null, 0]]) {
    const raw = await RawClient.open(ctx, gw.port);
    const got = await raw.handshake('user:pw', cap);
    assert.equal(got, want, `client offers ${cap === null ? 'no byte' : cap}: answer ${want}`);
    // The handshake answer is exactly one byte: nothing else follows unprompted.
    const r = await raw.call(syncCall('echo', qlong(1)));
    assert.equal(r.type, MSG.response);
    assert.equal(decode(r.frame), 1);
    raw.destroy();
  }
});

itest('compression: a compressed reply passes through byte-identical and decodes', async (t, ctx) => {
  const { gw, mocks } = await startStack(ctx, {
    backends: [{ name: 'rdb1', mock: { compress: 'always' } }],
  });
  const req = syncText('getTrades[`AAPL;1000]');
  const direct = await RawClient.connect(ctx, mocks.rdb1.port, { auth: 'gw:pw' });
  const d = await direct.call(req);
  assert.equal(d.compressed, 1, 'qmock --compress always compresses a > 2000 byte reply');
  assert.ok(d.frame.readUInt32LE(8) > 2000, 'uncompressed size over 2000 bytes');

  const raw = await RawClient.connect(ctx, gw.port);
  const g = await raw.call(req);
  assert.equal(g.type, MSG.response);
  assert.equal(g.frame[2], 1, 'header byte 2: compressed');
  assert.equal(g.length, d.length);
  assert.ok(g.frame.equals(d.frame), 'bytes identical to what qmock sends directly');
  assertTrades(decode(g.frame), expectedTrades('AAPL', 1000), 'raw');

  const q = await qconnect(ctx, gw.port);
  const rows = await q.k('getTrades[`AAPL;1000]');
  assertTrades(rows, expectedTrades('AAPL', 1000), 'node-q');

  // A small reply stays uncompressed (the 2000-byte threshold).
  const small = await raw.call(syncCall('echo', qstr('abc')));
  assert.equal(small.compressed, 0);
  assert.equal(decode(small.frame), 'abc');
});

itest('compression: a capability-0 client gets plain replies end to end', async (t, ctx) => {
  const { gw, mocks } = await startStack(ctx, {
    backends: [{ name: 'rdb1', mock: { compress: 'always' } }],
  });
  const req = syncText('getTrades[`AAPL;1000]');
  // capability 0 = a kdb+ 2.5 client: "user:pw" NUL with no capability byte
  const direct = await RawClient.connect(ctx, mocks.rdb1.port, { auth: 'gw:pw', cap: null });
  assert.equal(direct.capability, 0);
  const d = await direct.call(req);
  assert.equal(d.compressed, 0, 'qmock does not compress for capability 0');
  const raw = await RawClient.connect(ctx, gw.port, { auth: 'old:client', cap: null });
  assert.equal(raw.capability, 0);
  const g = await raw.call(req);
  assert.equal(g.compressed, 0, 'upstream leg negotiated capability 0 too: reply not compressed');
  assert.ok(g.frame.equals(d.frame), 'bytes identical to the direct capability-0 reply');
});

itest('compression: a compressed request from the client reaches the backend', async (t, ctx) => {
  // Get q's compressed encoding of a 4000-byte char vector from qmock --compress always (echo
  // of the text comes back compressed), then send that very frame back as a sync request: its
  // value is the text "xxx...", which qmock evaluates as a name, answering the error 'xxx...
  const { gw, mocks } = await startStack(ctx, {
    backends: [{ name: 'rdb1', mock: { compress: 'always' } }],
  });
  const text = 'x'.repeat(4000);
  const direct = await RawClient.connect(ctx, mocks.rdb1.port, { auth: 'gw:pw' });
  const d = await direct.call(qmsg(MSG.sync, qlist(qstr('echo'), qstr(text))));
  assert.equal(d.compressed, 1);
  const req = Buffer.from(d.frame);
  req[1] = MSG.sync;
  const raw = await RawClient.connect(ctx, gw.port);
  const r = await raw.call(req, 10000);
  assert.equal(r.type, MSG.response);
  let msg = null;
  try { decode(r.frame); } catch (e) { msg = e.message; }
  assert.equal(msg, text, 'qmock received and decompressed the request forwarded by qgate');
});

itest('64 MB reply through qgate: length and byte pattern', { timeout: 120000 }, async (t, ctx) => {
  const { gw } = await startStack(ctx);
  const n = 67108864;
  const raw = await RawClient.connect(ctx, gw.port);
  const r = await raw.call(syncText(`payload[${n}]`), 60000);
  assert.equal(r.type, MSG.response);
  assert.equal(r.length, 8 + 6 + n);
  assert.equal(r.body[0], 4, 'byte vector');
  assert.equal(r.body.readUInt32LE(2), n);
  const data = r.body.subarray(6);
  for (const i of [0, 1, 250, 251, 252, 65535, 1 << 20, n - 1]) {
    assert.equal(data[i], i % 251, `byte ${i}`);
  }
  assert.ok(data.equals(payloadPattern(n)), 'every byte follows the pattern');
  // The session still works afterwards.
  const e = await raw.call(syncCall('echo', qlong(3)));
  assert.equal(decode(e.frame), 3);
});

itest('64 MB request echoed through qgate', { timeout: 120000 }, async (t, ctx) => {
  const { gw } = await startStack(ctx);
  const n = 67108864;
  const data = payloadPattern(n);
  // a few bytes that differ from the pattern, so a shifted or reused buffer would show
  data[12345] = 0xaa; data[n - 2] = 0x55;
  const vec = Buffer.concat([qbytesHeader(n), data]);
  const raw = await RawClient.connect(ctx, gw.port);
  const r = await raw.call(qmsg(MSG.sync, qlist(qstr('echo'), vec)), 60000);
  assert.equal(r.type, MSG.response);
  assert.equal(r.length, 8 + vec.length);
  assert.ok(r.body.equals(vec), 'echoed byte vector identical');
});

// Each malformed header: what the client sends after a good handshake.
const MALFORMED = [
  ['bad endian byte 7', Buffer.concat([header(MSG.sync, 14, { endian: 7 }), Buffer.from([0xf9, 0, 0, 0, 0, 0])])],
  ['message type 9', Buffer.concat([header(9, 17), Buffer.from([0xf9, 1, 0, 0, 0, 0, 0, 0, 0])])],
  ['compressed flag 2', Buffer.concat([header(MSG.sync, 17, { compressed: 2 }), qlong(1)])],
  ['length 3', header(MSG.sync, 3)],
  ['length beyond message_bytes_max', header(MSG.sync, 2 * 1048576)],
];

itest('malformed frames: connection closed, counted, other clients unaffected', async (t, ctx) => {
  const { gw } = await startStack(ctx, { limits: { message_bytes_max: 1048576 } });
  const good = await qconnect(ctx, gw.port);
  assert.equal(await good.k('echo', 0), 0);
  const before = counter(await stats(ctx, gw), 'malformed_frames');
  let k = 0;
  for (const [what, bytes] of MALFORMED) {
    const raw = await RawClient.connect(ctx, gw.port);
    await raw.write(bytes);
    const got = await raw.waitEof(5000);
    assert.equal(got, 1, `${what}: closed with no reply (only the handshake byte received)`);
    k += 1;
    await waitCounter(ctx, gw, 'malformed_frames', before + k);
    // The concurrent client keeps working.
    assert.equal(await good.k('echo', k), k, `${what}: other client still served`);
  }
  const after = counter(await stats(ctx, gw), 'malformed_frames');
  assert.equal(after - before, MALFORMED.length, 'one malformed_frames count per bad frame');
  assert.equal(await good.k('echo', 99), 99);
});

itest('a message at exactly message_bytes_max passes, one byte more is refused', async (t, ctx) => {
  const max = 1048576;
  const { gw } = await startStack(ctx, { limits: { message_bytes_max: max } });
  // ("echo"; bytes) sized to exactly `max` bytes including the 8-byte header
  const fixed = 8 + 6 + 10 + 6; // header, list header, "echo" char vector, byte vector header
  const n = max - fixed;
  const vec = Buffer.concat([qbytesHeader(n), payloadPattern(n)]);
  const msg = qmsg(MSG.sync, qlist(qstr('echo'), vec));
  assert.equal(msg.length, max);
  const raw = await RawClient.connect(ctx, gw.port);
  const r = await raw.call(msg, 10000);
  assert.equal(r.type, MSG.response);
  assert.ok(r.body.equals(vec));

  const n2 = n + 1;
  const vec2 = Buffer.concat([qbytesHeader(n2), payloadPattern(n2)]);
  const raw2 = await RawClient.connect(ctx, gw.port);
  await raw2.write(qmsg(MSG.sync, qlist(qstr('echo'), vec2)));
  assert.equal(await raw2.waitEof(5000), 1, 'over the limit: closed without a reply');
});

itest('bad handshakes are closed; other clients unaffected', async (t, ctx) => {
  const { gw } = await startStack(ctx, { limits: { handshake_timeout_ms: 500 } });
  const good = await qconnect(ctx, gw.port);
  assert.equal(await good.k('echo', 1), 1);
  const before = counter(await stats(ctx, gw), 'handshake_fail');

  // 2000 bytes with no NUL: over handshake_bytes_max (1024 by default).
  const long = await RawClient.open(ctx, gw.port);
  await long.write(Buffer.alloc(2000, 0x41));
  assert.equal(await long.waitEof(5000), 0, 'no-NUL handshake closed without a byte');

  // Binary garbage with no NUL, then silence: closed by the handshake timeout (500 ms from the
  // accept, so not before 500 ms from before the connect; waitEof bounds it from above with a
  // ten-fold margin). Some slack below for timer rounding.
  let t0 = Date.now();
  const garbage = await RawClient.open(ctx, gw.port);
  await garbage.write(Buffer.from([0xff, 0xfe, 0x80, 0x01, 0x7f, 0x13, 0x37]));
  assert.equal(await garbage.waitEof(5000), 0);
  assert.ok(Date.now() - t0 >= 450, `closed by the timeout, not at once (${Date.now() - t0} ms)`);

  // Connect and say nothing: closed by the handshake timeout too.
  t0 = Date.now();
  const silent = await RawClient.open(ctx, gw.port);
  assert.equal(await silent.waitEof(5000), 0);
  assert.ok(Date.now() - t0 >= 450, `silent client closed after ${Date.now() - t0} ms`);

  const s = await waitCounter(ctx, gw, 'handshake_fail', before + 3);
  assert.equal(counter(s, 'handshake_fail') - before, 3, 'one handshake_fail per bad handshake');
  assert.equal(await good.k('echo', 2), 2, 'existing client still served');
  const fresh = await qconnect(ctx, gw.port);
  assert.equal(await fresh.k('echo', 3), 3, 'new client still served');
});

itest('handshake split across many writes still completes', async (t, ctx) => {
  const { gw } = await startStack(ctx);
  const raw = await RawClient.open(ctx, gw.port);
  const bytes = Buffer.concat([Buffer.from('someone:secret', 'latin1'), Buffer.from([3, 0])]);
  for (let i = 0; i < bytes.length; i++) {
    await raw.write(bytes.subarray(i, i + 1));
  }
  const cap = await raw.readExact(1, 5000);
  assert.equal(cap[0], 3);
  const r = await raw.call(syncCall('echo', qlong(4)));
  assert.equal(decode(r.frame), 4);
  // A request split at every byte boundary of its header also works.
  const req = syncCall('echo', qlong(5));
  for (let i = 0; i < req.length; i++) await raw.write(req.subarray(i, i + 1));
  assert.equal(decode((await raw.readFrame(5000)).frame), 5);
});

'use strict';
// Request mode, message bodies (src/proxy/request_bodies.cc): a call whose body is not one q
// object never reaches the backend's shared connection ('badmsg for the caller, who stays
// connected); a reply the backend compressed reaches a client that must not get it compressed
// (capability 0, or on this host) decompressed, and a remote client as the backend sent it.

const {
  itest, assert, startStack, startRecordingStack, recordedFrames, qconnect, RawClient, MSG,
  qmsg, qlist, qstr, qlong, errorText, stats, counter, waitCounter, payloadPattern,
  payloadReplyLen, decode, netnsPeer, netnsCall,
} = require('./lib.js');

const REQ = { mode: 'request', group: 'rdb' };
const N = 100000;  // payload[N]: a byte vector q would compress (i mod 251 repeats)

/** The body of a general list that claims `claimed` items but holds only `items`. */
function lyingList(claimed, ...items) {
  const h = Buffer.alloc(6);
  h.writeUInt32LE(claimed, 2);
  return Buffer.concat([h, ...items]);
}

/**
 * `msg` as a compressed message whose stream is literals only (a control byte 0 before every
 * 8 bytes): valid q compression that decompresses to exactly `msg`, whatever its body holds.
 */
function literalCompressed(msg) {
  const body = msg.subarray(8);
  const parts = [];
  for (let i = 0; i < body.length; i += 8) parts.push(Buffer.from([0]), body.subarray(i, i + 8));
  const stream = Buffer.concat(parts);
  const out = Buffer.alloc(12 + stream.length);
  msg.copy(out, 0, 0, 8);
  out[2] = 1;
  out.writeUInt32LE(out.length, 4);
  out.writeUInt32LE(msg.length, 8);
  stream.copy(out, 12);
  return out;
}

/** Checks a plain payload[N] reply frame: header byte 2 is 0, and the bytes are qmock's. */
function assertPlainPayload(r, what) {
  assert.equal(r.type, MSG.response, `${what}: a response`);
  assert.equal(r.compressed, 0, `${what}: header byte 2 (compressed) is 0`);
  assert.equal(r.length, payloadReplyLen(N), `${what}: the uncompressed length`);
  assert.equal(r.body[0], 4, `${what}: a byte vector`);
  assert.equal(r.body.readUInt32LE(2), N, `${what}: its count`);
  assert.ok(r.body.subarray(6).equals(payloadPattern(N)), `${what}: its bytes`);
}

itest('a compressed reply reaches a local client and a capability-0 client decompressed',
  async (t, ctx) => {
    const { gw, mocks } = await startStack(ctx, {
      listeners: [REQ], backends: [{ name: 'rdb1', mock: { compress: 'always' } }],
    });
    const call = qmsg(MSG.sync, qlist(qstr('payload'), qlong(N)));
    // The backend really compresses this reply (pool connections offer capability 3).
    const direct = await RawClient.connect(ctx, mocks.rdb1.port, { auth: 'gw:pw', cap: 3 });
    const d = await direct.call(call);
    assert.equal(d.compressed, 1, 'qmock --compress always compresses payload[N]');
    assert.ok(d.length * 2 < payloadReplyLen(N), `compressed to ${d.length} bytes`);

    const local = await RawClient.connect(ctx, gw.port, { cap: 3 });
    assert.equal(local.capability, 3);
    assertPlainPayload(await local.call(call), 'loopback client of capability 3');
    const old = await RawClient.connect(ctx, gw.port, { auth: 'kdb25', cap: null });
    assert.equal(old.capability, 0, 'no capability byte: capability 0');
    assertPlainPayload(await old.call(call), 'capability-0 client');
    // node-q, the usual way: the same bytes.
    const q = await qconnect(ctx, gw.port);
    const got = await q.k('payload', N);
    assert.ok(Buffer.from(got).equals(payloadPattern(N)), 'node-q gets the payload');
    assert.equal(counter(await stats(ctx, gw), 'replies_decompressed'), 3);
  });

itest('a remote client of capability 3 gets the reply as the backend compressed it',
  async (t, ctx) => {
    if (process.env.QGATE_NO_NETNS === '1') {
      return t.skip('QGATE_NO_NETNS=1: no network namespace, so no non-local peer');
    }
    const peer = netnsPeer(ctx);
    const { gw } = await startStack(ctx, {
      listeners: [{ ...REQ, listen: '0.0.0.0:0' }],
      backends: [{ name: 'rdb1', mock: { compress: 'always' } }],
    });
    const call = qmsg(MSG.sync, qlist(qstr('payload'), qlong(N)));
    const remote = await netnsCall(ctx, peer, peer.hostAddr, gw.port, call);
    assert.equal(remote[2], 1, 'compressed, as q sends it to a remote peer');
    assert.equal(remote.readUInt32LE(8), payloadReplyLen(N), 'its uncompressed length');
    assert.ok(Buffer.from(decode(remote)).equals(payloadPattern(N)), 'its bytes');
    assert.equal(counter(await stats(ctx, gw), 'replies_decompressed'), 0);
  });

itest('a malformed call is answered \'badmsg, never reaches the backend; the client goes on',
  async (t, ctx) => {
    const { gw, mocks } = await startRecordingStack(ctx, {
      listeners: [REQ], backends: [{ name: 'rdb1', conns: 1 }],
    });
    // Another client calls all along, on the same (only) backend connection.
    const other = await qconnect(ctx, gw.port);
    let stop = false;
    const others = (async () => {
      let n = 0;
      for (; n < 2000 && (!stop || n < 20); n++) {
        assert.equal(await other.k('echo', n), n, `the other client's call ${n}`);
      }
      return n;
    })();
    others.catch(() => {});  // awaited below; a failure before that is reported, not this one

    const raw = await RawClient.connect(ctx, gw.port);
    const bad = qmsg(MSG.sync, lyingList(3, qlong(7)));  // claims 3 items, holds 1
    const r = await raw.call(bad);
    assert.equal(r.type, MSG.response);
    assert.equal(errorText(r.frame), 'badmsg');
    const good = qmsg(MSG.sync, qlist(qstr('echo'), qlong(5)));
    assert.ok((await raw.call(good)).body.equals(qlong(5)), 'the next call on it is served');
    // Async: dropped, counted, and the connection still good.
    await raw.write(qmsg(MSG.async, lyingList(3, qlong(8))));
    await waitCounter(ctx, gw, 'request_malformed', 2);
    // Compressed: a lying list that decompresses, and a stream cut short (declared lengths
    // kept: the framing is intact). The same helper's good call is forwarded and answered.
    const packedGood = literalCompressed(good);
    assert.ok((await raw.call(packedGood)).body.equals(qlong(5)), 'a compressed good call');
    const packedBad = literalCompressed(qmsg(MSG.sync, lyingList(3, qlong(9))));
    assert.equal(errorText((await raw.call(packedBad)).frame), 'badmsg');
    const torn = Buffer.from(packedGood.subarray(0, packedGood.length - 1));
    torn.writeUInt32LE(torn.length, 4);
    assert.equal(errorText((await raw.call(torn)).frame), 'badmsg');
    assert.ok((await raw.call(good)).body.equals(qlong(5)), 'still served');

    stop = true;
    assert.ok(await others >= 20, 'the other client was answered throughout');
    const s = await stats(ctx, gw);
    assert.equal(counter(s, 'malformed_frames'), 4);
    assert.equal(counter(s, 'request_malformed'), 4);
    assert.equal(counter(s, 'backend_disconnect'), 0, 'the backend connection was never lost');
    const hex = recordedFrames(mocks.rdb1.record).map((f) => f.toString('hex'));
    for (const m of [bad, packedBad, torn]) {
      assert.ok(!hex.includes(m.toString('hex')), 'the backend never got a malformed call');
    }
    assert.ok(hex.includes(good.toString('hex')) && hex.includes(packedGood.toString('hex')),
      'it got the good ones, as sent');
    assert.equal(hex.filter((h) => h.startsWith('01000000')).length, 0, 'nor the async one');
  });

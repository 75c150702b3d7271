'use strict';
// Request mode, the reply path: a backend's reply is received straight into the buffer it is
// handed back in (src/proxy/pool_rx.cc). Repeated 1 MB replies, plain and fanned out, arrive
// intact; after the buffers have warmed up, reply_bytes_copied stays put while
// reply_bytes_received_direct grows by exactly the replies' sizes.

const {
  itest, assert, startStack, RawClient, MSG, qmsg, qlist, qstr, qlong, stats, counter,
  payloadPattern,
} = require('./lib.js');

const REPLY_BYTES = 1000000;  // a whole frame: under 1 MiB, so its buffer is kept
const N = REPLY_BYTES - 8 - 6;  // payload[N]: header + byte vector header + N bytes

function symbols(list) {
  const text = Buffer.from(list.map((s) => `${s}\0`).join(''), 'latin1');
  const h = Buffer.alloc(6);
  h[0] = 11;
  h.writeUInt32LE(list.length, 2);
  return Buffer.concat([h, text]);
}

/** The reply counters, summed over shards by .qgate.stats[]. */
async function replyCounters(ctx, gw) {
  const s = await stats(ctx, gw);
  return { copied: counter(s, 'reply_bytes_copied'), direct: counter(s, 'reply_bytes_received_direct') };
}

/**
 * Calls `once` in rounds of `round` until a round copies nothing (warm), bounded. Buffers
 * circulate between pool connections and request slots; each grows once.
 */
async function warmUp(ctx, gw, once, round = 3) {
  let last = await replyCounters(ctx, gw);
  for (let i = 0; i < 8; i++) {
    for (let j = 0; j < round; j++) await once();
    const now = await replyCounters(ctx, gw);
    if (now.copied === last.copied) return now;
    last = now;
  }
  assert.fail(`reply_bytes_copied still growing after 8 rounds (${last.copied})`);
}

itest('1 MB replies arrive intact with no copy once the buffers are warm', { timeout: 120000 }, async (t, ctx) => {
  const { gw } = await startStack(ctx, {
    listeners: [{ mode: 'request', group: 'rdb' }],
    backends: [{ name: 'rdb1' }],
  });
  const raw = await RawClient.connect(ctx, gw.port);
  const want = payloadPattern(N);
  const once = async () => {
    const r = await raw.call(qmsg(MSG.sync, qlist(qstr('payload'), qlong(N))), 20000);
    assert.equal(r.length, REPLY_BYTES);
    assert.equal(r.compressed, 0);
    assert.ok(r.body.subarray(6).equals(want), 'payload bytes intact');
  };
  const warm = await warmUp(ctx, gw, once);
  assert.ok(warm.copied > 0, 'the first replies grew the buffers (and said so)');
  const calls = 10;
  for (let i = 0; i < calls; i++) await once();
  const end = await replyCounters(ctx, gw);
  t.diagnostic(`warm-up copied ${warm.copied} bytes; then ${calls} replies: ` +
               `+${end.direct - warm.direct} direct, +${end.copied - warm.copied} copied`);
  assert.equal(end.copied, warm.copied, 'steady state: no reply byte copied');
  assert.equal(end.direct - warm.direct, calls * REPLY_BYTES, 'every byte landed in place');
});

itest('fan-out: 2 x 0.5 MB parts joined by raze, no copy of the parts once warm', { timeout: 120000 }, async (t, ctx) => {
  const { gw } = await startStack(ctx, {
    listeners: [{ mode: 'request', group: 'rdb' }],
    backends: [{ name: 'rdb1', group: 'rdb' }, { name: 'hdb1', group: 'hdb' }],
  });
  const raw = await RawClient.connect(ctx, gw.port);
  const half = REPLY_BYTES / 2 - 14;
  const part = payloadPattern(half);
  const call = qmsg(MSG.sync, qlist(qstr('.gw.syncexec'), qstr(`payload[${half}]`),
                                    symbols(['rdb', 'hdb'])));
  const once = async () => {
    const r = await raw.call(call, 20000);
    assert.equal(r.body[0], 4, 'a byte vector');
    assert.equal(r.body.readUInt32LE(2), 2 * half);
    assert.ok(r.body.subarray(6, 6 + half).equals(part), 'rdb part intact');
    assert.ok(r.body.subarray(6 + half).equals(part), 'hdb part intact');
  };
  const warm = await warmUp(ctx, gw, once);
  const calls = 6;
  for (let i = 0; i < calls; i++) await once();
  const end = await replyCounters(ctx, gw);
  t.diagnostic(`warm-up copied ${warm.copied} bytes; then ${calls} fan-outs: ` +
               `+${end.direct - warm.direct} direct, +${end.copied - warm.copied} copied`);
  assert.equal(end.copied, warm.copied, 'steady state: no part copied');
  assert.equal(end.direct - warm.direct, calls * 2 * (half + 14), 'both parts landed in place');
  const s = await stats(ctx, gw);
  assert.equal(counter(s, 'fanout_column_bytes_copied'), 0);
});

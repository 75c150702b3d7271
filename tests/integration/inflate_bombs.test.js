'use strict';
// Compression bombs (README, Behaviour decisions, "Compressed messages"): a few MB of q's
// compression that declare hundreds of MB once inflated. qgate refuses any compressed message
// declaring more than limits.inflate_bytes_max (64 MiB by default) before inflating a byte:
// a request-mode call gets 'badmsg and the client stays connected; a pub/sub client is closed
// (q's 'badmsg); both count in inflate_refused. qgate's peak RSS stays bounded and a canary
// client on the same shard keeps being answered while the bomb arrives.

const fs = require('node:fs');
const {
  itest, assert, startStack, startQgate, RawClient, MSG, qmsg, qlist, qstr, qsym, qlong,
  errorText, stats, counter, waitCounter, qsyms, qlongs, settled,
} = require('./lib.js');

const BOMB_BYTES = 256 << 20;  // declared once inflated: 4x the default inflate_bytes_max
const RSS_GROWTH_MAX = 96 << 20;  // the bomb itself is ~2.2 MB on the wire
const CANARY_MS_MAX = 1000;

/**
 * A compressed message of `type` whose body is a byte vector of about `total` bytes, all 'x':
 * 8 literals (the vector's header and "xx"), then matches of 257 bytes copying the run, the
 * best ratio q's format allows (~121x). Valid for q's decoder: after the literals the table
 * slot of the pair "xx" (0) holds the run, and every match refreshes it.
 */
function bomb(type, total) {
  const k = Math.floor((total - 8 - 6 - 2) / 257);  // matches
  const n = 2 + 257 * k;                           // bytes in the vector
  const head = Buffer.alloc(6);
  head[0] = 4;
  head.writeUInt32LE(n, 2);
  const parts = [Buffer.from([0]), head, Buffer.from('xx')];
  for (let i = 0; i < k; i += 8) {
    const items = Math.min(8, k - i);
    const g = Buffer.alloc(1 + 2 * items, 0xff);
    g[0] = 0xff;
    for (let j = 0; j < items; j++) g[1 + 2 * j] = 0;  // hash 0 ("xx"), length byte 255
    parts.push(g);
  }
  const stream = Buffer.concat(parts);
  const out = Buffer.alloc(12 + stream.length);
  out[0] = 1; out[1] = type; out[2] = 1;
  out.writeUInt32LE(out.length, 4);
  out.writeUInt32LE(8 + 6 + n, 8);
  stream.copy(out, 12);
  return out;
}

/** Peak resident set size of `pid` (VmHWM), bytes. */
function peakRss(pid) {
  const m = /VmHWM:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, 'VmHWM in /proc/PID/status');
  return Number(m[1]) * 1024;
}

/** Calls `once()` in a loop until stop() says so (bounded); returns the slowest call, ms. */
function canary(once, what) {
  let stop = false;
  const done = (async () => {
    let worst = 0;
    let n = 0;
    for (; n < 20000 && (!stop || n < 5); n++) {
      const t0 = process.hrtime.bigint();
      await once(n);
      worst = Math.max(worst, Number(process.hrtime.bigint() - t0) / 1e6);
    }
    return { worst, n };
  })();
  done.catch(() => {});  // awaited by the caller
  return { stop: async () => { stop = true; const r = await done; report(what, r); return r; } };
}
function report(what, r) {
  process.stdout.write(`# ${what}: ${r.n} calls, slowest ${r.worst.toFixed(1)} ms\n`);
}

itest('request mode: a compression bomb is refused (badmsg, counted), RSS stays bounded, '
  + 'a canary on the same shard keeps being answered', async (t0, ctx) => {
  // request_bytes_max raised (an operator accepting big calls): only the inflate limit
  // stands between a 2 MB call and 256 MiB of scratch.
  const { gw } = await startStack(ctx, {
    shards: 1, listeners: [{ mode: 'request', group: 'rdb' }],
    limits: { request_bytes_max: 1 << 30 },
  });
  const pid = gw.proc.pid;
  const can = await RawClient.connect(ctx, gw.port);
  const echo = (n) => can.call(qmsg(MSG.sync, qlist(qstr('echo'), qlong(n))), 60000)
    .then((r) => assert.ok(r.body.equals(qlong(n)), `canary call ${n}`));
  await echo(-1);
  // Built before the canary starts: building it blocks this process for a while.
  const b = bomb(MSG.sync, BOMB_BYTES);
  assert.ok(b.length < 3 << 20, `the bomb is ${b.length} bytes on the wire`);
  const raw = await RawClient.connect(ctx, gw.port);
  const before = peakRss(pid);
  const c = canary(echo, 'request canary during the bomb');
  const r = await raw.call(b, 60000);
  const worst = (await c.stop()).worst;
  const growth = peakRss(pid) - before;
  process.stdout.write(`# request bomb: peak RSS grew ${(growth / 2 ** 20).toFixed(1)} MiB\n`);
  assert.equal(errorText(r.frame), 'badmsg');
  const s = await stats(ctx, gw);
  assert.equal(counter(s, 'inflate_refused'), 1);
  assert.equal(counter(s, 'request_malformed'), 0, 'refused, not malformed');
  assert.ok(growth < RSS_GROWTH_MAX, `peak RSS grew ${growth >> 20} MiB`);
  assert.ok(worst < CANARY_MS_MAX, `the canary's slowest call took ${worst.toFixed(1)} ms`);
  // The client that sent it is still served.
  assert.ok((await raw.call(qmsg(MSG.sync, qlist(qstr('echo'), qlong(3))))).body.equals(qlong(3)));
});

/** .u.upd[`t; ([] sym; seq)] with one row per seq. */
function upd(type, seqs) {
  const table = Buffer.concat([Buffer.from([98, 0, 99]), qsyms(['sym', 'seq']),
    qlist(qsyms(seqs.map(() => 'IBM')), qlongs(seqs))]);
  return qmsg(type, qlist(qstr('.u.upd'), qsym('trade'), table));
}

itest('pub/sub: a compression bomb closes its publisher (counted), RSS stays bounded, '
  + 'a canary publisher on the same shard keeps being answered', async (t0, ctx) => {
  const gw = await startQgate(ctx, {
    shards: 1, listeners: [{ group: 'tp', mode: 'pubsub' }], extra: '[pubsub]',
  });
  const pid = gw.proc.pid;
  const can = await RawClient.connect(ctx, gw.port);
  const GENERIC_NULL = '010200000a0000006500';  // :: as a response
  const once = (n) => can.call(upd(MSG.sync, [n]), 60000).then((r) => {
    assert.equal(r.frame.toString('hex'), GENERIC_NULL, `canary .u.upd ${n}`);
  });
  await once(-1);
  const b = bomb(MSG.async, BOMB_BYTES);  // before the canary starts, as above
  const pub = await RawClient.connect(ctx, gw.port);
  const got = pub.received;
  const before = peakRss(pid);
  const c = canary(once, 'pub/sub canary during the bomb');
  await pub.write(b);
  const eof = await settled(pub.waitEof(20000));
  const worst = (await c.stop()).worst;
  const growth = peakRss(pid) - before;
  process.stdout.write(`# pub/sub bomb: peak RSS grew ${(growth / 2 ** 20).toFixed(1)} MiB\n`);
  assert.equal(eof.v, got, `closed without an answer (${eof.e})`);
  await waitCounter(ctx, gw, 'inflate_refused', 1);
  assert.ok(growth < RSS_GROWTH_MAX, `peak RSS grew ${growth >> 20} MiB`);
  assert.ok(worst < CANARY_MS_MAX, `the canary's slowest call took ${worst.toFixed(1)} ms`);
  const s = await stats(ctx, gw);
  assert.equal(counter(s, 'pubsub_bad_msgs'), 0, 'refused, not malformed');
});

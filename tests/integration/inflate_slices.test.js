'use strict';
// Big compressed calls in request mode (README, Behaviour decisions, "Compressed calls"): one
// that inflates past 1 MiB is parked and inflated a slice (1 MiB) per loop turn of its shard,
// so other connections of that shard are served between slices. It is answered as before
// (inflate_sliced, inflate_slices count the work); a client's later calls wait behind it, so
// its calls reach the backend in the order sent; a client that disconnects while its call is
// parked takes nothing with it.

const {
  itest, assert, startStack, RawClient, MSG, qmsg, qlist, qstr, qsym, qlong, qconnect, statsOf,
  counter, waitCounter, stats, pollUntil, within,
} = require('./lib.js');

const BIG_BYTES = 60 << 20;  // inflated: just under limits.inflate_bytes_max (64 MiB)
const SLICE = 1 << 20;       // kInflateSliceBytes
const ROUNDS_MAX = 5;        // big calls tried until a ping is seen answered mid-inflation
const STACK = { shards: 1, listeners: [{ mode: 'request', group: 'rdb' }] };  // one shard

/**
 * A compressed message of `type` holding the call (fn; bytes), the byte vector about `total`
 * bytes of 'x'. After the literals the table slot of "xx" (0) holds the run and every match
 * refreshes it; matches are 16 bytes (length byte 14), which the decoder copies byte by byte:
 * a slow stream to decode (~7.5x), so the inflation spans many turns.
 */
function bigCall(type, fn, total) {
  const head = Buffer.concat([Buffer.from([0, 0, 2, 0, 0, 0]), qstr(fn)]);
  const k = Math.floor((total - 8 - head.length - 6 - 2) / 16);  // matches
  const vec = Buffer.alloc(6);
  vec[0] = 4;
  vec.writeUInt32LE(2 + 16 * k, 2);
  const lits = Buffer.concat([head, vec, Buffer.from('xx')]);
  const items = k + lits.length;  // literals first, then the matches
  const parts = [];
  for (let i = 0; i < items; i += 8) {
    const g = [0];
    for (let j = i; j < Math.min(i + 8, items); j++) {
      if (j < lits.length) {
        g.push(lits[j]);
      } else {
        g[0] |= 1 << (j - i);
        g.push(0, 14);  // hash 0 ("xx"), length byte 14: 16 bytes
      }
    }
    parts.push(Buffer.from(g));
  }
  const stream = Buffer.concat(parts);
  const ulen = 8 + lits.length + 16 * k;
  const out = Buffer.alloc(12 + stream.length);
  out[0] = 1; out[1] = type; out[2] = 1;
  out.writeUInt32LE(out.length, 4);
  out.writeUInt32LE(ulen, 8);
  stream.copy(out, 12);
  return { msg: out, ulen };
}

/** Slices a call of `ulen` bytes takes: each writes 1 MiB, or up to 15 bytes more. */
function slicesFor(ulen) {
  return { min: Math.ceil((ulen - 8) / (SLICE + 15)), max: Math.ceil((ulen - 8) / SLICE) };
}

/** One admin connection read again and again (a fresh one per read costs a handshake). */
async function slicesReader(ctx, gw) {
  const q = await qconnect(ctx, gw.admin);
  ctx.defer(() => q.close());
  return async () => counter(statsOf(await q.k('.qgate.stats[]')), 'inflate_slices');
}

itest('request mode: a 60 MiB compressed call is inflated a slice per turn, answered right, '
  + 'and a client on the same shard is answered between its slices', async (t0, ctx) => {
  const { gw } = await startStack(ctx, STACK);
  const big = bigCall(MSG.sync, 'name', BIG_BYTES);
  const { min, max } = slicesFor(big.ulen);
  assert.ok(big.msg.length < 9 << 20, `the call is ${big.msg.length} bytes on the wire`);
  const raw = await RawClient.connect(ctx, gw.port);
  const want = (await raw.call(qmsg(MSG.sync, qlist(qstr('name'), qlong(0))))).frame;
  const pinger = await RawClient.connect(ctx, gw.port);
  const slices = await slicesReader(ctx, gw);
  let seen = 0;
  let worst = 0;
  let rounds = 0;
  let total = 0;
  for (; rounds < ROUNDS_MAX && seen === 0; rounds++) {
    const base = await slices();
    await raw.write(big.msg);
    // Each ping is bracketed by two reads of the slice counter: a ping sent after a slice of
    // the call and answered before its last one was served while the call was parked.
    for (let i = 0; i < 10000; i++) {
      const c0 = await slices();
      if (c0 - base >= min) break;  // the call may be whole: no bracket can tell any more
      const t = process.hrtime.bigint();
      const r = await pinger.call(qmsg(MSG.sync, qlist(qstr('echo'), qlong(i))), 20000);
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      assert.ok(r.body.equals(qlong(i)), `ping ${i}`);
      const c1 = await slices();
      if (c0 > base && c1 - base < min) {
        seen++;
        worst = Math.max(worst, ms);
      }
    }
    const r = await raw.readFrame(60000);
    assert.ok(r.frame.equals(want), 'the big call is answered by qmock, as a small one');
    const done = (await slices()) - base;
    assert.ok(done >= min && done <= max, `${done} slices (${min}..${max})`);
    total += done;
  }
  process.stdout.write(`# ${rounds} big call(s), ${total} slices; ${seen} pings answered `
    + `mid-inflation, slowest ${worst.toFixed(1)} ms\n`);
  assert.ok(seen > 0, `no ping was answered while a big call was being inflated (${rounds} tries)`);
  const s = await stats(ctx, gw);
  assert.equal(counter(s, 'inflate_sliced'), rounds);
  assert.equal(counter(s, 'request_malformed'), 0);
  assert.equal(counter(s, 'inflate_refused'), 0);
});

itest('request mode: later calls of a client wait behind its call being inflated (backend order '
  + 'kept); a small compressed call is not sliced', async (t0, ctx) => {
  const { gw } = await startStack(ctx, STACK);
  const raw = await RawClient.connect(ctx, gw.port);
  // seq[x] answers (n; x), n = seq calls the backend ran before: the async big seq call must
  // run first, so the sync one right behind it (same write) gets n = 1.
  const big = bigCall(MSG.async, 'seq', 8 << 20);
  const small = qmsg(MSG.sync, qlist(qstr('seq'), qlong(7)));
  const r = await raw.call(Buffer.concat([big.msg, small]), 30000);
  assert.equal(r.body.toString('hex'), Buffer.concat([Buffer.from([7, 0, 2, 0, 0, 0]),
    qlong(1).subarray(1), qlong(7).subarray(1)]).toString('hex'), 'seq ran after the big call');
  let s = await waitCounter(ctx, gw, 'inflate_sliced', 1);
  assert.equal(counter(s, 'inflate_sliced'), 1);
  assert.ok(counter(s, 'inflate_slices') >= 8, 'sliced');
  // Under one slice: inflated at once, as before (not counted).
  const one = bigCall(MSG.sync, 'name', 512 << 10);
  const got = await raw.call(one.msg, 10000);
  assert.ok(got.body.equals(qsym('rdb1')), 'a small compressed call is answered');
  s = await stats(ctx, gw);
  assert.equal(counter(s, 'inflate_sliced'), 1);
});

itest('request mode: a client that disconnects while its call is parked frees it; the shard '
  + 'goes on', async (t0, ctx) => {
  const { gw } = await startStack(ctx, STACK);
  const big = bigCall(MSG.sync, 'name', BIG_BYTES);
  const { min } = slicesFor(big.ulen);
  const q = await qconnect(ctx, gw.admin);
  ctx.defer(() => q.close());
  const now = async () => statsOf(await q.k('.qgate.stats[]'));
  // Two calls parked ahead of it keep it waiting its turn (the oldest is inflated first).
  const ahead = [await RawClient.connect(ctx, gw.port), await RawClient.connect(ctx, gw.port)];
  for (const c of ahead) await c.write(big.msg);
  const gone = await RawClient.connect(ctx, gw.port);
  await gone.write(big.msg);
  await pollUntil(async () => counter(await now(), 'inflate_sliced') >= 3,
    { what: 'three calls parked', timeoutMs: 20000, intervalMs: 1 });
  gone.sock.resetAndDestroy();  // a FIN alone is a half-close, which is answered
  for (const c of ahead) assert.ok((await c.readFrame(60000)).body.equals(qsym('rdb1')));
  const after = await pollUntil(async () => {
    const x = await now();
    return counter(x, 'conns_open') === 2 && counter(x, 'request_bytes_held') === 0 ? x : null;
  }, { what: 'the client closed and its call freed', timeoutMs: 10000 });
  const done = counter(after, 'inflate_slices');
  assert.ok(done < 3 * min, `its call was dropped before it was whole (${done} slices in all)`);
  // The next big call is inflated and answered as usual.
  const r = await ahead[0].call(big.msg, 60000);
  assert.ok(r.body.equals(qsym('rdb1')), 'answered');
  assert.equal(counter(await now(), 'inflate_sliced'), 4);
});

itest('request mode: a drain (SIGTERM) answers the calls still being inflated, then exits',
  async (t0, ctx) => {
    // A drain timeout far past what the three calls take (qmock inflates each one whole too):
    // the drain must wait for them, not force them out.
    const { gw } = await startStack(ctx, { ...STACK, limits: { drain_timeout_ms: 60000 } });
    const big = bigCall(MSG.sync, 'name', BIG_BYTES);
    const q = await qconnect(ctx, gw.admin);
    const clients = [];
    for (let i = 0; i < 3; i++) {
      clients.push(await RawClient.connect(ctx, gw.port));
      await clients[i].write(big.msg);
    }
    const now = async (name) => counter(statsOf(await q.k('.qgate.stats[]')), name);
    await pollUntil(async () => (await now('inflate_sliced')) >= 3,
      { what: 'three calls parked', timeoutMs: 20000, intervalMs: 1 });
    const left = 3 * slicesFor(big.ulen).min - (await now('inflate_slices'));
    await q.close();
    gw.proc.kill('SIGTERM');
    for (const c of clients) assert.ok((await c.readFrame(60000)).body.equals(qsym('rdb1')));
    const exit = await within(gw.proc.exited, 20000, 'qgate exit after SIGTERM');
    assert.equal(exit.code, 0, `qgate exit ${JSON.stringify(exit)}`);
    process.stdout.write(`# SIGTERM with ${left} slices still to inflate: all answered, exit 0\n`);
  });

itest('request mode: a reload (SIGHUP) while calls are parked completes, and they are answered',
  async (t0, ctx) => {
    const { gw } = await startStack(ctx, STACK);
    const big = bigCall(MSG.sync, 'name', BIG_BYTES);
    const q = await qconnect(ctx, gw.admin);
    ctx.defer(() => q.close());
    const now = async (name) => counter(statsOf(await q.k('.qgate.stats[]')), name);
    const clients = [];
    for (let i = 0; i < 3; i++) {
      clients.push(await RawClient.connect(ctx, gw.port));
      await clients[i].write(big.msg);
    }
    await pollUntil(async () => (await now('inflate_sliced')) >= 3,
      { what: 'three calls parked', timeoutMs: 20000, intervalMs: 1 });
    gw.proc.child.kill('SIGHUP');
    await pollUntil(async () => (await now('reloads')) >= 1, { what: 'the reload', timeoutMs: 20000 });
    for (const c of clients) assert.ok((await c.readFrame(60000)).body.equals(qsym('rdb1')));
    assert.ok((await clients[0].call(qmsg(MSG.sync, qlist(qstr('echo'), qlong(9))))).body
      .equals(qlong(9)), 'served after the reload');
  });

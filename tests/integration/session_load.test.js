'use strict';
// Session mode under load: many concurrent clients, balancing across backends, a slow reader.

const {
  itest, assert, startStack, qconnect, RawClient, MSG, syncText, decode, payloadPattern, stats,
  counter, pollUntil, rssBytes, syncCall, qstr,
} = require('./lib.js');

itest('200 concurrent clients, several sync calls each, nothing crossed', { timeout: 120000 }, async (t, ctx) => {
  const { gw } = await startStack(ctx, { backends: [{ name: 'rdb1' }, { name: 'rdb2' }] });
  const clients = 200;
  const calls = 5;
  const conns = await Promise.all(
    Array.from({ length: clients }, () => qconnect(ctx, gw.port, { timeoutMs: 20000 })));
  const seen = new Map();
  await Promise.all(conns.map(async (q, c) => {
    for (let i = 0; i < calls; i++) {
      const v = c * 1000 + i;
      // alternate the two request shapes: q text and a general list
      const got = i % 2 ? await q.kt(30000, 'echo', v) : await q.kt(30000, 'echo', `\`c${c}_${i}`);
      assert.deepEqual(got, i % 2 ? v : `c${c}_${i}`, `client ${c} call ${i}`);
    }
    const name = await q.kt(30000, 'name[]');
    seen.set(name, (seen.get(name) || 0) + 1);
  }));
  assert.deepEqual([...seen.keys()].sort(), ['rdb1', 'rdb2'], 'both backends used');
  const s = await stats(ctx, gw);
  assert.equal(counter(s, 'accepts'), clients, 'every client accepted, once');
  await Promise.all(conns.map((q) => q.close()));
});

itest('pipelined distinct requests from many raw clients at once', { timeout: 60000 }, async (t, ctx) => {
  const { gw } = await startStack(ctx);
  const clients = 50;
  const per = 20;
  const raws = await Promise.all(Array.from({ length: clients }, () => RawClient.connect(ctx, gw.port)));
  await Promise.all(raws.map(async (raw, c) => {
    const reqs = [];
    for (let i = 0; i < per; i++) reqs.push(syncCall('echo', qstr(`c${c}r${i}`)));
    await raw.write(Buffer.concat(reqs));
    for (let i = 0; i < per; i++) {
      const r = await raw.readFrame(20000);
      assert.equal(r.type, MSG.response);
      assert.equal(decode(r.frame), `c${c}r${i}`);
    }
  }));
});

itest('least-connections: 10 clients spread over 2 backends', async (t, ctx) => {
  const { gw } = await startStack(ctx, { backends: [{ name: 'rdb1' }, { name: 'rdb2' }] });
  const conns = [];
  const counts = { rdb1: 0, rdb2: 0 };
  // one at a time, each kept open, so the policy sees the earlier ones
  for (let i = 0; i < 10; i++) {
    const q = await qconnect(ctx, gw.port);
    conns.push(q);
    const name = await q.k('name[]');
    assert.ok(name in counts, `unexpected backend ${name}`);
    counts[name] += 1;
  }
  assert.ok(counts.rdb1 >= 3 && counts.rdb2 >= 3, `balanced: ${JSON.stringify(counts)}`);
  // Each session stays on its backend.
  for (const q of conns) {
    const a = await q.k('name[]');
    const b = await q.k('name[]');
    assert.equal(a, b, 'a session keeps its backend');
  }
});

itest('least-connections prefers the backend with fewer open sessions', async (t, ctx) => {
  const { gw } = await startStack(ctx, {
    shards: 1,
    backends: [{ name: 'rdb1' }, { name: 'rdb2' }],
  });
  const held = [];
  const names = [];
  for (let i = 0; i < 6; i++) {
    const q = await qconnect(ctx, gw.port);
    held.push(q);
    names.push(await q.k('name[]'));
  }
  // With one shard the choice is exact: 3 and 3.
  assert.equal(names.filter((n) => n === 'rdb1').length, 3, names.join(' '));
  // Close the three on rdb1: the next sessions must go to rdb1.
  const onRdb1 = held.filter((_, i) => names[i] === 'rdb1');
  await Promise.all(onRdb1.map((q) => q.close()));
  // wait until qgate has seen the closes (a real event: the sessions are gone from its counts)
  await pollUntil(async () => {
    const probe = await qconnect(ctx, gw.port);
    const n = await probe.k('name[]');
    await probe.close();
    return n === 'rdb1';
  }, { what: 'rdb1 chosen after closes', timeoutMs: 5000, intervalMs: 50 });
  // rdb1 now has at most one (closing) probe session against rdb2's three.
  for (let i = 0; i < 2; i++) {
    const q = await qconnect(ctx, gw.port);
    held.push(q);
    assert.equal(await q.k('name[]'), 'rdb1', `new session ${i} goes to the emptier backend`);
  }
});

// A round trip slower than this counts as a stall. It only tells "still answered" from "stalled"
// (qgate buffering or blocking for the slow reader); latency itself is for the benchmarks.
const STALL_MS = 10000;

itest('slow reader: huge replies not read, other clients keep being answered',
  { timeout: 120000 }, async (t, ctx) => {
  // The slow reader and the measured client use different backends (qmock is single-threaded
  // and busy building 200 MB replies), but the same qgate shards.
  const { gw } = await startStack(ctx, {
    listeners: [{ group: 'rdb' }, { group: 'hdb' }],
    backends: [{ name: 'rdb1', group: 'rdb' }, { name: 'hdb1', group: 'hdb' }],
  });
  const n = 200000000;
  const q = await qconnect(ctx, gw.ports[1]);
  assert.equal(await q.k('echo', -1), -1);
  const slow = await RawClient.connect(ctx, gw.ports[0]);
  slow.sock.pause(); // read nothing: the kernel buffers fill and qgate must hold back
  await slow.write(Buffer.concat([syncText(`payload[${n}]`), syncText(`payload[${n}]`)]));
  const rss0 = rssBytes(gw.proc.pid);

  // Keep doing round trips until qgate has paused the slow reader's backend (a real event, seen
  // in its counters), and for at least 50 round trips.
  const times = [];
  let paused = 0;
  // (qmock needs a few seconds to build a 200 MB reply, so allow up to 40 s for the pause)
  const deadline = Date.now() + 40000;
  for (let i = 0; i < 100000 && Date.now() < deadline && (i < 50 || paused < 1); i++) {
    const t0 = Date.now();
    assert.equal(await q.kt(STALL_MS, 'echo', i), i, `round trip ${i} answered`);
    times.push(Date.now() - t0);
    if (i % 10 === 9) {
      // Whichever watermark fires first: bytes (out_bytes_high) or pool share (with full 16 KiB
      // buffers, session_buf_share_pct of the pool is usually the smaller bound).
      const s = await stats(ctx, gw);
      paused = counter(s, 'slow_reader_pauses') + counter(s, 'buf_share_pauses');
    }
  }
  assert.ok(paused >= 1, 'qgate paused the backend read for the slow reader');
  t.diagnostic(`worst round trip ${Math.max(...times)} ms over ${times.length}`);
  // qgate must not buffer the stalled 400 MB: its memory stays far below that.
  const rss1 = rssBytes(gw.proc.pid);
  assert.ok(rss1 - rss0 < 150 * 1024 * 1024,
    `qgate RSS grew by ${Math.round((rss1 - rss0) / 1048576)} MB while a reader stalled`);

  // Now read everything: both replies complete and intact.
  slow.sock.resume();
  const pattern = payloadPattern(n);
  for (let k = 0; k < 2; k++) {
    const r = await slow.readFrame(60000);
    assert.equal(r.length, 8 + 6 + n);
    assert.ok(r.body.subarray(6).equals(pattern), `reply ${k + 1} intact after back-pressure`);
  }
  assert.equal(await q.k('echo', 5), 5);
});

// Back-pressure against a slow reader, measured on the receive buffer pool: a client that stops
// reading a stream of replies may pin only its share of its shard's provided-buffer pool
// (limits.session_buf_share_pct), never the whole pool, so every other client on the same shard
// keeps getting answers. Replies of ~1 KB pin a 16 KiB buffer each, so the byte watermark
// (out_bytes_high) alone would let the slow reader exhaust the pool long before it fired.
'use strict';

const {
  itest, assert, startStack, qconnect, RawClient, syncText, stats, counter, rssBytes, pollUntil,
  tcpQueues,
} = require('./lib');

// The byte watermarks are set far above the pool (64 MiB against 512 x 16 KiB = 8 MiB), so
// only the per-session share can stop the slow reader from taking the whole pool: without it
// the other clients stall for good (ENOBUFS, and half the pool never comes back).
const ENTRIES = 512;
const SHARE_PCT = 5;  // 25 buffers per direction

// A round trip slower than this counts as a stall. It only tells "still answered" from "stalled
// for good" (the failure without the share): how fast the others stay is for the benchmarks.
const STALL_MS = 10000;

itest('slow reader of many ~1 KB replies pins a bounded pool share; others keep being answered',
  { timeout: 120000 }, async (t, ctx) => {
    // One shard, so the slow and the fast client share one pool. Separate backends: qmock is
    // serial, and the slow reader's backend ends up blocked writing to qgate.
    const { gw, mocks } = await startStack(ctx, {
      shards: 1,
      limits: {
        buf_ring_entries: ENTRIES, buf_size: 16384, session_buf_share_pct: SHARE_PCT,
        out_bytes_high: 64 * 1048576, out_bytes_low: 16 * 1048576,
      },
      listeners: [{ group: 'rdb' }, { group: 'hdb' }],
      backends: [{ name: 'rdb1', group: 'rdb' }, { name: 'hdb1', group: 'hdb' }],
    });
    const fast = await qconnect(ctx, gw.ports[1]);
    assert.equal(await fast.k('echo', -1), -1);
    const rss0 = rssBytes(gw.proc.pid);

    const n = 1000;         // reply body bytes
    const count = 40000;    // ~40 MB of replies, far more than the pool and the kernel buffers
    const slow = await RawClient.connect(ctx, gw.ports[0]);
    slow.sock.pause();      // read nothing from here on
    const req = syncText(`payload[${n}]`);
    await slow.write(Buffer.concat(Array(count).fill(req)));

    // Round trips on the other listener until qgate has paused the slow session for its pool
    // share (a real event in its counters), and for at least 100 round trips.
    const times = [];
    let s = null;
    const deadline = Date.now() + 30000;
    for (let i = 0; i < 100000 && Date.now() < deadline; i++) {
      const t0 = Date.now();
      assert.equal(await fast.kt(STALL_MS, 'echo', i), i, `round trip ${i} answered`);
      times.push(Date.now() - t0);
      if (i % 20 === 19) {
        s = await stats(ctx, gw);
        if (i >= 100 && counter(s, 'buf_share_pauses') >= 1) break;
      }
    }
    assert.ok(s && counter(s, 'buf_share_pauses') >= 1,
      'the slow session was paused for its pool share');
    // Wait until the stream has piled up as far as qgate lets it, then check the pool. Piled
    // up: on both hops of the slow stream (qmock to qgate, qgate to the slow client) the sender's
    // send queue and the receiver's receive queue are non-empty, and a round trip on the same
    // (single) shard leaves all four exactly as they were. A shard still reading from qmock or
    // writing to the client would have moved bytes in that loop iteration, and full queues on
    // both ends of a hop mean its window is shut: qgate can neither take nor hand on more.
    const hop = (port) => {
      const rows = tcpQueues(port);
      const server = rows.filter((r) => r.localPort === port);
      const client = rows.filter((r) => r.remotePort === port);
      assert.ok(server.length === 1 && client.length === 1,
        `one connection on port ${port}: ${JSON.stringify(rows)}`);
      return [server[0], client[0]];
    };
    const queues = () => {
      const [mock, gateUp] = hop(mocks.rdb1.port);      // qmock sends, qgate receives
      const [gateDown, reader] = hop(gw.ports[0]);      // qgate sends, the slow client receives
      return [mock.txQueue, gateUp.rxQueue, gateDown.txQueue, reader.rxQueue];
    };
    let k = 0;
    const stalled = await pollUntil(async () => {
      const a = queues();
      assert.equal(await fast.kt(STALL_MS, 'echo', k), k);
      k += 1;
      const b = queues();
      return a.every((q) => q > 0) && a.every((q, i) => b[i] === q) ? b : null;
    }, { what: 'the slow stream stalled in the kernel', timeoutMs: 20000, intervalMs: 20 });
    for (let i = 0; i < 20; i++) assert.equal(await fast.kt(STALL_MS, 'echo', i), i);
    s = await stats(ctx, gw);
    const peak = counter(s, 'bufs_held_peak');
    t.diagnostic(`bufs_held_peak ${peak} of ${ENTRIES}, ` +
      `buf_share_pauses ${counter(s, 'buf_share_pauses')}, stalled with queues ` +
      `${stalled.join(' ')} (qmock tx, qgate rx, qgate tx, client rx), ` +
      `worst round trip ${Math.max(...times)} ms over ${times.length}`);
    // The share plus what the kernel had already received for the socket when the pause
    // (a cancel of its multishot recv) took effect: well under half the pool.
    assert.ok(peak < ENTRIES / 2,
      `buffers held peaked at ${peak} of ${ENTRIES}: the slow reader stays near its share`);
    assert.equal(counter(s, 'rcv_enobufs'), 0, 'the pool never ran dry');
    const rss1 = rssBytes(gw.proc.pid);
    assert.ok(rss1 - rss0 < 64 * 1024 * 1024,
      `qgate RSS grew by ${Math.round((rss1 - rss0) / 1048576)} MB while a reader stalled`);

    // Now read everything: every reply arrives, complete and in order.
    slow.sock.resume();
    for (let k = 0; k < count; k++) {
      const r = await slow.readFrame(30000);
      assert.equal(r.length, 8 + 6 + n, `reply ${k} length`);
    }
    assert.equal(await fast.k('echo', 5), 5);
    const end = await stats(ctx, gw);
    assert.ok(counter(end, 'bufs_held') <= 2, 'every buffer is back in the pool once the reader caught up');
  });

'use strict';
// README, Behaviour decisions, Pub/sub: the promises about slow subscribers, pubinterval_ms and
// the upstream link that other tests pin only loosely.
//  * Slow subscribers: each has a backlog bounded by backlog_updates_max / backlog_bytes_max,
//    "beyond the 16 updates its socket's send queue may reference" (kPsOutMax): a subscriber
//    that stops reading is disconnected on exactly the update that finds 16 in its send queue
//    and a full backlog. Under "conflate" the newest update per table is kept, and a healthy
//    subscriber next to the stalled one gets every update in order ("nobody else waits").
//  * pubinterval_ms: an update whose columns differ from the held ones flushes them first.
//  * The upstream link reconnects with the request-mode backoff (reconnect_min_ms doubling to
//    reconnect_max_ms, each delay drawn between half and all of it).
//
// Making "16 in the send queue" exact: the first update a stalled subscriber is sent is larger
// than the kernel can buffer for the connection (qgate's send buffer + the client's receive
// buffer), so its send never completes, and the send queue is ordered: no later update can
// leave it either. Every test asserts that precondition from /proc/net/tcp instead of hoping.

const net = require('node:net');
const { performance } = require('node:perf_hooks');
const {
  itest, assert, HOST, RawClient, MSG, syncText, decode, qmsg, qlist, qstr, qsym, startQgate,
  stats, counter, waitCounter, pollUntil, within, tcpQueues, qsyms, qtable, seqsOf,
} = require('./lib.js');

const OUT_MAX = 16;         // README: "the 16 updates its socket's send queue may reference"
const HUGE_ROWS = 1 << 20;  // a 12 MB update: far more than a stalled loopback socket buffers
const SMALL_ROWS = 40;      // small updates of ~570 bytes (backlog_bytes_max is >= 1024)

/** A vector of 8-byte values: q type 7 (long) or 9 (float). */
function q8s(xs, type = 7) {
  const b = Buffer.alloc(6 + 8 * xs.length); b[0] = type; b.writeUInt32LE(xs.length, 2);
  xs.forEach((v, i) => {
    if (type === 9) b.writeDoubleLE(v, 6 + 8 * i); else b.writeBigInt64LE(BigInt(v), 6 + 8 * i);
  });
  return b;
}
const updOf = (t, table) => qmsg(MSG.async, qlist(qstr('.u.upd'), qsym(t), table));
/** Async .u.upd[`t; ([] sym:`IBM...; seq)]. */
const upd = (t, seqs) => updOf(t, qtable(['sym', 'seq'], [qsyms(seqs.map(() => 'IBM')),
  q8s(seqs)]));
/** SMALL_ROWS rows, seq k*SMALL_ROWS + i: every one the same size. */
const small = (t, k) => upd(t, [...Array(SMALL_ROWS).keys()].map((i) => k * SMALL_ROWS + i));
/** The update no stalled socket can take whole: HUGE_ROWS rows of `IBM, seq all 0. */
function huge(t) {
  const syms = Buffer.alloc(6 + 4 * HUGE_ROWS);
  syms[0] = 11; syms.writeUInt32LE(HUGE_ROWS, 2);
  syms.subarray(6).fill('IBM\0', 'latin1');
  const seqs = Buffer.alloc(6 + 8 * HUGE_ROWS); seqs[0] = 7; seqs.writeUInt32LE(HUGE_ROWS, 2);
  return updOf(t, qtable(['sym', 'seq'], [syms, seqs]));
}

function startPubsubGate(ctx, { pubsub = {}, shards, procName, backends, limits } = {}) {
  const lines = ['[pubsub]'];
  for (const [k, v] of Object.entries(pubsub)) {
    lines.push(`${k} = ${typeof v === 'number' ? v : JSON.stringify(v)}`);
  }
  return startQgate(ctx, {
    procName, shards, backends, limits,
    listeners: [{ group: 'tp', mode: 'pubsub' }],
    extra: lines.join('\n'),
  });
}

async function subscribe(raw, call) {
  const r = await raw.call(syncText(call));
  assert.equal(r.type, MSG.response, `${call}: a response`);
  return { frame: r.frame, value: decode(r.frame) };
}

/**
 * The precondition of exactness: `raw` (stalled) has not got all of `must` bytes (the
 * handshake byte, its replies and the huge update), counting what node read (emitted or held
 * by the paused stream) and what sits in either end's kernel queue. So the huge update is
 * still in qgate's send queue.
 */
function assertHugeStuck(gw, raw, must, what) {
  const me = raw.sock.localPort;
  const q = tcpQueues(gw.port).filter((r) => r.localPort === me || r.remotePort === me);
  assert.equal(q.length, 2, `${what}: both ends of the subscriber's connection are listed`);
  // received: emitted to RawClient; readableLength: read by the paused stream, not emitted
  const past = raw.received + raw.sock.readableLength +
    q.reduce((a, r) => a + r.txQueue + r.rxQueue, 0);
  assert.ok(past < must, `${what}: the huge update is still in qgate's send queue ` +
    `(${past} of ${must} bytes are past it); the kernel buffered it whole, so this host ` +
    'cannot pin the 16-update allowance exactly');
}

// README: "each has a backlog bounded by backlog_updates_max and backlog_bytes_max (beyond the
// 16 updates its socket's send queue may reference). When it is full, slow_subscriber =
// "disconnect" (default) drops the backlog and closes the connection". The huge update holds
// the first of the 16 send-queue places; 15 small ones take the rest; then the backlog fills
// (backlog_updates_max of them, or as many as backlog_bytes_max takes); the next one
// disconnects. Updates are published one at a time and each is seen handled before the next.
itest('disconnect: exactly 16 send-queue updates + a full backlog, then the next closes',
  { timeout: 180000 }, async (t, ctx) => {
    const smallLen = small('trade', 0).length;
    const variants = [
      { name: 'backlog_updates_max 4', pubsub: { backlog_updates_max: 4 }, backlog: 4 },
      { name: 'backlog_updates_max 1', pubsub: { backlog_updates_max: 1 }, backlog: 1 },
      { name: `backlog_bytes_max ${3 * smallLen} (3 updates)`, backlog: 3,
        pubsub: { backlog_updates_max: 1000, backlog_bytes_max: 3 * smallLen } },
    ];
    const big = huge('trade');
    for (const [i, v] of variants.entries()) {
      const gw = await startPubsubGate(ctx, { procName: `qgate${i}`, pubsub: v.pubsub });
      const feed = await RawClient.connect(ctx, gw.port);
      await feed.write(upd('trade', [-1]));  // the schema is learnt
      await waitCounter(ctx, gw, 'pubsub_updates_in', 1);
      const sub = await RawClient.connect(ctx, gw.port);
      const reply = await subscribe(sub, '.u.sub[`trade;`]');
      sub.sock.pause();  // stops reading
      await feed.write(big);
      const d0 = counter(await waitCounter(ctx, gw, 'pubsub_deliveries', 2), 'pubsub_deliveries');
      assert.equal(d0, 2, `${v.name}: the reply and the huge update, nothing else`);
      // Small updates one at a time: all but the last are queued (counted as deliveries).
      const survive = OUT_MAX - 1 + v.backlog;
      const named = (e) => { e.message = `${v.name}: ${e.message}`; throw e; };
      for (let k = 1; k <= survive; k++) {
        await feed.write(small('trade', k));
        const s = await waitCounter(ctx, gw, 'pubsub_deliveries', d0 + k, 10000).catch(named);
        assert.equal(counter(s, 'pubsub_slow_disconnects'), 0,
          `${v.name}: still connected after small update ${k} of ${survive}`);
      }
      assertHugeStuck(gw, sub, 1 + reply.frame.length + big.length, v.name);
      await feed.write(small('trade', survive + 1));
      const s = await waitCounter(ctx, gw, 'pubsub_slow_disconnects', 1, 10000).catch(named);
      assert.equal(counter(s, 'pubsub_deliveries'), d0 + survive,
        `${v.name}: the update that overflowed was not queued`);
      assert.equal(counter(s, 'pubsub_updates_in'), survive + 3, `${v.name}: all were published`);
      sub.sock.resume();
      const got = await sub.waitEof(20000);
      assert.ok(got < 1 + reply.frame.length + big.length + survive * smallLen,
        `${v.name}: the subscriber did not get everything (${got} bytes)`);
      const after = await pollUntil(async () => {
        const st = await stats(ctx, gw);
        return counter(st, 'pubsub_subscribers') === 0 ? st : null;
      }, { what: `${v.name}: the subscriber is gone`, timeoutMs: 10000, intervalMs: 50 });
      assert.equal(counter(after, 'pubsub_slow_disconnects'), 1);
      await gw.proc.stop('SIGKILL');  // frees its buffers before the next variant
    }
  });

// README: under "conflate" a full backlog "keeps the newest update per table
// (pubsub_conflations; rows are lost, for dashboards). Nobody else waits either way." One
// shard, so the healthy subscriber shares the event loop (and the hub) with the stalled one.
itest('conflate: a healthy subscriber gets every update in order; the slow one the newest',
  { timeout: 120000 }, async (t, ctx) => {
    const B = 4;
    const N = 40;  // (a multiple of CHUNK) alternately trade (even k) and quote (odd k)
    const gw = await startPubsubGate(ctx, {
      shards: 1, pubsub: { backlog_updates_max: B, slow_subscriber: 'conflate' },
    });
    const feed = await RawClient.connect(ctx, gw.port);
    await feed.write(Buffer.concat(['blob', 'trade', 'quote'].map((tb) => upd(tb, [-1]))));
    await waitCounter(ctx, gw, 'pubsub_updates_in', 3);
    const slow = await RawClient.connect(ctx, gw.port);
    const all = await subscribe(slow, '.u.sub[`;`]');
    assert.deepEqual(all.value.map((p) => p[0]).sort(), ['blob', 'quote', 'trade']);
    slow.sock.pause();
    const good = await RawClient.connect(ctx, gw.port);
    await subscribe(good, '.u.sub[`trade;`]');
    await subscribe(good, '.u.sub[`quote;`]');
    const big = huge('blob');  // only the slow one subscribed to blob
    await feed.write(big);
    await waitCounter(ctx, gw, 'pubsub_deliveries', 4);  // 3 replies and the blob
    const tableOf = (k) => (k % 2 === 0 ? 'trade' : 'quote');
    // The healthy one: every update, in order, while the other is still stalled. Bursts of
    // CHUNK, each read before the next: a burst that does not fit in 16 + B (README: "the
    // bound must absorb a burst") would make the healthy one slow too.
    const CHUNK = 8;
    const run = async () => {
      for (let c = 0; c < N; c += CHUNK) {
        const ks = [...Array(CHUNK).keys()].map((i) => c + i);
        await feed.write(Buffer.concat(ks.map((k) => small(tableOf(k), k))));
        for (const k of ks) {
          const f = await good.readFrame();
          assert.equal(f.type, MSG.async);
          const [fn, tb] = decode(f.frame);
          assert.deepEqual([fn, tb], ['upd', tableOf(k)], `healthy: update ${k}'s table`);
          assert.equal(seqsOf(f.frame)[0], k * SMALL_ROWS, `healthy: update ${k}, in order`);
        }
      }
    };
    await within(run(), 60000, 'the healthy subscriber reading every update');
    const s = await waitCounter(ctx, gw, 'pubsub_deliveries', 4 + 2 * N);
    const conflated = counter(s, 'pubsub_conflations');
    assert.ok(conflated > 0, 'the stalled subscriber conflated');
    assert.equal(counter(s, 'pubsub_slow_disconnects'), 0, 'and stayed connected');
    assertHugeStuck(gw, slow, 1 + all.frame.length + big.length, 'slow');
    slow.sock.resume();
    const blob = await slow.readFrame(30000);
    // (re-encoded as (`upd;`blob;table): compare its seq column, the message's tail)
    const seqBytes = 6 + 8 * HUGE_ROWS;
    assert.ok(blob.frame.length >= seqBytes + 4 * HUGE_ROWS &&
      blob.frame.subarray(-seqBytes).equals(big.subarray(-seqBytes)), 'slow: the huge update');
    const updateK = (f, what) => {
      const [fn, tb] = decode(f.frame);
      assert.equal(fn, 'upd', `${what}: an update`);
      const k = seqsOf(f.frame)[0] / SMALL_ROWS;
      assert.equal(tb, tableOf(k), `${what}: update ${k}'s table`);
      return k;
    };
    // The 15 that shared the send queue with the huge update cannot be conflated.
    const first = [];
    for (let i = 0; i < OUT_MAX - 1; i++) first.push(updateK(await slow.readFrame(), 'slow'));
    assert.deepEqual(first, [...Array(OUT_MAX - 1).keys()], 'slow: the send queue\'s 15');
    // The backlog went into the emptied send queue as those were sent: a call made now is
    // answered after whatever it held, and nothing is conflated to make room for the answer.
    await slow.write(syncText('.u.sub[`trade;`]'));
    const rest = [];
    for (let i = 0; i <= B + 1; i++) {
      const f = await slow.readFrame();
      if (f.type === MSG.response) break;
      rest.push(updateK(f, 'slow, after the 15'));
    }
    t.diagnostic(`conflated ${conflated}; after the send queue's 15: ${rest.join(' ')}`);
    assert.ok(rest.length <= B, `slow: what the backlog held, at most ${B}: ${rest.join(' ')}`);
    rest.forEach((k, i) => assert.ok(k > (i ? rest[i - 1] : OUT_MAX - 2), 'slow: in order'));
    assert.ok(rest.includes(N - 2) && rest.includes(N - 1),
      `slow: the newest trade (${N - 2}) and quote (${N - 1}) are kept (got ${rest.join(' ')})`);
    assert.equal(first.length + rest.length + conflated, N,
      'every update was either sent or counted in pubsub_conflations');
    assert.equal(counter(await stats(ctx, gw), 'pubsub_conflations'), conflated,
      'nothing more was conflated');
  });

// README: "an update whose columns differ from the held ones flushes them first". All in one
// write, well inside one interval: 1 and 2 are held; 3 has a third column (flushes 1-2);
// 4 has two again (flushes 3); 5's seq is a float (flushes 4); 6 flushes 5 and waits for the
// interval. Had a differing update gone out on its own, it would come before the held rows.
itest('pubinterval_ms: an update whose columns differ flushes the held ones first, in order',
  async (t, ctx) => {
    const INTERVAL = 3000;
    const gw = await startPubsubGate(ctx, { pubsub: { pubinterval_ms: INTERVAL } });
    const feed = await RawClient.connect(ctx, gw.port);
    await feed.write(upd('trade', [0]));
    await waitCounter(ctx, gw, 'pubsub_updates_in', 1);
    const sub = await RawClient.connect(ctx, gw.port);
    await subscribe(sub, '.u.sub[`trade;`]');
    const three = updOf('trade', qtable(['sym', 'seq', 'px'],
      [qsyms(['IBM']), q8s([3]), q8s([1.5], 9)]));
    const float = updOf('trade', qtable(['sym', 'seq'], [qsyms(['IBM']), q8s([5.5], 9)]));
    const sent = performance.now();
    await feed.write(Buffer.concat([upd('trade', [1]), upd('trade', [2]), three,
      upd('trade', [4]), float, upd('trade', [6])]));
    const want = [
      { cols: ['sym', 'seq'], seqs: [1, 2] },
      { cols: ['sym', 'seq', 'px'], seqs: [3] },
      { cols: ['sym', 'seq'], seqs: [4] },
      { cols: ['sym', 'seq'], seqs: [5.5] },
      { cols: ['sym', 'seq'], seqs: [6] },
    ];
    for (const [i, w] of want.entries()) {
      const f = await sub.readFrame(INTERVAL + 20000);
      const [fn, tb, rows] = decode(f.frame);
      assert.deepEqual([fn, tb], ['upd', 'trade'], `frame ${i + 1}`);
      assert.deepEqual(Object.keys(rows[0]), w.cols, `frame ${i + 1}: its columns`);
      assert.deepEqual(rows.map((r) => Number(r.seq)), w.seqs, `frame ${i + 1}: its rows`);
    }
    // The last one was held for the interval (nothing flushed it early).
    assert.ok(performance.now() - sent >= INTERVAL - 20, 'the last update waited its interval');
    const s = await stats(ctx, gw);
    assert.equal(counter(s, 'pubsub_updates_in'), 7);
    assert.equal(counter(s, 'pubsub_bad_msgs'), 0);
    assert.equal(sub.buffered, 0, 'nothing else arrived');
  });

// README: the upstream link "reconnects with the request-mode backoff (reconnect_min_ms
// doubling to reconnect_max_ms, jittered)". The upstream is a node server that closes every
// connection as it accepts it, so each connect fails at the handshake. Gap k follows the k-th
// failure: nominal min * 2^(k-1), capped at max, drawn between half and all of that.
itest('upstream link: reconnects back off from reconnect_min_ms doubling to the max, jittered',
  async (t, ctx) => {
    const MIN = 100;
    const MAX = 800;
    const ACCEPTS = 9;
    const accepts = [];
    const srv = net.createServer((s) => {
      accepts.push(performance.now());
      s.on('error', () => {});
      s.destroy();
    });
    await new Promise((res, rej) => srv.listen(0, HOST, res).on('error', rej));
    ctx.defer(() => new Promise((res) => srv.close(() => res())));
    const gw = await startPubsubGate(ctx, {
      shards: 1,
      backends: [{ name: 'tp', group: 'tp', port: srv.address().port }],
      limits: { reconnect_min_ms: MIN, reconnect_max_ms: MAX },
      pubsub: { upstream: 'tp' },
    });
    await pollUntil(() => accepts.length >= ACCEPTS,
      { what: `${ACCEPTS} connects`, timeoutMs: 30000, intervalMs: 20 });
    const gaps = [];
    for (let k = 1; k < ACCEPTS; k++) gaps.push(accepts[k] - accepts[k - 1]);
    const nominal = gaps.map((_, i) => Math.min(MIN * 2 ** i, MAX));
    const shown = gaps.map((g, i) => `${Math.round(g)}/${nominal[i]}`).join(' ');
    t.diagnostic(`gap/nominal ms: ${shown}`);
    // The lower bounds pin the doubling (a constant delay fails from gap 3 on); an uncapped
    // delay would be >= 1600 from gap 6 on, above nominal + SLACK.
    const SLACK = 700;
    for (let i = 0; i < gaps.length; i++) {
      assert.ok(gaps[i] >= nominal[i] / 2 - 15,
        `gap ${i + 1} is at least half its nominal delay (gap/nominal ms: ${shown})`);
      assert.ok(gaps[i] <= nominal[i] + SLACK,
        `gap ${i + 1} is at most its nominal delay, capped at ${MAX} (gap/nominal ms: ${shown})`);
    }
    // Without jitter every gap would be its nominal delay plus latency (see readme_health).
    const below = gaps.filter((g, i) => g < 0.9 * nominal[i]).length;
    assert.ok(below >= 1, `some delays are drawn below the nominal (gap/nominal ms: ${shown})`);
    const s = await stats(ctx, gw);
    assert.ok(counter(s, 'pubsub_upstream_reconnects') >= ACCEPTS - 1, 'reconnects counted');
    assert.equal(counter(s, 'pubsub_upstream_connects'), 0, 'never subscribed');
  });

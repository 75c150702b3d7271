'use strict';
// qgate as a tickerplant face (listener mode "pubsub", [pubsub] section): qgate subscribes to
// qmock --tickerplant and republishes; subscribers (raw sockets and node-q) on both shards;
// single serialisation (identical bytes, zero per-subscriber copies), sequence numbers in
// order with nothing lost, sym filters, the slow-subscriber policy, an upstream restart, and
// publishers calling .u.upd on qgate directly.

const path = require('node:path');
const {
  itest, assert, QMOCK, qconnect, waitPortFile, pollUntil, within, RawClient, MSG, syncText,
  decode, qmsg, qlist, qstr, qsym, startQgate, stats, counter, waitCounter, errorText, qsyms, qlongs, qtable,
} = require('./lib.js');

const SYMS = ['AAPL', 'MSFT', 'IBM', 'GOOG'];

async function startTickerplant(ctx, extra = [], port = 0, name = 'qmock-tp') {
  const portFile = path.join(ctx.dir, `${name}.port`);
  const proc = ctx.spawn(name, QMOCK,
    ['--port', String(port), '--port-file', portFile, '--name', 'tp', '--tickerplant', ...extra]);
  const p = await waitPortFile(portFile, proc, (text) => {
    const m = /^(\d+)\s*$/m.exec(text);
    return m ? Number(m[1]) : null;
  });
  return { proc, port: p };
}

/** qgate with one pubsub listener; `tp` = the upstream tickerplant's port (or none). */
function startPubsubGate(ctx, { tp, pubsub = {}, limits = {} } = {}) {
  const lines = ['[pubsub]'];
  if (tp) lines.push('upstream = "tp"');
  for (const [k, v] of Object.entries(pubsub)) {
    lines.push(`${k} = ${typeof v === 'number' ? v : JSON.stringify(v)}`);
  }
  return startQgate(ctx, {
    listeners: [{ group: 'tp', mode: 'pubsub' }],
    backends: tp ? [{ name: 'tp', group: 'tp', port: tp }] : [],
    limits: { reconnect_min_ms: 20, reconnect_max_ms: 200, ...limits },
    extra: lines.join('\n'),
  });
}

async function rawSubscriber(ctx, port, call = '.u.sub[`trade;`]') {
  const raw = await RawClient.connect(ctx, port);
  const reply = await raw.call(syncText(call));
  assert.equal(reply.type, MSG.response, `${call}: a response`);
  return { raw, reply: decode(reply.frame) };
}

/** Reads n upd frames from a raw subscriber. */
async function readUpdates(raw, n) {
  const frames = [];
  for (let i = 0; i < n; i++) frames.push((await raw.readFrame()).frame);
  return frames;
}

itest('upstream TP: 2 shards get identical bytes, in order, filters exact, no copies',
  async (t, ctx) => {
    const tp = await startTickerplant(ctx, ['--tp-rate', '0', '--tp-rows', '8']);
    const gw = await startPubsubGate(ctx, { tp: tp.port });
    await waitCounter(ctx, gw, 'pubsub_upstream_connects', 1);
    const all = [];
    // 14 + 2 subscribers: SO_REUSEPORT spreads them, all on one shard has odds of 2^-15
    for (let i = 0; i < 14; i++) all.push(await rawSubscriber(ctx, gw.port));
    assert.equal(all[0].reply[0], 'trade', '(t;schema) reply');
    const ibm = await rawSubscriber(ctx, gw.port, '.u.sub[`trade;`IBM`GOOG]');
    const star = await rawSubscriber(ctx, gw.port, '.u.sub[`;`]');
    assert.equal(star.reply.length, 1, 'one (table;schema) pair for `');
    const ctl = await qconnect(ctx, tp.port);
    const n = 30;
    assert.equal(await ctl.k(`.u.pub[${n}]`), n);
    const streams = [];
    for (const s of [...all, star]) streams.push(await readUpdates(s.raw, n));
    for (let i = 0; i < n; i++) {
      for (const st of streams) assert.ok(st[i].equals(streams[0][i]), `update ${i}: same bytes`);
      const [fn, table, rows] = decode(streams[0][i]);
      assert.deepEqual([fn, table], ['upd', 'trade']);
      assert.deepEqual(rows.map((r) => r.seq), [0, 1, 2, 3, 4, 5, 6, 7].map((k) => i * 8 + k),
        `update ${i}: every row, in sequence`);
    }
    const filtered = await readUpdates(ibm.raw, n);
    filtered.forEach((f, i) => {
      const rows = decode(f)[2];
      const want = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => i * 8 + k)
        .filter((seq) => ['IBM', 'GOOG'].includes(SYMS[seq % 4]));
      assert.deepEqual(rows.map((r) => r.seq), want, `update ${i}: exactly its IBM/GOOG rows`);
      assert.ok(rows.every((r) => ['IBM', 'GOOG'].includes(r.sym)));
    });
    const s = await stats(ctx, gw);
    assert.equal(counter(s, 'pubsub_updates_in'), n);
    assert.equal(counter(s, 'pubsub_encodings'), n, 'one encoding per update (one filter)');
    assert.equal(counter(s, 'pubsub_as_received'), n, 'all-sym subscribers: received bytes');
    assert.equal(counter(s, 'pubsub_payload_bytes_copied'), 0);
    assert.equal(counter(s, 'pubsub_subscribers'), 16);
    assert.ok(counter(s, 'pubsub_mailbox_msgs') > 0, 'subscribers on the other shard too');
    // at most: .u.sub and its answer per subscriber, then one message per update
    assert.ok(counter(s, 'pubsub_mailbox_msgs') <= 2 * 16 + n, 'one message per shard per update');
  });

itest('node-q subscriber: every row in sequence, .u.end, unknown table error', async (t, ctx) => {
  const tp = await startTickerplant(ctx, ['--tp-rate', '300', '--tp-rows', '3']);
  // tables: one .u.sub[`trade;`] upstream instead of .u.sub[`;`]
  const gw = await startPubsubGate(ctx, { tp: tp.port, pubsub: { tables: ['trade'] } });
  await waitCounter(ctx, gw, 'pubsub_upstream_connects', 1);
  const q = await qconnect(ctx, gw.port);
  await assert.rejects(q.k('.u.sub[`nosuch;`]'), { message: 'nosuch' });  // q's 't
  const rows = [];
  const got = within(new Promise((resolve) => {
    q.con.on('upd', (table, data) => {
      rows.push(...data);
      if (rows.length >= 90) resolve();
    });
  }), 10000, '90 rows');
  const reply = await q.k('.u.sub[`trade;`]');
  assert.equal(reply[0], 'trade');
  await got;
  rows.forEach((r, i) => assert.equal(r.seq, rows[0].seq + i, 'consecutive, nothing lost'));
  const ctl = await qconnect(ctx, tp.port);
  const endP = q.next();
  await ctl.k('.u.endofday[]');
  const end = await within(endP, 10000, '.u.end');
  assert.equal(end[0], '.u.end');
});

itest('a compressed upstream (q compresses for remote peers): decompressed once',
  async (t, ctx) => {
    const tp = await startTickerplant(ctx, ['--tp-rate', '0', '--tp-rows', '200',
      '--compress', 'always']);
    const gw = await startPubsubGate(ctx, { tp: tp.port });
    await waitCounter(ctx, gw, 'pubsub_upstream_connects', 1);
    const a = await rawSubscriber(ctx, gw.port);
    const b = await rawSubscriber(ctx, gw.port);
    const ctl = await qconnect(ctx, tp.port);
    assert.equal(await ctl.k('.u.pub[5]'), 5);
    const fa = await readUpdates(a.raw, 5);
    const fb = await readUpdates(b.raw, 5);
    fa.forEach((f, i) => {
      assert.equal(f[2], 0, 'sent uncompressed (loopback subscriber)');
      assert.ok(f.equals(fb[i]), 'identical bytes');
      assert.deepEqual(decode(f)[2].map((r) => r.seq),
        [...Array(200).keys()].map((k) => i * 200 + k));
    });
    // once: the decompressed buffer itself went to both subscribers, nothing re-encoded or copied
    const s = await stats(ctx, gw);
    assert.equal(counter(s, 'pubsub_as_received'), 5);
    assert.equal(counter(s, 'pubsub_encodings'), 0);
    assert.equal(counter(s, 'pubsub_payload_bytes_copied'), 0);
  });

itest('a subscriber that stops reading is disconnected; the others get everything',
  async (t, ctx) => {
    const rowsPer = 2000;  // ~75 KB per update
    const tp = await startTickerplant(ctx, ['--tp-rate', '0', '--tp-rows', String(rowsPer)]);
    const gw = await startPubsubGate(ctx, {
      tp: tp.port, pubsub: { backlog_updates_max: 64, backlog_bytes_max: 8388608 },
    });
    await waitCounter(ctx, gw, 'pubsub_upstream_connects', 1);
    const slow = await rawSubscriber(ctx, gw.port);
    slow.raw.sock.pause();  // stops reading: the kernel buffers fill, then qgate's backlog
    const good = await rawSubscriber(ctx, gw.port);
    const ctl = await qconnect(ctx, tp.port);
    // 10 bursts of 30 (22 MB in all): the healthy reader drains each burst before the next,
    // so its backlog stays far below the bound, while the paused one overflows.
    for (let b = 0; b < 10; b++) {
      assert.equal(await ctl.k('.u.pub[30]'), 30);
      const frames = await readUpdates(good.raw, 30);
      frames.forEach((f, i) => assert.equal(decode(f)[2][0].seq, (b * 30 + i) * rowsPer,
        `update ${b * 30 + i} in order`));
    }
    await waitCounter(ctx, gw, 'pubsub_slow_disconnects', 1);
    slow.raw.sock.resume();
    await slow.raw.waitEof();
    assert.ok(tp.proc.alive && gw.proc.alive);
    const s = await stats(ctx, gw);
    assert.equal(counter(s, 'pubsub_subscribers'), 1, 'the slow one was unsubscribed');
  });

itest('conflate policy: a slow subscriber stays connected and gets the newest update',
  async (t, ctx) => {
    const rowsPer = 2000;
    const tp = await startTickerplant(ctx, ['--tp-rate', '0', '--tp-rows', String(rowsPer)]);
    const gw = await startPubsubGate(ctx, {
      tp: tp.port, pubsub: { backlog_updates_max: 4, slow_subscriber: 'conflate' },
    });
    await waitCounter(ctx, gw, 'pubsub_upstream_connects', 1);
    const slow = await rawSubscriber(ctx, gw.port);
    slow.raw.sock.pause();
    const ctl = await qconnect(ctx, tp.port);
    assert.equal(await ctl.k('.u.pub[300]'), 300);  // 22 MB: more than socket buffers hold
    const s = await waitCounter(ctx, gw, 'pubsub_conflations', 1);
    assert.equal(counter(s, 'pubsub_slow_disconnects'), 0);
    slow.raw.sock.resume();
    const newest = 299 * rowsPer;
    const firsts = [];
    for (let i = 0; i < 300 && firsts[firsts.length - 1] !== newest; i++) {
      const rows = decode((await slow.raw.readFrame()).frame)[2];
      assert.equal(rows.length, rowsPer, 'whole updates');
      firsts.push(rows[0].seq);
    }
    assert.equal(firsts[firsts.length - 1], newest, 'the newest update arrives');
    firsts.forEach((f, i) => assert.ok(i === 0 || f > firsts[i - 1], 'in order'));
    assert.ok(firsts.length < 300, `rows lost to conflation: ${firsts.length} of 300 updates`);
    // still connected: the next frame is the answer to a new call
    const again = await slow.raw.call(syncText('.u.sub[`trade;`]'));
    assert.equal(decode(again.frame)[0], 'trade');
    assert.equal(counter(await stats(ctx, gw), 'pubsub_slow_disconnects'), 0);
  });

itest('upstream restart: qgate re-subscribes and updates flow again', async (t, ctx) => {
  const tp = await startTickerplant(ctx, ['--tp-rate', '0']);
  const gw = await startPubsubGate(ctx, { tp: tp.port });
  await waitCounter(ctx, gw, 'pubsub_upstream_connects', 1);
  const sub = await rawSubscriber(ctx, gw.port);
  let ctl = await qconnect(ctx, tp.port);
  assert.equal(await ctl.k('.u.pub[3]'), 3);
  const before = await readUpdates(sub.raw, 3);
  assert.deepEqual(before.map((f) => decode(f)[2][0].seq), [0, 1, 2]);
  tp.proc.kill('SIGTERM');
  await pollUntil(() => !tp.proc.alive, { what: 'tickerplant exit' });
  const tp2 = await startTickerplant(ctx, ['--tp-rate', '0'], tp.port, 'qmock-tp2');
  await waitCounter(ctx, gw, 'pubsub_upstream_connects', 2, 10000);
  ctl = await qconnect(ctx, tp2.port);
  assert.equal(await ctl.k('.u.pub[4]'), 4);
  const frames = await readUpdates(sub.raw, 4);
  assert.deepEqual(frames.map((f) => decode(f)[2][0].seq), [0, 1, 2, 3], 'new updates flow');
});

// ---- publishers calling .u.upd on qgate (no upstream)


itest('publishers call .u.upd on qgate: schema learnt, rows delivered, filtered',
  async (t, ctx) => {
    const gw = await startPubsubGate(ctx, {});
    const feed = await RawClient.connect(ctx, gw.port);
    const syms = ['IBM', 'AAPL', 'IBM', 'MSFT'];
    const first = qtable(['sym', 'seq'], [qsyms(syms), qlongs([0, 1, 2, 3])]);
    await feed.write(qmsg(MSG.async, qlist(qstr('.u.upd'), qsym('trade'), first)));
    await waitCounter(ctx, gw, 'pubsub_updates_in', 1);
    const all = await qconnect(ctx, gw.port);
    const ibm = await rawSubscriber(ctx, gw.port, '.u.sub[`trade;`IBM]');
    const rows = [];
    const tables = [];
    const got = within(new Promise((resolve) => {
      all.con.on('upd', (table, data) => {
        tables.push(table);
        rows.push(...data);
        if (rows.length >= 8) resolve();
      });
    }), 10000, '8 rows');
    const reply = await all.k('.u.sub[`trade;`]');
    assert.equal(reply[0], 'trade');
    const bad = await feed.call(syncText('nosuch[]'));
    assert.equal(errorText(bad.frame), 'qgate: pubsub listener: .u.sub and .u.upd only');
    // a column list (tabled with the learnt names) and a sync call (answered ::)
    await feed.write(qmsg(MSG.async, qlist(qstr('.u.upd'), qsym('trade'),
      qlist(qsyms(syms), qlongs([4, 5, 6, 7])))));
    const r = await feed.call(qmsg(MSG.sync, qlist(qstr('.u.upd'), qsym('trade'),
      qtable(['sym', 'seq'], [qsyms(syms), qlongs([8, 9, 10, 11])]))));
    assert.equal(r.frame.toString('hex'), '010200000a0000006500', 'answered :: (generic null)');
    await got;
    assert.deepEqual(tables, ['trade', 'trade']);
    assert.deepEqual(rows.map((x) => Number(x.seq)), [4, 5, 6, 7, 8, 9, 10, 11],
      'both updates published, the sync one too');
    const f = await readUpdates(ibm.raw, 2);
    assert.deepEqual(f.map((x) => decode(x)[2].map((row) => Number(row.seq))), [[4, 6], [8, 10]]);
    await all.close();
    await ibm.raw.destroy();
    const s = await pollUntil(async () => {
      const now = await stats(ctx, gw);
      return counter(now, 'pubsub_subscribers') === 0 ? now : null;
    }, { what: 'disconnect unsubscribes (pubsub_subscribers = 0)' });
    assert.equal(counter(s, 'pubsub_updates_in'), 3);
    assert.equal(counter(s, 'pubsub_payload_bytes_copied'), 0);
  });

itest('pubinterval: a burst of updates is published merged, every row in order', async (t, ctx) => {
  const gw = await startPubsubGate(ctx, { pubsub: { pubinterval_ms: 200 } });
  const feed = await RawClient.connect(ctx, gw.port);
  const upd = (seqs) => qmsg(MSG.async, qlist(qstr('.u.upd'), qsym('trade'),
    qtable(['sym', 'seq'], [qsyms(seqs.map((k) => SYMS[k % 4])), qlongs(seqs)])));
  await feed.write(upd([0, 1]));
  await waitCounter(ctx, gw, 'pubsub_updates_in', 1);
  const sub = await rawSubscriber(ctx, gw.port);
  const ibm = await rawSubscriber(ctx, gw.port, '.u.sub[`trade;`IBM]');
  const burst = [];
  for (let i = 0; i < 5; i++) burst.push(upd([4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 3]));
  await feed.write(Buffer.concat(burst));  // one write: one interval
  const seqs = [];
  let frames = 0;
  for (let i = 0; i < 20 && seqs.length < 20; i++) {
    const [fn, table, rows] = decode((await sub.raw.readFrame()).frame);
    assert.deepEqual([fn, table], ['upd', 'trade']);
    seqs.push(...rows.map((r) => Number(r.seq)));
    frames++;
  }
  assert.deepEqual(seqs, [...Array(20).keys()], 'every row, in order');
  assert.ok(frames < 5, `merged: ${frames} messages for 5 updates`);
  const ibmRows = [];
  for (let i = 0; i < 5 && ibmRows.length < 5; i++) {
    ibmRows.push(...decode((await ibm.raw.readFrame()).frame)[2]);
  }
  assert.deepEqual(ibmRows.map((r) => Number(r.seq)), [2, 6, 10, 14, 18]);
});

// Ingest (issue 7): every frame a pub/sub connection receives is read straight into the one
// buffer it is published from; the payload counters prove no byte of it was copied.
itest('ingest: payloads read straight into update buffers (split header, > 64 KiB), 0 copied',
  async (t, ctx) => {
    const gw = await startPubsubGate(ctx, {});
    const feed = await RawClient.connect(ctx, gw.port);
    const upd = (seqs) => qmsg(MSG.async, qlist(qstr('.u.upd'), qsym('trade'),
      qtable(['sym', 'seq'], [qsyms(seqs.map((k) => SYMS[k % 4])), qlongs(seqs)])));
    const first = upd([0, 1]);
    await feed.write(first);
    await waitCounter(ctx, gw, 'pubsub_updates_in', 1);
    const subCall = syncText('.u.sub[`trade;`]');
    const sub = await RawClient.connect(ctx, gw.port);
    assert.equal((await sub.call(subCall)).type, MSG.response);
    const in0 = counter(await stats(ctx, gw), 'bytes_in');
    // A header split across TCP writes (each write is in qgate's socket when it resolves).
    // Under epoll qgate reads the first 3 bytes alone (a short read, resumed); io_uring's
    // MSG_WAITALL read completes only with all 8, so there is nothing to wait for.
    const split = upd([2, 3]);
    const epoll = process.env.QGATE_IO === 'epoll';
    await feed.write(split.subarray(0, 3));
    if (epoll) await waitCounter(ctx, gw, 'bytes_in', in0 + 3);
    await feed.write(split.subarray(3, 8));
    if (epoll) await waitCounter(ctx, gw, 'bytes_in', in0 + 8);
    await feed.write(split.subarray(8));
    const big = upd([...Array(8000).keys()].map((k) => k + 4));
    assert.ok(big.length > 65536, `${big.length} bytes`);
    const small = [];
    for (let i = 0; i < 20; i++) small.push(upd([8004 + 2 * i, 8005 + 2 * i]));
    await feed.write(Buffer.concat([big, ...small]));  // back to back in one write
    const want = [...Array(8044).keys()].slice(2);
    const seqs = [];
    for (let i = 0; i < 23 && seqs.length < want.length; i++) {
      const [fn, table, rows] = decode((await sub.readFrame()).frame);
      assert.deepEqual([fn, table], ['upd', 'trade']);
      seqs.push(...rows.map((r) => Number(r.seq)));
    }
    assert.deepEqual(seqs, want, 'every row, in order');
    const frames = [first, subCall, split, big, ...small];
    const payload = frames.reduce((n, f) => n + f.length - 8, 0);
    const s = await stats(ctx, gw);
    assert.equal(counter(s, 'pubsub_updates_in'), 23);
    assert.equal(counter(s, 'pubsub_ingest_bytes_direct'), payload, 'every payload byte direct');
    assert.equal(counter(s, 'pubsub_ingest_bytes_copied'), 0, 'none copied');
    assert.equal(counter(s, 'pubsub_payload_bytes_copied'), 0);
  });

itest('ingest: frames sent with the handshake are processed (and counted as copied)',
  async (t, ctx) => {
    const gw = await startPubsubGate(ctx, {});
    const upd = qmsg(MSG.async, qlist(qstr('.u.upd'), qsym('trade'),
      qtable(['sym', 'seq'], [qsyms(['IBM']), qlongs([0])])));
    const sock = require('node:net').connect(gw.port, '127.0.0.1');
    await within(new Promise((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    }), 5000, 'connect');
    // handshake and a whole update in one write, before qgate's reply byte
    sock.write(Buffer.concat([Buffer.from('feed:\x03\0', 'latin1'), upd]));
    try {
      const s = await waitCounter(ctx, gw, 'pubsub_updates_in', 1);
      assert.equal(counter(s, 'pubsub_ingest_bytes_copied'), upd.length - 8);
      assert.equal(counter(s, 'pubsub_ingest_bytes_direct'), 0);
    } finally {
      sock.destroy();
    }
  });

'use strict';
// README, Behaviour decisions, Pub/sub: promises no other test pins. An unknown table in .u.sub
// is the error 't and subscribes nothing; the .u.sub reply precedes the first update even while
// a feed publishes fast; updates reach subscribers as async messages (a sync `(`upd;t;table),
// plain or compressed, too); the upstream's .u.end is forwarded byte for byte, once per
// subscriber; with pubinterval_ms the time column is added to short .u.upd rows before they
// are batched; the counters pubsub_update_bytes_encoded, pubsub_deliveries and
// pubsub_bytes_queued match what the subscribers received; pubsub.tables makes qgate send one
// .u.sub[`t;`] per entry upstream (seen by qmock --record).

const path = require('node:path');
const {
  itest, assert, QMOCK, qconnect, waitPortFile, RawClient, MSG, syncText, decode, qmsg,
  qlist, qstr, qsym, startQgate, stats, counter, waitCounter, errorText, recordedFrames, BUILD, qsyms, qlongs, qtable, seqsOf,
} = require('./lib.js');
const { spawnSync } = require('node:child_process');

const SYMS = ['AAPL', 'MSFT', 'IBM', 'GOOG'];  // qmock --tickerplant's default sym cycle

/** qmock --tickerplant; `extra` are more flags. Returns { proc, port, record (or null) }. */
async function startTickerplant(ctx, extra = [], { name = 'tp', record = false } = {}) {
  const portFile = path.join(ctx.dir, `${name}.port`);
  const rec = record ? path.join(ctx.dir, `${name}.rec`) : null;
  const args = ['--port', '0', '--port-file', portFile, '--name', name, '--tickerplant', ...extra];
  if (rec) args.push('--record', rec);
  const proc = ctx.spawn(`qmock-${name}`, QMOCK, args);
  const port = await waitPortFile(portFile, proc, (text) => {
    const m = /^(\d+)\s*$/m.exec(text);
    return m ? Number(m[1]) : null;
  });
  return { proc, port, record: rec };
}

/** qgate with one pubsub listener; `tp` = the upstream tickerplant's port (or none). */
function startPubsubGate(ctx, { tp, pubsub = {}, procName } = {}) {
  const lines = ['[pubsub]'];
  if (tp) lines.push('upstream = "tp"');
  for (const [k, v] of Object.entries(pubsub)) {
    const val = Array.isArray(v) ? `[${v.map((x) => JSON.stringify(x)).join(', ')}]`
      : typeof v === 'number' ? v : JSON.stringify(v);
    lines.push(`${k} = ${val}`);
  }
  return startQgate(ctx, {
    procName,
    listeners: [{ group: 'tp', mode: 'pubsub' }],
    backends: tp ? [{ name: 'tp', group: 'tp', port: tp }] : [],
    limits: { reconnect_min_ms: 20, reconnect_max_ms: 200 },
    extra: lines.join('\n'),
  });
}

/** .u.upd[`t; ([] sym; seq)], one row per seq, every row's sym `sym`. */
function updTable(type, t, seqs, sym = 'IBM') {
  const table = qtable(['sym', 'seq'], [qsyms(seqs.map(() => sym)), qlongs(seqs)]);
  return qmsg(type, qlist(qstr('.u.upd'), qsym(t), table));
}

/** A second table, quote, on a qmock tickerplant (a table update for a new table adds it). */
async function makeQuote(ctx, port) {
  const pre = await RawClient.connect(ctx, port);
  assert.equal((await pre.call(updTable(MSG.sync, 'quote', [0]))).type, MSG.response);
  pre.destroy();
}

/** A raw subscriber: its .u.sub must be answered by a response, returned decoded. */
async function subscribe(raw, call) {
  const r = await raw.call(syncText(call));
  assert.equal(r.type, MSG.response, `${call}: the first frame is the response`);
  return decode(r.frame);
}

/** An update frame as subscribers must get it: little-endian, async, uncompressed, upd. */
function assertAsyncUpd(f, table, what) {
  assert.deepEqual([...f.frame.subarray(0, 4)], [1, MSG.async, 0, 0],
    `${what}: header bytes 0-3 (little-endian, async, not compressed)`);
  const [fn, t] = decode(f.frame);
  assert.deepEqual([fn, t], ['upd', table], `${what}: (\`upd;\`${table};table)`);
}

itest('unknown table: .u.sub is the error \'t (its name) and subscribes nothing',
  async (t, ctx) => {
    const gw = await startPubsubGate(ctx);
    const feed = await RawClient.connect(ctx, gw.port);
    await feed.write(updTable(MSG.async, 'trade', [0]));  // trade's schema is learnt
    await waitCounter(ctx, gw, 'pubsub_updates_in', 1);
    const sub = await RawClient.connect(ctx, gw.port);
    const err = await sub.call(syncText('.u.sub[`nosuch;`]'));
    assert.equal(err.type, MSG.response);
    assert.equal(err.frame[8], 0x80, 'a q error (type -128)');
    assert.equal(errorText(err.frame), 'nosuch', "q's 't: the table's name, exactly");
    assert.equal(counter(await stats(ctx, gw), 'pubsub_subscribers'), 0, 'nobody subscribed');
    // A control subscriber to trade, on a connection of its own.
    const ctl = await RawClient.connect(ctx, gw.port);
    assert.equal((await subscribe(ctl, '.u.sub[`trade;`]'))[0], 'trade');
    // An update of another table, and then `nosuch` itself comes to exist (a publisher's
    // first table update); a control subscriber to it gets the next one.
    await feed.write(Buffer.concat([updTable(MSG.async, 'trade', [1]),
      updTable(MSG.async, 'nosuch', [2])]));
    await waitCounter(ctx, gw, 'pubsub_updates_in', 3);
    assert.deepEqual(seqsOf((await ctl.readFrame()).frame), [1], 'the trade update was sent');
    const ctlN = await RawClient.connect(ctx, gw.port);
    assert.equal((await subscribe(ctlN, '.u.sub[`nosuch;`]'))[0], 'nosuch');
    await feed.write(Buffer.concat([updTable(MSG.async, 'trade', [3]),
      updTable(MSG.async, 'nosuch', [4])]));
    await waitCounter(ctx, gw, 'pubsub_updates_in', 5);
    assert.deepEqual(seqsOf((await ctl.readFrame()).frame), [3]);
    assert.deepEqual(seqsOf((await ctlN.readFrame()).frame), [4], 'nosuch updates are sent');
    // The hub handled those updates before this call (pubsub_updates_in), and its answer
    // travels the same ordered lane as their deliveries: had the failed .u.sub subscribed
    // anything, an update would come first.
    const next = await sub.call(syncText('.u.sub[`trade;`IBM]'));
    assert.equal(next.type, MSG.response, 'the next frame is the answer to the next call');
    assert.equal(decode(next.frame)[0], 'trade');
    const s = await stats(ctx, gw);
    assert.equal(counter(s, 'pubsub_subscribers'), 3, 'ctl, ctlN, and now sub');
  });

itest('the .u.sub reply precedes the first update while a feed publishes fast',
  async (t, ctx) => {
    const tp = await startTickerplant(ctx, ['--tp-rate', '0', '--tp-rows', '1']);
    const gw = await startPubsubGate(ctx, {
      tp: tp.port, pubsub: { backlog_updates_max: 1000000, backlog_bytes_max: 1073741824 },
    });
    await waitCounter(ctx, gw, 'pubsub_upstream_connects', 1);
    // Subscribers already there keep qgate's lanes to both shards full of deliveries
    // (SO_REUSEPORT spreads 6 connections over the 2 shards; all on one has odds of 2^-5).
    const pre = [];
    for (let i = 0; i < 6; i++) {
      const raw = await RawClient.connect(ctx, gw.port);
      await subscribe(raw, '.u.sub[`trade;`]');
      pre.push(raw);
    }
    // The feed publishes 200 updates at a time until every new subscriber has its reply, each
    // chunk in step with its delivery to pre[0] (so qgate is not merely backed up; bounded).
    const ctl = await qconnect(ctx, tp.port);
    let stop = false;
    let published = 0;
    let rounds = 0;
    let flowing;
    const flows = new Promise((resolve) => { flowing = resolve; });
    const pump = (async () => {
      let seen = -1;
      for (; rounds < 2000 && !stop; rounds++) {
        published += Number(await ctl.k('.u.pub[200]'));
        for (let n = 0; seen < published - 1 && n < 1000; n++) {
          const rows = decode((await pre[0].readFrame()).frame)[2];
          seen = Number(rows[rows.length - 1].seq);
        }
        assert.equal(seen, published - 1, 'pre[0] got the whole chunk');
        flowing();
      }
    })();
    // The stream flows: seq 0 reached a subscriber before any new one asked, so each new one
    // joins mid-stream (its first seq > 0) while the feed is still publishing.
    await Promise.race([flows, pump]);
    const subs = await Promise.all([...Array(12)].map(async () => {
      const raw = await RawClient.connect(ctx, gw.port);
      const reply = await raw.call(syncText('.u.sub[`trade;`]'));
      return { raw, reply, publishing: !stop && rounds < 2000 };
    }));
    stop = true;
    await pump;
    const tail = 20;
    assert.equal(await ctl.k(`.u.pub[${tail}]`), tail);  // every subscriber gets some
    const last = published + tail - 1;
    for (const [k, { raw, reply, publishing }] of subs.entries()) {
      assert.ok(publishing, `subscriber ${k} was answered while the feed was publishing`);
      assert.equal(reply.type, MSG.response, `subscriber ${k}: the reply comes first`);
      assert.equal(decode(reply.frame)[0], 'trade');
      let first = null;
      let seq = null;
      for (let i = 0; i <= last && seq !== last; i++) {
        const f = await raw.readFrame();
        assert.equal(f.type, MSG.async, `subscriber ${k}, frame ${i + 1}: an async update`);
        const [fn, table, rows] = decode(f.frame);
        assert.deepEqual([fn, table], ['upd', 'trade']);
        for (const r of rows) {
          if (seq !== null) assert.equal(Number(r.seq), seq + 1, `subscriber ${k}: in sequence`);
          seq = Number(r.seq);
          if (first === null) first = seq;
        }
      }
      assert.equal(seq, last, `subscriber ${k}: up to the last update`);
      assert.ok(first > 0, `subscriber ${k} joined mid-stream (first seq ${first})`);
    }
  });

itest('updates reach subscribers async (type byte 0): as received, filtered, a sync .u.upd',
  async (t, ctx) => {
    const tp = await startTickerplant(ctx, ['--tp-rate', '0', '--tp-rows', '4']);
    const gw = await startPubsubGate(ctx, { tp: tp.port });
    await waitCounter(ctx, gw, 'pubsub_upstream_connects', 1);
    const all = await RawClient.connect(ctx, gw.port);
    const ibm = await RawClient.connect(ctx, gw.port);
    await subscribe(all, '.u.sub[`trade;`]');
    await subscribe(ibm, '.u.sub[`trade;`IBM]');
    const ctl = await qconnect(ctx, tp.port);
    assert.equal(await ctl.k('.u.pub[3]'), 3);
    for (let i = 0; i < 3; i++) {
      assertAsyncUpd(await all.readFrame(), 'trade', `upstream update ${i}, as received`);
      assertAsyncUpd(await ibm.readFrame(), 'trade', `upstream update ${i}, filtered`);
    }
    const s = await stats(ctx, gw);
    assert.equal(counter(s, 'pubsub_as_received'), 3, 'both paths were taken');
    assert.equal(counter(s, 'pubsub_encodings'), 3);
    // A publisher on qgate: a sync .u.upd (answered ::) is published async all the same.
    const feed = await RawClient.connect(ctx, gw.port);
    await feed.write(updTable(MSG.async, 'quote', [0]));  // learnt
    await waitCounter(ctx, gw, 'pubsub_updates_in', 4);
    await subscribe(all, '.u.sub[`quote;`]');
    assert.equal((await feed.call(updTable(MSG.sync, 'quote', [1]))).type, MSG.response);
    const f = await all.readFrame();
    assertAsyncUpd(f, 'quote', 'a sync .u.upd, published');
    assert.deepEqual(seqsOf(f.frame), [1]);
  });

// README: subscribers get async `(`upd;`t;table)` messages; "a sync call is answered `::` at
// once". A sync `(`upd;t;table)` (is_update_call takes `upd as well as .u.upd) is forwardable,
// so subscribers get the received buffer itself: qgate marks it async when it is read. The
// compressed case (q compresses over 2000 bytes to remote peers) is decompressed into that
// buffer, type byte and all; it is compressed here by qgate's tool (q's algorithm).
itest('a sync (`upd;t;table) from a publisher reaches subscribers async', async (t, ctx) => {
  const gw = await startPubsubGate(ctx);
  const feed = await RawClient.connect(ctx, gw.port);
  await feed.write(updTable(MSG.async, 'trade', [0]));
  await waitCounter(ctx, gw, 'pubsub_updates_in', 1);
  const sub = await RawClient.connect(ctx, gw.port);
  await subscribe(sub, '.u.sub[`trade;`]');
  const updCall = (seqs) => qmsg(MSG.sync, qlist(qsym('upd'), qsym('trade'),
    qtable(['sym', 'seq'], [qsyms(seqs.map(() => 'IBM')), qlongs(seqs)])));
  const NULL_REPLY = '010200000a0000006500';  // response ::
  const r = await feed.call(updCall([1]));
  assert.equal(r.frame.toString('hex'), NULL_REPLY, 'the publisher: :: at once');
  const f = await sub.readFrame();
  assert.deepEqual(seqsOf(f.frame), [1]);
  assertAsyncUpd(f, 'trade', 'a sync (`upd;`trade;table)');
  const big = [...Array(400).keys()].map((k) => 100 + k);
  const plain = updCall(big);
  const run = spawnSync(path.join(BUILD, 'tools', 'qipc', 'qipc'),
    ['compress', plain.toString('hex')], { encoding: 'utf8', timeout: 10000 });
  assert.equal(run.status, 0, `qipc compress: ${run.stderr}`);
  const packed = Buffer.from(run.stdout.trim(), 'hex');
  assert.deepEqual([...packed.subarray(0, 3)], [1, MSG.sync, 1], 'sent sync and compressed');
  assert.ok(packed.length < plain.length / 2, `compressed: ${packed.length} of ${plain.length}`);
  const rc = await feed.call(packed);
  assert.equal(rc.frame.toString('hex'), NULL_REPLY, 'compressed: the publisher gets ::');
  const fc = await sub.readFrame();
  assert.deepEqual(seqsOf(fc.frame), big, 'compressed: every row');
  assertAsyncUpd(fc, 'trade', 'a compressed sync (`upd;`trade;table), decompressed');
  assert.equal(fc.frame.toString('hex'), Buffer.concat([Buffer.from([1, MSG.async]),
    plain.subarray(2)]).toString('hex'), 'compressed: the plain bytes, marked async only');
  assert.equal(counter(await stats(ctx, gw), 'pubsub_as_received'), 2, 'forwarded as received');
});

itest('upstream .u.end: forwarded byte for byte, once per subscriber', async (t, ctx) => {
  const tp = await startTickerplant(ctx, ['--tp-rate', '0', '--tp-rows', '4']);
  // a second table upstream, so one subscriber can hold two subscriptions
  await makeQuote(ctx, tp.port);
  const gw = await startPubsubGate(ctx, { tp: tp.port });
  await waitCounter(ctx, gw, 'pubsub_upstream_connects', 1);
  const both = await RawClient.connect(ctx, gw.port);
  assert.deepEqual((await subscribe(both, '.u.sub[`;`]')).map((p) => p[0]).sort(),
    ['quote', 'trade']);
  const two = await RawClient.connect(ctx, gw.port);
  await subscribe(two, '.u.sub[`trade;`IBM]');
  await subscribe(two, '.u.sub[`quote;`]');
  const idle = await RawClient.connect(ctx, gw.port);  // connected, subscribed to nothing
  const direct = await RawClient.connect(ctx, tp.port);  // the upstream's own subscriber
  await subscribe(direct, '.u.sub[`trade;`]');
  const ctl = await qconnect(ctx, tp.port);
  await ctl.k('.u.endofday[]');
  const sent = (await direct.readFrame()).frame;
  assert.equal(decode(sent)[0], '.u.end', 'what the upstream sends');
  assert.equal(sent[1], MSG.async);
  for (const [name, c] of [['both', both], ['two', two]]) {
    const got = (await c.readFrame()).frame;
    assert.equal(got.toString('hex'), sent.toString('hex'), `${name}: the upstream's bytes`);
  }
  await waitCounter(ctx, gw, 'pubsub_ends', 2);
  // Once: the next frame each one gets is the next update.
  assert.equal(await ctl.k('.u.pub[1]'), 1);
  const after = [(await both.readFrame()).frame, (await two.readFrame()).frame].map(decode);
  assert.deepEqual(after.map((m) => m[0]), ['upd', 'upd'], 'no second .u.end (two: 2 tables)');
  assert.deepEqual(after[0][2].map((r) => Number(r.seq)), [0, 1, 2, 3], 'both: every row');
  assert.deepEqual(after[1][2].map((r) => r.sym), ['IBM'], 'two: its IBM row');
  // A connection with no subscription gets no .u.end: its next frame answers its call.
  assert.equal(idle.received, 1, 'idle: nothing after the handshake byte');
  const r = await idle.call(syncText('.u.sub[`trade;`]'));
  assert.equal(r.type, MSG.response, 'idle: no .u.end came before the answer');
  assert.equal(counter(await stats(ctx, gw), 'pubsub_ends'), 2, 'one per subscriber');
});

// Schema (time; sym; seq), then a .u.upd of (sym; seq): one column short, then a row of
// (time; sym; seq) with its own time 7, the end marker. `together`: both in one write.
async function shortRowFeed(ctx, gw, { together = false } = {}) {
  const feed = await RawClient.connect(ctx, gw.port);
  const first = qtable(['time', 'sym', 'seq'], [qlongs([5], 16), qsyms(['IBM']), qlongs([0])]);
  await feed.write(qmsg(MSG.async, qlist(qstr('.u.upd'), qsym('trade'), first)));
  await waitCounter(ctx, gw, 'pubsub_updates_in', 1);
  const sub = await RawClient.connect(ctx, gw.port);
  assert.equal((await subscribe(sub, '.u.sub[`trade;`]'))[0], 'trade');
  const short = qmsg(MSG.async, qlist(qstr('.u.upd'), qsym('trade'),
    qlist(qsyms(['IBM', 'MSFT']), qlongs([1, 2]))));
  const whole = qmsg(MSG.async, qlist(qstr('.u.upd'), qsym('trade'),
    qlist(qlongs([7], 16), qsyms(['IBM']), qlongs([3]))));
  if (together) {
    await feed.write(Buffer.concat([short, whole]));
  } else {
    await feed.write(short);
    await waitCounter(ctx, gw, 'pubsub_updates_in', 2);
    await feed.write(whole);
  }
  // Every row that arrives, up to the marker (seq 3): its frame, column names and time.
  const rows = [];
  for (let i = 0; i < 3 && !rows.some((r) => r.seq === 3); i++) {
    const f = await sub.readFrame();
    assertAsyncUpd(f, 'trade', 'an update');
    for (const r of decode(f.frame, { nanos2date: false })[2]) {
      rows.push({ frame: i, seq: Number(r.seq), cols: Object.keys(r), time: Number(r.time) });
    }
  }
  return rows;
}

/** Nanoseconds between two times of day, across midnight. */
function todDistance(a, b) {
  const day = 86400e9;
  const d = Math.abs(a - b) % day;
  return Math.min(d, day - d);
}

// README: qgate adds tick.q's time column when a .u.upd's data is exactly one column short,
// with pubinterval_ms too (tick.q's batch-mode upd adds it as well), before the rows are held.
itest('pubinterval_ms: short .u.upd rows are published with the time column added, as tick.q',
  async (t, ctx) => {
    const plain = await startPubsubGate(ctx, { procName: 'qgate-plain' });
    const gw = await startPubsubGate(ctx, { pubsub: { pubinterval_ms: 50 } });
    for (const [name, g] of [['no interval', plain], ['pubinterval_ms 50', gw]]) {
      const rows = await shortRowFeed(ctx, g);
      assert.deepEqual(rows.map((r) => r.seq), [1, 2, 3], `${name}: every row published`);
      rows.forEach((r) => assert.deepEqual(r.cols, ['time', 'sym', 'seq'], `${name}: ${r.seq}`));
      assert.equal(counter(await stats(ctx, g), 'pubsub_bad_msgs'), 0, `${name}: none dropped`);
    }
  });

// The held update is the timed table: one batch holds the short rows (time added by qgate, the
// same for both, the time of day now) and the marker (its own time kept), in arrival order.
// The interval is long enough that both updates, written together, are in one batch.
itest('pubinterval_ms: the time column is added to short .u.upd rows, batched in order',
  async (t, ctx) => {
    const gw = await startPubsubGate(ctx, { pubsub: { pubinterval_ms: 2000 } });
    const rows = await shortRowFeed(ctx, gw, { together: true });
    assert.deepEqual(rows.map((r) => [r.frame, r.seq]), [[0, 1], [0, 2], [0, 3]],
      'one merged update, rows in arrival order');
    rows.forEach((r) => assert.deepEqual(r.cols, ['time', 'sym', 'seq'], `row ${r.seq}`));
    assert.equal(rows[2].time, 7, "the marker's own time is kept");
    assert.equal(rows[0].time, rows[1].time, 'one time for the rows of one update');
    const now = (Date.now() % 86400000) * 1e6;  // UTC time of day, as qgate's "n"$.z.P
    assert.ok(todDistance(rows[0].time, now) < 600e9,
      `time added is the time of day (${rows[0].time} vs ${now})`);
    assert.equal(counter(await stats(ctx, gw), 'pubsub_bad_msgs'), 0);
  });

itest('counters: update bytes encoded, deliveries and bytes queued match what was received',
  async (t, ctx) => {
    // 3 rows per update over a 4-sym cycle: an IBM filter selects one row of some updates
    // and none of others; the 4-sym filter selects every row (no encoding).
    const tp = await startTickerplant(ctx, ['--tp-rate', '0', '--tp-rows', '3']);
    const gw = await startPubsubGate(ctx, { tp: tp.port });
    await waitCounter(ctx, gw, 'pubsub_upstream_connects', 1);
    const calls = {
      all1: '.u.sub[`trade;`]', all2: '.u.sub[`trade;`]',
      ibm1: '.u.sub[`trade;`IBM]', ibm2: '.u.sub[`trade;`IBM]',
      every: '.u.sub[`trade;`AAPL`MSFT`IBM`GOOG]', none: '.u.sub[`trade;`NONE]',
    };
    const subs = {};
    for (const [name, call] of Object.entries(calls)) {
      subs[name] = await RawClient.connect(ctx, gw.port);
      await subscribe(subs[name], call);
    }
    const s0 = await stats(ctx, gw);
    const got0 = Object.fromEntries(Object.entries(subs).map(([k, c]) => [k, c.received]));
    const n = 8;
    const ctl = await qconnect(ctx, tp.port);
    assert.equal(await ctl.k(`.u.pub[${n}]`), n);
    const ibmIn = [];  // updates with an IBM row: row k of the feed has sym SYMS[k % 4]
    for (let i = 0; i < n; i++) {
      if ([0, 1, 2].some((j) => SYMS[(3 * i + j) % 4] === 'IBM')) ibmIn.push(i);
    }
    assert.ok(ibmIn.length > 0 && ibmIn.length < n, `IBM in ${ibmIn.length} of ${n} updates`);
    const want = { all1: n, all2: n, ibm1: ibmIn.length, ibm2: ibmIn.length, every: n, none: 0 };
    const frames = {};
    for (const [name, c] of Object.entries(subs)) {
      frames[name] = [];
      for (let i = 0; i < want[name]; i++) frames[name].push((await c.readFrame()).frame);
    }
    frames.ibm1.forEach((f, i) => {
      const rows = [0, 1, 2].map((j) => 3 * ibmIn[i] + j).filter((k) => SYMS[k % 4] === 'IBM');
      assert.deepEqual(seqsOf(f), rows, `IBM update ${i}: its IBM row`);
      assert.ok(f.equals(frames.ibm2[i]), 'one encoding for both IBM subscribers');
    });
    frames.every.forEach((f, i) => assert.ok(f.equals(frames.all1[i]), 'every: as received'));
    const bytesOf = (fs) => fs.reduce((a, f) => a + f.length, 0);
    const encoded = bytesOf(frames.ibm1);  // the one buffer per update for the IBM filter
    const deliveries = Object.values(want).reduce((a, b) => a + b, 0);
    const queued = Object.values(frames).reduce((a, fs) => a + bytesOf(fs), 0);
    for (const [name, c] of Object.entries(subs)) {
      assert.equal(c.received - got0[name], bytesOf(frames[name]), `${name}: nothing else came`);
    }
    const d = (s, k) => counter(s, k) - counter(s0, k);
    const s = await waitCounter(ctx, gw, 'pubsub_bytes_queued',
      counter(s0, 'pubsub_bytes_queued') + queued);
    assert.equal(d(s, 'pubsub_update_bytes_encoded'), encoded, 'bytes of the IBM encodings');
    assert.equal(d(s, 'pubsub_encodings'), ibmIn.length, 'one per update selecting some rows');
    assert.equal(d(s, 'pubsub_as_received'), 2 * n, 'the all-sym and the every-sym filters');
    assert.equal(d(s, 'pubsub_deliveries'), deliveries,
      'updates x subscribers whose filter selected rows');
    assert.equal(d(s, 'pubsub_bytes_queued'), queued, 'every byte the subscribers received');
  });

itest('pubsub.tables: qgate sends one .u.sub[`t;`] per entry upstream, in order',
  async (t, ctx) => {
    const tp = await startTickerplant(ctx, ['--tp-rate', '0'], { record: true });
    await makeQuote(ctx, tp.port);  // a second table upstream
    const before = recordedFrames(tp.record).length;
    assert.equal(before, 1, 'the .u.upd that made quote');
    const gw = await startPubsubGate(ctx, { tp: tp.port, pubsub: { tables: ['quote', 'trade'] } });
    await waitCounter(ctx, gw, 'pubsub_upstream_connects', 1);
    const sent = recordedFrames(tp.record).slice(before).map((f) => f.toString('hex'));
    assert.deepEqual(sent, ['.u.sub[`quote;`]', '.u.sub[`trade;`]']
      .map((c) => syncText(c).toString('hex')), 'exactly these frames, in this order');
    const sub = await RawClient.connect(ctx, gw.port);
    assert.deepEqual((await subscribe(sub, '.u.sub[`;`]')).map((p) => p[0]), ['quote', 'trade']);
    // Without tables: the one .u.sub[`;`] (what the record would show if tables were ignored).
    const gw2 = await startPubsubGate(ctx, { tp: tp.port, procName: 'qgate-all' });
    await waitCounter(ctx, gw2, 'pubsub_upstream_connects', 1);
    const sent2 = recordedFrames(tp.record).slice(before + 2).map((f) => f.toString('hex'));
    assert.deepEqual(sent2, [syncText('.u.sub[`;`]').toString('hex')]);
  });

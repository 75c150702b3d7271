'use strict';
// README, Behaviour decisions, Pub/sub: what a pubsub listener does with messages other than
// plain async updates. A sync .u.upd is answered :: at once, whatever becomes of the update;
// anything but .u.sub / .u.upd is answered 'qgate: pubsub listener: ... when sync and dropped
// and counted when async, the connection staying usable; a compressed message is decompressed
// before it is looked at, and one that does not decompress closes its connection (q's
// 'badmsg), counted, while the other publishers and subscribers carry on.

const fs = require('node:fs');
const path = require('node:path');
const {
  itest, assert, ROOT, RawClient, MSG, qmsg, qlist, qstr, qsym, qlong, syncText, asyncText,
  decode, errorText, startQgate, stats, counter, waitCounter, qsyms, qlongs, seqsOf,
} = require('./lib.js');

const ONLY = 'qgate: pubsub listener: .u.sub and .u.upd only';
const GENERIC_NULL = '010200000a0000006500';  // a response holding q's ::, as hex
const VECTORS = path.resolve(ROOT, '..', 'shared', 'qipc-vectors');

function startPubsubGate(ctx) {
  return startQgate(ctx, { listeners: [{ group: 'tp', mode: 'pubsub' }], extra: '[pubsub]' });
}

/** .u.upd[`t; ([] sym; seq)] with one row per seq. */
function upd(type, seqs, t = 'trade') {
  const table = Buffer.concat([Buffer.from([98, 0, 99]), qsyms(['sym', 'seq']),
    qlist(qsyms(seqs.map(() => 'IBM')), qlongs(seqs))]);
  return qmsg(type, qlist(qstr('.u.upd'), qsym(t), table));
}

/** q's compression of a whole message with literal items only: a stream q's decoder takes. */
function compressLiterals(m) {
  const body = m.subarray(8);
  const parts = [Buffer.alloc(12)];
  for (let i = 0; i < body.length; i += 8) parts.push(Buffer.from([0]), body.subarray(i, i + 8));
  const out = Buffer.concat(parts);
  m.copy(out, 0, 0, 2);
  out[2] = 1;
  out.writeUInt32LE(out.length, 4);
  out.writeUInt32LE(m.length, 8);
  return out;
}

/** Real q's compressed `1000#`q` (qpython-QCompressedExpressions3.out) as a sync message. */
function realCompressed() {
  const lines = fs.readFileSync(path.join(VECTORS, 'qpython-QCompressedExpressions3.out'), 'latin1')
    .split('\n').map((l) => l.trim());
  const i = lines.indexOf('1000#`q');
  assert.ok(i >= 0, 'the 1000#`q vector is there');
  const rest = Buffer.from(lines[i + 1], 'hex');
  const h = Buffer.from([1, MSG.sync, 1, 0, 0, 0, 0, 0]);
  h.writeUInt32LE(8 + rest.length, 4);
  return Buffer.concat([h, rest]);
}

itest('a sync .u.upd is answered :: at once; a bad one too, then dropped and counted',
  async (t, ctx) => {
    const gw = await startPubsubGate(ctx);
    const feed = await RawClient.connect(ctx, gw.port);
    await feed.write(upd(MSG.async, [0, 1]));  // the table's schema is learnt from it
    await waitCounter(ctx, gw, 'pubsub_updates_in', 1);
    const sub = await RawClient.connect(ctx, gw.port);
    assert.equal(decode((await sub.call(syncText('.u.sub[`trade;`]'))).frame)[0], 'trade');
    const r = await feed.call(upd(MSG.sync, [2, 3]));
    assert.equal(r.frame.toString('hex'), GENERIC_NULL, 'answered ::');
    assert.deepEqual(seqsOf((await sub.readFrame()).frame), [2, 3], 'and published');
    // A column list for a table nobody published: still ::, as the answer does not wait for
    // the hub, which drops the update and counts it.
    const bad0 = counter(await stats(ctx, gw), 'pubsub_bad_msgs');
    const bad = qmsg(MSG.sync, qlist(qstr('.u.upd'), qsym('nosuch'),
      qlist(qsyms(['IBM']), qlongs([9]))));
    assert.equal((await feed.call(bad)).frame.toString('hex'), GENERIC_NULL, 'bad: answered ::');
    await waitCounter(ctx, gw, 'pubsub_bad_msgs', bad0 + 1);
    await feed.write(upd(MSG.async, [4]));
    assert.deepEqual(seqsOf((await sub.readFrame()).frame), [4], 'nothing of the bad update');
    const s = await stats(ctx, gw);
    assert.equal(counter(s, 'pubsub_bad_msgs'), bad0 + 1);
    assert.equal(counter(s, 'pubsub_updates_in'), 3);
  });

itest('other calls: sync ones get the listener error, async ones are dropped and counted',
  async (t, ctx) => {
    const gw = await startPubsubGate(ctx);
    const c = await RawClient.connect(ctx, gw.port);
    const bad0 = counter(await stats(ctx, gw), 'pubsub_bad_msgs');
    for (const call of [syncText('nosuch[]'), qmsg(MSG.sync, qlist(qstr('f'), qlong(1)))]) {
      const r = await c.call(call);
      assert.equal(r.type, MSG.response);
      assert.equal(errorText(r.frame), ONLY);
    }
    const bad1 = bad0 + 2;
    await waitCounter(ctx, gw, 'pubsub_bad_msgs', bad1);
    const junk = [asyncText('nosuch[]'), qmsg(MSG.async, qlist(qstr('f'), qlong(1))),
      qmsg(MSG.async, qsym('x'))];
    await c.write(Buffer.concat(junk));
    await waitCounter(ctx, gw, 'pubsub_bad_msgs', bad1 + junk.length);
    // Still usable, and nothing was answered to the async ones: the next frame on the
    // connection is the answer to this call (frames are handled in order).
    const r = await c.call(upd(MSG.sync, [0]));
    assert.equal(r.frame.toString('hex'), GENERIC_NULL);
    const s = await waitCounter(ctx, gw, 'pubsub_updates_in', 1);
    assert.equal(counter(s, 'pubsub_bad_msgs'), bad1 + junk.length, 'each async call once');
  });

itest('compressed: decompressed before use; one that does not decompress closes, counted',
  async (t, ctx) => {
    const gw = await startPubsubGate(ctx);
    const a = await RawClient.connect(ctx, gw.port);
    const b = await RawClient.connect(ctx, gw.port);
    await b.write(upd(MSG.async, [0, 1]));
    await waitCounter(ctx, gw, 'pubsub_updates_in', 1);
    const sub = await RawClient.connect(ctx, gw.port);
    assert.equal(decode((await sub.call(syncText('.u.sub[`trade;`]'))).frame)[0], 'trade');
    // A compressed .u.upd is published: it was looked at decompressed.
    await a.write(compressLiterals(upd(MSG.async, [2, 3])));
    assert.deepEqual(seqsOf((await sub.readFrame()).frame), [2, 3]);
    // Real q's compressed bytes decompress (not a call: the listener's error, still open) ...
    const good = realCompressed();
    assert.equal(errorText((await a.call(good)).frame), ONLY);
    const s0 = await waitCounter(ctx, gw, 'pubsub_updates_in', 2);
    const bad0 = counter(s0, 'pubsub_bad_msgs');
    // ... and the same stream one byte short does not: the connection closes, nothing sent.
    const short = Buffer.from(good.subarray(0, good.length - 1));
    short.writeUInt32LE(short.length, 4);
    const got = a.received;
    await a.write(short);
    assert.equal(await a.waitEof(), got, 'closed without an answer');
    await waitCounter(ctx, gw, 'pubsub_bad_msgs', bad0 + 1);
    // The others carry on.
    await b.write(upd(MSG.async, [4, 5]));
    assert.deepEqual(seqsOf((await sub.readFrame()).frame), [4, 5]);
    assert.equal((await b.call(upd(MSG.sync, [6]))).frame.toString('hex'), GENERIC_NULL);
    assert.deepEqual(seqsOf((await sub.readFrame()).frame), [6]);
    const s = await stats(ctx, gw);
    assert.equal(counter(s, 'pubsub_bad_msgs'), bad0 + 1);
    assert.equal(counter(s, 'pubsub_subscribers'), 1);
  });

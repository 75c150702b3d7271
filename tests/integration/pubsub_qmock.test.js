'use strict';
// qmock --tickerplant against a real client (node-q): .u.sub in the forms node-q sends, the
// (t;schema) reply, upd messages with in-order sequence numbers, sym filters, .u.end, and
// unsubscription on disconnect. qgate's pub/sub engine will be tested against this publisher.

const path = require('node:path');
const {
  itest, assert, QMOCK, qconnect, waitPortFile, pollUntil, within, RawClient, MSG, syncText,
  decode, qmsg, qlist, qstr, qsym, qlong, errorText, qsyms,
} = require('./lib.js');

const SYMS = ['AAPL', 'MSFT', 'IBM', 'GOOG'];

async function startTickerplant(ctx, extra = []) {
  const portFile = path.join(ctx.dir, 'tp.port');
  const proc = ctx.spawn('qmock-tp', QMOCK,
    ['--port', '0', '--port-file', portFile, '--name', 'tp', '--tickerplant', ...extra]);
  const port = await waitPortFile(portFile, proc, (text) => {
    const m = /^(\d+)\s*$/m.exec(text);
    return m ? Number(m[1]) : null;
  });
  return { proc, port };
}

/** Collects the rows of every upd on `q` until `n` rows have arrived (an upd of any other
 *  table fails it). */
function collectRows(q, n, ms = 10000) {
  const rows = [];
  return within(new Promise((resolve, reject) => {
    q.con.on('upd', (table, data) => {
      if (table !== 'trade') reject(new Error(`an upd of table ${table}`));
      rows.push(...data);
      if (rows.length >= n) resolve(rows);
    });
  }), ms, `${n} rows`);
}

// io-independent file: tools/run-tests runs it under the first io backend only.
// qgate does not run here: declared once, not once per io backend (lib.js itest's ioIndependent).
const itest1 = (name, fn) => itest(name, { ioIndependent: true }, fn);

itest1('all syms: the schema reply, then every row in sequence order', async (t, ctx) => {
  const tp = await startTickerplant(ctx, ['--tp-rate', '200', '--tp-rows', '3']);
  const q = await qconnect(ctx, tp.port);
  const rowsP = collectRows(q, 60);
  const reply = await q.k('.u.sub[`trade;`]');
  assert.equal(reply[0], 'trade');
  assert.deepEqual(reply[1], [], 'an empty schema table');
  const rows = await rowsP;
  const first = rows[0].seq;
  rows.forEach((r, i) => {
    assert.equal(r.seq, first + i, 'consecutive sequence numbers, nothing lost or reordered');
    assert.equal(r.sym, SYMS[r.seq % SYMS.length]);
    assert.equal(r.size, 100 * (1 + (r.seq % 10)));
  });
});

itest1('a sym filter selects exactly its rows; the list form works too', async (t, ctx) => {
  const tp = await startTickerplant(ctx, ['--tp-rate', '200', '--tp-rows', '4']);
  const q = await qconnect(ctx, tp.port);
  const rowsP = collectRows(q, 20);
  await q.ks('.u.sub', '`trade', ['`IBM', '`GOOG']);  // async list form: no reply
  const rows = await rowsP;
  // IBM and GOOG are rows 2 and 3 of every 4: each filtered row is the next of them
  for (let i = 0; i < rows.length; i++) {
    assert.equal(rows[i].sym, SYMS[rows[i].seq % 4], `row ${i}: its own sym`);
    assert.ok(['IBM', 'GOOG'].includes(rows[i].sym), `row ${i} is IBM or GOOG`);
    if (i > 0) {
      const prev = rows[i - 1].seq;
      assert.equal(rows[i].seq, prev % 4 === 2 ? prev + 1 : prev + 3, `row ${i}: none skipped`);
    }
  }
});

itest1('.u.end reaches subscribers; unknown tables are q errors; .u.i counts', async (t, ctx) => {
  const tp = await startTickerplant(ctx, ['--tp-rate', '0']);
  const sub = await qconnect(ctx, tp.port);
  const ctl = await qconnect(ctx, tp.port);
  await assert.rejects(sub.k('.u.sub[`nosuch;`]'), { message: 'nosuch' });
  const reply = await sub.k('.u.sub[`;`]');
  assert.equal(reply.length, 1, 'one (table;schema) pair for ` (all tables)');
  const rowsP = collectRows(sub, 5);
  assert.equal(await ctl.k('.u.pub[5]'), 5);
  assert.equal((await rowsP).map((r) => r.seq).join(), '0,1,2,3,4');
  assert.equal(await ctl.k('.u.i'), 5);
  const endP = sub.next();
  await ctl.k('.u.endofday[]');
  const end = await endP;
  assert.equal(end[0], '.u.end');
  assert.ok(end[1] instanceof Date, 'the date of the day that ended');
});

itest1('a subscriber that disconnects: the others carry on', async (t, ctx) => {
  const tp = await startTickerplant(ctx, ['--tp-rate', '0', '--verbose']);
  const a = await qconnect(ctx, tp.port);
  const b = await qconnect(ctx, tp.port);
  await a.k('.u.sub[`trade;`]');
  await b.k('.u.sub[`trade;`]');
  await a.close();
  await pollUntil(() => /closing connection/.test(tp.proc.logText()), { what: 'close logged' });
  const rowsP = collectRows(b, 3);
  await b.k('.u.pub[3]');
  assert.equal((await rowsP).length, 3);
  assert.ok(tp.proc.alive, 'qmock is still running');
});

itest1('raw subscribers: identical bytes for all syms, own rows for a filter', async (t, ctx) => {
  const tp = await startTickerplant(ctx, ['--tp-rate', '0', '--tp-rows', '8']);
  const subs = [];
  for (const call of ['.u.sub[`trade;`]', '.u.sub[`;`]', '.u.sub[`trade;`IBM]']) {
    const raw = await RawClient.connect(ctx, tp.port);
    const reply = await raw.call(syncText(call));
    assert.equal(reply.type, MSG.response);
    subs.push(raw);
  }
  const ctl = await qconnect(ctx, tp.port);
  assert.equal(await ctl.k('.u.pub[10]'), 10);
  const streams = [];
  for (const raw of subs) {
    const frames = [];
    for (let i = 0; i < 10; i++) frames.push((await raw.readFrame()).frame);
    streams.push(frames);
  }
  for (let i = 0; i < 10; i++) {
    assert.ok(streams[0][i].equals(streams[1][i]), `update ${i}: identical bytes`);
    assert.equal(streams[0][i][1], MSG.async);
    const [fn, table, rows] = decode(streams[2][i]);
    assert.deepEqual([fn, table], ['upd', 'trade']);
    assert.deepEqual(rows.map((r) => r.sym), ['IBM', 'IBM'], `update ${i}: its 2 IBM rows`);
    assert.deepEqual(rows.map((r) => r.seq), [i * 8 + 2, i * 8 + 6]);
  }
});

/** Vector bodies for a feed's column list. */
function qvec(type, width, values, put) {
  const h = Buffer.alloc(6 + width * values.length);
  h[0] = type;
  h.writeUInt32LE(values.length, 2);
  values.forEach((v, i) => put(h, 6 + i * width, v));
  return h;
}
const qlongs = (xs) => qvec(7, 8, xs, (b, o, v) => b.writeBigInt64LE(BigInt(v), o));
const qtimestamps = (xs) => qvec(12, 8, xs, (b, o, v) => b.writeBigInt64LE(BigInt(v), o));
const qfloats = (xs) => qvec(9, 8, xs, (b, o, v) => b.writeDoubleLE(v, o));

itest1('a feed calling .u.upd: subscribers get its rows as a table, filtered', async (t, ctx) => {
  const tp = await startTickerplant(ctx, ['--tp-rate', '0']);
  const sub = await qconnect(ctx, tp.port);
  await sub.k('.u.sub[`trade;`IBM]');
  const rowsP = collectRows(sub, 3);
  const feed = await RawClient.connect(ctx, tp.port);
  const syms = ['IBM', 'AAPL', 'IBM', 'MSFT'];
  const cols = qlist(qtimestamps([1, 2, 3, 4]), qsyms(syms), qfloats([1.5, 2.5, 3.5, 4.5]),
    qlongs([10, 20, 30, 40]), qlongs([100, 101, 102, 103]));
  feed.write(qmsg(MSG.async, qlist(qstr('.u.upd'), qsym('trade'), cols)));
  // one row of atoms, as a feed publishing tick by tick sends it
  const tsAtom = Buffer.alloc(9); tsAtom[0] = 0xf4; tsAtom.writeBigInt64LE(5n, 1);
  const fAtom = Buffer.alloc(9); fAtom[0] = 0xf7; fAtom.writeDoubleLE(5.5, 1);
  const row = qlist(tsAtom, qsym('IBM'), fAtom, qlong(50), qlong(104));
  const reply = await feed.call(qmsg(MSG.sync, qlist(qstr('.u.upd'), qsym('trade'), row)));
  assert.equal(reply.frame.toString('hex'), '010200000a0000006500', 'answered :: (generic null)');
  const rows = await rowsP;
  assert.deepEqual(rows.map((r) => [r.sym, r.seq, r.price]),
    [['IBM', 100, 1.5], ['IBM', 102, 3.5], ['IBM', 104, 5.5]]);
  const bad = await feed.call(qmsg(MSG.sync, qlist(qstr('.u.upd'), qsym('nosuch'), cols)));
  assert.equal(errorText(bad.frame), 'nosuch');
});

'use strict';
// Issue 16, item 9: two argument forms that got an unclear or wrong answer.
// * README, Pub/sub, "Subscribers": .u.sub with a list of tables subscribes each and is
//   answered with the list of (t;schema) pairs, in every form clients send the list; node-q's
//   k(".u.sub", ["trade","quote"], "") sends a list of strings, which was answered 'type.
// * README, Fan-out: a .gw.asyncexecjpt timeout qgate cannot use is named, and answered in the
//   postback (it was "error: qgate: bad postback or timeout", outside it); a time atom
//   (00:00:00.200) is a timeout, as in TorQ.

const nodeq = require('node-q');
const {
  itest, assert, RawClient, MSG, qmsg, qlist, qstr, qsym, qsyms, qlong, qlongs, qtable, decode,
  startQgate, startStack, qconnect, waitCounter, stats, counter, pollUntil,
} = require('./lib.js');

function updTable(t, seq) {
  return qmsg(MSG.async, qlist(qstr('.u.upd'), qsym(t),
    qtable(['sym', 'seq'], [qsyms(['IBM']), qlongs([seq])])));
}

itest('.u.sub with a list of tables (node-q strings, symbols): each subscribed, pairs answered',
  async (t, ctx) => {
    const gw = await startQgate(ctx, {
      listeners: [{ group: 'tp', mode: 'pubsub' }], backends: [], extra: '[pubsub]\n',
    });
    const feed = await RawClient.connect(ctx, gw.port);
    await feed.write(Buffer.concat([updTable('trade', 0), updTable('quote', 0)]));
    await waitCounter(ctx, gw, 'pubsub_updates_in', 2);
    const forms = [
      [['trade', 'quote'], ''],  // a general list of strings
      [nodeq.symbols(['trade', 'quote']), nodeq.symbol('')],  // a symbol vector
      [['`trade', '`quote'], ''],  // a general list of symbol atoms (node-q's "`" is a string)
    ];
    const got = [];  // per subscriber: [table, seq] of each update, from node-q's 'upd' event
    for (const args of forms) {
      const q = await qconnect(ctx, gw.port);
      const mine = [];
      got.push(mine);
      q.con.on('upd', (table, data) => mine.push([table, Number(data[0].seq)]));
      const r = await q.k('.u.sub', ...args);
      assert.deepEqual(r.map((p) => p[0]), ['trade', 'quote'], JSON.stringify(args));
    }
    assert.equal(counter(await stats(ctx, gw), 'pubsub_subscribers'), 3);
    await feed.write(Buffer.concat([updTable('quote', 1), updTable('trade', 2)]));
    await waitCounter(ctx, gw, 'pubsub_deliveries', 6);
    await pollUntil(() => got.every((m) => m.length >= 2), { what: 'two updates each' });
    for (const mine of got) {
      assert.deepEqual(mine, [['quote', 1], ['trade', 2]], 'both tables, in order, once');
    }
  });

function timeAtomMs(ms) {  // a q time (type -19): ms since midnight
  const b = Buffer.alloc(5); b[0] = 0xed; b.writeInt32LE(ms, 1);
  return b;
}

itest('.gw.asyncexecjpt: a timeout qgate cannot use is named, in the postback; a time atom works',
  async (t, ctx) => {
    const { gw } = await startStack(ctx, {
      listeners: [{ mode: 'request', group: 'rdb' }],
      backends: [{ name: 'rdb1', group: 'rdb' }, { name: 'hdb1', group: 'hdb' }],
    });
    const c = await RawClient.connect(ctx, gw.port);
    const query = qlist(qsym('sleep'), qlong(0));
    const jpt = (q, timeout) => qmsg(MSG.async, qlist(qsym('.gw.asyncexecjpt'), q,
      qsyms(['rdb', 'hdb']), qsym('raze'), qsym('pb'), timeout));
    // A long (TorQ would read nanoseconds): refused, by name, through the postback.
    await c.write(jpt(query, qlong(5)));
    const bad = await c.readFrame();
    assert.equal(bad.type, MSG.async);
    const got = decode(bad.frame);
    assert.equal(got[0], 'pb', 'answered through the postback');
    assert.equal(got[2], 'error: qgate: .gw.asyncexecjpt timeout must be a timespan, minute, ' +
      'second or time (0D00:00:05), or 0Wn / () for none');
    // A time atom of 200 ms times out a 3 s query at 200 ms, in the postback.
    const slow = qlist(qsym('sleep'), qlong(3000));
    const t0 = Date.now();
    await c.write(jpt(slow, timeAtomMs(200)));
    const to = decode((await c.readFrame()).frame);
    const waited = Date.now() - t0;
    assert.equal(to[2], 'error: query has exceeded specified timeout value');
    assert.ok(waited >= 199 && waited < 3000, `answered after ${waited} ms`);
  });

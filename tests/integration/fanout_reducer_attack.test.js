'use strict';
// Issue 16, attacks not run before: fan-out with a reducer group. A custom join (a name other
// than raze / first) is sent as (join; results) to a backend of the [fanout] reducer group
// (README, Fan-out). Here that reducer is a q backend inside the test process, told call by
// call to answer, send a body that is no q object, send a frame header that is garbage, close
// its connection, stay silent past the call's timeout (and answer late), or die with the call
// in flight. Every call is answered exactly once, with a value or a q error, and a client
// calling throughout (fan-outs that need no reducer, plain calls) sees nothing of it.

const { serveFakeQ } = require('./fake_q.js');
const {
  itest, assert, RawClient, MSG, qmsg, qlist, qsym, qsyms, qlong, qlongs, decode, errorText,
  startQmock, startQgate, qconnect, stats, counter, waitCounter, assertTrades,
  expectedTrades,
} = require('./lib.js');
const nodeq = require('node-q');

const ORDER_QUERY = '@[get;`.z.pg;`]~`';  // qgate's pipelining probe (src/proxy/pool_links.cc)
const isOrderQuery = (f) => f[1] === MSG.sync && f.length === 14 + ORDER_QUERY.length &&
  f.subarray(14).toString('latin1') === ORDER_QUERY;

/**
 * The reducer: answers each sync call (after the order query, answered 0b) per the next entry
 * of `red.modes` (default 'ok': the long vector 7 7). `red.calls` counts the calls it got;
 * `red.late()` answers the call a 'silent' left unanswered; `red.kill()` closes everything.
 */
async function startFakeReducer(ctx) {
  const red = { modes: [], calls: 0, silent: [], socks: new Set() };
  const srv = await serveFakeQ(ctx, {
    onConn: (sock) => {
      red.socks.add(sock);
      sock.on('close', () => red.socks.delete(sock));
    },
    onFrame: (frame, sock) => {
      if (isOrderQuery(frame)) {
        sock.write(Buffer.from([1, 2, 0, 0, 10, 0, 0, 0, 0xff, 0]));  // 0b: one call at a time
      } else if (frame[1] === MSG.sync) {
        red.calls++;
        red.handle(sock, red.modes.shift() || 'ok');
      }
    },
  });
  red.handle = (sock, mode) => {
    if (mode === 'ok') sock.write(qmsg(MSG.response, qlongs([7, 7])));
    if (mode === 'bad-body') sock.write(qmsg(MSG.response, Buffer.from([0, 0, 5, 0, 0, 0])));
    if (mode === 'bad-header') sock.write(Buffer.from([7, 2, 0, 0, 16, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]));
    if (mode === 'close') sock.destroy();
    if (mode === 'silent') red.silent.push(sock);
    if (mode === 'kill') red.kill();
  };
  red.late = () => red.silent.shift().write(qmsg(MSG.response, qlongs([6, 6])));
  red.kill = () => {
    srv.close();
    for (const s of red.socks) s.destroy();
  };
  red.port = srv.address().port;
  return red;
}

const QUERY = qlist(qsym('getTrades'), qsym('AAPL'), qlong(2));
const TYPES = qsyms(['rdb', 'hdb']);
const syncexecj = qmsg(MSG.sync, qlist(qsym('.gw.syncexecj'), QUERY, TYPES, qsym('counts')));

function timespanMs(ms) {
  const b = Buffer.alloc(9); b[0] = 0xf0; b.writeBigInt64LE(BigInt(ms) * 1000000n, 1);
  return b;
}
const jpt = (ms) => qmsg(MSG.async, qlist(qsym('.gw.asyncexecjpt'), QUERY, TYPES, qsym('counts'),
  qsym('pb'), timespanMs(ms)));

/** One sync call on a raw client: exactly one response frame; { value } or { error }. */
async function callOnce(c, msg, what) {
  const f = await c.call(msg, 20000);
  assert.equal(f.type, MSG.response, `${what}: a response`);
  const error = errorText(f.frame);
  return error === null ? { value: Array.from(decode(f.frame), Number) } : { error };
}

itest('reducer killed, slow, closing, or sending garbage mid fan-out: each call answered once ' +
  '(a value or a q error), the link recovers, other clients unaffected', async (t, ctx) => {
  const rdb = await startQmock(ctx, { name: 'rdb1' });
  const hdb = await startQmock(ctx, { name: 'hdb1' });
  const red = await startFakeReducer(ctx);
  const gw = await startQgate(ctx, {
    listeners: [{ mode: 'request', group: 'rdb' }],
    backends: [
      { name: 'rdb1', group: 'rdb', port: rdb.port },
      { name: 'hdb1', group: 'hdb', port: hdb.port },
      { name: 'red1', group: 'red', port: red.port, conns: 2 },
    ],
    limits: { reconnect_min_ms: 20, reconnect_max_ms: 100 },
    extra: '[fanout]\nreducer = "red"\n',
  });

  // The canary: fan-outs without a reducer and plain calls, back to back, all the while.
  const canary = await qconnect(ctx, gw.port);
  const want = expectedTrades('IBM', 2);
  let stop = false;
  let canaryCalls = 0;
  const canaryRun = (async () => {
    for (let i = 0; i < 100000 && !stop; i++) {
      assertTrades(await canary.k('.gw.syncexec', ['getTrades', '`IBM', 2],
        nodeq.symbols(['rdb', 'hdb'])), [...want, ...want], `canary fan-out ${i}`);
      assertTrades(await canary.k('getTrades', '`IBM', 2), want, `canary call ${i}`);
      canaryCalls++;
    }
  })();

  const c = await RawClient.connect(ctx, gw.port);
  assert.deepEqual(await callOnce(c, syncexecj, 'ok'), { value: [7, 7] }, 'the reducer answers');
  // TorQ's texts: a reducer's reply that is no q object is a failed join; a connection
  // closed or reset by garbage is TorQ's closed-connection text, naming the reducer group.
  const closed = 'backend red server handling query closed the connection';
  const expect = {
    'bad-body': 'failed to apply supplied join function to results: ' +
      'qgate: malformed reply from backend',
    'bad-header': closed,
    close: closed,
  };
  for (const [mode, text] of Object.entries(expect)) {
    red.modes.push(mode);
    assert.deepEqual(await callOnce(c, syncexecj, mode), { error: text }, mode);
    // The link comes back: the next call is reduced again.
    assert.deepEqual(await callOnce(c, syncexecj, `after ${mode}`), { value: [7, 7] });
  }

  // Slow: the reducer sits on the call past its 300 ms timeout. TorQ's timeout text arrives in
  // the postback, once; the late answer is discarded.
  red.modes.push('silent');
  const late0 = counter(await stats(ctx, gw), 'request_late_replies');
  await c.write(jpt(300));
  const to = await c.readFrame(10000);
  assert.equal(to.type, MSG.async);
  assert.deepEqual(decode(to.frame)[0], 'pb');
  assert.equal(decode(to.frame)[2], 'error: query has exceeded specified timeout value');
  red.late();
  await waitCounter(ctx, gw, 'request_late_replies', late0 + 1);
  assert.deepEqual(await callOnce(c, syncexecj, 'after the late answer'), { value: [7, 7] },
    'the next frame is the next call\'s own answer');

  // Killed with the call in flight: an error now, and an error (not a hang) while it is down.
  red.modes.push('kill');
  assert.deepEqual(await callOnce(c, syncexecj, 'kill'), { error: closed });
  const down = await callOnce(c, syncexecj, 'reducer down');
  assert.ok(down.error === closed || down.error === 'qgate: no backend available for group red',
    `down: ${JSON.stringify(down)}`);

  stop = true;
  await canaryRun;
  assert.ok(canaryCalls > 0, 'the canary ran');
  assert.equal(c.buffered, 0, 'no stray frame for the attacked client');
  assert.equal(c.ended, false, 'the attacked client is still connected');
  assert.equal(red.calls, 10, 'each reducer call was sent once (none to the dead reducer)');
  assert.ok(counter(await stats(ctx, gw), 'fanout_reducer_calls') >= 10);
});

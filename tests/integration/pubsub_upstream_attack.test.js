'use strict';
// Issue 16, attacks not run before: pub/sub with an upstream tickerplant that dies, is slow or
// sends garbage. The upstream is a tickerplant inside the test process (a net server speaking
// q-IPC), driven connection by connection, so each attack happens exactly where the test puts
// it. README, Pub/sub, "Upstream": a lost link reconnects with the backoff and re-subscribes;
// updates published while it is down are lost. "Anything else": bad messages are dropped and
// counted. Throughout, the subscribers keep their connection and subscription, get every
// update that arrived whole, in order and once, and the hub keeps serving new subscribers.

const { serveFakeQ } = require('./fake_q.js');
const {
  itest, assert, RawClient, MSG, qmsg, qlist, qsym, qsyms, qlongs, qtable, decode, syncText,
  startQgate, stats, counter, waitCounter, seqsOf, pollUntil,
} = require('./lib.js');

const SCHEMA = qtable(['sym', 'seq'], [qsyms([]), qlongs([])]);

/** (`upd;`trade;([] sym:`IBM; seq:n)) as the tickerplant publishes it: async, little-endian. */
function upd(seq) {
  return qmsg(MSG.async, qlist(qsym('upd'), qsym('trade'),
    qtable(['sym', 'seq'], [qsyms(['IBM']), qlongs([seq])])));
}

/**
 * A tickerplant whose connections are handed to the test one by one: `conns` is the list of
 * accepted links, each { sock, subCall (a promise of the .u.sub frame qgate sends),
 * answerSub(), send(buf), closed }. The handshake is answered with capability 3.
 */
async function startFakeTp(ctx) {
  const tp = { conns: [], waiters: [] };
  const srv = await serveFakeQ(ctx, {
    onConn: (sock) => {
      sock.setNoDelay(true);
      const c = { sock, closed: false, frames: [] };
      c.subCall = new Promise((res) => { c.gotSub = res; });
      sock.on('close', () => { c.closed = true; });
      // .u.sub[`;`] is answered with the list of (table;schema) pairs, as u.q's sub each t.
      c.answerSub = () => sock.write(qmsg(MSG.response, qlist(qlist(qsym('trade'), SCHEMA))));
      c.send = (b) => new Promise((res) => sock.write(b, () => res()));
      tp.conns.push(c);
      for (const w of tp.waiters.splice(0)) w();
      return c;
    },
    onFrame: (frame, sock, c) => {
      c.frames.push(frame);
      if (frame[1] === MSG.sync) c.gotSub(frame);
    },
  });
  tp.port = srv.address().port;
  /** The n-th connection (1-based) qgate makes, once it is accepted and has sent .u.sub. */
  tp.conn = async (n) => {
    await pollUntil(() => tp.conns.length >= n, { what: `upstream connection ${n}`, timeoutMs: 15000 });
    const c = tp.conns[n - 1];
    const sub = await c.subCall;
    assert.equal(decode(sub), '.u.sub[`;`]', `connection ${n}: qgate subscribes to everything`);
    return c;
  };
  return tp;
}

function startGate(ctx, tpPort) {
  return startQgate(ctx, {
    listeners: [{ group: 'tp', mode: 'pubsub' }],
    backends: [{ name: 'tp', group: 'tp', port: tpPort }],
    limits: { reconnect_min_ms: 20, reconnect_max_ms: 100, connect_timeout_ms: 400 },
    extra: '[pubsub]\nupstream = "tp"\n',
  });
}

/** A raw subscriber to trade; its reply is checked to be (`trade;schema). */
async function subscriber(ctx, port) {
  const s = await RawClient.connect(ctx, port);
  const r = await s.call(syncText('.u.sub[`trade;`]'));
  assert.equal(r.type, MSG.response);
  assert.equal(decode(r.frame)[0], 'trade');
  return s;
}

/** The next update a subscriber gets: async (`upd;`trade;t); its seq column. */
async function nextSeqs(s, what) {
  const f = await s.readFrame(10000);
  assert.equal(f.type, MSG.async, `${what}: an async message`);
  assert.equal(decode(f.frame)[0], 'upd', what);
  return seqsOf(f.frame);
}

itest('upstream tickerplant silent, garbage, dying mid-frame, slow: subscribers keep their ' +
  'connection and every whole update, in order, once; the link reconnects each time',
async (t, ctx) => {
  const tp = await startFakeTp(ctx);
  const gw = await startGate(ctx, tp.port);

  // 1. Silent: the handshake is answered, .u.sub never is. The link gives up after
  //    connect_timeout_ms and connects again.
  const c1 = await tp.conn(1);
  const c2 = await tp.conn(2);
  assert.ok(c1.closed || await pollUntil(() => c1.closed, { what: 'silent link closed' }));
  c2.answerSub();
  await waitCounter(ctx, gw, 'pubsub_upstream_connects', 1);
  const a = await subscriber(ctx, gw.port);
  const b = await subscriber(ctx, gw.port);
  await c2.send(upd(1));
  assert.deepEqual(await nextSeqs(a, 'a, update 1'), [1]);
  assert.deepEqual(await nextSeqs(b, 'b, update 1'), [1]);

  // 2. A garbage frame header (byte order 7, type 9): no telling where the next frame starts,
  //    so the link is dropped and made again (q's 'badmsg); the subscribers stay.
  await c2.send(Buffer.from([7, 9, 0, 0, 16, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]));
  const c3 = await tp.conn(3);
  assert.ok(await pollUntil(() => c2.closed, { what: 'garbage link closed' }));
  c3.answerSub();
  await waitCounter(ctx, gw, 'pubsub_upstream_connects', 2);

  // 3. Well framed, but bad: a list claiming 3 items holding 2, and a message that is no
  //    update. Each is dropped and counted; the link stays up and the next update flows.
  const bad0 = counter(await stats(ctx, gw), 'pubsub_bad_msgs');
  const short = qmsg(MSG.async, qlist(qsym('upd'), qsym('trade')));
  short.writeUInt32LE(3, 8 + 2);  // count 3, two items follow
  await c3.send(Buffer.concat([short, qmsg(MSG.async, qlist(qsym('foo'), qsym('trade')))]));
  await waitCounter(ctx, gw, 'pubsub_bad_msgs', bad0 + 2);
  await c3.send(upd(2));
  assert.deepEqual(await nextSeqs(a, 'a, update 2'), [2]);
  assert.deepEqual(await nextSeqs(b, 'b, update 2'), [2]);

  // 4. Slow: update 3 arrives a few bytes at a time; midway, a new subscriber is served (the
  //    hub does not wait for the upstream's frame).
  const u3 = upd(3);
  await c3.send(u3.subarray(0, 11));
  const late = await subscriber(ctx, gw.port);
  for (let i = 11; i < u3.length; i += 7) await c3.send(u3.subarray(i, i + 7));
  assert.deepEqual(await nextSeqs(a, 'a, trickled update 3'), [3]);
  assert.deepEqual(await nextSeqs(b, 'b, trickled update 3'), [3]);
  assert.deepEqual(await nextSeqs(late, 'late, trickled update 3'), [3]);

  // 5. Dies mid-frame: half of update 4, then the socket is reset. Nothing of it is sent.
  const u4 = upd(4);
  await c3.send(u4.subarray(0, 20));
  c3.sock.resetAndDestroy();
  const c4 = await tp.conn(4);
  c4.answerSub();
  await waitCounter(ctx, gw, 'pubsub_upstream_connects', 3);

  // 6. A compressed frame that does not decompress: the link is dropped, as q would.
  const z = upd(5);
  z[2] = 1;  // compressed flag on an uncompressed body
  await c4.send(z);
  const c5 = await tp.conn(5);
  c5.answerSub();
  await waitCounter(ctx, gw, 'pubsub_upstream_connects', 4);
  await c5.send(upd(6));
  for (const [s, name] of [[a, 'a'], [b, 'b'], [late, 'late']]) {
    assert.deepEqual(await nextSeqs(s, `${name}, update 6`), [6],
      `${name}: update 6 next (4 was cut off, 5 did not decompress)`);
    assert.equal(s.ended, false, `${name} is still connected`);
  }
  const st = await stats(ctx, gw);
  assert.equal(counter(st, 'pubsub_subscribers'), 3, 'every subscription survived');
  assert.equal(counter(st, 'pubsub_upstream_connects'), 4);
  assert.ok(counter(st, 'pubsub_upstream_reconnects') >= 4, 'each lost link scheduled a reconnect');
  // Nothing else reached the subscribers: each answers its next call with that call's reply.
  for (const s of [a, b, late]) {
    const r = await s.call(syncText('.u.sub[`trade;`IBM]'));
    assert.equal(r.type, MSG.response, 'the next frame is the answer to the next call');
  }
});

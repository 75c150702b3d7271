'use strict';
// Session mode, the normal paths: sync, errors, credentials, async, callbacks, deferred sync.
// Each answer through qgate is compared with what the same qmock answers directly.

const {
  itest, assert, startStack, qconnect, RawClient, MSG, qmsg, qstr, syncText, asyncText, decode,
  errorText, expectedTrades, assertTrades, syncCall, qlong, qsym,
} = require('./lib.js');

itest('sync round trip: echo of several types matches the direct answer', async (t, ctx) => {
  const { gw, mocks } = await startStack(ctx);
  const viaGw = await qconnect(ctx, gw.port);
  const direct = await qconnect(ctx, mocks.rdb1.port, { user: 'gw', password: 'pw' });

  // General-list requests as node-q builds them from JS values: ("echo"; x).
  const values = [
    [42.5, 42.5], ['a string', 'a string'], ['`sym', 'sym'], [[1.5, 2.5], [1.5, 2.5]],
    [true, true], [-1, -1], [new Date(Date.UTC(2024, 1, 29)), new Date(Date.UTC(2024, 1, 29))],
    [['`a', '`b'], ['a', 'b']], [{ a: 1, b: 2 }, { a: 1, b: 2 }],
  ];
  for (const [v, expected] of values) {
    const d = await direct.k('echo', v);
    const g = await viaGw.k('echo', v);
    assert.deepEqual(g, d, `echo ${JSON.stringify(v)}: qgate answer equals the direct answer`);
    assert.deepEqual(g, expected, `echo ${JSON.stringify(v)}: expected value`);
  }

  // Raw requests: the reply bytes through qgate equal the direct reply bytes.
  const rawGw = await RawClient.connect(ctx, gw.port);
  const rawDirect = await RawClient.connect(ctx, mocks.rdb1.port, { auth: 'gw:pw' });
  const bodies = [qlong(7), qsym('abc'), qstr('hello'), qlong(-9007199254740991n)];
  for (const b of bodies) {
    const a = await rawGw.call(syncCall('echo', b));
    const r = await rawDirect.call(syncCall('echo', b));
    assert.equal(a.type, MSG.response);
    assert.ok(a.frame.equals(r.frame), `echo ${b.toString('hex')}: identical bytes`);
    assert.ok(a.body.equals(b), `echo ${b.toString('hex')}: the value sent comes back`);
  }
});

itest('sync round trip: q-text literal arguments (echo[42], echo[`a`b], ...)', async (t, ctx) => {
  // Requests as q text; qmock parses the literals. Compared with the direct answer and with the
  // value the literal denotes.
  const { gw, mocks } = await startStack(ctx);
  const viaGw = await qconnect(ctx, gw.port);
  const direct = await qconnect(ctx, mocks.rdb1.port, { user: 'gw', password: 'pw' });
  const texts = [
    ['echo[42]', 42],
    ['echo[-7i]', -7],
    ['echo[3.25]', 3.25],
    ['echo[`abc]', 'abc'],
    ['echo["hello world"]', 'hello world'],
    ['echo[1 2 3]', [1, 2, 3]],
    ['echo[`a`b`c]', ['a', 'b', 'c']],
    ['echo[1b]', true],
  ];
  for (const [expr, expected] of texts) {
    const d = await direct.k(expr);
    const g = await viaGw.k(expr);
    assert.deepEqual(d, expected, `${expr}: direct qmock answer`);
    assert.deepEqual(g, expected, `${expr}: answer through qgate`);
  }
});

itest('sync round trip: getTrades table matches direct qmock field by field', async (t, ctx) => {
  const { gw, mocks } = await startStack(ctx);
  const viaGw = await qconnect(ctx, gw.port);
  const direct = await qconnect(ctx, mocks.rdb1.port, { user: 'gw', password: 'pw' });

  for (const [sym, n] of [['AAPL', 50], ['MSFT', 1], ['IBM', 0]]) {
    const d = await direct.k(`getTrades[\`${sym};${n}]`);
    const g = await viaGw.k(`getTrades[\`${sym};${n}]`);
    assert.equal(g.length, n, `${sym}: row count`);
    assert.equal(d.length, n);
    for (let i = 0; i < n; i++) {
      for (const col of ['time', 'sym', 'price', 'size']) {
        assert.deepEqual(g[i][col], d[i][col], `${sym} row ${i} ${col}: qgate vs direct`);
      }
    }
    assertTrades(g, expectedTrades(sym, n), sym);
  }
  // getTrades with the default row count (--rows, 10), as a general list.
  assertTrades(await viaGw.k('getTrades', '`GOOG'), expectedTrades('GOOG', 10), 'GOOG');
});

itest('q errors pass through unchanged', async (t, ctx) => {
  const { gw, mocks } = await startStack(ctx);
  const viaGw = await qconnect(ctx, gw.port);
  await assert.rejects(viaGw.k('fail["boom"]'), (e) => e.message === 'boom');
  await assert.rejects(viaGw.k('noSuchFunction[1]'), (e) => e.message === 'noSuchFunction');
  // The session is still usable after errors, and the raw bytes equal the direct reply.
  assert.equal(await viaGw.k('echo', 5), 5);
  const rawGw = await RawClient.connect(ctx, gw.port);
  const rawDirect = await RawClient.connect(ctx, mocks.rdb1.port, { auth: 'gw:pw' });
  const a = await rawGw.call(syncText('fail["kaboom"]'));
  const b = await rawDirect.call(syncText('fail["kaboom"]'));
  assert.equal(a.type, MSG.response);
  assert.equal(errorText(a.frame), 'kaboom');
  assert.ok(a.frame.equals(b.frame), 'error reply bytes identical through qgate');
});

itest('backend sees the backend credentials from the config, not the client user', async (t, ctx) => {
  // qmock checks users: only gw:pw is accepted, so the session works only if qgate sends it.
  const { gw, mocks } = await startStack(ctx, { backends: [{ name: 'rdb1', credentials: 'gw:pw' }] });
  const anon = await qconnect(ctx, gw.port);
  assert.equal(await anon.k('whoami[]'), 'gw');
  const alice = await qconnect(ctx, gw.port, { user: 'alice', password: 'whatever' });
  assert.equal(await alice.k('whoami[]'), 'gw');
  assert.equal(await alice.k('name[]'), 'rdb1');
  const direct = await qconnect(ctx, mocks.rdb1.port, { user: 'gw', password: 'pw' });
  assert.equal(await direct.k('whoami[]'), 'gw');
});

itest('async message is forwarded and its callback comes back as an async message', async (t, ctx) => {
  const { gw } = await startStack(ctx);
  const raw = await RawClient.connect(ctx, gw.port);
  await raw.write(asyncText('callback[`cb;7]'));
  const cb = await raw.readFrame(5000);
  assert.equal(cb.type, MSG.async, 'callback arrives as an async message');
  assert.deepEqual(decode(cb.frame), ['cb', 7]);
  // A sync call afterwards: answered, and nothing else was queued in between.
  const r = await raw.call(syncCall('echo', qlong(8)));
  assert.equal(r.type, MSG.response);
  assert.equal(decode(r.frame), 8);

  // Sync callback: the async push comes first, then the response, in that order.
  await raw.write(syncCall('callback', qsym('cb'), qlong(9)));
  const first = await raw.readFrame(5000);
  const second = await raw.readFrame(5000);
  assert.equal(first.type, MSG.async);
  assert.deepEqual(decode(first.frame), ['cb', 9]);
  assert.equal(second.type, MSG.response);
  assert.equal(decode(second.frame), 9);

  // The same with node-q: ks, then listen for the next message.
  const q = await qconnect(ctx, gw.port);
  await q.ks('callback[`upd2;11]');
  assert.deepEqual(await q.next(5000), ['upd2', 11]);
  assert.equal(await q.k('echo', 12), 12);
});

itest('deferred sync: async defer[x] gets an async reply x on the same connection', async (t, ctx) => {
  const { gw } = await startStack(ctx, { backends: [{ name: 'rdb1' }, { name: 'rdb2' }] });
  const raw = await RawClient.connect(ctx, gw.port);
  const other = await RawClient.connect(ctx, gw.port);
  await raw.write(asyncText('defer[42]'));
  const r = await raw.readFrame(5000);
  assert.equal(r.type, MSG.async);
  assert.equal(decode(r.frame), 42);
  // A deferred reply goes to the connection that asked, never to another client.
  await other.write(asyncText('defer[`mine]'));
  const o = await other.readFrame(5000);
  assert.equal(o.type, MSG.async);
  assert.equal(decode(o.frame), 'mine');
  // A reply misrouted to `raw` would have been queued there before `other` got its own, so
  // before any answer to a request `raw` sends only now: the next frame on `raw` must be that
  // answer, with nothing after it. The same the other way round for raw's defer[42].
  for (const [c, v] of [[raw, 43], [other, 44]]) {
    const r = await c.call(syncCall('echo', qlong(v)));
    assert.equal(r.type, MSG.response, 'the next frame is the answer, not a stray reply');
    assert.equal(decode(r.frame), v);
    assert.equal(c.buffered, 0, 'nothing extra arrived');
  }

  const q = await qconnect(ctx, gw.port);
  await q.ks('defer', '`x1');
  assert.equal(await q.next(5000), 'x1');
});

itest('deferred response (-30! style): sync deferred[ms;x] answered later', async (t, ctx) => {
  const { gw } = await startStack(ctx, { zpg: 'defer' });
  const q = await qconnect(ctx, gw.port);
  const t0 = Date.now();
  assert.equal(await q.k('deferred[300;77]'), 77);
  const took = Date.now() - t0;
  assert.ok(took >= 250, `answered after the delay (${took} ms)`);
  await assert.rejects(q.k('deferredFail[100;"late"]'), (e) => e.message === 'late');
  assert.equal(await q.k('echo', 1), 1);
});

itest('pipelined sync requests on one session are answered in order', async (t, ctx) => {
  const { gw } = await startStack(ctx);
  const raw = await RawClient.connect(ctx, gw.port);
  const n = 100;
  const reqs = [];
  for (let i = 0; i < n; i++) reqs.push(syncCall('echo', qlong(i)));
  await raw.write(Buffer.concat(reqs));
  for (let i = 0; i < n; i++) {
    const r = await raw.readFrame(5000);
    assert.equal(r.type, MSG.response);
    assert.equal(decode(r.frame), i);
  }
  // The h"" barrier: empty text answers ::.
  const r = await raw.call(qmsg(MSG.sync, qstr('')));
  assert.equal(r.type, MSG.response);
  assert.ok(r.body.equals(Buffer.from([0x65, 0x00])), 'empty request answers (::)');
});

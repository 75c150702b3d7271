'use strict';
// Fan-out routes: a [[route]] with `groups` sends a plain call (getTrades[`AAPL]) to one backend
// of each group and joins the replies (raze / list / first / a reducer's q join).

const {
  itest, assert, startStack, startRecordingStack, recordedFrames, qconnect, stats, counter,
  waitCounter, assertTrades, expectedTrades, decode, MSG,
} = require('./lib.js');

const REQ = { mode: 'request', group: 'rdb' };
// One connection each: a backend runs its calls in the order qgate sent them, so once a later
// call is answered, every earlier one is in its record (qmock --record writes before handling).
const BACKENDS = [
  { name: 'rdb1', group: 'rdb', conns: 1 }, { name: 'hdb1', group: 'hdb', conns: 1 },
  { name: 'red1', group: 'red', conns: 1 },
];

/** The calls of `fn` a backend received, in order: [type, args...] (list form) or [type, text]. */
function callsOf(mock, fn) {
  const out = [];
  for (const f of recordedFrames(mock.record)) {
    const v = decode(f, { long2number: true });
    if (Array.isArray(v) && v[0] === fn) out.push([f[1], ...v.slice(1)]);
    else if (typeof v === 'string' && v.startsWith(fn)) out.push([f[1], v]);
  }
  return out;
}

const rejectsWith = (p, text) => assert.rejects(p, (e) => {
  assert.equal(e.message, text);
  return true;
});

itest('fan-out routes: raze, list, first, reducer join; other calls unchanged', async (t, ctx) => {
  const { gw, mocks } = await startRecordingStack(ctx, {
    listeners: [REQ],
    backends: BACKENDS,
    routes: [
      { match: ['getTrades'], groups: ['rdb', 'hdb'] },  // join defaults to raze
      { match: ['tag'], groups: ['rdb', 'hdb'], join: 'list' },
      { match: ['name'], groups: ['hdb', 'rdb'], join: 'first' },
      { match: ['echo'], groups: ['rdb', 'hdb'], join: 'counts' },
      { match: ['fail'], groups: ['rdb', 'hdb'], timeout_ms: 5000 },
      { match: ['sleep'], groups: ['rdb', 'hdb'], timeout_ms: 150 },
      { match: ['*'], group: 'rdb' },
    ],
    extra: '[fanout]\nreducer = "red"\n',
  });
  const q = await qconnect(ctx, gw.port);
  const want = expectedTrades('AAPL', 3);
  assertTrades(await q.k('getTrades', '`AAPL', 3), [...want, ...want], 'raze (list form)');
  assertTrades(await q.k('getTrades[`AAPL;3]'), [...want, ...want], 'raze (string form)');
  assert.deepEqual(await q.k('tag', 7), [['rdb1', 7], ['hdb1', 7]], 'list, in group order');
  assert.equal(await q.k('name[]'), 'hdb1', 'first = the first group');
  assert.deepEqual(Array.from(await q.k('echo', [1, 2, 3]), Number), [3, 3], 'reducer count each');
  await rejectsWith(q.k('fail', '`boom'), 'boom');  // first error wins, q's wording
  await rejectsWith(q.k('sleep', 1000), 'query has exceeded specified timeout value');
  assert.equal(await q.k('whoami[]'), 'gw', 'a plain route still goes to one backend');
  // An async fan-out: each group gets the call, nobody is answered; the connection stays good.
  await q.ks('getTrades', '`IBM', 1);
  assertTrades(await q.k('getTrades', '`IBM', 2), [...expectedTrades('IBM', 2),
    ...expectedTrades('IBM', 2)], 'after an async fan-out');
  // Each group's backend ran each getTrades exactly once, the async one as an async call; the
  // reducer's group (not in the route) got none. The plain route went to rdb1 alone.
  const sent = [[MSG.sync, 'AAPL', 3], [MSG.sync, 'getTrades[`AAPL;3]'], [MSG.async, 'IBM', 1],
    [MSG.sync, 'IBM', 2]];
  for (const name of ['rdb1', 'hdb1']) {
    assert.deepEqual(callsOf(mocks[name], 'getTrades'), sent, `${name} getTrades calls`);
  }
  assert.deepEqual(callsOf(mocks.red1, 'getTrades'), [], 'red1 getTrades calls');
  assert.deepEqual(callsOf(mocks.rdb1, 'whoami'), [[MSG.sync, 'whoami[]']]);
  assert.deepEqual(callsOf(mocks.hdb1, 'whoami'), []);
  const s = await stats(ctx, gw);
  assert.equal(counter(s, 'fanout_calls'), 9, 'each call above but whoami fanned out');
  assert.equal(counter(s, 'fanout_reducer_calls'), 1);
  assert.equal(counter(s, 'fanout_column_bytes_copied'), 0);
});

itest('a custom join with no reducer configured, and a group with no live backend', async (t, ctx) => {
  const { gw } = await startStack(ctx, {
    listeners: [REQ],
    backends: [{ name: 'rdb1', group: 'rdb' }, { name: 'hdb1', group: 'hdb', mock: false }],
    routes: [
      { match: ['echo'], groups: ['rdb', 'rdb'], join: 'counts' },
      { match: ['*'], groups: ['rdb', 'hdb'] },
    ],
    limits: { reconnect_min_ms: 20, reconnect_max_ms: 200, eject_after_failures: 2 },
  });
  const q = await qconnect(ctx, gw.port);
  await rejectsWith(q.k('echo', 1), 'qgate: no reducer configured');
  await waitCounter(ctx, gw, 'backends_ejected', 1, 10000);
  await rejectsWith(q.k('getTrades', '`A', 1), 'qgate: no backend available for group hdb');
});

itest('a part queued on a backend that gets ejected is re-routed within its group', async (t, ctx) => {
  const { gw } = await startStack(ctx, {
    listeners: [REQ],
    backends: [
      { name: 'rdb1', group: 'rdb' },
      // Nothing listens: ejected after 2 connects (one connection: not at once).
      { name: 'hdb1', group: 'hdb', mock: false, conns: 1 },
      { name: 'hdb2', group: 'hdb' },
    ],
    routes: [{ match: ['*'], groups: ['rdb', 'hdb'] }],
    limits: { reconnect_min_ms: 500, reconnect_max_ms: 1000, eject_after_failures: 2 },
  });
  const q = await qconnect(ctx, gw.port);
  // Sent before hdb1 is known to be down: least-busy takes turns, so some parts queue on it.
  const want = expectedTrades('X', 1);
  const calls = [];
  for (let i = 0; i < 4; i++) calls.push(q.kt(10000, 'getTrades', '`X', 1));
  for (const c of calls) assertTrades(await c, [...want, ...want], 'after re-routing');
  const s = await stats(ctx, gw);
  assert.equal(counter(s, 'backends_ejected'), 1);
  assert.ok(counter(s, 'requests_rerouted') >= 1, 'a part went to hdb2 instead');
});

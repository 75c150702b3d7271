'use strict';
// [[user_limits]] calls_max (request mode): sync calls one user has in flight, counted over
// every connection and shard. Calls are held in flight by qmock's --work-ms under --zpg defer
// (getTrades answers after the work; echo at once), so the counts are deterministic. One over
// the limit is answered at once with a q error, counted; the connection stays open and other
// users are served. Every end of a call gives its place back once: after a storm (clients gone
// mid-call, a timeout, the backend killed mid-call) the user's count is 0 in .qgate.users[].

const fs = require('node:fs');
const nodeq = require('node-q');
const {
  itest, assert, startStack, qconnect, stats, counter, pollUntil, waitCounter,
} = require('./lib.js');

const USERS = ['alice:pw', 'bob:pw', 'ops:pw:admin'];
const ALICE = { user: 'alice', password: 'pw' };
const BOB = { user: 'bob', password: 'pw' };
const OPS = { user: 'ops', password: 'pw' };
const HELD_MS = 60000;  // a held call outlives the test: only what the test does ends it

/** .qgate.users[] (keyed on user) → { user: row }. */
async function userRows(adm) {
  const [keys, values] = await adm.k('.qgate.users[]');
  return Object.fromEntries(keys.map((k, i) => [k.user, { ...k, ...values[i] }]));
}

async function waitInflight(adm, user, n, what) {
  let rows;
  await pollUntil(async () => {
    rows = await userRows(adm);
    return (rows[user] ? rows[user].inflight : 0) === n;
  }, { what: `${what}: ${user} has ${n} calls in flight`, timeoutMs: 10000 });
  return rows;
}

function overLimit(user, n) {
  return (e) => e.message === `qgate: user ${user} has ${n} calls in flight ` +
    '(user_limits.calls_max)';
}

/**
 * A request listener over one deferring qmock whose getTrades is held HELD_MS. A deferring q
 * answers out of order, so each pool connection carries one call at a time: 40 of them, so
 * that held calls never queue the calls behind them.
 */
function stack(ctx, extra, more = {}) {
  return startStack(ctx, {
    users: USERS, shards: 2, extra,
    listeners: [{ group: 'rdb', mode: 'request' }],
    backends: [{ name: 'rdb1', conns: 40, mock: { zpg: 'defer', workMs: HELD_MS } }],
    ...more,
  });
}

itest('user_limits calls_max: the user at its limit gets a q error at once, counted, over ' +
  'every connection and shard; the connection stays open; another user is served',
async (t, ctx) => {
  const { gw } = await stack(ctx, '[[user_limits]]\nusers = ["al*"]\ncalls_max = 3\n');
  const adm = await qconnect(ctx, gw.admin, OPS);
  // Two connections (with 2 shards, maybe on two shards) hold alice's three calls.
  const a1 = await qconnect(ctx, gw.port, ALICE);
  const a2 = await qconnect(ctx, gw.port, ALICE);
  const held = [a1.kt(HELD_MS, 'getTrades', 'A'), a1.kt(HELD_MS, 'getTrades', 'B'),
    a2.kt(HELD_MS, 'getTrades', 'C')];
  for (const h of held) h.catch(() => {});  // rejected when the test closes them
  let rows = await waitInflight(adm, 'alice', 3, 'held');
  assert.equal(rows.alice.conns, 2);
  assert.equal(rows.alice.connsmax, 0, 'conns not limited: counted all the same');
  assert.equal(rows.alice.callsmax, 3);
  // Answers keep the call order on a connection, so the refusals go to connections with
  // nothing held before them: answered at once.
  const a3 = await qconnect(ctx, gw.port, ALICE);
  const a4 = await qconnect(ctx, gw.port, ALICE);
  await assert.rejects(a3.k('echo', 1), overLimit('alice', 3), 'a3: over the limit');
  await assert.rejects(a4.k('echo', 2), overLimit('alice', 3), 'a4: the count is per user');
  await assert.rejects(a3.k('echo', 3), overLimit('alice', 3), 'a3 again: still open');
  assert.equal(a1.closed || a2.closed || a3.closed || a4.closed, false, 'connections stay open');
  // bob: no rule, his calls go on (held ones too) while alice is at her limit.
  const bHeld = await qconnect(ctx, gw.port, BOB);
  const b = await qconnect(ctx, gw.port, BOB);
  const bobHeld = [1, 2, 3, 4].map((i) => bHeld.kt(HELD_MS, 'getTrades', `B${i}`));
  for (const h of bobHeld) h.catch(() => {});
  for (let i = 0; i < 5; ++i) assert.equal(await b.k('echo', i), i, `bob's echo ${i}`);
  let s = await stats(ctx, gw);
  assert.equal(counter(s, 'user_calls_refused'), 3);
  rows = await userRows(adm);
  assert.equal(rows.alice.inflight, 3, 'refused calls are not counted');
  assert.equal(rows.bob, undefined, 'a user no rule counts is not listed');
  // a2 goes with its call in flight (a reset: a FIN alone is a half-close, answered first):
  // one place is free again, for any of alice's connections.
  a2.socket.resetAndDestroy();
  await waitInflight(adm, 'alice', 2, 'a2 closed');
  assert.equal(await a3.k('echo', 'x'), 'x', 'the freed place is taken');
  s = await stats(ctx, gw);
  assert.equal(counter(s, 'user_calls_refused'), 3, 'not refused once below the limit');
  assert.equal(counter(s, 'bugs'), 0);
});

itest('user_limits calls_max: async calls are not in flight; a .gw.* fan-out counts once',
async (t, ctx) => {
  const mock = { zpg: 'defer', workMs: HELD_MS };
  const { gw } = await stack(ctx, '[[user_limits]]\nusers = ["alice"]\ncalls_max = 1\n', {
    backends: [{ name: 'rdb1', mock }, { name: 'hdb1', group: 'hdb', mock }],  // 2 calls: 4 conns
  });
  const adm = await qconnect(ctx, gw.admin, OPS);
  const a = await qconnect(ctx, gw.port, ALICE);
  for (let i = 0; i < 3; ++i) await a.ks('getTrades', `S${i}`);  // async: nothing is owed
  assert.equal(await a.k('echo', 1), 1, 'async calls held at the backend do not count');
  assert.equal((await userRows(adm)).alice.inflight, 0);
  // Two parts, one on each group's backend, both held: one call in flight.
  const fan = a.kt(HELD_MS, '.gw.syncexec', ['getTrades', '`X', 1], nodeq.symbols(['rdb', 'hdb']));
  fan.catch(() => {});
  await waitInflight(adm, 'alice', 1, 'the fan-out');
  const a2 = await qconnect(ctx, gw.port, ALICE);
  await assert.rejects(a2.k('echo', 2), overLimit('alice', 1));
  const s = await stats(ctx, gw);
  assert.equal(counter(s, 'user_calls_refused'), 1);
});

itest('user_limits calls_max: after a storm (clients gone mid-call, a timeout, the backend ' +
  'killed mid-call) the user\'s count is back to 0, with no bug counted', async (t, ctx) => {
  const { gw, mocks } = await stack(ctx, '[[user_limits]]\nusers = ["alice"]\ncalls_max = 100\n', {
    routes: [{ match: ['deferred'], group: 'rdb', timeout_ms: 200 }, { match: ['*'], group: 'rdb' }],
  });
  const adm = await qconnect(ctx, gw.admin, OPS);
  const conns = [];
  const calls = [];
  for (let c = 0; c < 6; ++c) {
    const q = await qconnect(ctx, gw.port, ALICE);
    conns.push(q);
    for (let i = 0; i < 5; ++i) calls.push(q.kt(HELD_MS, 'getTrades', `S${c}${i}`).catch((e) => e));
  }
  await waitInflight(adm, 'alice', 30, 'held');
  // Clients gone mid-call: their places come back.
  conns[0].socket.resetAndDestroy();  // a FIN alone is a half-close, answered first
  conns[1].socket.resetAndDestroy();
  await waitInflight(adm, 'alice', 20, 'two clients gone');
  // A timeout: answered by qgate while the backend still works on it.
  const late = await qconnect(ctx, gw.port, ALICE);
  await assert.rejects(late.k(`deferred[${HELD_MS};1]`), /qgate: timeout after 200ms/);
  let rows = await userRows(adm);
  assert.equal(rows.alice.inflight, 20, 'the timed-out call was given back');
  // The backend killed mid-call: each held call is answered with an error, and given back.
  mocks.rdb1.proc.child.kill('SIGKILL');
  await waitInflight(adm, 'alice', 0, 'backend killed');
  const errs = (await Promise.all(calls.slice(10))).map((e) => (e instanceof Error ? e.message : e));
  for (const m of errs) assert.match(m, /qgate: backend rdb1 disconnected/);
  const s = await stats(ctx, gw);
  assert.equal(counter(s, 'bugs'), 0, 'no place given back twice');
  rows = await userRows(adm);
  assert.equal(rows.alice.inflight, 0);
  assert.equal(rows.alice.conns, 5);
});

itest('user_limits calls_max: a reload applies from each client\'s next call; calls counted ' +
  'under the old limit are given back all the same', async (t, ctx) => {
  const { gw } = await stack(ctx, '[[user_limits]]\nusers = ["alice"]\ncalls_max = 1\n');
  const adm = await qconnect(ctx, gw.admin, OPS);
  const reload = async (from, to, generation) => {
    fs.writeFileSync(gw.cfgPath, fs.readFileSync(gw.cfgPath, 'utf8').replace(from, to));
    gw.proc.child.kill('SIGHUP');
    await waitCounter(ctx, gw, 'config_generation', generation);
  };
  const a1 = await qconnect(ctx, gw.port, ALICE);
  a1.kt(HELD_MS, 'getTrades', 'A').catch(() => {});
  await waitInflight(adm, 'alice', 1, 'held');
  const a2 = await qconnect(ctx, gw.port, ALICE);
  await assert.rejects(a2.k('echo', 1), overLimit('alice', 1), 'at calls_max = 1');
  await reload('calls_max = 1', 'calls_max = 2', 2);
  a2.kt(HELD_MS, 'getTrades', 'B').catch(() => {});
  await waitInflight(adm, 'alice', 2, 'the second place the reload gave');
  const a3 = await qconnect(ctx, gw.port, ALICE);
  await assert.rejects(a3.k('echo', 2), overLimit('alice', 2), 'at calls_max = 2');
  // No rule for alice any more: nothing refused; the calls counted before come back once.
  await reload('users = ["alice"]', 'users = ["nobody"]', 3);
  assert.equal(await a3.k('echo', 3), 3, 'no limit any more');
  a1.socket.resetAndDestroy();
  a2.socket.resetAndDestroy();
  await waitInflight(adm, 'alice', 0, 'both held calls\' clients gone');
  const s = await stats(ctx, gw);
  assert.equal(counter(s, 'user_calls_refused'), 2);
  assert.equal(counter(s, 'bugs'), 0);
});

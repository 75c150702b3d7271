'use strict';
// Entitlements (issue 18, [[acl]] / [[user_group]], src/route/acl.cc, src/proxy/request_acl.cc):
//  * request mode: a function outside the rule's glob, a call routed to a group not allowed, a
//    raw string query (while the same user's functional call passes) each get q's 'access and
//    are counted (acl_denied_sync); a denied async call is dropped, never reaches the backend,
//    and is counted (acl_denied_async); a user matched through a [[user_group]] glob is allowed;
//  * logins: a user allowed no rule on a listener, or (session mode) not the listener's
//    group, is closed without a byte as a bad login and counted (acl_denied_logins);
//  * other users are unaffected; with no [[acl]] everything is allowed (as before);
//  * a .gw.* call is judged by its query (function, string) and needs every server type;
//  * a reload changing a rule applies at an open client's next call.

const fs = require('fs');
const nodeq = require('node-q');
const path = require('path');
const {
  itest, assert, startRecordingStack, startStack, recordedFrames, qgateConfigText, qconnect,
  RawClient, stats, counter, waitCounter, pollUntil,
} = require('./lib.js');

const NODEQ_REFUSED = { message: 'Connection closes (wrong auth?)' };
const ACCESS = (e) => e.message === 'access';
const USERS = ['alice:pw', 't-9:pw', 'bob:pw', 'carol:pw', 'ops:pw:admin'];

// Listener 0: request mode (rdb by default, name[] to hdb); 1: session rdb; 2: session hdb.
const LISTENERS = [
  { mode: 'request', group: 'rdb' }, { group: 'rdb' }, { group: 'hdb' },
];
const BACKENDS = [{ name: 'rdb1', group: 'rdb' }, { name: 'hdb1', group: 'hdb' }];
const ROUTES = [{ match: ['name'], group: 'hdb' }, { match: ['*'], group: 'rdb' }];

function aclText(aliceFunctions = ['echo', 'name', 'tag']) {
  const list = (xs) => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;
  return [
    '[[user_group]]', 'name = "traders"', 'users = ["alice", "t-*"]', '',
    '[[acl]]', 'users = ["@traders"]', 'listeners = ["0"]', 'groups = ["rdb"]',
    `functions = ${list(aliceFunctions)}`, 'kinds = ["sync", "async"]', '',
    '[[acl]]', 'users = ["bob"]', 'groups = ["rdb"]', '',
    '[[acl]]', 'users = ["ops"]', '',
  ].join('\n');
}

function stackOpts(extra) {
  return { users: USERS, listeners: LISTENERS, backends: BACKENDS, routes: ROUTES, extra };
}

/** The handshake of `user` on `port` ends without a byte (a refused login). */
async function refusedLogin(ctx, port, user) {
  const raw = await RawClient.open(ctx, port);
  await raw.write(Buffer.from(`${user}:pw\x03\x00`, 'latin1'));
  return (await raw.waitEof(5000)) === 0;
}

const login = (ctx, port, user) => qconnect(ctx, port, { user, password: 'pw' });

itest('acl: outside the glob, a group not allowed, a raw string: \'access and counted', async (t, ctx) => {
  const { gw } = await startStack(ctx, stackOpts(aclText()));
  const alice = await login(ctx, gw.port, 'alice');
  assert.equal(await alice.k('echo', 1), 1, 'an allowed function passes');
  await assert.rejects(alice.k('whoami', 1), ACCESS, 'a function outside the glob');
  await assert.rejects(alice.k('name', 1), ACCESS, 'name[] routes to hdb: group not allowed');
  await assert.rejects(alice.k('echo[5]'), ACCESS, 'a raw string query, same function');
  assert.equal(await alice.k('echo', 2), 2, 'the connection stays usable');
  const s = await waitCounter(ctx, gw, 'acl_denied_sync', 3);
  assert.equal(counter(s, 'acl_denied_sync'), 3);

  // Bob's rule allows every function and kind, but only group rdb.
  const bob = await login(ctx, gw.port, 'bob');
  assert.equal(await bob.k('echo[5]'), 5, 'bob may send a string query');
  assert.equal(await bob.k('whoami', 1), 'gw', 'and any function routed to rdb');
  await assert.rejects(bob.k('name', 1), ACCESS, 'not group hdb');
  // A user matched by the group's glob ("t-*") has the group's rule.
  const t9 = await login(ctx, gw.port, 't-9');
  assert.equal(await t9.k('echo', 9), 9);
  await assert.rejects(t9.k('whoami', 1), ACCESS);
  const ops = await login(ctx, gw.port, 'ops');
  assert.equal(await ops.k('name', 1), 'hdb1', 'a user allowed everything reaches hdb');
  assert.equal(counter(await stats(ctx, gw), 'acl_denied_sync'), 5);
});

itest('acl: a .gw.* call needs every group it names; its query is what is judged', async (t, ctx) => {
  const { gw } = await startStack(ctx, stackOpts(aclText()));
  const alice = await login(ctx, gw.port, 'alice');
  const rdb = nodeq.symbol('rdb');
  assert.deepEqual(await alice.k('.gw.syncexec', ['echo', 5], rdb), [5], 'rdb only: allowed');
  await assert.rejects(alice.k('.gw.syncexec', ['echo', 5], nodeq.symbols(['rdb', 'hdb'])),
    ACCESS, 'hdb is not allowed, so neither is the fan-out');
  await assert.rejects(alice.k('.gw.syncexec', ['whoami', 5], rdb), ACCESS, 'inner function');
  await assert.rejects(alice.k('.gw.syncexec', 'echo[5]', rdb), ACCESS, 'a query as text');
  const ops = await login(ctx, gw.port, 'ops');
  assert.deepEqual(await ops.k('.gw.syncexec', 'echo[5]', rdb), [5], 'ops may send text');
  assert.equal(counter(await stats(ctx, gw), 'acl_denied_sync'), 3);
});

itest('acl: a denied async call is dropped before the backend and counted', async (t, ctx) => {
  const { gw, mocks } = await startRecordingStack(ctx, stackOpts(aclText()));
  const alice = await login(ctx, gw.port, 'alice');
  await alice.ks('whoami', 77);  // function not allowed
  await alice.ks('echo', 78);    // allowed: the marker that the first was read before it
  const s = await waitCounter(ctx, gw, 'acl_denied_async', 1);
  assert.equal(counter(s, 'acl_denied_async'), 1);
  const texts = () => recordedFrames(mocks.rdb1.record).map((f) => f.toString('latin1'));
  await pollUntil(() => texts().some((x) => x.includes('echo')), { what: 'the allowed async' });
  assert.ok(!texts().some((x) => x.includes('whoami')), 'the denied call never reached rdb1');
  assert.equal(await alice.k('echo', 3), 3, 'the client is still served');
});

itest('acl: logins: a listener or session group not allowed is refused as a bad login', async (t, ctx) => {
  const { gw } = await startStack(ctx, stackOpts(aclText()));
  const [req, sessRdb, sessHdb] = gw.ports;
  assert.ok(await refusedLogin(ctx, sessRdb, 'alice'), 'alice: only listener 0');
  assert.ok(await refusedLogin(ctx, req, 'carol'), 'carol: no rule names her');
  assert.ok(await refusedLogin(ctx, sessHdb, 'bob'), 'bob: session listener of group hdb');
  await assert.rejects(login(ctx, sessHdb, 'bob'), NODEQ_REFUSED, 'node-q sees it as q would');
  const s = await waitCounter(ctx, gw, 'acl_denied_logins', 4);
  assert.equal(counter(s, 'acl_denied_logins'), 4);
  assert.equal(counter(s, 'auth_fail'), 0, 'the passwords were right');
  const bob = await login(ctx, sessRdb, 'bob');
  assert.equal(await bob.k('whoami[]'), 'gw', 'bob may use the rdb session listener');
  const ops = await login(ctx, sessHdb, 'ops');
  assert.equal(await ops.k('name[]'), 'hdb1', 'ops may use the hdb one');
});

itest('acl: with no [[acl]] every user may do anything, as before', async (t, ctx) => {
  const { gw } = await startStack(ctx, stackOpts(''));
  const alice = await login(ctx, gw.port, 'alice');
  assert.equal(await alice.k('whoami', 1), 'gw');
  assert.equal(await alice.k('name', 1), 'hdb1');
  assert.equal(await alice.k('echo[5]'), 5);
  const carol = await login(ctx, gw.ports[2], 'carol');
  assert.equal(await carol.k('name[]'), 'hdb1');
  const s = await stats(ctx, gw);
  for (const c of ['acl_denied_sync', 'acl_denied_async', 'acl_denied_logins']) {
    assert.equal(counter(s, c), 0, c);
  }
});

itest('acl: a reload changing a rule applies at an open client\'s next call', async (t, ctx) => {
  const { gw, mocks } = await startStack(ctx, stackOpts(aclText()));
  const alice = await login(ctx, gw.port, 'alice');
  await assert.rejects(alice.k('whoami', 1), ACCESS);
  const rewrite = (functions) => {
    const text = qgateConfigText({
      ...stackOpts(aclText(functions)),
      backends: BACKENDS.map((b) => ({ ...b, port: mocks[b.name].port, credentials: 'gw:pw' })),
      portFile: path.join(ctx.dir, 'qgate.ports'),
      usersFile: path.join(ctx.dir, 'qgate.users'),  // unchanged: only the rule moves
    });
    fs.writeFileSync(gw.cfgPath + '.tmp', text);
    fs.renameSync(gw.cfgPath + '.tmp', gw.cfgPath);
  };
  const reload = async (n) => {
    gw.proc.child.kill('SIGHUP');
    await pollUntil(async () => counter(await stats(ctx, gw), 'config_generation') >= n,
      { what: `generation ${n}` });
  };
  rewrite(['echo', 'whoami']);
  await reload(2);
  assert.equal(await alice.k('whoami', 1), 'gw', 'now allowed, same connection');
  rewrite(['whoami']);
  await reload(3);
  await assert.rejects(alice.k('echo', 1), ACCESS, 'echo taken away, same connection');
});

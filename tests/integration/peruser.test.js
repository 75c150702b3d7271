'use strict';
// The client's own user upstream (backend credentials = "passthrough", session mode): the
// backend sees and checks each client's user, refuses whom it refuses (the client is closed
// as q closes a refused login), and the config refuses passthrough where no client handshake
// exists (the pub/sub upstream; request mode keeps per-user pools: request_passthrough.test.js).

const fs = require('node:fs');
const {
  itest, assert, startStack, qconnect, RawClient, stats, counter, waitCounter, runQgateSync,
  qgateConfigText, pollUntil,
} = require('./lib.js');

// node-q's connect error when the server closes during the handshake (session_failures.test.js).
const NODEQ_REFUSED = { message: 'Connection closes (wrong auth?)' };
const USERS = ['alice:secret', 'bob:hunter2', 'carol:pw3'];
const GW_USERS = [...USERS, 'ops:pw:admin'];  // ops reads the stats on the admin port

itest('passthrough: the backend sees each client\'s own user (whoami), checked by its users file',
async (t, ctx) => {
  // The backend's users file holds the clients' own credentials: the gateway's account
  // ("gw:pw", startStack's default) would be refused there.
  const { gw } = await startStack(ctx, {
    users: GW_USERS,
    backends: [{ name: 'rdb1', credentials: 'passthrough', mock: { users: USERS.slice(0, 2) } }],
  });
  const alice = await qconnect(ctx, gw.port, { user: 'alice', password: 'secret' });
  const bob = await qconnect(ctx, gw.port, { user: 'bob', password: 'hunter2' });
  assert.equal(await alice.k('whoami[]'), 'alice');
  assert.equal(await bob.k('whoami[]'), 'bob');
  assert.equal(await alice.k('echo', 7), 7, 'calls go on after the handshake');
  // A raw client whose handshake has early bytes behind it: the credentials alone go upstream.
  const raw = await RawClient.connect(ctx, gw.port, { auth: 'bob:hunter2', cap: 6 });
  assert.equal(raw.capability, 3, 'capability is the backend\'s answer, as without passthrough');
  const s = await stats(ctx, gw);
  assert.equal(counter(s, 'passthrough_refused'), 0);
  assert.equal(counter(s, 'backend_connect_fail'), 0);
});

itest('passthrough: a user qgate accepts but the backend refuses is closed without a byte, ' +
  'counted; the backend stays up for the others', async (t, ctx) => {
  const { gw } = await startStack(ctx, {
    users: GW_USERS,
    backends: [{ name: 'rdb1', credentials: 'passthrough', mock: { users: USERS.slice(0, 2) } }],
  });
  // carol passes qgate's users file, not the backend's: q's behaviour for a refused login.
  const raw = await RawClient.open(ctx, gw.port);
  await raw.write(Buffer.from('carol:pw3\x03\x00', 'latin1'));
  assert.equal(await raw.waitEof(5000), 0, 'EOF with 0 bytes, as q closes a refused login');
  await assert.rejects(qconnect(ctx, gw.port, { user: 'carol', password: 'pw3' }),
    NODEQ_REFUSED, 'node-q reports the refusal as for q');
  const s = await waitCounter(ctx, gw, 'passthrough_refused', 2);
  assert.equal(counter(s, 'passthrough_refused'), 2);
  assert.equal(counter(s, 'auth_fail'), 0, 'qgate itself accepted carol');
  assert.equal(counter(s, 'backend_connect_fail'), 0, 'a refused user is no backend failure');
  assert.equal(counter(s, 'no_backend_sessions'), 0, 'carol gets no no-backend session');
  // The backend was not put in backoff: alice is served at once.
  const alice = await qconnect(ctx, gw.port, { user: 'alice', password: 'secret' });
  assert.equal(await alice.k('whoami[]'), 'alice');
});

itest('passthrough on the pub/sub upstream: refused by --check-config with file:line; request ' +
  'mode accepts it (per-user pools)', { ioIndependent: true }, async (t, ctx) => {
  const pass = (name, group, port) => ({ name, group, port, credentials: 'passthrough' });
  const base = { backends: [pass('r1', 'rdb', 5011), pass('h1', 'hdb', 5012)] };
  const text = qgateConfigText({ ...base, admin: false, listeners: [{ group: 'rdb' }],
    extra: '[pubsub]\nupstream = "r1"\n' });
  const file = ctx.file('q.toml', text);
  const line = text.split('\n').indexOf('[[backend]]') + 1;
  const res = runQgateSync(['-c', file, '--check-config']);
  assert.notEqual(res.code, 0, 'pubsub.upstream: refused');
  assert.match(res.stderr + res.stdout, new RegExp(`${file}:${line}: backend\\[0\\]: ` +
    'credentials = "passthrough" needs a client\'s handshake, but pubsub.upstream is this backend'));
  // Session and request listeners, and a route into a passthrough group: accepted.
  const ok = ctx.file('ok.toml', qgateConfigText({ ...base, admin: false,
    listeners: [{ group: 'rdb' }, { group: 'hdb', mode: 'request' }],
    routes: [{ match: ['r*'], group: 'rdb' }] }));
  const okRes = runQgateSync(['-c', ok, '--check-config']);
  assert.equal(okRes.code, 0, okRes.stderr);
});

// ---------------------------------------------------------------- limits per user

const LIMITS = '[[user_limits]]\nusers = ["al*"]\nconns_max = 2\n';

async function refusedLogin(ctx, port, auth) {
  const raw = await RawClient.open(ctx, port);
  await raw.write(Buffer.from(`${auth}\x03\x00`, 'latin1'));
  return raw.waitEof(5000);
}

itest('user_limits conns_max: a user at its limit is refused (q\'s refused login, counted) on ' +
  'every listener and shard; other users connect and call; a close frees a place',
async (t, ctx) => {
  const { gw } = await startStack(ctx, {
    users: GW_USERS, shards: 2, extra: LIMITS,
    listeners: [{ group: 'rdb' }, { group: 'rdb', mode: 'request' }],
  });
  const [session, request] = gw.ports;
  // alice's two places, one per listener (and, with 2 shards, whichever shards took them).
  const a1 = await qconnect(ctx, session, { user: 'alice', password: 'secret' });
  const a2 = await qconnect(ctx, request, { user: 'alice', password: 'secret' });
  assert.equal(await a1.k('echo', 1), 1);
  assert.equal(await a2.k('echo', 2), 2);
  assert.equal(await refusedLogin(ctx, session, 'alice:secret'), 0, 'EOF without a byte');
  assert.equal(await refusedLogin(ctx, request, 'alice:secret'), 0, 'on the other listener too');
  await assert.rejects(qconnect(ctx, session, { user: 'alice', password: 'secret' }),
    NODEQ_REFUSED, 'node-q: hopen fails as for a refused login (q says \'access)');
  // bob matches no [[user_limits]]: four connections, each calls, while alice is at her limit.
  const bobs = [];
  for (let i = 0; i < 4; ++i) {
    bobs.push(await qconnect(ctx, gw.ports[i % 2], { user: 'bob', password: 'hunter2' }));
  }
  for (const [i, b] of bobs.entries()) assert.equal(await b.k('echo', i), i, `bob ${i}`);
  let s = await waitCounter(ctx, gw, 'user_conns_refused', 3);
  assert.equal(counter(s, 'user_conns_refused'), 3);
  assert.equal(counter(s, 'auth_fail'), 0, 'not counted as bad credentials');
  assert.equal(counter(s, 'user_table_full'), 0);
  // alice closes one: her place is free once qgate has freed the slot.
  const open = counter(s, 'conns_open');
  await a1.close();
  await pollUntil(async () => counter(await stats(ctx, gw), 'conns_open') < open,
    { what: 'alice\'s closed connection freed', timeoutMs: 5000 });
  const a3 = await qconnect(ctx, session, { user: 'alice', password: 'secret' });
  assert.equal(await a3.k('echo', 3), 3);
  s = await stats(ctx, gw);
  assert.equal(counter(s, 'user_conns_refused'), 3, 'the freed place was not refused');
});

itest('user_limits: SIGHUP applies a changed conns_max to new logins; open ones stay',
async (t, ctx) => {
  const { gw } = await startStack(ctx, {
    users: GW_USERS, extra: '[[user_limits]]\nusers = ["alice"]\nconns_max = 1\n',
  });
  const a1 = await qconnect(ctx, gw.port, { user: 'alice', password: 'secret' });
  assert.equal(await refusedLogin(ctx, gw.port, 'alice:secret'), 0, 'at conns_max = 1');
  const text = fs.readFileSync(gw.cfgPath, 'utf8').replace('conns_max = 1', 'conns_max = 2');
  fs.writeFileSync(gw.cfgPath, text);
  gw.proc.child.kill('SIGHUP');
  await waitCounter(ctx, gw, 'config_generation', 2);
  const a2 = await qconnect(ctx, gw.port, { user: 'alice', password: 'secret' });
  assert.equal(await a2.k('echo', 2), 2, 'the second place the reload gave');
  assert.equal(await a1.k('echo', 1), 1, 'the open connection kept');
  assert.equal(await refusedLogin(ctx, gw.port, 'alice:secret'), 0, 'at conns_max = 2');
  const s = await waitCounter(ctx, gw, 'user_conns_refused', 2);
  assert.equal(counter(s, 'user_conns_refused'), 2);
});

itest('user_limits: a slow handshake is closed and counted, and never holds its user\'s place',
async (t, ctx) => {
  const { gw } = await startStack(ctx, {
    users: GW_USERS, extra: '[[user_limits]]\nusers = ["alice"]\nconns_max = 1\n',
    limits: { handshake_timeout_ms: 300 },
  });
  // alice's name sent without its NUL: not logged in, so not counted against her.
  const slow = await RawClient.open(ctx, gw.port);
  await slow.write(Buffer.from('alice:secret', 'latin1'));
  const a = await qconnect(ctx, gw.port, { user: 'alice', password: 'secret' });
  assert.equal(await a.k('whoami[]'), 'gw', 'alice logs in while the slow handshake waits');
  assert.equal(await slow.waitEof(5000), 0, 'the slow handshake is closed without a byte');
  const s = await waitCounter(ctx, gw, 'handshake_fail', 1);
  assert.equal(counter(s, 'handshake_fail'), 1);
  assert.equal(counter(s, 'user_conns_refused'), 0);
});

itest('user_limits message_bytes_max: request mode answers a longer call with an error, ' +
  'session mode closes; other users send as long a message', async (t, ctx) => {
  const { gw } = await startStack(ctx, {
    users: GW_USERS,
    extra: '[[user_limits]]\nusers = ["alice"]\nmessage_bytes_max = 1000\n',
    listeners: [{ group: 'rdb' }, { group: 'rdb', mode: 'request' }],
  });
  const [session, request] = gw.ports;
  const big = 'x'.repeat(2000);
  const aliceRq = await qconnect(ctx, request, { user: 'alice', password: 'secret' });
  await assert.rejects(aliceRq.k('echo', big),
    (e) => e.message === 'qgate: message over this user\'s limit', 'request mode: q error');
  assert.equal(await aliceRq.k('echo', 'small'), 'small', 'read past: the next call is served');
  const bobRq = await qconnect(ctx, request, { user: 'bob', password: 'hunter2' });
  assert.equal(await bobRq.k('echo', big), big, 'bob is not limited');
  const aliceSs = await qconnect(ctx, session, { user: 'alice', password: 'secret' });
  assert.equal(await aliceSs.k('echo', 'small'), 'small');
  await assert.rejects(aliceSs.k('echo', big), /connection closed/,
    'session mode closes, as for limits.message_bytes_max');
  const bobSs = await qconnect(ctx, session, { user: 'bob', password: 'hunter2' });
  assert.equal(await bobSs.k('echo', big), big);
  const s = await waitCounter(ctx, gw, 'user_message_refused', 2);
  assert.equal(counter(s, 'user_message_refused'), 2);
  assert.equal(counter(s, 'request_too_large'), 0);
});

itest('user_limits: --check-config names a bad [[user_limits]] entry with file:line',
  { ioIndependent: true }, async (t, ctx) => {
  const text = qgateConfigText({ admin: false, backends: [{ name: 'r1', port: 5011 }],
    extra: '[[user_limits]]\nusers = ["a*"]\nconns_max = 1\n[[user_limits]]\nconns_maxx = 2\n' });
  const file = ctx.file('q.toml', text);
  const line = text.split('\n').lastIndexOf('conns_maxx = 2') + 1;
  const res = runQgateSync(['-c', file, '--check-config']);
  assert.notEqual(res.code, 0);
  assert.match(res.stderr, new RegExp(`${file}:${line}:\\d*:? ?unknown key 'conns_maxx' in ` +
    'user_limits\\[1\\]'));
});

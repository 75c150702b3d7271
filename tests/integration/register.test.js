'use strict';
// The registration listener (issue 17, KX whitepaper style; src/ctl/register.cc): a service
// connects, logs in as any user of the users file, and sends registerResource[`name;`:host:port]
// (async, as the whitepaper's service does, or sync: the reply is the backend's name; q sends
// it as a symbol vector, other clients may send a general list or the text). It is a
// backend of group `name` (source `register` in .qgate.backends[]) until that connection
// closes, then it drains: its call in flight finishes, new calls go elsewhere, it leaves the
// table. A name not in register.groups, a message that is no registerResource, and a bad login
// are refused; the register_* stats count each.

const fs = require('fs');
const {
  itest, assert, startQmock, startQgate, qconnect, RawClient, MSG, qmsg, qlist, qsym, qstr,
  qsyms, decode, errorText, stats, counter, waitCounter, pollUntil, settled, within,
} = require('./lib.js');

const USERS = ['alice:pw', 'svc:svcpw', 'ops:pw:admin'];
const ALICE = { user: 'alice', password: 'pw' };
const SVC = 'svc:svcpw';  // a plain user: registration is not an admin's privilege
const USAGE = 'qgate: only registerResource[`name;`:host:port] here';

/** qgate with a request listener on group rdb, no [[backend]] at all, and [register]. */
function startGateway(ctx, register = {}, opts = {}) {
  const knobs = { groups: '["rdb"]', ...register };
  const extra = ['[register]', 'listen = "127.0.0.1:0"',
    ...Object.entries(knobs).map(([k, v]) => `${k} = ${v}`)].join('\n');
  return startQgate(ctx, {
    users: USERS, shards: 2, listeners: [{ group: 'rdb', mode: 'request' }],
    routes: [{ match: ['*'], group: 'rdb', policy: 'round-robin' }], extra, ...opts,
  });
}

/** The KX message (`registerResource;`name;`:host:port) as q sends it: all symbols, so a
 *  symbol vector `registerResource`name`:host:port. */
function registration(type, name, port, host = '127.0.0.1') {
  return qmsg(type, qsyms(['registerResource', name, `:${host}:${port}`]));
}

/** A sync registration's reply: the backend name, or the q error (thrown). */
async function registerSync(reg, name, port) {
  const r = await reg.call(registration(MSG.sync, name, port));
  assert.equal(r.type, MSG.response);
  return decode(r.frame);
}

/** The q error a sync message gets (asserting it is one). */
async function errorOf(reg, msg) {
  const r = await reg.call(msg);
  const e = errorText(r.frame);
  assert.notEqual(e, null, 'an error reply');
  return e;
}

/** .qgate.backends[] (a keyed table) as name → row. */
async function backends(ctx, gw) {
  const q = await qconnect(ctx, gw.admin, gw.adminUser);
  try {
    const [keys, values] = await q.k('.qgate.backends[]');
    return Object.fromEntries(keys.map((k, i) => [k.name, { ...k, ...values[i] }]));
  } finally { await q.close(); }
}

itest('registerResource: services become backends, serve, and drain when their connection ' +
  'closes', { timeout: 60000 }, async (t, ctx) => {
  const gw = await startGateway(ctx);
  assert.ok(gw.register > 0, `the port file names the registration listener: ${gw.register}`);
  const q = await qconnect(ctx, gw.port, ALICE);
  const none = await settled(q.k('tag', 'x'));
  assert.equal(none.e && none.e.message, 'qgate: no backend available for group rdb',
    'the group exists, empty, before any registration');

  const m1 = await startQmock(ctx, { name: 'm1' });
  const m2 = await startQmock(ctx, { name: 'm2' });
  const reg1 = await RawClient.connect(ctx, gw.register, { auth: SVC });
  const n1 = `rdb@127.0.0.1:${m1.port}`;
  const n2 = `rdb@127.0.0.1:${m2.port}`;
  assert.equal(await registerSync(reg1, 'rdb', m1.port), n1, 'the reply names the backend');
  assert.deepEqual(await q.k('tag', 'a'), ['m1', 'a'], 'a call now reaches the registered qmock');
  let b = await backends(ctx, gw);
  assert.deepEqual(Object.keys(b), [n1]);
  assert.equal(b[n1].source, 'register');
  assert.equal(b[n1].group, 'rdb');
  assert.equal(b[n1].state, 'up');
  assert.equal(b[n1].address, `127.0.0.1:${m1.port}`);

  // The second service registers as the whitepaper's does: async, on its own connection.
  const reg2 = await RawClient.connect(ctx, gw.register, { auth: SVC });
  await reg2.write(registration(MSG.async, 'rdb', m2.port));
  await waitCounter(ctx, gw, 'register_backends', 2);
  b = await backends(ctx, gw);
  assert.deepEqual(Object.keys(b).sort(), [n1, n2].sort());
  assert.equal(b[n2].source, 'register');
  const served = {};
  for (let k = 0; k < 20; ++k) {
    const [who, echoed] = await q.k('tag', `r${k}`);
    assert.equal(echoed, `r${k}`);
    served[who] = (served[who] || 0) + 1;
  }
  t.diagnostic(`round-robin over the two registered services: ${JSON.stringify(served)}`);
  assert.ok(served.m1 > 0 && served.m2 > 0, `both serve: ${JSON.stringify(served)}`);

  // A slow call on one of them; the registration connection of that one closes meanwhile.
  const slowConn = await qconnect(ctx, gw.port, ALICE);
  const slow = settled(slowConn.kt(20000, 'sleep', 1500));
  const busy = await pollUntil(async () => {
    const rows = await backends(ctx, gw);
    return [n1, n2].find((n) => rows[n].inflight === 1);
  }, { what: 'the slow call in flight' });
  const [gone, stays, staysMock] = busy === n1 ? [reg1, n2, 'm2'] : [reg2, n1, 'm1'];
  gone.destroy();
  await pollUntil(async () => {  // one read: it may leave the table between two
    const row = (await backends(ctx, gw))[busy];
    return !row || row.state === 'draining';
  }, { what: `${busy} draining or gone` });
  for (let k = 0; k < 10; ++k) {
    assert.deepEqual(await q.k('tag', `n${k}`), [staysMock, `n${k}`], 'new calls: the other one');
  }
  const got = await slow;
  assert.equal(got.e, undefined, `the call in flight finished: ${got.e && got.e.message}`);
  assert.equal(Number(got.v), 1500);
  await pollUntil(async () => !(busy in await backends(ctx, gw)), { what: `${busy} retired` });
  assert.deepEqual(Object.keys(await backends(ctx, gw)), [stays]);
  const s = await stats(ctx, gw);
  assert.equal(counter(s, 'register_backends'), 1);
  assert.equal(counter(s, 'register_accepted'), 2);
  assert.equal(counter(s, 'register_closed'), 1);
  assert.equal(counter(s, 'register_conns'), 1);
  assert.ok(!q.closed && !slowConn.closed, 'clients stay connected');
});

itest('registerResource: a name not allowed, a malformed message, the string form, a full ' +
  'table and a bad login', { timeout: 60000 }, async (t, ctx) => {
  const gw = await startGateway(ctx, { backends_max: 1 });
  const m1 = await startQmock(ctx, { name: 'm1' });
  const reg = await RawClient.connect(ctx, gw.register, { auth: SVC });
  await assert.rejects(registerSync(reg, 'hdb', m1.port),
    { message: 'qgate: registerResource: name not allowed' });
  assert.equal(await errorOf(reg, qmsg(MSG.sync, qstr('1+1'))), USAGE);
  assert.equal(await errorOf(reg, qmsg(MSG.sync, qlist(qsym('registerResource'), qsym('rdb')))),
    'qgate: registerResource takes two arguments, [`name;`:host:port]');
  await reg.write(qmsg(MSG.async, qstr('garbage[]')));  // async: dropped and counted
  await waitCounter(ctx, gw, 'register_bad_messages', 3);
  await pollUntil(() => /an async message dropped .*only registerResource/.test(
    fs.readFileSync(gw.proc.log, 'utf8')), { what: 'the warning for the dropped async message' });
  // q clients send text too; the connection that sent all this is still served.
  const r = await reg.call(qmsg(MSG.sync, qstr(`registerResource[\`rdb;\`:127.0.0.1:${m1.port}]`)));
  assert.equal(decode(r.frame), `rdb@127.0.0.1:${m1.port}`);
  const q = await qconnect(ctx, gw.port, ALICE);
  assert.deepEqual(await q.k('tag', 'x'), ['m1', 'x']);
  const m2 = await startQmock(ctx, { name: 'm2' });
  await assert.rejects(registerSync(reg, 'rdb', m2.port),
    { message: 'qgate: registerResource: registrations full (register.backends_max 1)' });
  // A bad login: closed without the capability byte, as q refuses one.
  const bad = await RawClient.open(ctx, gw.register);
  await bad.write(Buffer.from('svc:wrong\x03\x00', 'latin1'));
  assert.equal(await bad.waitEof(), 0, 'no byte answered to a bad login');
  const s = await stats(ctx, gw);
  assert.equal(counter(s, 'register_auth_fail'), 1);
  assert.equal(counter(s, 'register_refused'), 2);
  assert.equal(counter(s, 'register_accepted'), 1);
  assert.equal(counter(s, 'register_bad_messages'), 3);
  assert.deepEqual(Object.keys(await backends(ctx, gw)), [`rdb@127.0.0.1:${m1.port}`]);
});

itest('registerResource: one connection registers two services; a reload keeps them; an ' +
  'unfinished login times out; the close drops both', { timeout: 60000 }, async (t, ctx) => {
  const gw = await startGateway(ctx, { groups: '["rdb", "hdb"]' }, {
    admin: { handshake_timeout_ms: 300 },
    routes: [{ match: ['name'], group: 'hdb' }, { match: ['*'], group: 'rdb' }],
  });
  const m1 = await startQmock(ctx, { name: 'm1' });
  const m2 = await startQmock(ctx, { name: 'm2' });
  const reg = await RawClient.connect(ctx, gw.register, { auth: SVC });
  assert.equal(await registerSync(reg, 'rdb', m1.port), `rdb@127.0.0.1:${m1.port}`);
  // The general list, name and address as strings (what a non-q client may send).
  const general = qmsg(MSG.sync, qlist(qsym('registerResource'), qstr('hdb'),
    qstr(`:127.0.0.1:${m2.port}`)));
  assert.equal(decode((await reg.call(general)).frame), `hdb@127.0.0.1:${m2.port}`);
  assert.equal(await registerSync(reg, 'hdb', m2.port), `hdb@127.0.0.1:${m2.port}`,
    'registering again on the same connection answers the same name');
  const q = await qconnect(ctx, gw.port, ALICE);
  assert.deepEqual(await q.k('tag', 'a'), ['m1', 'a']);
  assert.equal(await q.k('name', 'x'), 'm2', 'the hdb route reaches the hdb service');

  const admin = await qconnect(ctx, gw.admin, gw.adminUser);
  const before = counter(await stats(ctx, gw), 'config_generation');
  const r = await admin.k('.qgate.reload[]');  // the file is unchanged: the services stay
  assert.equal(Number(r.generation), before + 1);
  await admin.close();
  assert.deepEqual(Object.keys(await backends(ctx, gw)).sort(),
    [`hdb@127.0.0.1:${m2.port}`, `rdb@127.0.0.1:${m1.port}`]);
  assert.deepEqual(await q.k('tag', 'b'), ['m1', 'b'], 'served after the reload');
  assert.equal(await q.k('name', 'y'), 'm2');

  // A connection that never logs in is closed after admin.handshake_timeout_ms, counted.
  const silent = await RawClient.open(ctx, gw.register);
  assert.equal(await silent.waitEof(5000), 0, 'closed without a byte');
  await waitCounter(ctx, gw, 'register_auth_fail', 1);

  reg.destroy();
  await pollUntil(async () => Object.keys(await backends(ctx, gw)).length === 0,
    { what: 'both services gone' });
  const none = await settled(q.k('tag', 'c'));
  assert.equal(none.e && none.e.message, 'qgate: no backend available for group rdb');
  // The listener's gauges move once the sink has applied the close (the generation is
  // published first, so .qgate.backends[] may be empty a moment before).
  const s = await pollUntil(async () => {
    const x = await stats(ctx, gw);
    return counter(x, 'register_backends') === 0 && counter(x, 'register_closed') >= 2 ? x : null;
  }, { what: 'register_backends 0 and register_closed 2' });
  assert.equal(counter(s, 'register_backends'), 0);
  assert.equal(counter(s, 'register_accepted'), 2, 'the repeated registration is no new one');
  assert.equal(counter(s, 'register_closed'), 2, 'the silent one and the service connection');
  assert.equal(counter(s, 'register_conns'), 0);
});

itest('registerResource: SIGTERM closes the registration connections and qgate exits 0 at once',
  { timeout: 60000 }, async (t, ctx) => {
  const gw = await startGateway(ctx);
  const m1 = await startQmock(ctx, { name: 'm1' });
  const reg = await RawClient.connect(ctx, gw.register, { auth: SVC });
  assert.equal(await registerSync(reg, 'rdb', m1.port), `rdb@127.0.0.1:${m1.port}`);
  const q = await qconnect(ctx, gw.port, ALICE);
  assert.deepEqual(await q.k('tag', 'a'), ['m1', 'a']);
  await q.close();
  const t0 = Date.now();
  gw.proc.kill('SIGTERM');
  await reg.waitEof(10000);  // the service sees its connection close (its .z.pc)
  const exit = await within(gw.proc.exited, 10000, 'qgate exit');
  const ms = Date.now() - t0;
  t.diagnostic(`exit ${ms} ms after SIGTERM (io=${process.env.QGATE_IO})`);
  assert.deepEqual(exit, { code: 0, signal: null });
  // Nothing is in flight: the exit is at once. Withdrawing the services from the reloader
  // after the shards ended would wait its 2 s bound for shards that are gone (issue 17: a
  // slow SIGTERM); 1.5 s is far above an idle exit (ms) and below that.
  assert.ok(ms < 1500, `exit ${ms} ms after SIGTERM: no wait for the shards that are gone`);
});

itest('registerResource from a real service: qmock --register-resource registers itself as the ' +
  'whitepaper service does, serves, and is gone when it dies', { timeout: 60000 },
async (t, ctx) => {
  const gw = await startGateway(ctx);
  const q = await qconnect(ctx, gw.port, ALICE);
  const svc = await startQmock(ctx, { name: 'svc1', args: ['--register-resource',
    `127.0.0.1:${gw.register}`, '--service', 'rdb', '--register-user', SVC] });
  const name = `rdb@127.0.0.1:${svc.port}`;
  await pollUntil(async () => Object.keys(await backends(ctx, gw)).includes(name),
    { what: `${name} registered by qmock itself` });
  assert.equal((await backends(ctx, gw))[name].source, 'register');
  assert.deepEqual(await q.k('tag', 'r'), ['svc1', 'r'], 'the self-registered service serves');
  svc.proc.child.kill('SIGKILL');  // its registration connection closes with it
  await pollUntil(async () => !Object.keys(await backends(ctx, gw)).includes(name),
    { what: `${name} gone after the service died` });
  const after = await settled(q.k('tag', 's'));
  assert.equal(after.e && after.e.message, 'qgate: no backend available for group rdb');
  await waitCounter(ctx, gw, 'register_closed', 1);  // counted once the sink applied the close
  assert.equal(counter(await stats(ctx, gw), 'register_closed'), 1);
});

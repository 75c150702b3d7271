'use strict';
// Session mode when things go wrong: authentication, unreachable and dying backends, clients
// vanishing mid-reply, shutdown, and configuration checking.

const fs = require('node:fs');
const path = require('node:path');
const {
  itest, assert, startStack, qconnect, RawClient, MSG, syncText, decode, errorText, stats, counter,
  waitCounter, within, runQgateSync, qgateConfigText, deadPort, syncCall, qlong, pollUntil,
} = require('./lib.js');

// node-q's connect error when the server closes during the handshake. Pinning it tells a
// refusal apart from a connect timeout or a reset.
const NODEQ_REFUSED = { message: 'Connection closes (wrong auth?)' };

itest('wrong password: closed without a byte, auth_fail counted; right one works', async (t, ctx) => {
  const { gw } = await startStack(ctx, { users: ['alice:secret', 'bob:hunter2', 'ops:pw:admin'] });
  const before = counter(await stats(ctx, gw), 'auth_fail');

  // Wrong password, unknown user, anonymous when users_file is set: EOF with 0 bytes each.
  for (const auth of ['alice:wrong', 'mallory:secret', 'anonymous']) {
    const raw = await RawClient.open(ctx, gw.port);
    await raw.write(Buffer.concat([Buffer.from(auth, 'latin1'), Buffer.from([3, 0])]));
    assert.equal(await raw.waitEof(5000), 0, `${auth}: EOF with 0 bytes`);
  }

  await assert.rejects(qconnect(ctx, gw.port, { user: 'alice', password: 'nope' }),
    NODEQ_REFUSED, 'node-q sees the close on a wrong password');
  await assert.rejects(qconnect(ctx, gw.port, { user: 'mallory', password: 'secret' }),
    NODEQ_REFUSED, 'unknown user refused');
  await assert.rejects(qconnect(ctx, gw.port), NODEQ_REFUSED,
    'anonymous refused when users_file is set');

  const s = await waitCounter(ctx, gw, 'auth_fail', before + 6);
  assert.equal(counter(s, 'auth_fail') - before, 6);

  const ok = await qconnect(ctx, gw.port, { user: 'alice', password: 'secret' });
  assert.equal(await ok.k('echo', 1), 1);
  assert.equal(await ok.k('whoami[]'), 'gw', 'backend still sees the backend credentials');
  const ok2 = await qconnect(ctx, gw.port, { user: 'bob', password: 'hunter2' });
  assert.equal(await ok2.k('echo', 2), 2);
});

itest('backend down at start: handshake completes, sync gets the no-backend error', async (t, ctx) => {
  const { gw } = await startStack(ctx, { backends: [{ name: 'rdb1', mock: false }] });
  const q = await qconnect(ctx, gw.port);
  await assert.rejects(q.k('echo', 1),
    (e) => e.message === 'qgate: no backend available for group rdb');
  await assert.rejects(q.k('echo', 2),
    (e) => e.message === 'qgate: no backend available for group rdb', 'each sync gets it');
  // A raw client sees a proper response frame carrying the error.
  const raw = await RawClient.connect(ctx, gw.port);
  const r = await raw.call(syncCall('echo', qlong(3)));
  assert.equal(r.type, MSG.response);
  assert.equal(errorText(r.frame), 'qgate: no backend available for group rdb');
  // Exactly: three sync requests answered, on two sessions (q and raw; admin is no session).
  const s = await waitCounter(ctx, gw, 'no_backend_errors', 3);
  assert.equal(counter(s, 'no_backend_errors'), 3, 'no_backend_errors counted per sync');
  assert.equal(counter(s, 'no_backend_sessions'), 2, 'no_backend_sessions counted per session');
});

itest('backend killed mid-query: disconnected error, then close; other backend unaffected', async (t, ctx) => {
  const { gw, mocks } = await startStack(ctx, {
    listeners: [{ group: 'rdb' }, { group: 'hdb' }],
    backends: [{ name: 'rdb1', group: 'rdb' }, { name: 'hdb1', group: 'hdb' }],
  });
  const victim = await qconnect(ctx, gw.ports[0]);
  const bystander = await qconnect(ctx, gw.ports[1]);
  assert.equal(await victim.k('name[]'), 'rdb1');
  assert.equal(await bystander.k('name[]'), 'hdb1');
  const s0 = await stats(ctx, gw);
  const before = counter(s0, 'backend_disconnect');
  const fwd0 = counter(s0, 'msgs_fwd');

  // Raw client on the same backend with two requests outstanding: both get the error.
  const raw = await RawClient.connect(ctx, gw.ports[0]);
  // settle into a value at once, so the rejection is handled whenever it comes
  const inflight = victim.kt(15000, 'sleep[2000]').then((v) => ({ v }), (e) => ({ e }));
  // Sleeps, not echoes: the two connections reach qmock in no set order, and an echo read
  // first would be answered before the kill.
  await raw.write(Buffer.concat([syncCall('sleep', qlong(2000)), syncCall('sleep', qlong(2000))]));
  // Wait (a real event) until qgate has forwarded all three requests upstream; qmock is
  // single-threaded, so it is now blocked in one sleep with the others queued. Kill it.
  await waitCounter(ctx, gw, 'msgs_fwd', fwd0 + 3);
  await mocks.rdb1.proc.stop('SIGKILL');

  const res = await inflight;
  assert.ok(res.e, `sleep[2000] must fail, got ${JSON.stringify(res.v)}`);
  assert.equal(res.e.message, 'qgate: backend rdb1 disconnected');
  await victim.waitClosed(5000);
  for (let i = 0; i < 2; i++) {
    const r = await raw.readFrame(5000);
    assert.equal(r.type, MSG.response);
    assert.equal(errorText(r.frame), 'qgate: backend rdb1 disconnected', `raw request ${i + 1}`);
  }
  await raw.waitEof(5000);
  assert.equal(raw.buffered, 0, 'nothing after the two errors');

  assert.equal(await bystander.k('echo', 5), 5, 'client on the other backend unaffected');
  assert.equal(await bystander.k('name[]'), 'hdb1');
  // One upstream connection per session: victim's and raw's both saw the backend go.
  const s1 = await waitCounter(ctx, gw, 'backend_disconnect', before + 2);
  assert.equal(counter(s1, 'backend_disconnect'), before + 2, 'two sessions lost their backend');
  assert.equal(counter(s1, 'disconnect_errors'), counter(s0, 'disconnect_errors') + 3,
    'three disconnect errors sent');
  // A new client on the dead group gets the no-backend error, not a hang.
  const late = await qconnect(ctx, gw.ports[0]);
  await assert.rejects(late.k('echo', 1),
    { message: 'qgate: no backend available for group rdb' });
});

itest('backend killed while the client is idle: the client is closed', async (t, ctx) => {
  const { gw, mocks } = await startStack(ctx, { backends: [{ name: 'rdb1' }] });
  const q = await qconnect(ctx, gw.port);
  assert.equal(await q.k('name[]'), 'rdb1');
  const raw = await RawClient.connect(ctx, gw.port);
  const r = await raw.call(syncCall('echo', qlong(1)));
  assert.equal(decode(r.frame), 1);
  const before = raw.received;  // the handshake byte and the echo reply, all read
  const errors0 = counter(await stats(ctx, gw), 'disconnect_errors');
  await mocks.rdb1.proc.stop('SIGKILL');
  await q.waitClosed(5000);
  await raw.waitEof(5000);
  assert.equal(raw.received, before, 'no unsolicited message before the close');
  assert.equal(raw.buffered, 0);
  // Nothing was owed, so no error was sent either.
  const s = await waitCounter(ctx, gw, 'backend_disconnect', 2);
  assert.equal(counter(s, 'disconnect_errors'), errors0, 'idle clients get no error reply');
});

itest('client killed mid-reply: qgate keeps serving others', async (t, ctx) => {
  const { gw } = await startStack(ctx);
  const other = await qconnect(ctx, gw.port);
  assert.equal(await other.k('echo', 1), 1);
  for (let round = 0; round < 3; round++) {
    const raw = await RawClient.connect(ctx, gw.port);
    await raw.write(syncText('payload[50000000]'));
    await raw.readExact(8, 10000); // the first chunk of the reply has arrived
    raw.destroy();
    assert.equal(await other.k('echo', round), round, `round ${round}: other client served`);
  }
  const fresh = await qconnect(ctx, gw.port);
  assert.equal(await fresh.k('echo', 7), 7, 'fresh client works');
  const big = await RawClient.connect(ctx, gw.port);
  const r = await big.call(syncText('payload[1000000]'), 20000);
  assert.equal(r.length, 8 + 6 + 1000000, 'a full large reply still works');
  const s = await stats(ctx, gw);
  // other, three killed clients, fresh, big (the admin endpoint's connections are not counted)
  assert.equal(counter(s, 'accepts'), 6, 'admin stats still answer, every accept counted');
  // The killed sessions are gone and their queued reply buffers are back in the pool
  // (open now: other, fresh, big, and the admin query's own connection is not a session).
  await pollUntil(async () => {
    const t = await stats(ctx, gw);
    return counter(t, 'conns_open') === 3 && counter(t, 'bufs_held') <= 2;
  }, { what: 'killed sessions freed, buffers returned', timeoutMs: 5000, intervalMs: 50 });
});

// Idle clients are closed at once at SIGTERM, so the exit must come long before the drain
// timeout; it is set far above any scheduling delay so that "long before" has a wide margin.
const DRAIN_MS = 30000;

itest('SIGTERM: idle clients connected, qgate exits 0 without waiting for the drain timeout',
  { timeout: 90000 }, async (t, ctx) => {
    const { gw } = await startStack(ctx, { limits: { drain_timeout_ms: DRAIN_MS } });
    const q = await qconnect(ctx, gw.port);
    assert.equal(await q.k('echo', 1), 1);
    const raw = await RawClient.connect(ctx, gw.port);
    const t0 = Date.now();
    const exit = await gw.proc.stop('SIGTERM', DRAIN_MS + 10000);
    const took = Date.now() - t0;
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
    assert.ok(took < DRAIN_MS / 2, `exit took ${took} ms of a ${DRAIN_MS} ms drain timeout`);
    assert.equal(await raw.waitEof(3000), 1, 'raw client closed with only its handshake byte');
    await q.waitClosed(3000);
  });

itest('SIGTERM with no clients exits 0 without waiting for the drain timeout',
  { timeout: 90000 }, async (t, ctx) => {
    const { gw } = await startStack(ctx, { limits: { drain_timeout_ms: DRAIN_MS } });
    const t0 = Date.now();
    const exit = await gw.proc.stop('SIGTERM', DRAIN_MS + 10000);
    const took = Date.now() - t0;
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
    assert.ok(took < DRAIN_MS / 2, `idle shutdown took ${took} ms of ${DRAIN_MS} ms`);
  });

itest('SIGHUP reloads, nothing changed: clients keep working, new clients connect', async (t, ctx) => {
  const { gw } = await startStack(ctx);
  const before = await qconnect(ctx, gw.port);
  assert.equal(await before.k('echo', 1), 1);
  gw.proc.kill('SIGHUP');
  // The reload's line in qgate's log is the event that says the signal was taken (the default
  // action would have killed the process); the file is unchanged, so nothing changes.
  const line = 'reload (SIGHUP): generation 2, nothing changed';
  await pollUntil(() => (gw.proc.logText().includes(line) ? true : null),
    { what: 'SIGHUP reload in the qgate log', timeoutMs: 5000, intervalMs: 20 });
  assert.ok(gw.proc.alive, 'qgate survived SIGHUP');
  assert.equal(await before.k('echo', 2), 2, 'existing client still served');
  const after = await qconnect(ctx, gw.port);
  assert.equal(await after.k('echo', 3), 3, 'new client served');
});

itest('--check-config: bad file exits 1 with a message, good file exits 0',
  { ioIndependent: true }, async (t, ctx) => {
    const port = await deadPort();
    const good = ctx.file('good.toml', qgateConfigText({
      backends: [{ name: 'rdb1', group: 'rdb', port, credentials: 'gw:pw' }],
    }));
    const r = runQgateSync(['--check-config', '-c', good]);
    assert.equal(r.code, 0, `good config: ${r.stderr}`);

    const cases = [
      ['unknown mode', good, (s) => s.replace('mode = "session"', 'mode = "bogus"')],
      ['group without backend', good,
        (s) => s.replace('group = "rdb"\npolicy', 'group = "nosuch"\npolicy')],
      ['not TOML', good, () => '[server\nshards = = 2\n'],
      ['unknown key', good, (s) => s.replace('[limits]', '[limits]\nno_such_knob = 1')],
    ];
    for (const [what, base, edit] of cases) {
      const text = edit(fs.readFileSync(base, 'utf8'));
      const f = ctx.file(`bad-${what.replace(/\W+/g, '-')}.toml`, text);
      const b = runQgateSync(['--check-config', '-c', f]);
      assert.equal(b.code, 1, `${what}: exit code 1 (stdout ${b.stdout} stderr ${b.stderr})`);
      const out = b.stderr + b.stdout;
      assert.ok(out.trim().length > 0, `${what}: prints a message`);
      assert.ok(out.includes(path.basename(f)), `${what}: message names the file: ${out}`);
    }
    const missing = runQgateSync(['--check-config', '-c', path.join(ctx.dir, 'nope.toml')]);
    assert.equal(missing.code, 1, 'missing file exits 1');
    assert.ok((missing.stderr + missing.stdout).includes('nope.toml'),
      `missing file: message names it: ${missing.stderr}${missing.stdout}`);
  });

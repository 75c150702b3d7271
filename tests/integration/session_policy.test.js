'use strict';
// Session mode picks its backend with request mode's policy family (listener.policy):
//  * consistent-hash on the handshake user: each user lands on one fixed backend across
//    reconnects, moves to one fixed other backend while its own is down, and returns when it
//    is back; a user whose backend is up never moves;
//  * --check-config takes the four policies and the old spelling least-connections, and names
//    the choices for anything else.

const fs = require('node:fs');
const {
  itest, assert, startStack, startQmock, qconnect, runQgateSync, qgateConfigText, deadPort,
  pollUntil,
} = require('./lib.js');

const BACKENDS = ['rdb1', 'rdb2', 'rdb3'];

// The backend a new session of `user` lands on (qmock answers name[] with its --name).
async function backendOf(ctx, port, user) {
  const q = await qconnect(ctx, port, { user, password: 'pw' });
  const name = await q.k('name[]');
  await q.close();
  return name;
}

// `n` new sessions of `user`, one after another: the backends they landed on.
async function sessions(ctx, port, user, n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await backendOf(ctx, port, user));
  return out;
}

itest('consistent-hash: each user sticks to one backend, fails over to one, and returns',
  async (t, ctx) => {
    const { gw, mocks } = await startStack(ctx, {
      listeners: [{ group: 'rdb', policy: 'consistent-hash' }],
      backends: BACKENDS.map((name) => ({ name })),
    });
    // Two users whose homes differ (the ring decides; a fixed hash, so always the same two).
    const home = {};
    for (let k = 0; k < 20; k++) home[`user${k}`] = await backendOf(ctx, gw.port, `user${k}`);
    const a = 'user0';
    const b = Object.keys(home).find((u) => home[u] !== home[a]);
    assert.ok(b, `users spread over the backends: ${JSON.stringify(home)}`);
    // Sticky across reconnects (least-busy or round-robin would rotate these sessions).
    for (const u of [a, b]) {
      assert.deepEqual(await sessions(ctx, gw.port, u, 6), Array(6).fill(home[u]),
        `${u} always lands on ${home[u]}`);
    }

    // a's backend goes down: a moves to one other backend (the next on the ring) and stays.
    const down = home[a];
    const port = mocks[down].port;
    await mocks[down].proc.stop('SIGKILL');
    const moved = await sessions(ctx, gw.port, a, 6);
    assert.notEqual(moved[0], down, `${a} left ${down}`);
    assert.deepEqual(moved, Array(6).fill(moved[0]), `${a} fails over to one backend`);
    t.diagnostic(`${a} on ${down}, ${b} on ${home[b]}; with ${down} down ${a} is on ${moved[0]}`);
    assert.deepEqual(await sessions(ctx, gw.port, b, 3), Array(3).fill(home[b]),
      `${b} (home ${home[b]} is up) does not move`);

    // Back on its address: a's sessions return to it.
    fs.rmSync(`${ctx.dir}/${down}.port`, { force: true });  // the restart writes a new one
    await startQmock(ctx, { name: down, users: ['gw:pw'], port });
    await pollUntil(async () => (await backendOf(ctx, gw.port, a)) === down,
      { what: `${a} back on ${down}`, timeoutMs: 10000, intervalMs: 50 });
    assert.deepEqual(await sessions(ctx, gw.port, a, 3), Array(3).fill(down),
      `${a} stays on ${down} again`);
  });

itest('--check-config: listener.policy takes the policy family and least-connections',
  { ioIndependent: true }, async (t, ctx) => {
    const port = await deadPort();
    const text = (policy) => qgateConfigText({
      listeners: [{ group: 'rdb', policy }],
      backends: [{ name: 'rdb1', group: 'rdb', port, credentials: 'gw:pw' }],
    });
    for (const policy of ['least-busy', 'least-connections', 'round-robin', 'first-available',
      'consistent-hash']) {
      const r = runQgateSync(['--check-config', '-c', ctx.file(`${policy}.toml`, text(policy))]);
      assert.equal(r.code, 0, `${policy}: ${r.stderr}${r.stdout}`);
    }
    const bad = runQgateSync(['--check-config', '-c', ctx.file('bad.toml', text('sticky'))]);
    assert.equal(bad.code, 1);
    const want = 'listener[0].policy = "sticky" is not one of least-busy | round-robin | ' +
      'first-available | consistent-hash';
    assert.ok((bad.stderr + bad.stdout).includes(want), bad.stderr + bad.stdout);
  });

'use strict';
// The client's own user upstream in request mode (backend credentials = "passthrough"): each
// user's calls go over links handshaked with that user's own credentials (per-user pools,
// src/proxy/pool_users.cc), so the backend's .z.u and users file apply unchanged; a user the
// backend refuses gets 'access without the backend being ejected for the others; links close
// when idle; users with links are capped.

const fs = require('node:fs');
const path = require('node:path');
const {
  itest, assert, startStack, startQmock, startQgate, qgateConfigText, qconnect, stats, counter,
  waitCounter, pollUntil, within,
} = require('./lib.js');

const USERS = ['alice:secret', 'bob:hunter2', 'carol:pw3'];
const GW_USERS = [...USERS, 'ops:pw:admin'];  // ops reads the stats on the admin port
const ACCESS = (e) => e.message === 'access';

// rdb1's row of .qgate.backends[] (a keyed table, as node-q decodes it: [keys, values]).
async function backendRow(ctx, gw) {
  const q = await qconnect(ctx, gw.admin, gw.adminUser);
  try {
    const [keys, values] = await q.k('.qgate.backends[]');
    const i = keys.findIndex((k) => k.name === 'rdb1');
    assert.ok(i >= 0, 'rdb1 is listed');
    return { ...keys[i], ...values[i] };
  } finally {
    await q.close();
  }
}

// One request listener in front of one passthrough backend whose users file holds alice and
// bob only (the gateway's own account would be refused there). keys: extra backend knobs.
function stack(ctx, keys = {}, extra = {}) {
  return startStack(ctx, {
    users: GW_USERS,
    listeners: [{ group: 'rdb', mode: 'request' }],
    backends: [{
      name: 'rdb1', credentials: 'passthrough', pipeline: 'off', keys,
      mock: { users: USERS.slice(0, 2), ...(extra.mock || {}) },
    }],
    ...extra.gw,
  });
}

itest('request passthrough: each user\'s calls reach the backend as that user (whoami), over ' +
  'links of its own', async (t, ctx) => {
  const { gw } = await stack(ctx);
  const alice = await qconnect(ctx, gw.port, { user: 'alice', password: 'secret' });
  const bob = await qconnect(ctx, gw.port, { user: 'bob', password: 'hunter2' });
  for (let i = 0; i < 3; ++i) {  // interleaved: each call on its own user's link
    assert.equal(await alice.k('whoami[]'), 'alice');
    assert.equal(await bob.k('whoami[]'), 'bob');
  }
  const [a, b] = await Promise.all([alice.k('whoami[]'), bob.k('whoami[]')]);
  assert.deepEqual([a, b], ['alice', 'bob'], 'concurrent calls too');
  assert.equal(await alice.k('echo', 7), 7);
  const s = await stats(ctx, gw);
  assert.ok(counter(s, 'user_links_opened') >= 2, 'a link per user at least');
  assert.ok(counter(s, 'user_links_open') >= 2);
  assert.equal(counter(s, 'user_pool_refused'), 0);
  assert.equal(counter(s, 'backend_connect_fail'), 0);
});

itest('request passthrough: a user the backend refuses gets \'access, counted; the backend is ' +
  'not ejected and the others keep working', async (t, ctx) => {
  // One failed connect would eject a backend: a refused user must not count as one.
  const { gw } = await stack(ctx, {}, { gw: { limits: { eject_after_failures: 1 } } });
  const alice = await qconnect(ctx, gw.port, { user: 'alice', password: 'secret' });
  assert.equal(await alice.k('whoami[]'), 'alice');
  // carol passes qgate's users file, not the backend's.
  const carol = await qconnect(ctx, gw.port, { user: 'carol', password: 'pw3' });
  for (let i = 0; i < 3; ++i) {
    await assert.rejects(within(carol.k('whoami[]'), 5000, 'carol\'s call'), ACCESS,
      `carol's call ${i}: 'access, as q answers a refused login`);
    assert.equal(await alice.k('whoami[]'), 'alice', 'alice goes on meanwhile');
  }
  const bob = await qconnect(ctx, gw.port, { user: 'bob', password: 'hunter2' });
  assert.equal(await bob.k('whoami[]'), 'bob', 'a user new to the backend is served too');
  const s = await waitCounter(ctx, gw, 'user_pool_refused', 3);
  assert.equal(counter(s, 'user_pool_refused'), 3);
  assert.equal(counter(s, 'backends_ejected'), 0, 'one user\'s refusal ejects nobody');
  assert.equal(counter(s, 'request_no_backend'), 0);
  assert.equal(counter(s, 'auth_fail'), 0, 'qgate itself accepted carol');
  assert.equal((await backendRow(ctx, gw)).state, 'up', '.qgate.backends[]: still up');
});

itest('request passthrough: a link idle for user_idle_ms is closed, and opened again on the ' +
  'next call', async (t, ctx) => {
  const { gw } = await stack(ctx, { user_idle_ms: 200 });
  const alice = await qconnect(ctx, gw.port, { user: 'alice', password: 'secret' });
  assert.equal(await alice.k('whoami[]'), 'alice');
  const s = await pollUntil(async () => {
    const x = await stats(ctx, gw);
    return counter(x, 'user_links_open') === 0 ? x : null;
  }, { what: 'alice\'s link closed when idle', timeoutMs: 5000, intervalMs: 50 });
  assert.equal(counter(s, 'user_links_idle_closed'), 1);
  assert.equal(counter(s, 'user_links_opened'), 1);
  assert.equal((await backendRow(ctx, gw)).state, 'up', 'no link open now, yet the backend is up');
  assert.equal(await alice.k('whoami[]'), 'alice', 'the next call opens a new link');
  const s2 = await stats(ctx, gw);
  assert.equal(counter(s2, 'user_links_opened'), 2);
  assert.equal(counter(s2, 'backend_disconnect'), 0, 'an idle close is no lost connection');
});

itest('request passthrough: user_pools_max users with links at once; one more is refused ' +
  'with a q error, counted, until a pool closes', async (t, ctx) => {
  const { gw } = await stack(ctx, { user_pools_max: 1, user_idle_ms: 300 });
  const alice = await qconnect(ctx, gw.port, { user: 'alice', password: 'secret' });
  const bob = await qconnect(ctx, gw.port, { user: 'bob', password: 'hunter2' });
  assert.equal(await alice.k('whoami[]'), 'alice');
  await assert.rejects(bob.k('whoami[]'), (e) =>
    e.message === 'qgate: backend rdb1 has 1 user pools (backend.user_pools_max)');
  const s = await stats(ctx, gw);
  assert.equal(counter(s, 'user_pools_full'), 1);
  // alice's link closes when idle, and her pool with it: bob has room.
  await waitCounter(ctx, gw, 'user_links_idle_closed', 1);
  assert.equal(await bob.k('whoami[]'), 'bob');
});

itest('request passthrough: at most user_links_max links per user; calls beyond them wait ' +
  'in the queue and are all answered', async (t, ctx) => {
  const { gw } = await stack(ctx, { user_links_max: 2 }, { mock: { workMs: 50 } });
  const alice = await qconnect(ctx, gw.port, { user: 'alice', password: 'secret' });
  const calls = [];
  for (let i = 0; i < 8; ++i) calls.push(alice.k('echo', i));
  assert.deepEqual(await within(Promise.all(calls), 10000, 'alice\'s calls'),
    [0, 1, 2, 3, 4, 5, 6, 7]);
  const s = await stats(ctx, gw);
  assert.ok(counter(s, 'user_links_opened') <= 2, `opened ${counter(s, 'user_links_opened')}`);
  assert.ok(counter(s, 'user_links_opened') >= 1);
});

itest('request passthrough: a backend that refuses connections is a backend failure as for a ' +
  'shared pool: ejected after eject_after_failures, the call answered no backend', async (t, ctx) => {
  const { gw } = await startStack(ctx, {
    users: GW_USERS,
    listeners: [{ group: 'rdb', mode: 'request' }],
    limits: { eject_after_failures: 2, reconnect_min_ms: 10, reconnect_max_ms: 20 },
    backends: [{ name: 'rdb1', credentials: 'passthrough', mock: false }],
  });
  const alice = await qconnect(ctx, gw.port, { user: 'alice', password: 'secret' });
  await assert.rejects(within(alice.k('whoami[]'), 5000, 'alice\'s call'),
    (e) => e.message === 'qgate: no backend available for group rdb');
  const s = await stats(ctx, gw);
  assert.equal(counter(s, 'backends_ejected'), 1);
  assert.ok(counter(s, 'backend_connect_fail') >= 2);
  assert.equal(counter(s, 'user_pool_refused'), 0, 'a refused connect is not a refused user');
  assert.equal((await backendRow(ctx, gw)).state, 'ejected');
});

itest('request passthrough: a reload that removes the backend closes its users\' links once ' +
  'drained; the user goes on over the new backend\'s', async (t, ctx) => {
  const m1 = await startQmock(ctx, { name: 'm1', users: USERS.slice(0, 2) });
  const m2 = await startQmock(ctx, { name: 'm2', users: USERS.slice(0, 2) });
  const opts = (name, port) => ({
    users: GW_USERS, listeners: [{ group: 'rdb', mode: 'request' }],
    backends: [{ name, group: 'rdb', port, credentials: 'passthrough' }],
  });
  const gw = await startQgate(ctx, opts('r1', m1.port));
  const alice = await qconnect(ctx, gw.port, { user: 'alice', password: 'secret' });
  assert.equal(await alice.k('name[]'), 'm1');
  assert.equal(counter(await stats(ctx, gw), 'user_links_open'), 1);
  const text = qgateConfigText({ ...opts('r2', m2.port),
    portFile: path.join(ctx.dir, 'qgate.ports'), usersFile: path.join(ctx.dir, 'qgate.users') });
  fs.writeFileSync(gw.cfgPath + '.tmp', text);
  fs.renameSync(gw.cfgPath + '.tmp', gw.cfgPath);
  gw.proc.child.kill('SIGHUP');
  const s = await pollUntil(async () => {
    const x = await stats(ctx, gw);
    return counter(x, 'backends_retired') >= 1 && counter(x, 'user_links_open') === 0 ? x : null;
  }, { what: 'r1 retired, its user link closed', timeoutMs: 5000, intervalMs: 50 });
  assert.equal(counter(s, 'config_generation'), 2);
  assert.equal(await alice.k('name[]'), 'm2', 'the next call goes to the new backend');
  assert.equal(await alice.k('whoami[]'), 'alice');
  const s2 = await stats(ctx, gw);
  assert.equal(counter(s2, 'user_links_opened'), 2);
  assert.equal(counter(s2, 'user_links_open'), 1);
});

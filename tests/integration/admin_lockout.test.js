'use strict';
// The admin endpoint cannot be locked out without a password (issue 16 item 2): idle or
// half-open connections beyond admin.clients_max make room for a newcomer instead of refusing
// it, an unfinished handshake is closed after admin.handshake_timeout_ms, and an authenticated
// admin silent for admin.idle_timeout_ms is closed; each counted.

const net = require('node:net');
const {
  itest, assert, startStack, qconnect, stats, statsOf, counter, within,
} = require('./lib.js');

const USERS = ['ops:pw:admin'];

/** Opens a raw TCP connection and resolves once connected; records when it is closed. */
function rawConnect(ctx, port) {
  return within(new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    s.closedP = new Promise((res) => s.on('close', () => res(Date.now())));
    s.on('error', () => {});  // a close by qgate may surface as ECONNRESET
    s.once('connect', () => resolve(s));
    s.once('error', reject);
    ctx.defer(() => s.destroy());
  }), 5000, `raw connect to ${port}`);
}

itest('admin: 70 idle connections do not lock admins out; the oldest make room, counted',
  async (t, ctx) => {
    // The handshake timeout is far beyond the test: only eviction can let the admin in.
    const { gw } = await startStack(ctx, { users: USERS, admin: { handshake_timeout_ms: 60000 } });
    const idle = [];
    for (let i = 0; i < 70; i++) idle.push(await rawConnect(ctx, gw.admin));
    const t0 = Date.now();
    const q = await qconnect(ctx, gw.admin, { user: 'ops', password: 'pw', timeoutMs: 10000 });
    const s = statsOf(await q.kt(10000, '.qgate.stats[]'));
    const took = Date.now() - t0;
    await q.close();
    assert.ok(took < 30000, `an admin got .qgate.stats[] in ${took} ms, before any timeout`);
    // 70 idle + this admin: at least 7 over the cap of 64, each displaced an idle one.
    assert.ok(counter(s, 'admin_evicted') >= 7, `admin_evicted ${s.admin_evicted}`);
    assert.equal(counter(s, 'admin_handshake_timeouts'), 0);
    assert.ok(counter(s, 'admin_clients') <= 64, `admin_clients ${s.admin_clients}`);
    const closed = await Promise.all(idle.slice(0, 7).map((c) => within(c.closedP, 5000, 'evict')));
    assert.equal(closed.length, 7, 'the 7 oldest idle connections were closed');
  });

itest('admin: an unfinished handshake is closed after handshake_timeout_ms, counted',
  async (t, ctx) => {
    const { gw } = await startStack(ctx, { users: USERS, admin: { handshake_timeout_ms: 1000 } });
    const t0 = Date.now();
    const slow = await rawConnect(ctx, gw.admin);
    slow.write('ops:p');  // never the NUL
    const closedAt = await within(slow.closedP, 15000, 'handshake timeout close');
    const took = closedAt - t0;
    assert.ok(took >= 1000, `closed after ${took} ms, not before the 1000 ms timeout`);
    assert.ok(took < 10000, `closed after ${took} ms`);
    const s = await stats(ctx, gw);
    assert.equal(counter(s, 'admin_handshake_timeouts'), 1);
    assert.equal(counter(s, 'admin_evicted'), 0);
  });

itest('admin: an authenticated admin silent for idle_timeout_ms is closed, counted',
  async (t, ctx) => {
    const { gw } = await startStack(ctx, { users: USERS, admin: { idle_timeout_ms: 1000 } });
    const q = await qconnect(ctx, gw.admin, { user: 'ops', password: 'pw' });
    const t0 = Date.now();  // before its last message: the idle clock runs from its arrival
    await q.k('.qgate.stats[]');
    await q.waitClosed(15000);
    const took = Date.now() - t0;
    assert.ok(took >= 1000, `closed after ${took} ms idle, not before the 1000 ms timeout`);
    assert.ok(took < 10000, `closed after ${took} ms`);
    const s = await stats(ctx, gw);
    assert.equal(counter(s, 'admin_idle_closed'), 1);
    assert.equal(counter(s, 'admin_handshake_timeouts'), 0);
  });

'use strict';
// IPv6 listeners (issue 16): session and request listeners and the admin endpoint bound to
// [::1]:0, a backend at [::1]:port; clients connect over ::1 and get answers. On a machine
// without ::1 the test is skipped visibly.

const net = require('node:net');
const { itest, assert, startQmock, startQgate, qconnect, counter, statsOf } = require('./lib.js');

/** True when a socket can listen on ::1 (IPv6 loopback configured and enabled). */
function haveIpv6Loopback() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(0, '::1', () => srv.close(() => resolve(true)));
  });
}

itest('IPv6: session, request and admin listeners on [::1]:0 answer over ::1', async (t, ctx) => {
  if (!(await haveIpv6Loopback())) {
    t.skip('no IPv6 loopback (::1) on this machine');
    return;
  }
  const mock = await startQmock(ctx, { name: 'rdb1', host: '::1', users: ['gw:pw'] });
  const gw = await startQgate(ctx, {
    users: ['ops:pw:admin'],
    admin: { listen: '[::1]:0' },
    listeners: [
      { listen: '[::1]:0', mode: 'session', group: 'rdb' },
      { listen: '[::1]:0', mode: 'request', group: 'rdb' },
    ],
    backends: [{ name: 'rdb1', group: 'rdb', address: `[::1]:${mock.port}`, credentials: 'gw:pw' }],
  });
  const auth = { host: '::1', user: 'ops', password: 'pw' };
  for (const [i, mode] of [[0, 'session'], [1, 'request']]) {
    const q = await qconnect(ctx, gw.ports[i], auth);
    assert.equal(q.socket.remoteFamily, 'IPv6', `${mode}: connected over IPv6`);
    assert.equal(Number(await q.k('echo', 42)), 42, `${mode} mode answers over ::1`);
    assert.equal(await q.k('name[]'), 'rdb1', `${mode} mode reaches the [::1] backend`);
    await q.close();
  }
  const admin = await qconnect(ctx, gw.admin, auth);
  assert.equal(admin.socket.remoteFamily, 'IPv6');
  const s = statsOf(await admin.k('.qgate.stats[]'));
  await admin.close();
  assert.ok(counter(s, 'accepts') >= 2, `accepts ${s.accepts}`);
  assert.ok(counter(s, 'requests_routed') >= 2, `requests_routed ${s.requests_routed}`);
});

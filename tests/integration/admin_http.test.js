'use strict';
// HTTP on the admin port (issue 17): the first bytes of a connection decide between q and
// HTTP, so Prometheus scrapes GET /metrics on the port admins query with q.
//  * GET /metrics over a plain TCP socket: Prometheus' content type and text, keep-alive;
//  * q-IPC and HTTP clients on the same port at once;
//  * 404 (connection kept), 405 and an oversized head (431) answered, then closed;
//  * a client that never reads its replies does not stall a q admin (non-blocking sends),
//    and one that leaves more than the output bound unread is closed, counted;
//  * admin.http = false: the port speaks q only.

const {
  itest, assert, startStack, qconnect, stats, statsOf, counter, waitCounter,
} = require('./lib.js');
const { HttpConn, httpGet, parseMetrics } = require('./http_lib.js');

const USERS = ['ops:pw:admin'];  // the admin role (README: admin role)
const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

itest('admin http: GET /metrics answers the Prometheus text over keep-alive, no credentials',
  async (t, ctx) => {
    const { gw } = await startStack(ctx, { users: USERS });
    const c = await HttpConn.open(ctx, gw.admin);
    c.request('/metrics');
    const r1 = await c.response();
    assert.equal(r1.status, 200);
    assert.equal(r1.headers['content-type'], CONTENT_TYPE);
    assert.match(r1.body, /^# HELP qgate_accepts_total /m);
    assert.match(r1.body, /^# TYPE qgate_accepts_total counter$/m);
    assert.match(r1.body, /^# TYPE qgate_conns_open gauge$/m);
    assert.match(r1.body, /^qgate_backend_conns\{backend="rdb1"\} 0$/m);
    assert.match(r1.body, /^# TYPE qgate_backend_latency_seconds histogram$/m);
    const m = parseMetrics(r1.body);
    assert.equal(m.get('qgate_shards'), 2);
    // The same connection serves a second request (Prometheus keeps its connection).
    c.request('/metrics?x=1');
    const r2 = await c.response();
    assert.equal(r2.status, 200);
    assert.equal(parseMetrics(r2.body).get('qgate_admin_http_requests_total'), 2);
    assert.equal(c.ended, false, 'still open after two requests');
    // HEAD: the headers alone.
    c.request('/metrics', { method: 'HEAD' });
    const h = await c.response(10000, { head: true });
    assert.equal(h.status, 200);
    assert.ok(Number(h.headers['content-length']) > 1000, 'HEAD tells the length of GET');
  });

itest('admin http: q-IPC and HTTP clients on the same port at once', async (t, ctx) => {
  const { gw } = await startStack(ctx, { users: USERS });
  const q = await qconnect(ctx, gw.admin, { user: 'ops', password: 'pw' });
  const c = await HttpConn.open(ctx, gw.admin);
  c.request('/metrics');  // accepted and answered before the first q query counts clients
  assert.equal((await c.response()).status, 200);
  for (let i = 0; i < 3; i++) {
    c.request('/metrics');
    const [rows, r] = await Promise.all([q.k('.qgate.stats[]'), c.response()]);
    const s = statsOf(rows);
    assert.equal(r.status, 200);
    assert.equal(counter(s, 'admin_clients'), 2, 'one q and one HTTP client');
  }
  const s = statsOf(await q.k('.qgate.stats[]'));
  assert.equal(counter(s, 'admin_http_requests'), 4);
  assert.equal(counter(s, 'admin_auth_fail'), 0);
  await q.close();
  // Bad q credentials are still refused on this port: HTTP did not weaken the q side.
  await assert.rejects(qconnect(ctx, gw.admin, { user: 'ops', password: 'bad', timeoutMs: 3000 }));
});

itest('admin http: 404 keeps the connection; 405 and an oversized head are answered, closed',
  async (t, ctx) => {
    const { gw } = await startStack(ctx, {});
    const c = await HttpConn.open(ctx, gw.admin);
    c.request('/nope');
    const nf = await c.response();
    assert.equal(nf.status, 404);
    c.request('/metrics');
    assert.equal((await c.response()).status, 200, 'the same connection after a 404');

    const p = await HttpConn.open(ctx, gw.admin);
    p.request('/metrics', { method: 'POST' });
    const na = await p.response();
    assert.equal(na.status, 405);
    assert.equal(na.headers.allow, 'GET, HEAD');
    await p.waitClosed(5000);

    const big = await HttpConn.open(ctx, gw.admin);
    big.send(`GET /metrics HTTP/1.1\r\nX-Big: ${'a'.repeat(9000)}\r\n\r\n`);
    const tl = await big.response();
    assert.equal(tl.status, 431);
    await big.waitClosed(5000);

    const body = await HttpConn.open(ctx, gw.admin);
    body.send('GET /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc');
    assert.equal((await body.response()).status, 400);
    await body.waitClosed(5000);
    const s = await stats(ctx, gw);
    assert.equal(counter(s, 'admin_http_requests'), 5);
  });

itest('admin http: a client that never reads does not stall a q admin query', async (t, ctx) => {
  const { gw } = await startStack(ctx, { users: USERS });
  const one = (await httpGet(ctx, gw.admin, '/metrics')).body.length;
  // Enough pipelined scrapes that their replies fill both socket buffers and wait in qgate's
  // output buffer (under its 16 MiB bound).
  const n = Math.floor((12 << 20) / one);
  const stalled = await HttpConn.open(ctx, gw.admin);
  stalled.sock.pause();
  stalled.send('GET /metrics HTTP/1.1\r\n\r\n'.repeat(n));
  await waitCounter(ctx, gw, 'admin_http_requests', n + 1, 10000);
  const q = await qconnect(ctx, gw.admin, { user: 'ops', password: 'pw' });
  const times = [];
  for (let i = 0; i < 3; i++) {
    const t0 = process.hrtime.bigint();
    const s = statsOf(await q.kt(5000, '.qgate.stats[]'));
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    times.push(ms.toFixed(1));
    assert.ok(ms < 500, `a q admin query took ${ms.toFixed(1)} ms while a client held replies`);
    assert.equal(counter(s, 'admin_out_overflow'), 0);
  }
  t.diagnostic(`${n} scrapes of ${one} bytes unread; q admin queries took ${times.join(', ')} ms`);
  assert.equal(stalled.ended, false, 'the slow reader is kept (within the bound)');
  assert.ok(stalled.received < n * one, `it holds unread replies (${stalled.received} of ${n * one})`);
  // It reads at last and gets every reply whole, in order.
  stalled.sock.resume();
  for (let i = 0; i < n; i++) assert.equal((await stalled.response(20000)).status, 200);
});

itest('admin http: a client leaving over 16 MiB of replies unread is closed, counted',
  async (t, ctx) => {
    const { gw } = await startStack(ctx, {});
    const one = (await httpGet(ctx, gw.admin, '/metrics')).body.length;
    const n = Math.ceil((24 << 20) / one);
    const c = await HttpConn.open(ctx, gw.admin);
    c.sock.pause();
    c.send('GET /metrics HTTP/1.1\r\n\r\n'.repeat(n));
    const s = await waitCounter(ctx, gw, 'admin_out_overflow', 1, 20000);
    assert.equal(counter(s, 'admin_out_overflow'), 1);
    c.sock.resume();
    await c.waitClosed(20000);
    assert.ok(c.received < n * one, `closed before every reply (${c.received} of ${n * one})`);
  });

itest('admin http: admin.http = false: the port speaks q only', async (t, ctx) => {
  const { gw } = await startStack(ctx, { admin: { http: false, handshake_timeout_ms: 500 } });
  const c = await HttpConn.open(ctx, gw.admin);
  c.request('/metrics');
  await c.waitClosed(10000);  // a q handshake that never ends: the handshake timeout
  assert.equal(c.received, 0, 'no HTTP answer');
  const s = await stats(ctx, gw);
  assert.equal(counter(s, 'admin_http_requests'), 0);
  assert.equal(counter(s, 'admin_handshake_timeouts'), 1);
});

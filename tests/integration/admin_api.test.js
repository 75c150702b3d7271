'use strict';
// The q admin API (issue 17): .qgate.backends[], .clients[], .routes[], .listeners[] and
// .stats[] as real q tables read with node-q (a keyed table decodes as [key rows, value rows]),
// each with real traffic behind it; the actions .qgate.drain / .enable / .kick; q errors for
// an unknown name or id; and the admin role of the users file (`user:secret:admin`): a user
// without it is refused on the admin port.

const { itest, assert, startStack, qconnect, stats, counter, pollUntil } = require('./lib.js');

const USERS = ['alice:pw', 'ops:pw:admin'];
const ALICE = { user: 'alice', password: 'pw' };
const OPS = { user: 'ops', password: 'pw' };
const NODEQ_REFUSED = { message: 'Connection closes (wrong auth?)' };

/** A keyed table as node-q decodes it ([keys, values]) → one object per row. */
function rowsOf(keyed) {
  assert.ok(Array.isArray(keyed) && keyed.length === 2, 'a keyed table');
  const [keys, values] = keyed;
  assert.equal(keys.length, values.length);
  return keys.map((k, i) => ({ ...k, ...values[i] }));
}

async function admin(ctx, gw) { return qconnect(ctx, gw.admin, OPS); }

async function backendRows(q) {
  return Object.fromEntries(rowsOf(await q.k('.qgate.backends[]')).map((r) => [r.name, r]));
}

/** A session and a request listener; routes for the request one (hdb: hdb1, hdb2). */
async function stack(ctx, extra = {}) {
  return startStack(ctx, {
    users: USERS,
    listeners: [{ group: 'rdb' }, { mode: 'request', group: 'hdb' }],
    backends: [{ name: 'rdb1' }, { name: 'rdb2' }, { name: 'hdb1', group: 'hdb' },
      { name: 'hdb2', group: 'hdb' }],
    routes: [{ match: ['echo'], group: 'hdb' }, { match: ['*'], group: 'hdb', policy: 'round-robin' }],
    ...extra,
  });
}

itest('admin API: clients, backends, routes, listeners and stats tables with real traffic',
  async (t, ctx) => {
    const { gw } = await stack(ctx);
    const sess = await qconnect(ctx, gw.ports[0], ALICE);
    const req = await qconnect(ctx, gw.ports[1], ALICE);
    for (let i = 0; i < 3; i++) assert.equal(await sess.k('echo', i), i);
    for (let i = 0; i < 5; i++) assert.equal(await req.k('echo', i), i);
    const sessBackend = await sess.k('name[]');  // the 4th message of the session
    await req.k('name[]');                        // the catch-all route: its 1 hit
    const q = await admin(ctx, gw);

    const clients = rowsOf(await q.k('.qgate.clients[]'));
    assert.equal(clients.length, 2, 'two clients (the admin is no client)');
    const byPort = Object.fromEntries(clients.map((c) => [c.address, c]));
    const s = byPort[`127.0.0.1:${sess.socket.localPort}`];
    const r = byPort[`127.0.0.1:${req.socket.localPort}`];
    assert.ok(s && r, `both clients listed by their address: ${Object.keys(byPort)}`);
    assert.equal(s.user, 'alice');
    assert.equal(s.listener, 0);
    assert.equal(s.calls, 4, 'session client: its 4 calls');
    assert.equal(r.listener, 1);
    assert.equal(r.calls, 6, 'request client: its 6 calls');
    for (const c of [s, r]) {
      assert.ok(c.bytesin > 0 && c.bytesout > 0, `bytes in ${c.bytesin} out ${c.bytesout}`);
      assert.equal(c.inflight, 0);
      assert.ok(c.shard === 0 || c.shard === 1, `shard ${c.shard}`);
      assert.ok(c.since instanceof Date && Math.abs(Date.now() - c.since.getTime()) < 60000,
        `since ${c.since}`);
      assert.equal(c.id % 64, c.shard, 'the id names its shard');
    }
    assert.notEqual(s.id, r.id);

    const b = await backendRows(q);
    assert.deepEqual(Object.keys(b), ['rdb1', 'rdb2', 'hdb1', 'hdb2']);
    assert.equal(b[sessBackend].calls, 4, 'the session backend: the 4 session calls');
    // conns: sessions + ready pool connections (a request listener pools every backend).
    const otherRdb = sessBackend === 'rdb1' ? 'rdb2' : 'rdb1';
    assert.equal(b[sessBackend].conns, b[otherRdb].conns + 1, 'one session open to it');
    assert.equal(b[otherRdb].calls, 0);
    assert.equal(b.hdb1.calls + b.hdb2.calls, 6, 'the request calls, over hdb1 and hdb2');
    for (const name of ['rdb1', 'rdb2', 'hdb1', 'hdb2']) {
      assert.equal(b[name].state, 'up', `${name} up`);
      assert.equal(b[name].source, 'config');
      assert.equal(b[name].errors, 0);
      // p50/p99 from the backend_latency histogram: 0N before the backend's first timed call.
      if (b[name].calls === 0) {
        assert.equal(b[name].p50_us, null, `${name}: no call, no latency`);
        assert.equal(b[name].p99_us, null);
      } else {
        assert.ok(b[name].p50_us > 0, `${name}: p50 ${b[name].p50_us} us`);
        assert.ok(b[name].p99_us >= b[name].p50_us, `${name}: p99 ${b[name].p99_us} >= p50`);
      }
      assert.equal(b[name].lasterror, '');
    }
    assert.equal(b.hdb1.group, 'hdb');
    assert.ok(b.hdb1.conns >= 1, `hdb1's pool is up: ${b.hdb1.conns}`);

    const routes = await q.k('.qgate.routes[]');
    assert.deepEqual(routes.map((x) => [x.order, x.match, x.target, x.policy, x.hits]),
      [[0, ['echo'], ['hdb'], 'least-busy', 5], [1, ['*'], ['hdb'], 'round-robin', 1]]);

    const ls = rowsOf(await q.k('.qgate.listeners[]'));
    assert.deepEqual(ls.map((l) => [l.index, l.port, l.mode, l.group, l.shards, l.conns]),
      [[0, gw.ports[0], 'session', 'rdb', 2, 1], [1, gw.ports[1], 'request', 'hdb', 2, 1]]);

    const st = await q.k('.qgate.stats[]');
    const accepts = st.find((x) => x.name === 'accepts');
    assert.equal(accepts.kind, 'counter');
    assert.ok(accepts.value >= 2 && accepts.help.length > 10, JSON.stringify(accepts));
    assert.equal(st.find((x) => x.name === 'conns_open').kind, 'gauge');
  });

itest('admin API: drain sends new calls and sessions elsewhere, the call in flight answers; '
  + 'enable brings it back', async (t, ctx) => {
  const { gw } = await stack(ctx);
  const q = await admin(ctx, gw);
  // A slow call on one hdb backend: the one showing it in flight is drained.
  const slowConn = await qconnect(ctx, gw.ports[1], ALICE);
  const slow = slowConn.kt(20000, 'sleep', 1500);
  slow.catch(() => {});  // awaited below; a failure before then must not be unhandled
  const busy = await pollUntil(async () => {
    const b = await backendRows(q);
    return ['hdb1', 'hdb2'].find((n) => b[n].inflight === 1);
  }, { what: 'the slow call in flight', timeoutMs: 10000 });
  const other = busy === 'hdb1' ? 'hdb2' : 'hdb1';
  const d = await q.k(`.qgate.drain[\`${busy}]`);
  assert.equal(d.name, busy);
  assert.equal(d.state, 'draining');
  const c = await qconnect(ctx, gw.ports[1], ALICE);
  for (let i = 0; i < 8; i++) assert.equal(await c.k('name[]'), other, `call ${i}: not ${busy}`);
  assert.ok((await slow) !== undefined, 'the call in flight on the drained backend answered');
  assert.equal((await backendRows(q))[busy].state, 'draining');
  // Session mode: new sessions all go to the backend not drained (list form of the call).
  assert.equal((await q.k('.qgate.drain', '`rdb1')).state, 'draining');
  for (let i = 0; i < 4; i++) {
    const sc = await qconnect(ctx, gw.ports[0], ALICE);
    assert.equal(await sc.k('name[]'), 'rdb2', `session ${i}`);
    await sc.close();
  }
  const e = await q.k(`.qgate.enable[\`${busy}]`);
  assert.equal(e.state, 'up');
  const seen = new Set();
  for (let i = 0; i < 8; i++) seen.add(await c.k('name[]'));
  assert.ok(seen.has(busy), `enabled: ${busy} takes calls again (${[...seen]})`);
});

itest('admin API: kick closes that client only; unknown names and ids are q errors',
  async (t, ctx) => {
    const { gw } = await stack(ctx);
    const q = await admin(ctx, gw);
    const victims = [await qconnect(ctx, gw.ports[1], ALICE), await qconnect(ctx, gw.ports[0], ALICE)];
    const keep = [await qconnect(ctx, gw.ports[1], ALICE), await qconnect(ctx, gw.ports[0], ALICE)];
    for (const c of [...victims, ...keep]) assert.equal(await c.k('echo', 7), 7);
    const idOf = async (c) => {
      const rows = rowsOf(await q.k('.qgate.clients[]'));
      const row = rows.find((x) => x.address === `127.0.0.1:${c.socket.localPort}`);
      return row && row.id;
    };
    for (const v of victims) {
      const id = await idOf(v);
      assert.ok(id > 0, `listed: ${id}`);
      const k = await q.k(`.qgate.kick[${id}]`);
      assert.equal(k.id, id);
      assert.equal(k.user, 'alice');
      await v.waitClosed(5000);
      assert.equal(await idOf(v), undefined, 'gone from .qgate.clients[]');
      await assert.rejects(q.k('.qgate.kick', id), { message: `qgate: no client ${id}` });
    }
    for (const c of keep) assert.equal(await c.k('echo', 8), 8, 'the others unaffected');
    assert.equal(rowsOf(await q.k('.qgate.clients[]')).length, 2);

    await assert.rejects(q.k('.qgate.drain[`nosuch]'), { message: 'qgate: no backend nosuch' });
    await assert.rejects(q.k('.qgate.enable', '`nosuch'), { message: 'qgate: no backend nosuch' });
    await assert.rejects(q.k('.qgate.kick[4242424242]'), { message: 'qgate: no client 4242424242' });
    await assert.rejects(q.k('.qgate.drain[]'), /takes a backend name/);
    await assert.rejects(q.k('.qgate.kick[`x]'), /takes a client id/);
    await assert.rejects(q.k('.qgate.nosuch[]'), { message: 'qgate: unknown admin query .qgate.nosuch[]' });
  });

itest('admin API: a user without the admin role is refused on the admin port, counted',
  async (t, ctx) => {
    const { gw } = await stack(ctx);
    await assert.rejects(qconnect(ctx, gw.admin, ALICE), NODEQ_REFUSED,
      'alice (no admin role) is closed in the handshake');
    await assert.rejects(qconnect(ctx, gw.admin, { user: 'ops', password: 'nope' }), NODEQ_REFUSED);
    const data = await qconnect(ctx, gw.ports[1], ALICE);
    assert.equal(await data.k('echo', 1), 1, 'alice still uses the data ports');
    const opsData = await qconnect(ctx, gw.ports[0], OPS);
    assert.equal(await opsData.k('echo', 2), 2, 'an admin is a user of the data ports too');
    const s = await stats(ctx, gw);
    assert.equal(counter(s, 'admin_auth_fail'), 2);
  });

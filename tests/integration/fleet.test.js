'use strict';
// The fleet (issue 19; src/ctl/fleet.cc): three qgate instances share backends, drains and
// health through a real etcd (Debian's etcd-server, v3 API) that each test starts on free
// loopback ports with its data in the test's directory. A backend added through one instance
// appears on all; a drain through another reaches all; a backend that two instances (the
// quorum) see down is ejected on all three and comes back on all three, while one instance
// alone seeing a backend down ejects it nowhere; the key -> backend map (consistent hashing,
// qmock name[] answering its own name) is the same on every instance for 10,000 keys before
// and after a change; etcd killed and restarted under load fails no call and the instances
// catch up; an instance killed leaves the fleet when its lease expires, the others unaffected;
// services found by one instance (registerResource, TorQ discovery) are served by all three.

const fs = require('fs');
const http = require('http');
const net = require('net');
const {
  itest, assert, startQmock, RawClient, MSG, qcall, qsym, decode, errorText, stats, pollUntil,
} = require('./lib.js');
const {
  ETCD, LEASE_MS, etcdKeys, startEtcd, admin, backendsOf, startFleet,
} = require('./fleet_lib.js');

/** Which backend answers name[`kI] for I < n on `gw`: sync calls pipelined in batches. */
async function keyMap(ctx, gw, n = 10000, batch = 500) {
  const c = await RawClient.connect(ctx, gw.port);
  const out = [];
  try {
    for (let i = 0; i < n; i += batch) {
      const m = Math.min(batch, n - i);
      const msgs = [];
      for (let j = 0; j < m; j++) msgs.push(qcall(MSG.sync, 'name', qsym(`k${i + j}`)));
      await c.write(Buffer.concat(msgs));
      for (let j = 0; j < m; j++) {
        const r = await c.readFrame();
        const e = errorText(r.frame);
        assert.equal(e, null, `key k${i + j}: ${e}`);
        out.push(decode(r.frame));
      }
    }
  } finally { c.destroy(); }
  return out;
}

/** Calls name[`kI] on every instance in a loop until stop(); counts answers and errors. */
function loadLoop(ctx, gws) {
  const tally = { ok: 0, errors: [], stop: false };
  const one = async (gw, w) => {
    const c = await RawClient.connect(ctx, gw.port);
    for (let i = 0; !tally.stop && i < 1e6; i++) {
      const r = await c.call(qcall(MSG.sync, 'name', qsym(`w${w}-${i % 997}`)), 5000);
      const e = errorText(r.frame);
      if (e === null) tally.ok++; else tally.errors.push(e);
    }
    c.destroy();
  };
  tally.done = Promise.all(gws.map((gw, w) => one(gw, w).catch((e) => tally.errors.push(String(e)))));
  return tally;
}

/** The admin port's GET /status.json (the status page's data). */
function statusJson(gw) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: gw.admin, path: '/status.json', timeout: 5000 }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => { try { resolve(JSON.parse(text)); } catch (e) { reject(e); } });
    }).on('error', reject).on('timeout', function onTimeout() { this.destroy(new Error('timeout')); });
  });
}

async function statOf(ctx, gw, name) { return (await stats(ctx, gw))[name]; }

itest('a backend added through one instance appears on all; a drain through another reaches all',
  async (t, ctx) => {
    const { gws } = await startFleet(ctx);
    const rows = await admin(ctx, gws[0], '.qgate.fleet[]');
    assert.deepEqual(rows.map((r) => r.instance), ['g1', 'g2', 'g3']);
    assert.deepEqual(rows.map((r) => r.self), [true, false, false]);
    assert.ok(rows.every((r) => r.etcd === 'up' && r.generation >= 1), JSON.stringify(rows));

    const b4 = await startQmock(ctx, { name: 'b4' });
    assert.equal(await admin(ctx, gws[0], `.qgate.fleet.add[\`b4;\`rdb;"127.0.0.1:${b4.port}"]`),
                 'b4');
    for (const gw of gws) {
      const b = await pollUntil(async () => (await backendsOf(ctx, gw)).b4,
                                { what: 'b4 on every instance', timeoutMs: 5000 });
      assert.equal(b.source, 'fleet');
      assert.equal(b.address, `127.0.0.1:${b4.port}`);
    }
    // Drained through g2: every instance shows it draining and routes no key to it.
    await admin(ctx, gws[1], '.qgate.drain[`b4]');
    for (const gw of gws) {
      await pollUntil(async () => (await backendsOf(ctx, gw)).b4.state === 'draining',
                      { what: 'b4 draining everywhere', timeoutMs: 5000 });
    }
    const drained = await keyMap(ctx, gws[2], 2000);
    assert.ok(!drained.includes('b4'), 'a drained backend gets no call');
    await admin(ctx, gws[2], '.qgate.enable[`b4]');
    for (const gw of gws) {
      await pollUntil(async () => (await backendsOf(ctx, gw)).b4.state !== 'draining',
                      { what: 'b4 enabled everywhere', timeoutMs: 5000 });
    }
    // Removed through g3: gone from every instance.
    await admin(ctx, gws[2], '.qgate.fleet.remove[`b4]');
    for (const gw of gws) {
      await pollUntil(async () => !(await backendsOf(ctx, gw)).b4,
                      { what: 'b4 gone everywhere', timeoutMs: 5000 });
    }
    assert.ok(await statOf(ctx, gws[0], 'fleet_applies') >= 3);
    assert.equal(await statOf(ctx, gws[0], 'fleet_etcd_up'), 1);
    const page = await statusJson(gws[0]);
    assert.equal(page.etcd, 'up');
    assert.deepEqual(page.fleet.map((r) => [r.instance, r.self]),
                     [['g1', true], ['g2', false], ['g3', false]]);
  });

itest('the key -> backend map is the same on every instance for 10,000 keys, before and after a ' +
      'backend joins', async (t, ctx) => {
  // Each instance lists its file's backends in another order (their ids differ too): the ring
  // is a function of the names alone (src/route/group.cc).
  const { gws } = await startFleet(ctx, {}, (n, files) => (
    n === 'g2' ? [...files].reverse() : n === 'g3' ? [files[1], files[2], files[0]] : files));
  const before = [];
  for (const gw of gws) before.push(await keyMap(ctx, gw));
  assert.deepEqual(before[1], before[0], 'g2 routes every key as g1');
  assert.deepEqual(before[2], before[0], 'g3 routes every key as g1');
  assert.deepEqual([...new Set(before[0])].sort(), ['b1', 'b2', 'b3'], 'keys spread over all');

  const b4 = await startQmock(ctx, { name: 'b4' });
  await admin(ctx, gws[1], `.qgate.fleet.add[\`b4;\`rdb;"127.0.0.1:${b4.port}"]`);
  for (const gw of gws) {
    await pollUntil(async () => (await backendsOf(ctx, gw)).b4?.state === 'up',
                    { what: 'b4 up everywhere', timeoutMs: 5000 });
  }
  const after = [];
  for (const gw of gws) after.push(await keyMap(ctx, gw));
  assert.deepEqual(after[1], after[0], 'g2 routes every key as g1 after the change');
  assert.deepEqual(after[2], after[0], 'g3 routes every key as g1 after the change');
  // Consistent hashing: only keys moving to the new member move, about a quarter of them.
  let moved = 0;
  for (let i = 0; i < after[0].length; i++) {
    if (after[0][i] === before[0][i]) continue;
    moved++;
    assert.equal(after[0][i], 'b4', `key k${i} moved between old members`);
  }
  assert.ok(moved > 1500 && moved < 3500, `${moved} keys moved to b4`);
});

itest('a backend the quorum sees down is ejected on every instance and recovered on all; one ' +
      'instance alone ejects it nowhere', { timeout: 90000 }, async (t, ctx) => {
  // g1's file points b3 at a port that closes every connection at once (held by this test, so
  // no other process can take it): only g1 sees b3 down (1 < eject_quorum 2).
  const refuser = net.createServer((s) => s.destroy());
  await new Promise((res, rej) => refuser.listen(0, '127.0.0.1', res).on('error', rej));
  ctx.defer(() => refuser.close());
  const dead = refuser.address().port;
  // g3's file points b1 at another live qmock (it answers "b1alt"): g3 can always reach its b1,
  // so only the quorum's verdict can take b1 out of g3's picks.
  const alt = await startQmock(ctx, { name: 'b1alt' });
  const { etcd, mocks, gws } = await startFleet(ctx, {}, (n, files) => files.map((f) => {
    if (n === 'g1' && f.name === 'b3') return { ...f, port: dead };
    if (n === 'g3' && f.name === 'b1') return { ...f, port: alt.port };
    return f;
  }));
  await pollUntil(async () => (await backendsOf(ctx, gws[0])).b3.state === 'ejected',
                  { what: 'g1 ejecting b3 on its own', timeoutMs: 15000 });
  await pollUntil(async () => (await etcdKeys(etcd, '/it/'))['health/b3/g1'] === 'down',
                  { what: "g1's observation in etcd", timeoutMs: 5000 });
  assert.equal((await etcdKeys(etcd, '/it/'))['health/b3/g2'], 'up');
  for (const gw of gws) assert.equal(await statOf(ctx, gw, 'fleet_ejected'), 0);
  const m2 = await keyMap(ctx, gws[1], 3000);
  assert.ok(m2.includes('b3'), 'g2 still routes keys to b3');
  assert.ok((await keyMap(ctx, gws[2], 3000)).includes('b1alt'), "g3's b1 is its own");
  // g1 keeps the fleet's map: a key of b3 is not moved to another backend there, its call is
  // answered with an error (README "Behaviour decisions").
  const k = m2.indexOf('b3');
  const c = await RawClient.connect(ctx, gws[0].port);
  const r = await c.call(qcall(MSG.sync, 'name', qsym(`k${k}`)));
  c.destroy();
  assert.equal(errorText(r.frame), 'qgate: no backend available for group rdb');

  // b1 killed: every instance ejects it (quorum 2 of 3), its keys go to the others everywhere.
  await mocks[0].proc.stop();
  for (const gw of gws) {
    await pollUntil(async () => await statOf(ctx, gw, 'fleet_ejected') === 1,
                    { what: 'b1 ejected by the quorum', timeoutMs: 15000, intervalMs: 50 });
  }
  const maps = [];
  for (const gw of gws.slice(1)) maps.push(await keyMap(ctx, gw, 3000));
  assert.ok(!maps[0].includes('b1'), 'no key goes to an ejected backend');
  assert.ok(!maps[1].includes('b1alt'), 'g3 ejects b1 too, though it reaches its own b1');
  assert.deepEqual(maps[1], maps[0], 'g2 and g3 agree with b1 ejected');

  // b1 back on its port: recovered everywhere.
  const again = await startQmock(ctx, { name: 'b1', port: mocks[0].port });
  assert.equal(again.port, mocks[0].port);
  for (const gw of gws) {
    await pollUntil(async () => await statOf(ctx, gw, 'fleet_ejected') === 0,
                    { what: 'b1 recovered by the quorum', timeoutMs: 20000, intervalMs: 50 });
  }
  // The verdict can lift before an instance's own link to b1 is back (its reconnect backoff):
  // until then that instance answers b1's keys with an error rather than moving them (README
  // "Behaviour decisions"). The maps are compared once every instance is connected again.
  for (const gw of gws) {
    await pollUntil(async () => (await backendsOf(ctx, gw)).b1.state === 'up',
                    { what: `b1 connected again from ${gw.proc.name}`, timeoutMs: 20000 });
  }
  const back = await keyMap(ctx, gws[1], 3000);
  assert.ok(back.includes('b1'), 'b1 takes its keys again');
  const back3 = await keyMap(ctx, gws[2], 3000);
  assert.deepEqual(back3.map((b) => (b === 'b1alt' ? 'b1' : b)), back, 'g3 as g2 again');
});

itest('etcd killed and restarted under load: no call fails, the instances catch up',
  { timeout: 90000 }, async (t, ctx) => {
    const { etcd, gws } = await startFleet(ctx);
    const load = loadLoop(ctx, gws);
    await pollUntil(() => load.ok > 300, { what: 'load running', timeoutMs: 10000 });
    await etcd.proc.stop();
    for (const gw of gws) {
      await pollUntil(async () => await statOf(ctx, gw, 'fleet_etcd_up') === 0,
                      { what: 'fleet_etcd_up 0', timeoutMs: 10000, intervalMs: 50 });
    }
    const rows = await admin(ctx, gws[0], '.qgate.fleet[]');
    assert.match(rows[0].etcd, /^down: /, 'the fleet table says etcd is away');
    const page = await statusJson(gws[1]);
    assert.match(page.etcd, /^down: /, 'so does the status page');
    assert.deepEqual(page.fleet.map((r) => r.instance), ['g2', 'g1', 'g3'], 'its last view');
    const during = load.ok;
    await pollUntil(() => load.ok > during + 300, { what: 'calls while etcd is away' });
    const etcd2 = await startEtcd(ctx, etcd);
    for (const gw of gws) {
      await pollUntil(async () => await statOf(ctx, gw, 'fleet_etcd_up') === 1,
                      { what: 'fleet_etcd_up 1 again', timeoutMs: 15000, intervalMs: 50 });
      assert.ok(await statOf(ctx, gw, 'fleet_resyncs') >= 1, 'a full read after the loss');
    }
    // Caught up: a change made now reaches every instance.
    const b4 = await startQmock(ctx, { name: 'b4' });
    await admin(ctx, gws[0], `.qgate.fleet.add[\`b4;\`rdb;"127.0.0.1:${b4.port}"]`);
    for (const gw of gws) {
      await pollUntil(async () => (await backendsOf(ctx, gw)).b4,
                      { what: 'b4 everywhere after etcd came back', timeoutMs: 10000 });
    }
    load.stop = true;
    await load.done;
    assert.deepEqual(load.errors, [], 'no call failed');
    assert.ok(load.ok > during + 300);
    assert.ok((await etcdKeys(etcd2, '/it/'))['instances/g1'], 'g1 is listed again');
  });

itest('an instance killed leaves the fleet when its lease expires; the others are unaffected',
  { timeout: 60000 }, async (t, ctx) => {
    const { etcd, gws } = await startFleet(ctx);
    const keys = await etcdKeys(etcd, '/it/');
    assert.ok(keys['instances/g3'] && keys['health/b1/g3'] === 'up', JSON.stringify(keys));
    const load = loadLoop(ctx, gws.slice(0, 2));
    await gws[2].proc.stop('SIGKILL');
    const t0 = Date.now();
    for (const gw of gws.slice(0, 2)) {
      await pollUntil(async () => (await admin(ctx, gw, '.qgate.fleet[]')).length === 2,
                      { what: 'g3 gone from .qgate.fleet[]', timeoutMs: LEASE_MS * 4 });
    }
    const gone = Date.now() - t0;
    const left = await etcdKeys(etcd, '/it/');
    assert.ok(!Object.keys(left).some((k) => k.endsWith('/g3')), 'its keys went with its lease');
    load.stop = true;
    await load.done;
    assert.deepEqual(load.errors, []);
    assert.ok(load.ok > 0);
    t.diagnostic(`g3 left the fleet ${gone} ms after it was killed (lease ${LEASE_MS} ms)`);
    for (const gw of gws.slice(0, 2)) assert.equal(await statOf(ctx, gw, 'fleet_etcd_up'), 1);
  });

itest('a service registered at one instance is served by all; it leaves all when its ' +
      'registration closes, or when that instance dies and its lease expires',
{ timeout: 60000 }, async (t, ctx) => {
  const { etcd, gws } = await startFleet(ctx, {}, null, (n) => (
    n === 'g1' ? '[register]\nlisten = "127.0.0.1:0"\ngroups = ["rdb"]' : ''));
  const register = (n) => startQmock(ctx, { name: n, args: ['--register-resource',
    `127.0.0.1:${gws[0].register}`, '--service', 'rdb'] });
  const everywhere = async (name, present) => {
    for (const gw of gws.slice(1)) {
      await pollUntil(async () => Boolean((await backendsOf(ctx, gw))[name]) === present,
                      { what: `${name} ${present ? 'on' : 'gone from'} ${gw.proc.name}`,
                        timeoutMs: LEASE_MS * 4 });
    }
  };
  const svc1 = await register('svc1');
  const name1 = `rdb@127.0.0.1:${svc1.port}`;
  await everywhere(name1, true);
  assert.equal((await backendsOf(ctx, gws[2]))[name1].source, 'register');
  const keys = await etcdKeys(etcd, '/it/');
  assert.match(keys[`backends/${name1}`], /"instance":"g1"/);
  await svc1.proc.stop();  // its registration connection closes: withdrawn from etcd
  await everywhere(name1, false);

  const svc2 = await register('svc2');
  const name2 = `rdb@127.0.0.1:${svc2.port}`;
  await everywhere(name2, true);
  await gws[0].proc.stop('SIGKILL');  // no withdrawal: only g1's lease can take it away
  await everywhere(name2, false);
  assert.equal((await etcdKeys(etcd, '/it/'))[`backends/${name2}`], undefined);
});

if (!fs.existsSync(ETCD)) {
  throw new Error(`${ETCD} missing: tools/lib/setup.sh installs etcd-server`);
}

itest('a process TorQ discovery finds at one instance is served by all; it leaves all when ' +
      'discovery drops it', { timeout: 60000 }, async (t, ctx) => {
  const disc = await startQmock(ctx, { name: 'disc', args: ['--discovery'] });
  const { etcd, gws } = await startFleet(ctx, {}, null, (n) => (n === 'g1'
    ? `[discovery]\naddresses = ["127.0.0.1:${disc.port}"]\nproctypes = ["rdb"]\n` +
      'refresh_ms = 200' : ''));
  const proc = await startQmock(ctx, { name: 'rdbx', args: ['--discovery-register',
    `127.0.0.1:${disc.port}`, '--proctype', 'rdb', '--procname', 'rdbx',
    '--discovery-retry-ms', '100'] });
  for (const gw of gws) {
    await pollUntil(async () => (await backendsOf(ctx, gw)).rdbx !== undefined,
                    { what: `rdbx on ${gw.proc.name}`, timeoutMs: LEASE_MS * 4 });
  }
  assert.equal((await backendsOf(ctx, gws[2])).rdbx.source, 'discovery');
  assert.match((await etcdKeys(etcd, '/it/'))['backends/rdbx'], /"instance":"g1"/);
  await proc.proc.stop();  // its discovery connection closes: qmock --discovery drops it
  for (const gw of gws) {
    await pollUntil(async () => (await backendsOf(ctx, gw)).rdbx === undefined,
                    { what: `rdbx gone from ${gw.proc.name}`, timeoutMs: LEASE_MS * 4 });
  }
  assert.equal((await etcdKeys(etcd, '/it/'))['backends/rdbx'], undefined);
});

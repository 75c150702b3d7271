'use strict';
// Hot reload (issue 17, src/proxy/reloader.h, generation.h): the configuration file is rewritten
// and applied with SIGHUP or the admin port's .qgate.reload[] while clients keep calling.
//  * under load: 40 request-mode and 10 session-mode node-q clients call tag[x] (the backend
//    answers (`name;x), so a crossed reply is seen) while backends are added, changed and
//    removed 20 times: every call answered with its own value, no connection dropped;
//  * a removed backend drains: its slow call in flight finishes, no new call reaches it, then
//    its pooled connections close (backends_retired, and the log line naming them);
//  * a bad file changes nothing (file:line in the reply and the log, generation unchanged);
//  * a restart-only setting is named and kept, the rest (a backend, a route timeout) applied;
//  * session mode: an open session keeps its removed backend, new sessions get the new ones;
//  * a users file change applies to new logins only.

const fs = require('fs');
const path = require('path');
const {
  itest, assert, startQmock, startQgate, qgateConfigText, qconnect, stats, counter, pollUntil,
  settled,
} = require('./lib.js');

/** Rewrites qgate's config file with `opts` (qgateConfigText; the same port file). */
function rewrite(ctx, gw, opts) {
  const text = qgateConfigText({ ...opts, portFile: path.join(ctx.dir, 'qgate.ports') });
  fs.writeFileSync(gw.cfgPath + '.tmp', text);
  fs.renameSync(gw.cfgPath + '.tmp', gw.cfgPath);
}

async function admin(ctx, gw, query) {
  const q = await qconnect(ctx, gw.admin, gw.adminUser || {});
  try { return await q.k(query); } finally { await q.close(); }
}

async function generation(ctx, gw) { return counter(await stats(ctx, gw), 'config_generation'); }

async function waitGeneration(ctx, gw, n) {
  return pollUntil(async () => (await generation(ctx, gw)) >= n, { what: `generation ${n}` });
}

/** Reloads by SIGHUP (even i) or .qgate.reload[] (odd i) and waits for generation `n`. */
async function reload(ctx, gw, i, n) {
  if (i % 2 === 0) gw.proc.child.kill('SIGHUP');
  else {
    const r = await admin(ctx, gw, '.qgate.reload[]');
    assert.equal(Number(r.generation), n, `.qgate.reload[] answers the generation: ${JSON.stringify(r)}`);
  }
  await waitGeneration(ctx, gw, n);
}

function logText(gw) { return fs.readFileSync(gw.proc.log, 'utf8'); }

itest('reload under load: 50 clients while backends are added, changed and removed 20 times; ' +
  'every call answered with its own value, no connection dropped', { timeout: 120000 },
async (t, ctx) => {
  const names = ['a1', 'a2', 'a3', 'b1'];
  const m = {};
  for (const n of names) m[n] = await startQmock(ctx, { name: n });
  const be = (n, extra = {}) => ({ name: n, group: n[0] === 'a' ? 'rdb' : 'hdb', port: m[n].port, ...extra });
  // Round i: rdb always has a1 (its conns change every other round: remove + add), a2 comes and
  // goes, a3 joins rdb on odd rounds; hdb has b1, and the route for nm[] comes and goes.
  const config = (i) => ({
    shards: 2,
    listeners: [{ group: 'rdb', mode: 'request' }, { group: 'rdb', mode: 'session' }],
    backends: [be('a1', { conns: i % 4 < 2 ? 2 : 3 }), ...(i % 2 ? [be('a3')] : [be('a2')]), be('b1')],
    routes: [{ match: ['tag'], group: 'rdb' }, ...(i % 3 ? [{ match: ['name'], group: 'hdb' }] : [])],
  });
  const gw = await startQgate(ctx, config(0));
  const clients = [];
  for (let c = 0; c < 50; ++c) clients.push(await qconnect(ctx, gw.ports[c < 40 ? 0 : 1]));
  let stop = false;
  const tally = { ok: 0, wrong: [], failed: [], byBackend: {}, named: 0, noRoute: 0 };
  // Clients 35..39 call name[] on hdb, whose route comes and goes: b1's name, or the error
  // that says there is no route (the one failure a change means).
  const nameLoop = async (q) => {
    for (let k = 0; !stop && k < 100000; ++k) {
      const r = await settled(q.k('name', k));
      if (r.v === 'b1') ++tally.named;
      else if (r.e && r.e.message === 'qgate: no route for name') ++tally.noRoute;
      else tally.wrong.push(`name: ${r.e ? r.e.message : JSON.stringify(r.v)}`);
    }
  };
  const loop = async (q, c) => {
    if (c >= 35 && c < 40) return nameLoop(q);
    for (let k = 0; !stop && k < 100000; ++k) {
      const tag = `c${c}k${k}`;
      const r = await settled(q.k('tag', tag));
      if (r.e) { tally.failed.push(`${tag}: ${r.e.message}`); continue; }
      const [who, echoed] = r.v;
      if (echoed !== tag || !names.includes(who)) tally.wrong.push(`${tag}: ${JSON.stringify(r.v)}`);
      else { ++tally.ok; tally.byBackend[who] = (tally.byBackend[who] || 0) + 1; }
    }
  };
  const loops = clients.map((q, c) => loop(q, c));
  for (let i = 1; i <= 20; ++i) {
    rewrite(ctx, gw, config(i));
    await reload(ctx, gw, i, i + 1);
    const before = tally.ok;
    await pollUntil(() => tally.ok >= before + 100, { what: `calls after reload ${i}` });
  }
  stop = true;
  await Promise.all(loops);
  t.diagnostic(`calls ${tally.ok}, by backend ${JSON.stringify(tally.byBackend)}, ` +
    `name[] ${tally.named} answered, ${tally.noRoute} refused (no route)`);
  assert.deepEqual(tally.failed.slice(0, 5), [], `no call failed (${tally.failed.length})`);
  assert.deepEqual(tally.wrong.slice(0, 5), [], 'every reply is its own');
  assert.ok(clients.every((q) => !q.closed), 'no client connection dropped');
  for (const n of ['a1', 'a2', 'a3']) assert.ok(tally.byBackend[n] > 0, `${n} served calls`);
  assert.ok(tally.named > 0 && tally.noRoute > 0, 'the name[] route was there and gone');
  const s = await stats(ctx, gw);
  assert.equal(counter(s, 'config_generation'), 21);
  assert.equal(counter(s, 'reloads'), 20);
  assert.equal(counter(s, 'reload_failures'), 0);
  assert.ok(counter(s, 'backends_retired') >= 5, 'removed backends drained and closed');
  assert.equal(counter(s, 'bugs'), 0);
  // Round 20 (20 % 3 != 0) has the route for name[].
  assert.equal(await clients[0].k('name', 'x'), 'b1', 'a route added by a reload serves');
});

itest('a removed backend drains: its slow call finishes, no new call reaches it, then its pool ' +
  'closes', { timeout: 60000 }, async (t, ctx) => {
  const a1 = await startQmock(ctx, { name: 'a1' });
  const a2 = await startQmock(ctx, { name: 'a2' });
  const both = {
    shards: 2, listeners: [{ group: 'rdb', mode: 'request' }],
    backends: [{ name: 'a1', port: a1.port, conns: 2 }, { name: 'a2', port: a2.port, conns: 2 }],
    routes: [{ match: ['*'], group: 'rdb', policy: 'first-available' }],
  };
  const gw = await startQgate(ctx, both);
  const q = await qconnect(ctx, gw.port);
  assert.deepEqual(await q.k('tag', 'x'), ['a1', 'x'], 'first-available: a1 serves');
  const slow = settled(q.k('sleep', 1500));  // on a1 (a1 is blocked: one connection busy)
  await pollUntil(async () => counter(await stats(ctx, gw), 'backend_load_a1') >= 1,
    { what: 'the slow call in flight on a1' });
  rewrite(ctx, gw, { ...both, backends: [both.backends[1]] });
  const r = await admin(ctx, gw, '.qgate.reload[]');
  assert.equal(Number(r.generation), 2);
  assert.ok(r.changes.some((l) => l === 'backends removed: a1'), JSON.stringify(r.changes));
  // New calls go to a2 while a1 still runs the slow one.
  const q2 = await qconnect(ctx, gw.port);
  for (let k = 0; k < 10; ++k) assert.deepEqual(await q2.k('tag', `n${k}`), ['a2', `n${k}`]);
  let s = await stats(ctx, gw);
  assert.equal(counter(s, 'backends_retired'), 0, 'a1 is not closed while its call runs');
  const got = await slow;
  assert.equal(got.e, undefined, `the slow call finished: ${got.e && got.e.message}`);
  assert.equal(Number(got.v), 1500);
  s = await pollUntil(async () => {
    const x = await stats(ctx, gw);
    return counter(x, 'backends_retired') >= 1 ? x : null;
  }, { what: 'a1 retired' });
  assert.ok(!Object.keys(s).some((k) => k.endsWith('_a1')), 'a1 is no longer listed');
  await pollUntil(() => /backend a1: drained, closing its 2 pooled connection/.test(logText(gw)),
    { what: 'the retire log line' });
  assert.ok(!q.closed && !q2.closed, 'clients stay connected');
});

itest('a bad file changes nothing: the reply and the log name file:line, the generation stays',
  { timeout: 60000 }, async (t, ctx) => {
  const a1 = await startQmock(ctx, { name: 'a1' });
  const good = {
    shards: 1, listeners: [{ group: 'rdb', mode: 'request' }],
    backends: [{ name: 'a1', port: a1.port }], routes: [{ match: ['tag'], group: 'rdb' }],
  };
  const gw = await startQgate(ctx, good);
  const q = await qconnect(ctx, gw.port);
  const bad = [
    ['syntax error', qgateConfigText({ ...good, portFile: 'x' }) + '\n[limits\n', /qgate\.toml:\d+/],
    ['unknown key', qgateConfigText({ ...good, portFile: 'x', extra: '[limits]\nnonsense = 1' }), /qgate\.toml:\d+/],
    ['route to no group', qgateConfigText({ ...good, portFile: 'x', routes: [{ match: ['tag'], group: 'nope' }] }), /nope/],
  ];
  for (const [what, text, re] of bad) {
    fs.writeFileSync(gw.cfgPath, text);
    const r = await settled(admin(ctx, gw, '.qgate.reload[]'));
    assert.ok(r.e, `${what}: refused`);
    assert.match(r.e.message, /qgate: reload refused/, what);
    assert.match(r.e.message, re, `${what}: names where: ${r.e.message}`);
    assert.equal(await generation(ctx, gw), 1, `${what}: the generation stays`);
    assert.deepEqual(await q.k('tag', 'x'), ['a1', 'x'], `${what}: calls keep working`);
  }
  gw.proc.child.kill('SIGHUP');
  await pollUntil(async () => counter(await stats(ctx, gw), 'reload_failures') >= 4, { what: 'SIGHUP refused' });
  assert.match(logText(gw), /reload \(SIGHUP\) refused, generation 1 keeps running: .*nope/);
  assert.match(logText(gw), /reload \(\.qgate\.reload\[\]\) refused.*qgate\.toml:\d+/);
});

itest('a restart-only setting is named in the reply and kept; the rest is applied',
  { timeout: 60000 }, async (t, ctx) => {
  const a1 = await startQmock(ctx, { name: 'a1' });
  const a2 = await startQmock(ctx, { name: 'a2' });
  const base = {
    shards: 1, listeners: [{ group: 'rdb', mode: 'request' }],
    backends: [{ name: 'a1', port: a1.port }], routes: [{ match: ['tag', 'sleep'], group: 'rdb' }],
  };
  const gw = await startQgate(ctx, base);
  const q0 = await qconnect(ctx, gw.port);
  assert.equal(Number(await q0.k('sleep', 300)), 300, 'no route timeout yet');
  rewrite(ctx, gw, {
    ...base, shards: 3, backends: [{ name: 'a2', port: a2.port }],
    routes: [{ match: ['tag', 'sleep'], group: 'rdb', timeout_ms: 100 }],
  });
  const r = await admin(ctx, gw, '.qgate.reload[]');
  assert.deepEqual(r.restart, ['server.shards'], JSON.stringify(r));
  assert.ok(r.changes.includes('restart needed for: server.shards'));
  assert.match(logText(gw), /reload: restart needed for: server\.shards/);
  const q = await qconnect(ctx, gw.port);
  assert.deepEqual(await q.k('tag', 'y'), ['a2', 'y'], 'the backend change is applied');
  const late = await settled(q0.k('sleep', 300));
  assert.equal(late.e && late.e.message, 'qgate: timeout after 100ms', 'the route timeout too');
  const s = await stats(ctx, gw);
  assert.equal(counter(s, 'shards'), 1, 'still one shard');
  const text = await admin(ctx, gw, '.qgate.config[]');
  assert.match(text, /shards = 1\n/, '.qgate.config[] shows what runs');
  assert.match(text, new RegExp(`address = "127\\.0\\.0\\.1:${a2.port}"`));
});

itest('session mode: an open session keeps its removed backend until it closes; new ones use ' +
  'the new backends', { timeout: 60000 }, async (t, ctx) => {
  const a1 = await startQmock(ctx, { name: 'a1' });
  const a2 = await startQmock(ctx, { name: 'a2' });
  const cfg = (b) => ({ shards: 2, listeners: [{ group: 'rdb', mode: 'session' }], backends: [b] });
  const gw = await startQgate(ctx, cfg({ name: 'a1', port: a1.port }));
  const old = await qconnect(ctx, gw.port);
  assert.deepEqual(await old.k('tag', 'o1'), ['a1', 'o1']);
  rewrite(ctx, gw, cfg({ name: 'a2', port: a2.port }));
  gw.proc.child.kill('SIGHUP');
  await waitGeneration(ctx, gw, 2);
  const fresh = await qconnect(ctx, gw.port);
  assert.deepEqual(await fresh.k('tag', 'f'), ['a2', 'f'], 'a new session gets the new backend');
  assert.deepEqual(await old.k('tag', 'o2'), ['a1', 'o2'], 'the open session keeps a1');
  const s = await stats(ctx, gw);
  assert.equal(counter(s, 'backend_conns_a2'), 1);
  assert.ok(!('backend_conns_a1' in s), 'a1 is no longer listed');
});

itest('a users file change applies to new logins only, on the data and the admin ports', { timeout: 60000 }, async (t, ctx) => {
  const a1 = await startQmock(ctx, { name: 'a1' });
  const base = {
    shards: 1, listeners: [{ group: 'rdb', mode: 'request' }],
    backends: [{ name: 'a1', port: a1.port }], users: ['alice:old', 'ops:pw:admin'],
  };
  const gw = await startQgate(ctx, base);
  const usersFile = path.join(ctx.dir, 'qgate.users');
  const old = await qconnect(ctx, gw.port, { user: 'alice', password: 'old' });
  const oldAdmin = await qconnect(ctx, gw.admin, { user: 'ops', password: 'pw' });
  fs.writeFileSync(usersFile, 'alice:new\nops:pw2:admin\n');
  gw.proc.child.kill('SIGHUP');
  // The admin port follows the users file too: the admin's new password once it is applied.
  gw.adminUser = { user: 'ops', password: 'pw2' };
  await pollUntil(async () => {
    const r = await settled(stats(ctx, gw));
    return !r.e && counter(r.v, 'config_generation') === 2;
  }, { what: 'generation 2, read with the new admin password' });
  const adminRefused = await settled(qconnect(ctx, gw.admin, { user: 'ops', password: 'pw' }));
  assert.ok(adminRefused.e, 'the admin port refuses the old admin password');
  assert.ok(Array.isArray(await oldAdmin.k('.qgate.routes[]')),
    'an admin logged in before the reload stays');
  assert.deepEqual(await old.k('tag', 'o'), ['a1', 'o'], 'the open connection stays');
  const refused = await settled(qconnect(ctx, gw.port, { user: 'alice', password: 'old' }));
  assert.ok(refused.e, 'the old password no longer logs in');
  const fresh = await qconnect(ctx, gw.port, { user: 'alice', password: 'new' });
  assert.deepEqual(await fresh.k('tag', 'n'), ['a1', 'n'], 'the new password does');
});

/** A keyed table as node-q decodes it ([keys, values]) → one object per row. */
function rowsOf(keyed) {
  const [keys, values] = keyed;
  return keys.map((k, i) => ({ ...k, ...values[i] }));
}

itest('the admin tables follow a reload: an added backend is listed with its group and can be ' +
  'drained by name; a removed one leaves; route hits restart with a new route table',
{ timeout: 60000 }, async (t, ctx) => {
  const a1 = await startQmock(ctx, { name: 'a1' });
  const x = await startQmock(ctx, { name: 'x' });
  const tagRoute = { match: ['tag'], group: 'rdb' };
  const base = { shards: 2, listeners: [{ group: 'rdb', mode: 'request' }],
    backends: [{ name: 'a1', port: a1.port }], routes: [tagRoute] };
  const gw = await startQgate(ctx, base);
  const q = await qconnect(ctx, gw.port);
  for (let i = 0; i < 3; ++i) assert.deepEqual(await q.k('tag', i), ['a1', i]);
  const hits = async () => (await admin(ctx, gw, '.qgate.routes[]')).map((r) => Number(r.hits));
  assert.deepEqual(await hits(), [3]);
  const added = { ...base, backends: [...base.backends, { name: 'x', group: 'hdb', port: x.port }],
    routes: [tagRoute, { match: ['name'], group: 'hdb' }] };
  rewrite(ctx, gw, added);
  await reload(ctx, gw, 1, 2);
  const rows = Object.fromEntries(rowsOf(await admin(ctx, gw, '.qgate.backends[]'))
    .map((r) => [r.name, r]));
  assert.deepEqual(Object.keys(rows), ['a1', 'x'], 'x is listed after the reload');
  assert.equal(rows.x.group, 'hdb');
  assert.equal(rows.x.address, `127.0.0.1:${x.port}`);
  assert.deepEqual(await hits(), [0, 0], 'the route table changed: hits restart');
  assert.equal(await q.k('name', 0), 'x', 'x serves its route');
  assert.deepEqual(await hits(), [0, 1]);
  const drained = await admin(ctx, gw, '.qgate.drain[`x]');
  assert.equal(drained.name, 'x');
  assert.equal(drained.state, 'draining');
  const refused = await settled(q.k('name', 1));
  assert.equal(refused.e && refused.e.message, 'qgate: no backend available for group hdb',
    'a drained x takes no call');
  assert.equal((await admin(ctx, gw, '.qgate.enable[`x]')).state !== 'draining', true);
  assert.equal(await q.k('name', 2), 'x', 'enabled again');
  rewrite(ctx, gw, { ...base, routes: [tagRoute, { match: ['name'], group: 'rdb' }] });
  await reload(ctx, gw, 0, 3);
  const after = rowsOf(await admin(ctx, gw, '.qgate.backends[]')).map((r) => r.name);
  assert.deepEqual(after, ['a1'], 'x is gone with the generation that had it');
  const gone = await settled(admin(ctx, gw, '.qgate.drain[`x]'));
  assert.equal(gone.e && gone.e.message, 'qgate: no backend x');
});

'use strict';
// A TorQ process.csv as a backend file (issue 17, src/ctl/process_csv.cc): its rows of the
// listed proctypes are backends (name = procname, group = proctype, source process.csv), with
// {VAR} taken from qgate's environment and the port summed as TorQ does ({BASE}+1); the file
// is re-read on every reload, so a row added serves, and a row removed drains (its slow call
// in flight finishes, no new call reaches it) and leaves .qgate.backends[]. A group the file
// lists but has no row for exists empty: its route answers "no backend available" until a row
// appears, and a broken file refuses the reload with file:line, changing nothing.

const fs = require('fs');
const {
  itest, assert, startQmock, startQgate, qconnect, stats, counter, pollUntil, settled, runQgateSync,
} = require('./lib.js');

const HEADER = 'host,port,proctype,procname,U,localtime,g,T,w,load,startwithall,extras,qcmd';

/** process.csv text: rows [host, port, proctype, procname], with TorQ's other columns. */
function csvText(rows) {
  return [HEADER, ...rows.map(([h, p, t, n]) => `${h},${p},${t},${n},,1,0,,,${t}.q,1,,q`)]
    .join('\n') + '\n';
}

function writeCsv(file, rows) {
  fs.writeFileSync(file + '.tmp', csvText(rows));
  fs.renameSync(file + '.tmp', file);
}

async function admin(ctx, gw, query) {
  const q = await qconnect(ctx, gw.admin, gw.adminUser || {});
  try { return await q.k(query); } finally { await q.close(); }
}

/** .qgate.backends[] as { name: row } (a keyed table: node-q gives [keys, values]). */
async function backends(ctx, gw) {
  const [keys, values] = await admin(ctx, gw, '.qgate.backends[]');
  return Object.fromEntries(keys.map((k, i) => [k.name, { ...k, ...values[i] }]));
}

async function reloadTo(ctx, gw, n) {
  const r = await admin(ctx, gw, '.qgate.reload[]');
  assert.equal(Number(r.generation), n, `reload answers generation ${n}: ${JSON.stringify(r)}`);
  return r;
}

itest('process.csv rows serve, a row added on reload serves, a row removed drains and leaves; ' +
  'an empty listed group answers no backend; a broken file changes nothing', { timeout: 60000 },
async (t, ctx) => {
  const r1 = await startQmock(ctx, { name: 'r1' });
  const r2 = await startQmock(ctx, { name: 'r2' });
  const h1 = await startQmock(ctx, { name: 'h1' });
  const csv = ctx.file('process.csv', '');
  // r1 through {BASE}+offset from qgate's environment; a discovery row and a row with no host
  // are never backends; h1's hdb row is left out by proctypes until it is listed.
  const base = r1.port - 7;
  writeCsv(csv, [['localhost', '{BASE}+7', 'rdb', 'r1'], ['127.0.0.1', '1', 'discovery', 'd1'],
    ['', r2.port, 'rdb', 'nohost']]);
  const gw = await startQgate(ctx, {
    shards: 2, listeners: [{ group: 'rdb', mode: 'request' }],
    routes: [{ match: ['name'], group: 'hist' }, { match: ['*'], group: 'rdb',
      policy: 'first-available' }],
    extra: `[process_csv]\npath = ${JSON.stringify(csv)}\nproctypes = ["rdb", "hist"]\nconns = 2\n`,
    env: { BASE: String(base) },
  });
  const q = await qconnect(ctx, gw.port);
  assert.deepEqual(await q.k('tag', 'a'), ['r1', 'a'], 'r1 from the file serves');
  let rows = await backends(ctx, gw);
  assert.deepEqual(Object.keys(rows), ['r1']);
  assert.equal(rows.r1.source, 'process.csv');
  assert.equal(rows.r1.group, 'rdb');
  assert.equal(rows.r1.address, `localhost:${r1.port}`);
  const none = await settled(q.k('name', 0));
  assert.equal(none.e && none.e.message, 'qgate: no backend available for group hist',
    'a group the file lists with no row yet exists, empty');

  // Reload: r2 joins rdb and h1 fills hist; r1 is removed while a slow call runs on it.
  const slow = settled(q.k('sleep', 1500));
  await pollUntil(async () => counter(await stats(ctx, gw), 'backend_load_r1') >= 1,
    { what: 'the slow call in flight on r1' });
  writeCsv(csv, [['127.0.0.1', r2.port, 'rdb', 'r2'], ['127.0.0.1', h1.port, 'hist', 'h1']]);
  const r = await reloadTo(ctx, gw, 2);
  assert.ok(r.changes.includes('backends added: r2, h1'), JSON.stringify(r.changes));
  assert.ok(r.changes.includes('backends removed: r1'), JSON.stringify(r.changes));
  const q2 = await qconnect(ctx, gw.port);
  for (let k = 0; k < 5; ++k) assert.deepEqual(await q2.k('tag', k), ['r2', k], 'r2 serves');
  assert.equal(await q2.k('name', 0), 'h1', 'the empty group filled');
  const got = await slow;
  assert.equal(got.e, undefined, `r1's call in flight finished: ${got.e && got.e.message}`);
  await pollUntil(async () => counter(await stats(ctx, gw), 'backends_retired') >= 1,
    { what: 'r1 drained and retired' });
  rows = await backends(ctx, gw);
  assert.deepEqual(Object.keys(rows).sort(), ['h1', 'r2'], 'r1 left .qgate.backends[]');
  assert.equal(rows.h1.source, 'process.csv');

  // A broken file: the reload is refused with file:line and generation 2 keeps serving.
  fs.writeFileSync(csv, csvText([['127.0.0.1', 'x+1', 'rdb', 'r2']]));
  const bad = await settled(admin(ctx, gw, '.qgate.reload[]'));
  assert.equal(bad.e && bad.e.message, `qgate: reload refused: ${csv}:2: port "x+1" is not a ` +
    'number or a sum (6000+1)');
  assert.deepEqual(await q2.k('tag', 'z'), ['r2', 'z'], 'the running generation keeps serving');
  assert.equal(counter(await stats(ctx, gw), 'config_generation'), 2);
  assert.ok(!q.closed && !q2.closed, 'clients stay connected');
});

itest('--check-config reads process.csv: a bad row is named with file:line', { timeout: 20000 },
async (t, ctx) => {
  const csv = ctx.file('process.csv', `${HEADER}\nlocalhost,{UNSET+1,rdb,r1,,1,0,,,x.q,1,,q\n`);
  const cfg = ctx.file('q.toml', '[[listener]]\nlisten = "127.0.0.1:0"\nmode = "request"\n' +
    `group = "rdb"\n[process_csv]\npath = ${JSON.stringify(csv)}\n`);
  const res = runQgateSync(['-c', cfg, '--check-config']);
  assert.notEqual(res.code, 0);
  assert.match(res.stderr + res.stdout, new RegExp(`${csv}:2: unmatched braces in "\\{UNSET\\+1"`));
});

itest('backend ids are reused: a backend renamed on every reload takes the quiet id of the one ' +
  'before, whose calls, errors and latency do not carry over', { timeout: 90000 },
async (t, ctx) => {
  const k = await startQmock(ctx, { name: 'k' });
  const csv = ctx.file('process.csv', '');
  writeCsv(csv, [['127.0.0.1', k.port, 'rdb', 'k'], ['127.0.0.1', k.port, 'rot', 'x0']]);
  const gw = await startQgate(ctx, {
    shards: 2, listeners: [{ group: 'rdb', mode: 'request' }],
    routes: [{ match: ['tag'], group: 'rot' }, { match: ['*'], group: 'rdb' }],
    extra: `[process_csv]\npath = ${JSON.stringify(csv)}\nproctypes = ["rdb", "rot"]\nconns = 1\n`,
  });
  const q = await qconnect(ctx, gw.port);
  const rounds = 8;
  for (let i = 0; i < rounds; ++i) {
    for (let c = 0; c < 3; ++c) assert.deepEqual(await q.k('tag', c), ['k', c]);
    const rows = await backends(ctx, gw);
    assert.equal(Number(rows[`x${i}`].calls), 3, `x${i} counts its own calls only`);
    writeCsv(csv, [['127.0.0.1', k.port, 'rdb', 'k'], ['127.0.0.1', k.port, 'rot', `x${i + 1}`]]);
    await reloadTo(ctx, gw, i + 2);
    // x_i drains, its pool closes, and its id becomes free for the next round.
    await pollUntil(async () => counter(await stats(ctx, gw), 'backend_ids_free') >= 1,
      { what: `x${i}'s id quiet and free` });
  }
  const s = await stats(ctx, gw);
  assert.equal(counter(s, 'backends_retired'), rounds);
  assert.ok(counter(s, 'backend_ids_issued') <= 3,
    `ids reused: ${counter(s, 'backend_ids_issued')} handed out for ${rounds + 2} backends`);
  assert.deepEqual(await q.k('tag', 'last'), ['k', 'last'], `x${rounds} serves`);
});

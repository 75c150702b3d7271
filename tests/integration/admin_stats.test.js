'use strict';
// The stats table is the one source of .qgate.stats[] and of STATS.md:
//  * `qgate --list-stats` prints the checked-in STATS.md byte for byte;
//  * .qgate.stats[] has exactly one key per stat of that table, in its order: an unlabelled
//    stat as its name, a stat labelled by backend once per configured backend as
//    <name>_<backend> (backend_conns_* for every backend, then backend_load_* and
//    backend_live_* side by side per backend, as the admin port has always listed them); a
//    histogram as <name>_<label>_count and _sum.

const fs = require('fs');
const path = require('path');
const { itest, assert, ROOT, startStack, stats, runQgateSync } = require('./lib.js');

const STATS_MD = path.join(ROOT, 'STATS.md');

/** The table rows of STATS.md: [{ name, labels: [..] }] in order. */
function tableRows(md) {
  const rows = [];
  for (const line of md.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const cells = line.split('|').map((c) => c.trim());
    const labels = cells[4] === '' ? [] : cells[4].split(',').map((l) => l.trim().replace(/`/g, ''));
    rows.push({ name: cells[1].replace(/`/g, ''), labels });
  }
  return rows;
}

itest('qgate --list-stats prints the checked-in STATS.md', { ioIndependent: true }, async () => {
  const r = runQgateSync(['--list-stats']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, fs.readFileSync(STATS_MD, 'utf8'),
    'STATS.md differs from `qgate --list-stats` (regenerate it)');
});

itest('.qgate.stats[] has one key per stat of the table, one per backend when labelled',
  async (t, ctx) => {
    const backends = [{ name: 'rdb1' }, { name: 'hdb1', group: 'hdb' }, { name: 'hdb2', group: 'hdb' }];
    const { gw } = await startStack(ctx, {
      listeners: [{ group: 'rdb' }, { mode: 'request', group: 'hdb' }], backends,
    });
    const rows = tableRows(fs.readFileSync(STATS_MD, 'utf8'));
    assert.ok(rows.length > 50, `STATS.md has the table (${rows.length} rows)`);
    const plain = rows.filter((r) => r.labels.length === 0).map((r) => r.name);
    const labelled = rows.filter((r) => r.labels.length > 0);
    assert.deepEqual(labelled.map((r) => `${r.name}{${r.labels}}`),
      ['backend_conns{backend}', 'backend_load{backend}', 'backend_live{backend}',
        'backend_latency{backend}', 'listener_latency{listener}', 'route_hits{route}']);
    const names = backends.map((b) => b.name);
    // Histograms show as <name>_<label>_count and _sum; listener_latency only for request-mode
    // listeners (listener 1 here); route_hits one per [[route]] (none configured).
    const want = [
      ...plain,
      ...names.map((n) => `backend_conns_${n}`),
      ...names.flatMap((n) => [`backend_load_${n}`, `backend_live_${n}`]),
      ...names.flatMap((n) => [`backend_latency_${n}_count`, `backend_latency_${n}_sum`]),
      'listener_latency_1_count', 'listener_latency_1_sum',
    ];
    const s = await stats(ctx, gw);
    assert.deepEqual(Object.keys(s), want);
    assert.equal(Number(s.shards), 2);
    for (const n of names) assert.equal(Number(s[`backend_live_${n}`]), 1, `${n} live`);
  });

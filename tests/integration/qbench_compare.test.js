'use strict';
// io-independent file: tools/run-tests runs it under the first io backend only.
// qbench --compare starts its own qmock and qgates (always --io=uring for the main and baseline
// qgates), so the file is declared once, not once per io backend (lib.js itest's ioIndependent).
//
// The --baseline smoke test: a second qgate binary runs beside qgate in the same rounds as
// target qgate-base, gets its own row and its own G-lines, and after/before lines per scenario;
// without --baseline none of that appears. Runs are --quick (1 round of 0.5 s) and G1 only, and
// HAProxy is left out (a path that does not exist), so the whole file takes a few seconds.

const path = require('path');
const { spawnSync } = require('child_process');
const { itest, assert, BUILD, QGATE } = require('./lib.js');

const QBENCH = path.join(BUILD, 'tools', 'qbench', 'qbench');
const itest1 = (name, fn) => itest(name, { ioIndependent: true }, fn);

function qbench(args) {
  const r = spawnSync(QBENCH, ['--compare', '--quick', '--only', 'G1', '--haproxy',
    '/nonexistent/haproxy', '--qgate', QGATE, ...args], { encoding: 'utf8', timeout: 50000 });
  return { code: r.status, stdout: r.stdout || '', stderr: r.stderr || '', error: r.error };
}

/** The per-target table rows of the text report: { scenario, target, rt } per row. */
function targetRows(stdout) {
  const rows = [];
  for (const line of stdout.split('\n')) {
    const m = /^(G\d)\s+.+?\s{2,}(\S+)\s+(\d+)\s+[\d.]+\s+[\d.]+/.exec(line);
    if (m && !line.includes('idle conns')) rows.push({ scenario: m[1], target: m[2], rt: +m[3] });
  }
  return rows;
}

itest1('--baseline: qgate-base runs beside qgate, with its own row and after/before lines',
  async () => {
    const r = qbench(['--baseline', QGATE]);
    assert.equal(r.code, 0, `${r.error || ''}\n${r.stderr}`);
    const rows = targetRows(r.stdout);
    assert.deepEqual(rows.map((x) => x.target), ['direct', 'qgate', 'qgate-base'], r.stdout);
    for (const x of rows) assert.ok(x.rt > 0, `${x.target} completed round trips: ${r.stdout}`);
    assert.match(r.stdout, /note: qgate-base binary \(--baseline, the before build\): /);
    // The after/before lines: both ran in the one round, so the throughput ratio has a value
    // (the CPU one may read "-": 0.5 s on a loaded box can be 0 ticks of 10 ms); one round is
    // too few for a verdict.
    assert.match(r.stdout,
      /^G1\s+rt\/s after\/before, qgate \/ qgate-base \(1x1, 64 B\)\s+~ 1\.00\s+\d+\.\d{3}\s+info$/m);
    assert.match(r.stdout,
      /^G1\s+CPU-us per rt after\/before, qgate \/ qgate-base \(1x1, 64 B\)\s+~ 1\.00\s+(\d+\.\d{3}|-)\s+(info|n\/a)$/m);
    // qgate-base's own G-lines sit right after qgate's.
    const what = r.stdout.split('\n').filter((l) => /^G7 /.test(l)).map((l) => l.slice(5, 60).trim());
    assert.deepEqual(what, [
      'io_uring_enter per msg, pipelined (8x16)',
      'io_uring_enter per msg, qgate-base, pipelined (8x16)',
      'io_uring_enter per msg, closed loop (32x1)',
      'io_uring_enter per msg, qgate-base, closed loop (32x1)',
    ]);
  });

itest1('without --baseline the report has no qgate-base and no after/before lines', async () => {
  const r = qbench([]);
  assert.equal(r.code, 0, `${r.error || ''}\n${r.stderr}`);
  assert.deepEqual(targetRows(r.stdout).map((x) => x.target), ['direct', 'qgate'], r.stdout);
  assert.doesNotMatch(r.stdout + r.stderr, /qgate-base|after\/before|~ 1\.00/);
});

itest1('--baseline that does not exist: exit 1 with the reason, no report', async () => {
  const r = qbench(['--baseline', '/nonexistent/qgate']);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /--baseline: no file \/nonexistent\/qgate/);
  assert.equal(r.stdout, '');
});

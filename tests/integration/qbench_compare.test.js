'use strict';
// io-independent file: tools/run-tests runs it under the first io backend only.
// qbench --compare starts its own qmock and qgates (always --io=uring for the main and baseline
// qgates), so the file is declared once, not once per io backend (lib.js itest's ioIndependent).
//
// The --baseline smoke test: a second qgate binary runs beside qgate in the same rounds as
// target qgate-base, gets its own row and its own G-lines, and after/before lines per scenario;
// without --baseline none of that appears. Runs are --quick (1 round of 0.5 s) and G1 only, and
// HAProxy is left out (a path that does not exist), so the whole file takes a few seconds.
//
// --mode both: qgate (session) and qgate-req (request) from one binary in the same rounds;
// --pool-conns; G6, the backend-bound scenario (qmock --work-us) with 4 backends behind
// qgate-req4 against one, at 200 us of work so that the bounds hold on a busy box.
//
// --plot: the figure qbench draws through tools/qbench/plot.py (Debian's python3-matplotlib) is
// a real PNG of a plausible size, or an SVG whose text names every scenario and target; without
// matplotlib the table is still printed and qbench exits 1 saying what to install.

const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { itest, assert, BUILD, QGATE } = require('./lib.js');

const QBENCH = path.join(BUILD, 'tools', 'qbench', 'qbench');
const itest1 = (name, fn) => itest(name, { ioIndependent: true }, fn);

function qbench(args, env = process.env) {
  const r = spawnSync(QBENCH, ['--compare', '--quick', '--only', 'G1', '--haproxy',
    '/nonexistent/haproxy', '--qgate', QGATE, ...args], { encoding: 'utf8', timeout: 50000, env });
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

// ---------------------------------------------------------------- --mode both, G6

/** The per-target rows with every column: { scenario, target, rt, cpu, enters } (cpu and
 *  enters are numbers, or null for "-"). */
function fullRows(stdout) {
  const num = (x) => (x === '-' ? null : +x);
  return stdout.split('\n').map((line) =>
    /^(G\d)\s+.+?\s{2,}(\S+)\s+(\d+)\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+(\S+)\s+[\d.]+\s+(\S+)$/.exec(line))
    .filter(Boolean)
    .map((m) => ({ scenario: m[1], target: m[2], rt: +m[3], cpu: num(m[4]), enters: num(m[5]) }));
}

/** Runs qbench with --keep and hands fn the report and the work directory, then removes it. */
function withKept(args, fn) {
  const r = qbench(['--keep', ...args]);
  const m = /note: work directory kept: (\/tmp\/qbench-\w+)/.exec(r.stderr);
  try {
    assert.equal(r.code, 0, `${r.error || ''}\n${r.stderr}`);
    assert.ok(m, r.stderr);
    fn(r, m[1]);
  } finally {
    if (m) fs.rmSync(m[1], { recursive: true, force: true });
  }
}

itest1('--mode both: qgate (session) and qgate-req (request) measured side by side', async () => {
  withKept(['--mode', 'both'], (r, dir) => {
    const rows = fullRows(r.stdout);
    assert.deepEqual(rows.map((x) => x.target), ['direct', 'qgate', 'qgate-req'], r.stdout);
    for (const x of rows) assert.ok(x.rt > 0, `${x.target} completed round trips: ${r.stdout}`);
    // CPU per call for both proxies (0.5 s may be 0 ticks of 10 ms: a number all the same).
    for (const x of rows.slice(1)) assert.ok(x.cpu !== null, `${x.target} cpu: ${r.stdout}`);
    // io_uring_enter per message: from msgs_fwd for the session qgate, from requests_routed
    // for the request one, so a number here means qgate-req routed the calls.
    for (const x of rows.slice(1)) assert.ok(x.enters > 0, `${x.target} enters: ${r.stdout}`);
    // Same binary, two listener modes; request mode keeps qgate's default pool.
    const conf = (n) => fs.readFileSync(path.join(dir, `${n}.toml`), 'utf8');
    assert.match(conf('qgate'), /^mode = "session"$/m);
    assert.match(conf('qgate-req'), /^mode = "request"$/m);
    assert.doesNotMatch(conf('qgate-req'), /^conns\s*=/m);
    assert.match(r.stdout,
      /^qgate modes: qgate session, qgate-req request; request mode with qgate's default pool/m);
    // Both get the G-lines, and the scenario a request/session ratio with a number.
    assert.match(r.stdout,
      /^G1\s+added p50 latency, qgate-req \/ HAProxy \(1x1, 64 B\)\s+<= 1\.00\s/m);
    assert.match(r.stdout,
      /^G1\s+rt\/s, qgate-req \/ qgate \(session\) \(1x1, 64 B\)\s+>= 0\.80\s+\d+\.\d\d\s+(PASS|FAIL)$/m);
    assert.match(r.stdout,
      /^G1\s+CPU-us per rt, qgate-req \/ qgate \(session\) \(1x1, 64 B\)\s+info\s/m);
    // G6 is not asked for (--only G1): no backend-bound processes, no G6 lines.
    assert.doesNotMatch(r.stdout, /qgate-req4|^G6/m);
    assert.ok(!fs.existsSync(path.join(dir, 'w1.port')));
  });
});

itest1('--pool-conns N sets backend.conns of the request-mode qgates only', async () => {
  withKept(['--mode', 'both', '--pool-conns', '3'], (r, dir) => {
    assert.deepEqual(targetRows(r.stdout).map((x) => x.target),
      ['direct', 'qgate', 'qgate-req'], r.stdout);
    assert.match(fs.readFileSync(path.join(dir, 'qgate-req.toml'), 'utf8'), /^conns = 3$/m);
    assert.doesNotMatch(fs.readFileSync(path.join(dir, 'qgate.toml'), 'utf8'), /^conns/m);
    assert.match(r.stdout, /request mode with backend\.conns = 3 \(--pool-conns\)/);
  });
});

itest1('G6: four backends that wait --work-us per call behind qgate-req4, vs one backend',
  async () => {
    withKept(['--only', 'G6', '--work-us', '200'], (r, dir) => {
      const rows = fullRows(r.stdout);
      assert.deepEqual(rows.map((x) => `${x.scenario} ${x.target}`),
        ['G6 direct', 'G6 qgate-req', 'G6 qgate-req4'], r.stdout);
      const rt = Object.fromEntries(rows.map((x) => [x.target, x.rt]));
      for (const [k, v] of Object.entries(rt)) assert.ok(v > 0, `${k}: ${r.stdout}`);
      // One qmock that waits 200 us before each call, serially, answers at most 5000 calls a
      // second (qmock's echo alone does ~10x that here): the wait is in effect.
      assert.ok(rt.direct <= 5000, `direct ${rt.direct} rt/s > 1e6/200: ${r.stdout}`);
      assert.ok(rt['qgate-req'] <= 5000, `qgate-req ${rt['qgate-req']}: ${r.stdout}`);
      // Four of them serve calls in parallel (the target is 3.5x; 1.5x on a busy test box).
      assert.ok(rt['qgate-req4'] >= 1.5 * rt.direct, `qgate-req4 vs direct: ${r.stdout}`);
      assert.match(r.stdout, /^G6\s+4 backends x 200 us, 32x1\s/m);
      assert.match(r.stdout,
        /^G6\s+rt\/s, qgate-req4 \(4 backends\) \/ direct \(1\), 32x1, 200 us work\s+>= 3\.50\s+\d+\.\d\d\s+(PASS|FAIL)$/m);
      assert.match(r.stdout,
        /^G6\s+rt\/s, qgate-req \(1 backend\) \/ direct, 32x1, 200 us work\s+>= 0\.90\s+\d+\.\d\d\s+(PASS|FAIL)$/m);
      // qgate-req4 has the four backends in one group; qgate-req the first alone.
      const req4 = fs.readFileSync(path.join(dir, 'qgate-req4.toml'), 'utf8');
      assert.deepEqual([...req4.matchAll(/^name = "(\w+)"$/gm)].map((m) => m[1]),
        ['w1', 'w2', 'w3', 'w4']);
      const req1 = fs.readFileSync(path.join(dir, 'qgate-req-w1.toml'), 'utf8');
      assert.deepEqual([...req1.matchAll(/^name = "(\w+)"$/gm)].map((m) => m[1]), ['w1']);
    });
  });

// ---------------------------------------------------------------- --plot

/** The <text> elements' contents of an SVG (matplotlib writes one per label with text kept as
 *  text, svg.fonttype none), with the XML entities qbench's names could contain decoded. */
function svgTexts(svg) {
  return [...svg.matchAll(/<text\b[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&'));
}

itest1('--plot out.png: a PNG with a plausible size, beside the usual table', async (t, ctx) => {
  const png = path.join(ctx.dir, 'out.png');
  const r = qbench(['--plot', png]);
  assert.equal(r.code, 0, `${r.error || ''}\n${r.stderr}`);
  assert.deepEqual(targetRows(r.stdout).map((x) => x.target), ['direct', 'qgate'], r.stdout);
  const b = fs.readFileSync(png);
  assert.ok(b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
    'PNG signature');
  // The first chunk is IHDR (length 13): width and height, big-endian, at bytes 16 and 20.
  assert.equal(b.readUInt32BE(8), 13);
  assert.equal(b.toString('latin1', 12, 16), 'IHDR');
  const width = b.readUInt32BE(16), height = b.readUInt32BE(20);
  assert.ok(width >= 800 && width <= 4000, `width ${width}`);
  assert.ok(height >= 600 && height <= 4000, `height ${height}`);
  // 1 scenario drawn is ~80 KB; the same figure with empty axes (titles, frames) ~20 KB.
  assert.ok(b.length > 40000, `${b.length} bytes: a figure with bars and curves, not a blank`);
});

itest1('--plot out.svg: its text names every scenario and every target', async (t, ctx) => {
  const svg = path.join(ctx.dir, 'out.svg');
  const r = qbench(['--only', 'G1,G6', '--mode', 'both', '--baseline', QGATE, '--work-us', '200',
    '--plot', svg]);
  assert.equal(r.code, 0, `${r.error || ''}\n${r.stderr}`);
  const rows = targetRows(r.stdout);
  const scenarios = [...new Set(rows.map((x) => x.scenario))];
  const targets = [...new Set(rows.map((x) => x.target))];
  assert.deepEqual(scenarios, ['G1', 'G6'], r.stdout);
  assert.deepEqual(targets,
    ['direct', 'qgate', 'qgate-base', 'qgate-req', 'qgate-base-req', 'qgate-req4'], r.stdout);
  const text = fs.readFileSync(svg, 'utf8');
  assert.match(text, /^(<\?xml[^>]*>\s*)?(<!DOCTYPE[^>]*>\s*)?<svg\b/);
  const texts = svgTexts(text);
  // Each target is a legend entry of its own (exactly its name: "qgate" inside "qgate-base"
  // would not count); each scenario titles its latency panel with id and label.
  for (const name of targets) assert.ok(texts.includes(name), `${name} in ${texts.join(' | ')}`);
  for (const title of ['G1  1 conn x 1, 64 B', 'G6  4 backends x 200 us, 32x1'])
    assert.ok(texts.includes(title), `${title} in ${texts.join(' | ')}`);
});

itest1('--plot without matplotlib: the table still, then a clear error and exit 1',
  async (t, ctx) => {
    // A matplotlib package earlier on PYTHONPATH that fails to import, as a missing one does.
    const fake = path.join(ctx.dir, 'pythonpath', 'matplotlib');
    fs.mkdirSync(fake, { recursive: true });
    fs.writeFileSync(path.join(fake, '__init__.py'),
      'raise ImportError("No module named \'matplotlib\'")\n');
    const png = path.join(ctx.dir, 'out.png');
    const r = qbench(['--plot', png], { ...process.env, PYTHONPATH: path.dirname(fake) });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.deepEqual(targetRows(r.stdout).map((x) => x.target), ['direct', 'qgate'], r.stdout);
    assert.match(r.stderr, /qbench: --plot \S+out\.png will fail: matplotlib is missing/);
    assert.match(r.stderr, /matplotlib is not installed .*apt-get install python3-matplotlib/);
    assert.match(r.stderr, /qbench: --plot \S+out\.png: not drawn: matplotlib is missing/);
    assert.ok(!fs.existsSync(png));
  });

itest1('--plot needs a .png or .svg name: exit 2 before any run', async (t, ctx) => {
  const r = qbench(['--plot', path.join(ctx.dir, 'out.pdf')]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /bad flag or value: .*out\.pdf/);
  assert.equal(r.stdout, '');
});

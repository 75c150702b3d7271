'use strict';
// The chaos run behind tools/chaos and tests/integration/chaos.test.js: clients in every mode
// (session, request, .gw.* fan-out, pub/sub subscribers) call qgate while the backends and the
// upstream tickerplant are killed with SIGKILL and restarted on the same port in a loop.
//
// Phases:
//   1. warm-up: every client runs with nothing killed, then all disconnect; qgate's RSS and
//      open fds then are the baseline (its buffers, pools and caches have been touched);
//   2. chaos: the clients run again while a killer SIGKILLs a random qmock every killMs and
//      restarts it after downMs (several can be down at once, a whole group too);
//   3. recovery: every qmock is up again; the clients run on for recoverMs (every mode must
//      get right answers again), then all disconnect. qgate's open fds must come back to the
//      baseline and its RSS to within the tolerance of it (both polled, bounded).
// The report counts every call by outcome (tools/lib/workers.js): the run passes when none
// was lost, timed out or crossed, every mode had right answers after recovery, fds and RSS
// came back, and qgate is still alive.

const { Farm, pollUntil, delay, within } = require('./farm.js');
const W = require('./workers.js');

const VICTIMS = ['rdb1', 'rdb2', 'hdb1', 'hdb2', 'tp'];
const rnd = (lo, hi) => lo + Math.random() * (hi - lo);

/** Starts the clients of one phase; returns { run, tally }. */
function startClients(farm, n) {
  const run = new W.Run();
  const tally = new W.Tally();
  tally.sessionLosses = [];
  let id = 0;
  // Session clients call as q does (h x: one call at a time), and take 'disconnected' as the
  // end of the session, as they must: qgate closes it after those errors.
  for (let i = 0; i < n.session; i++) {
    W.caller(run, tally, id++, { kind: 'session', port: farm.session, depth: 1,
      body: W.tagBody, check: W.tagFrom(['rdb1', 'rdb2']), reconnectEvery: 200,
      endOn: /disconnected/, onLost: (backend, at) => tally.sessionLosses.push({ backend, at }) });
  }
  for (let i = 0; i < n.request; i++) {
    W.caller(run, tally, id++, { kind: 'request', port: farm.request, depth: 4,
      body: W.tagBody, check: W.tagFrom(['rdb1', 'rdb2']), reconnectEvery: 500 });
  }
  for (let i = 0; i < n.fanout; i++) {
    W.caller(run, tally, id++, { kind: 'fanout', port: farm.request, depth: 2,
      body: W.fanoutBody, check: W.fanoutCheck, reconnectEvery: 300 });
  }
  for (let i = 0; i < n.subscribers; i++) {
    W.subscriber(run, tally, id++, { port: farm.pubsub,
      syms: i % 2 ? [W.SYMS[i % 4]] : null, resubEvery: 4000,
      tpKills: () => farm.killLog.filter((k) => k.name === 'tp').length });
  }
  return { run, tally };
}

/** Kills and restarts qmocks until `until`; returns the kill counts per victim. */
async function killer(farm, until, { killMs, downMs, maxDown, log }) {
  const down = new Set();
  const kills = Object.fromEntries(VICTIMS.map((v) => [v, 0]));
  const restarts = [];
  while (Date.now() < until) {
    await delay(rnd(...killMs));
    const up = VICTIMS.filter((v) => !down.has(v));
    if (down.size >= maxDown || up.length === 0) continue;
    const v = up[Math.floor(Math.random() * up.length)];
    down.add(v);
    kills[v]++;
    await farm.killMock(v);
    restarts.push(delay(rnd(...downMs)).then(() => farm.restartMock(v)).then(() => down.delete(v)));
  }
  await Promise.all(restarts);
  if (log) log(`killer: ${JSON.stringify(kills)}`);
  return kills;
}

/** Stops a phase's clients (bounded) and waits until qgate has closed every connection. */
async function endPhase(farm, run) {
  if (await within(run.stop().then(() => true), 60000, false) !== true) {
    throw new Error('clients did not stop within 60 s');
  }
  await pollUntil(async () => (await farm.stats()).conns_open <= 1,
    'conns_open back to the admin one',
    15000, 100);
}

/** Polls fn() until pred(value) holds (bounded); returns the last value either way. */
async function settle(fn, pred, timeoutMs) {
  let v = fn();
  const deadline = Date.now() + timeoutMs;
  while (!pred(v) && Date.now() < deadline) { await delay(200); v = fn(); }
  return v;
}

// Under ASan (tools/run-tests' sanitizer build) freed blocks are held back in a quarantine of
// quarantine_size_mb before they are reused: resident, but not growth of qgate's own. The chaos
// phase frees far more than the warm-up, so the quarantine can be fuller at the end than at the
// baseline; the RSS slack allows for it.
function asanQuarantineBytes() {
  const m = /(?:^|:)quarantine_size_mb=(\d+)/.exec(process.env.ASAN_OPTIONS || '');
  return m ? Number(m[1]) << 20 : 0;
}

/**
 * Runs the whole thing. opts: seconds (chaos phase), warmSeconds, recoverMs, clients
 * { session, request, fanout, subscribers }, killMs [lo, hi], downMs [lo, hi], maxDown,
 * rssTolerance (fraction of the baseline), rssSlackBytes (added to it), log (fn), keep.
 */
async function runChaos(opts = {}) {
  const o = {
    seconds: 120, warmSeconds: 8, recoverMs: 30000, routeTimeoutMs: 20000,
    killMs: [150, 700], downMs: [100, 1500],
    maxDown: 3, rssTolerance: 0.10, rssSlackBytes: (4 << 20) + asanQuarantineBytes(), log: () => {},
    clients: { session: 30, request: 30, fanout: 20, subscribers: 20 }, ...opts,
  };
  const farm = new Farm({ io: o.io, tpRate: 50, routeTimeoutMs: o.routeTimeoutMs });
  const report = { opts: { ...o, log: undefined }, dir: farm.dir };
  try {
    await farm.start();
    o.log(`farm up in ${farm.dir}: session :${farm.session} request :${farm.request} ` +
      `pubsub :${farm.pubsub} admin :${farm.admin}`);
    report.rss_start = farm.rss();
    report.fds_start = farm.fds();

    let phase = startClients(farm, o.clients);
    await delay(o.warmSeconds * 1000);
    await endPhase(farm, phase.run);
    report.warm = phase.tally;
    report.fds_baseline = farm.fds();
    report.rss_baseline = farm.rss();
    o.log(`warm-up: ${phase.tally.total('ok')} ok; baseline RSS ${mb(report.rss_baseline)}, ` +
      `${report.fds_baseline} fds`);

    phase = startClients(farm, o.clients);
    const t0 = Date.now();
    report.kills = await killer(farm, t0 + o.seconds * 1000, o);
    report.chaos_ms = Date.now() - t0;
    report.rss_peak_sample = farm.rss();
    report.up_after = await farm.waitAllUp(30000);
    report.recover_ms = await recovery(phase.tally, Object.keys(phase.tally.by), o.recoverMs);
    await endPhase(farm, phase.run);
    report.chaos = phase.tally;
    report.session_losses = classifyLosses(phase.tally.sessionLosses, farm.killLog);
    report.fds_after = await settle(() => farm.fds(), (n) => n === report.fds_baseline, 15000);
    report.rss_limit = Math.round(report.rss_baseline * (1 + o.rssTolerance) + o.rssSlackBytes);
    report.rss_after = await settle(() => farm.rss(), (r) => r <= report.rss_limit, 10000);
    report.stats = await farm.stats();
    report.qgate_alive = farm.qgate.alive;
    report.qgate_exit = await farm.stop();
  } finally {
    await farm.stop();
    if (!o.keep) farm.cleanup();
  }
  report.verdict = verdict(report);
  return report;
}

/**
 * Once every qmock is back: how long (ms) until each kind of client has 20 more right
 * answers (updates, for subscribers) than it had then; null for a kind that did not get
 * them within `ms`.
 */
async function recovery(tally, kinds, ms) {
  const okOf = (k) => tally.by[k].ok + tally.by[k].updates;
  const t0 = Date.now();
  const base = Object.fromEntries(kinds.map((k) => [k, okOf(k)]));
  const out = Object.fromEntries(kinds.map((k) => [k, null]));
  while (Date.now() - t0 < ms && kinds.some((k) => out[k] === null)) {
    for (const k of kinds) if (out[k] === null && okOf(k) >= base[k] + 20) out[k] = Date.now() - t0;
    await delay(20);
  }
  return out;
}

/**
 * Session calls lost at a close: qgate closes a session whose backend died, and a call that
 * reached it then is answered 'disconnected' only if qgate had read it (README). A loss is
 * put down to such a race only when the backend the session was on (any rdb when it had no
 * answer yet) was killed within 2 s before; any other is a failure.
 */
function classifyLosses(losses, killLog) {
  let race = 0;
  const unexplained = [];
  for (const l of losses) {
    const hit = killLog.some((k) => (l.backend ? k.name === l.backend : k.name.startsWith('rdb')) &&
      k.at <= l.at && l.at - k.at <= 2000);
    if (hit) race++; else unexplained.push(l);
  }
  return { race, unexplained };
}

const mb = (b) => `${(b / 1048576).toFixed(1)} MiB`;

/** The failures of a report, as sentences; none means the run passed. */
function verdict(r) {
  const bad = [];
  const t = r.chaos;
  for (const what of ['timeout', 'crossed', 'bad_rows']) {
    const n = t.total(what) + r.warm.total(what);
    if (n) bad.push(`${n} ${what}`);
  }
  const lost = t.total('lost') - t.by.session.lost + r.warm.total('lost');
  if (lost) bad.push(`${lost} calls lost (no answer, connection closed)`);
  const u = r.session_losses.unexplained.length;
  if (u) bad.push(`${u} session calls lost with no backend death to explain it`);
  for (const [kind, ms] of Object.entries(r.recover_ms)) {
    if (ms === null) {
      bad.push(`${kind}: no right answers within ${r.opts.recoverMs} ms of recovery`);
    }
  }
  if (r.fds_after !== r.fds_baseline) bad.push(`fds ${r.fds_after} vs baseline ${r.fds_baseline}`);
  if (r.rss_after > r.rss_limit) {
    bad.push(`RSS ${mb(r.rss_after)} over ${mb(r.rss_limit)} (baseline ${mb(r.rss_baseline)})`);
  }
  if (r.qgate_alive === false) bad.push('qgate died');
  if (r.qgate_exit && r.qgate_exit.code !== 0) {
    bad.push(`qgate exit ${JSON.stringify(r.qgate_exit)}`);
  }
  if (r.stats && r.stats.bugs) bad.push(`bugs counter ${r.stats.bugs}`);
  return bad;
}

/** A human summary of a report. */
function summary(r) {
  const lines = [];
  const row = (k, c) => `${k.padEnd(10)} calls ${c.calls} ok ${c.ok} qerr ${c.qerr} ` +
    `lost ${c.lost} ` +
    `timeout ${c.timeout} crossed ${c.crossed} connects ${c.connects} closed-by-qgate ${c.closes}` +
    (k === 'subscriber'
      ? ` updates ${c.updates} rows ${c.rows} bad ${c.bad_rows} resets ${c.resets}` : '');
  lines.push(`chaos ${(r.chaos_ms / 1000).toFixed(0)} s, kills ${JSON.stringify(r.kills)}`);
  for (const [k, c] of Object.entries(r.chaos.by)) lines.push(`  ${row(k, c)}`);
  lines.push(`  q errors: ${JSON.stringify(r.chaos.qerrs)}`);
  if (r.chaos.samples.length) lines.push(`  failures: ${JSON.stringify(r.chaos.samples)}`);
  lines.push(`  session calls met a close (their backend died, the session with it): ` +
    `${r.session_losses.race}, unexplained: ${r.session_losses.unexplained.length}`);
  lines.push('  ms from every qmock up to 20 right answers per kind: ' +
    JSON.stringify(r.recover_ms));
  lines.push(`  RSS start ${mb(r.rss_start)}, baseline ${mb(r.rss_baseline)}, end of chaos ` +
    `${mb(r.rss_peak_sample)}, after ${mb(r.rss_after)} (limit ${mb(r.rss_limit)})`);
  lines.push(`  fds start ${r.fds_start}, baseline ${r.fds_baseline}, after ${r.fds_after}`);
  lines.push(r.verdict.length ? `FAIL: ${r.verdict.join('; ')}` : 'PASS');
  return lines.join('\n');
}

module.exports = { runChaos, summary, verdict, asanQuarantineBytes };

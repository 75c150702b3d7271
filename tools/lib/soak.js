'use strict';
// The soak behind tools/soak: the farm of tools/lib/farm.js with nothing killed, under a
// steady mixed load for a fixed time, sampled every few seconds into a CSV:
//   * session and request clients making sync tag calls, with async calls between them,
//     reconnecting every few hundred calls;
//   * clients fetching 1 MiB replies (payload[1048576]) in both modes, each checked;
//   * .gw.* fan-out clients, and pub/sub subscribers that re-subscribe on a new connection
//     every ~10 s.
// Each sample: seconds, qgate's RSS and open fds (/proc), the calls answered and failed so
// far, the load average, then every counter of .qgate.stats[].
// Verdict: RSS after the warm-up (the first 20 % of the run) never above the warm-up's peak by
// 5 % or more; qgate's open fds back to their count before any client once the clients are
// gone; no call failed (lost, timed out, crossed, a q error: nothing is killed here).

const fs = require('node:fs');
const os = require('node:os');
const { Farm, pollUntil, delay, within } = require('./farm.js');
const W = require('./workers.js');

const MIB = 1048576;

function startLoad(farm) {
  const run = new W.Run();
  const tally = new W.Tally();
  const rdb = W.tagFrom(['rdb1', 'rdb2']);
  let id = 0;
  for (let i = 0; i < 10; i++) {
    W.caller(run, tally, id++, { kind: 'session', port: farm.session, depth: 1,
      body: W.tagBody, check: rdb, reconnectEvery: 200, asyncEvery: 7 });
    W.caller(run, tally, id++, { kind: 'request', port: farm.request, depth: 2,
      body: W.tagBody, check: rdb, reconnectEvery: 300, asyncEvery: 5 });
  }
  for (let i = 0; i < 4; i++) {
    W.caller(run, tally, id++, { kind: i % 2 ? 'big-session' : 'big-request',
      port: i % 2 ? farm.session : farm.request, depth: 1, reconnectEvery: 50,
      body: () => W.qcallPayload(MIB), checkFrame: W.payloadCheck(MIB) });
    W.caller(run, tally, id++, { kind: 'fanout', port: farm.request, depth: 1,
      body: W.fanoutBody, check: W.fanoutCheck, reconnectEvery: 300 });
  }
  for (let i = 0; i < 10; i++) {
    W.subscriber(run, tally, id++, { port: farm.pubsub, syms: i % 2 ? [W.SYMS[i % 4]] : null,
      resubEvery: 10000 });
  }
  return { run, tally };
}

const FAILS = ['lost', 'timeout', 'crossed', 'bad_rows', 'qerr'];

/** opts: minutes, sampleMs (5000), csv (path), io, log. Resolves with the report. */
async function runSoak(opts) {
  const o = { sampleMs: 5000, log: () => {}, ...opts };
  const farm = new Farm({ io: o.io, tpRate: 50 });
  const r = { opts: { ...o, log: undefined }, load_start: os.loadavg() };
  const out = fs.openSync(o.csv, 'w');
  let header = null;
  const samples = [];
  try {
    await farm.start();
    r.fds_before = farm.fds();
    r.rss_before = farm.rss();
    const { run, tally } = startLoad(farm);
    const t0 = Date.now();
    const end = t0 + o.minutes * 60000;
    for (let i = 0; Date.now() < end && i < 1e6; i++) {
      await delay(Math.min(o.sampleMs, Math.max(0, end - Date.now())));
      const s = await farm.stats();
      const row = { t_s: Math.round((Date.now() - t0) / 1000), rss_bytes: farm.rss(),
        fds: farm.fds(), calls_ok: tally.total('ok'),
        calls_failed: FAILS.reduce((a, w) => a + tally.total(w), 0),
        updates: tally.total('updates'), load1: os.loadavg()[0].toFixed(2), ...s };
      if (!header) { header = Object.keys(row); fs.writeSync(out, `${header.join(',')}\n`); }
      fs.writeSync(out, `${header.map((k) => row[k] ?? '').join(',')}\n`);
      samples.push(row);
      if (i % 12 === 0) o.log(`${row.t_s} s: RSS ${(row.rss_bytes / MIB).toFixed(1)} MiB, ` +
        `${row.fds} fds, ${row.calls_ok} ok, ${row.calls_failed} failed, load ${row.load1}`);
    }
    if (await within(run.stop().then(() => true), 60000, false) !== true) {
      throw new Error('clients did not stop within 60 s');
    }
    await pollUntil(async () => (await farm.stats()).conns_open <= 1, 'clients gone', 15000, 100);
    r.fds_after = farm.fds();
    for (let i = 0; i < 75 && r.fds_after !== r.fds_before; i++) {
      await delay(200);
      r.fds_after = farm.fds();
    }
    r.rss_after = farm.rss();
    r.tally = tally;
    r.qgate_exit = await farm.stop();
  } finally {
    fs.closeSync(out);
    await farm.stop();
    farm.cleanup();
  }
  r.load_end = os.loadavg();
  return judge(r, samples);
}

function judge(r, samples) {
  const warmN = Math.max(1, Math.ceil(samples.length * 0.2));
  const warm = samples.slice(0, warmN);
  const rest = samples.slice(warmN);
  const peak = (xs) => Math.max(...xs.map((x) => x.rss_bytes));
  r.samples = samples.length;
  r.rss_warm_peak = peak(warm);
  r.rss_after_warm_peak = rest.length ? peak(rest) : r.rss_warm_peak;
  r.rss_last = samples.length ? samples[samples.length - 1].rss_bytes : 0;
  r.rss_growth = r.rss_after_warm_peak / r.rss_warm_peak - 1;
  r.fds_run = [Math.min(...samples.map((x) => x.fds)), Math.max(...samples.map((x) => x.fds))];
  r.calls_ok = r.tally.total('ok');
  r.updates = r.tally.total('updates');
  r.failed = Object.fromEntries(FAILS.map((w) => [w, r.tally.total(w)]));
  const bad = [];
  if (!rest.length) bad.push('too short: no sample after the warm-up');
  if (!(r.rss_growth < 0.05)) {
    bad.push(`RSS grew ${(100 * r.rss_growth).toFixed(1)} % after warm-up`);
  }
  if (r.fds_after !== r.fds_before) bad.push(`fds ${r.fds_after} after, ${r.fds_before} before`);
  const nFailed = Object.values(r.failed).reduce((a, b) => a + b, 0);
  if (nFailed) {
    bad.push(`failed calls ${JSON.stringify(r.failed)} ${JSON.stringify(r.tally.qerrs)}`);
  }
  if (!r.qgate_exit || r.qgate_exit.code !== 0) {
    bad.push(`qgate exit ${JSON.stringify(r.qgate_exit)}`);
  }
  r.verdict = bad;
  return r;
}

function soakSummary(r) {
  const mb = (b) => `${(b / MIB).toFixed(1)} MiB`;
  const kinds = Object.entries(r.tally.by).map(([k, c]) => `${k} ${c.ok} ok/${c.calls} calls` +
    (c.asyncs ? ` +${c.asyncs} async` : '') + ` ${c.connects} connects` +
    (c.updates ? ` ${c.updates} updates` : '')).join('; ');
  return [
    `soak ${r.opts.minutes} min, ${r.samples} samples every ${r.opts.sampleMs / 1000} s -> ` +
      r.opts.csv,
    `  load average at start ${r.load_start.map((x) => x.toFixed(1)).join(' ')}, ` +
      `at end ${r.load_end.map((x) => x.toFixed(1)).join(' ')}`,
    `  ${kinds}`,
    `  RSS before clients ${mb(r.rss_before)}, warm-up peak ${mb(r.rss_warm_peak)}, peak after ` +
      `${mb(r.rss_after_warm_peak)} (${(100 * r.rss_growth).toFixed(2)} %), last sample ` +
      `${mb(r.rss_last)}, clients gone ${mb(r.rss_after)}`,
    `  fds before clients ${r.fds_before}, during ${r.fds_run.join('-')}, after ${r.fds_after}`,
    `  failed: ${JSON.stringify(r.failed)}`,
    r.verdict.length ? `FAIL: ${r.verdict.join('; ')}` : 'PASS',
  ].join('\n');
}

module.exports = { runSoak, soakSummary };

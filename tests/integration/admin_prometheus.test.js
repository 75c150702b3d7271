'use strict';
// Prometheus on the admin port (issue 17): latency histograms and route hits counted on the
// data plane, exposed by GET /metrics, accepted by promtool, and scraped by a real Prometheus.
//  * backend_latency counts every sync call to a backend in both modes (request mode: send to
//    reply; session mode: call forwarded to its reply), listener_latency every request-mode
//    call of a listener, route_hits every call a route matched; .qgate.stats[] shows each
//    histogram as <name>_<label>_count and _sum;
//  * `promtool check metrics` passes on qgate's real output (Debian package prometheus);
//  * Debian's prometheus binary scrapes qgate every second, and a qgate series read back
//    through its HTTP API (/api/v1/query) equals the calls made.

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const {
  itest, assert, startStack, qconnect, stats, counter, pollUntil, deadPort,
} = require('./lib.js');
const { httpGet, parseMetrics } = require('./http_lib.js');

const STACK = {
  listeners: [{ mode: 'request', group: 'rdb' }, { group: 'sdb' }],
  backends: [{ name: 'rdb1' }, { name: 'sdb1', group: 'sdb' }],
  routes: [{ match: ['nothing*'], group: 'rdb' }, { match: ['*'], group: 'rdb' }],
};

/** `n` sync calls on one client of `port`, one at a time, each answered by backend `by`. */
async function calls(ctx, port, n, by) {
  const q = await qconnect(ctx, port);
  for (let i = 0; i < n; i++) assert.equal((await q.k('tag', i))[0], by);
  await q.close();
}

async function metrics(ctx, gw) {
  const r = await httpGet(ctx, gw.admin, '/metrics');
  assert.equal(r.status, 200);
  return r.body;
}

itest('prometheus: latency histograms and route hits count the calls of both modes',
  async (t, ctx) => {
    const { gw } = await startStack(ctx, STACK);
    await calls(ctx, gw.ports[0], 20, 'rdb1');  // request mode, to rdb1 through route 1
    await calls(ctx, gw.ports[1], 15, 'sdb1');  // session mode, to sdb1
    const m = parseMetrics(await metrics(ctx, gw));
    const h = (name, label) => ({
      count: m.get(`qgate_${name}_seconds_count{${label}}`),
      sum: m.get(`qgate_${name}_seconds_sum{${label}}`),
      inf: m.get(`qgate_${name}_seconds_bucket{${label},le="+Inf"}`),
      buckets: [...m.entries()].filter(([k]) => k.startsWith(`qgate_${name}_seconds_bucket{${label},`))
        .map(([, v]) => v),
    });
    const rdb = h('backend_latency', 'backend="rdb1"');
    const sdb = h('backend_latency', 'backend="sdb1"');
    const l0 = h('listener_latency', 'listener="0"');
    assert.deepEqual([rdb.count, sdb.count, l0.count], [20, 15, 20]);
    for (const x of [rdb, sdb, l0]) {
      assert.equal(x.inf, x.count, '+Inf bucket = count');
      assert.ok(x.sum > 0 && x.sum < 10 * x.count, `sum ${x.sum} s`);
      assert.equal(x.buckets.length, 19);
      for (let i = 1; i < x.buckets.length; i++) assert.ok(x.buckets[i] >= x.buckets[i - 1], 'cumulative');
    }
    // The session listener is not a request-mode listener: no listener_latency of its own.
    assert.equal(m.get('qgate_listener_latency_seconds_count{listener="1"}'), undefined);
    assert.equal(m.get('qgate_route_hits_total{route="0"}'), 0);
    assert.equal(m.get('qgate_route_hits_total{route="1"}'), 20);
    const s = await stats(ctx, gw);
    assert.equal(counter(s, 'backend_latency_rdb1_count'), 20);
    assert.equal(counter(s, 'backend_latency_sdb1_count'), 15);
    assert.ok(counter(s, 'backend_latency_rdb1_sum') > 0, 'sum in µs');
    assert.equal(counter(s, 'route_hits_1'), 20);
  });

itest('prometheus: promtool check metrics passes on the real /metrics', async (t, ctx) => {
  const { gw } = await startStack(ctx, STACK);
  await calls(ctx, gw.ports[0], 3, 'rdb1');
  const body = await metrics(ctx, gw);
  const r = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8', timeout: 20000 });
  assert.ok(!r.error, `promtool runs (Debian package prometheus, tools/lib/setup.sh): ${r.error}`);
  assert.equal(r.status, 0, `promtool check metrics:\n${r.stdout}${r.stderr}`);
  assert.equal((r.stdout + r.stderr).trim(), '', 'no lint findings');
});

/** GET http://127.0.0.1:port/path → parsed JSON (bounded). */
function getJson(port, p) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, timeout: 5000 }, (res) => {
      let data = '';
      res.on('data', (d) => { data += d; });
      res.on('end', () => { try { resolve(JSON.parse(data)); } catch (e) { reject(e); } });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

itest('prometheus: a real Prometheus scrapes qgate and reads a histogram count back',
  async (t, ctx) => {
    const { gw } = await startStack(ctx, STACK);
    const port = await deadPort();  // free now; prometheus cannot listen on port 0
    const cfg = ctx.file('prometheus.yml', [
      'global:', '  scrape_interval: 1s', '  scrape_timeout: 1s',
      'scrape_configs:', '  - job_name: qgate', '    static_configs:',
      `      - targets: ['127.0.0.1:${gw.admin}']`, ''].join('\n'));
    const prom = ctx.spawn('prometheus', 'prometheus', [
      `--config.file=${cfg}`, `--storage.tsdb.path=${path.join(ctx.dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`]);
    await calls(ctx, gw.ports[0], 12, 'rdb1');
    const query = '/api/v1/query?query=' +
      encodeURIComponent('qgate_backend_latency_seconds_count{backend="rdb1",job="qgate"}');
    const got = await pollUntil(async () => {
      assert.ok(prom.alive, `prometheus exited: ${prom.logText().slice(-2000)}`);
      const j = await getJson(port, query).catch(() => null);
      const v = j?.data?.result?.[0]?.value?.[1];
      return v === '12' ? v : null;
    }, { what: 'Prometheus has qgate_backend_latency_seconds_count = 12', timeoutMs: 40000, intervalMs: 250 });
    assert.equal(got, '12');
    const up = await getJson(port, '/api/v1/query?query=' + encodeURIComponent('up{job="qgate"}'));
    assert.equal(up.data.result[0].value[1], '1', 'the target is up');
    assert.ok(fs.existsSync(path.join(ctx.dir, 'tsdb')));
  });

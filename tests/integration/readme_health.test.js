'use strict';
// README "Behaviour decisions", request-mode health, one test per promise:
//  * a lost connection reconnects after reconnect_min_ms, doubling per failure up to
//    reconnect_max_ms, each delay drawn between half and all of that (jitter);
//  * an ejected backend's queued calls are routed again among the live members at most 3
//    times, then answered 'qgate: no backend available for group G'.
// The backends are node servers that the test drives: they record when qgate connects and
// hold or drop each connection on the test's word, so every failure happens on cue.

const net = require('node:net');
const { performance } = require('node:perf_hooks');
const {
  itest, assert, HOST, startQgate, qconnect, stats, counter, waitCounter, pollUntil, within,
} = require('./lib.js');

/**
 * A backend that never completes qgate's handshake. mode 'close': each connection is destroyed
 * as soon as it is accepted (a failed connect); 'hold': kept open, never answered, until
 * drop() (a connect that fails when the test says so).
 */
class FakeBackend {
  constructor(mode) {
    this.mode = mode;
    this.accepts = [];   // performance.now() of each accept
    this.socks = [];     // held sockets
    this.received = [];  // bytes received per connection, in accept order
    this.srv = net.createServer((s) => {
      this.accepts.push(performance.now());
      const i = this.received.push(0) - 1;
      s.on('data', (d) => { this.received[i] += d.length; });
      s.on('error', () => {});
      if (mode === 'close') s.destroy(); else this.socks.push(s);
    });
  }

  async listen(ctx) {
    await new Promise((res, rej) => this.srv.listen(0, HOST, res).on('error', rej));
    ctx.defer(() => this.close());
    return this.srv.address().port;
  }

  drop() {
    for (const s of this.socks) s.destroy();
    this.socks = [];
  }

  close() {
    this.drop();
    return new Promise((res) => this.srv.close(() => res()));
  }
}

itest('backoff: delays double from reconnect_min_ms to reconnect_max_ms, jittered',
  async (t, ctx) => {
    const MIN = 100;
    const MAX = 800;
    const ACCEPTS = 10;
    const fake = new FakeBackend('close');
    const port = await fake.listen(ctx);
    const gw = await startQgate(ctx, {
      shards: 1,
      listeners: [{ group: 'rdb', mode: 'request' }],
      backends: [{ name: 'rdb1', group: 'rdb', port, credentials: 'gw:pw', conns: 1 }],
      limits: { reconnect_min_ms: MIN, reconnect_max_ms: MAX },
    });
    await pollUntil(() => fake.accepts.length >= ACCEPTS,
      { what: `${ACCEPTS} connects`, timeoutMs: 30000, intervalMs: 20 });
    const gaps = [];
    for (let k = 1; k < ACCEPTS; k++) gaps.push(fake.accepts[k] - fake.accepts[k - 1]);
    // Gap k follows the k-th failed connect: nominal min * 2^(k-1), capped at max.
    const nominal = gaps.map((_, i) => Math.min(MIN * 2 ** i, MAX));
    const shown = gaps.map((g, i) => `${Math.round(g)}/${nominal[i]}`).join(' ');
    const SLACK = 600;  // connect, accept and event-loop latency on a loaded machine
    for (let i = 0; i < gaps.length; i++) {
      assert.ok(gaps[i] >= nominal[i] / 2 - 15,
        `gap ${i + 1} is at least half its nominal delay (gap/nominal ms: ${shown})`);
      assert.ok(gaps[i] <= nominal[i] + SLACK,
        `gap ${i + 1} is at most its nominal delay, capped at ${MAX} (gap/nominal ms: ${shown})`);
    }
    // Without jitter every gap would be its nominal delay plus latency. A uniform draw lands
    // above 90% of nominal with p = 0.2, all of the last eight with p = 0.2^8 (the shards'
    // generators are seeded by shard id, so a run repeats its draws anyway).
    const below = gaps.slice(1).filter((g, i) => g < 0.9 * nominal[i + 1]).length;
    assert.ok(below >= 1, `some delays are drawn below the nominal (gap/nominal ms: ${shown})`);
    const s = await stats(ctx, gw);
    assert.ok(counter(s, 'backend_reconnects') >= ACCEPTS - 1, 'every reconnect counted');
  });

itest('an ejected backend\'s queued call is re-routed at most 3 times, then fails',
  async (t, ctx) => {
    const names = ['b1', 'b2', 'b3', 'b4', 'b5'];
    const fakes = names.map(() => new FakeBackend('hold'));
    const backends = [];
    for (let i = 0; i < names.length; i++) {
      backends.push({ name: names[i], group: 'rdb', port: await fakes[i].listen(ctx),
        credentials: 'gw:pw', conns: 1 });
    }
    const gw = await startQgate(ctx, {
      listeners: [{ group: 'rdb', mode: 'request' }],
      backends,
      routes: [{ match: ['*'], group: 'rdb', policy: 'first-available' }],
      // One failed connect ejects; no handshake timeout or reconnect gets in the way.
      limits: { eject_after_failures: 1, connect_timeout_ms: 120000,
        reconnect_min_ms: 120000, reconnect_max_ms: 120000 },
    });
    // Every pool connection is up to its handshake, which the fakes never answer: all five
    // backends are live (not ejected) but none can take the call, so it waits in a queue.
    await pollUntil(() => fakes.every((f) => f.received.length === 1 && f.received[0] > 0),
      { what: 'one handshake at each backend', timeoutMs: 10000 });
    const q = await qconnect(ctx, gw.port);
    let settled = false;
    const call = q.kt(60000, 'echo', 1).then((v) => ({ v }), (e) => ({ e }))
      .finally(() => { settled = true; });
    await waitCounter(ctx, gw, 'requests_routed', 1);
    // first-available queues it on b1; each ejection sends it to the next live member.
    for (let i = 0; i < 3; i++) {
      fakes[i].drop();
      await waitCounter(ctx, gw, 'backends_ejected', i + 1);
      await waitCounter(ctx, gw, 'requests_rerouted', i + 1);
      assert.equal(settled, false, `still queued after ${i + 1} re-route(s)`);
    }
    fakes[3].drop();  // its 4th ejection: no 4th re-route, although b5 is live
    const r = await within(call, 20000, 'the call is answered');
    assert.ok(r.e, `an error, not ${JSON.stringify(r.v)}`);
    assert.equal(r.e.message, 'qgate: no backend available for group rdb');
    const s = await stats(ctx, gw);
    assert.equal(counter(s, 'requests_rerouted'), 3, 're-routed exactly 3 times');
    assert.equal(counter(s, 'backends_ejected'), 4);
    assert.equal(counter(s, 'backend_live_b5'), 1, 'b5 was still live');
    assert.equal(counter(s, 'request_no_backend'), 0, 'not routing\'s own no-backend error');
    assert.deepEqual(fakes[4].received, [fakes[0].received[0]], 'b5 got its handshake only');
  });

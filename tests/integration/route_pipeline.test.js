'use strict';
// Request mode with several calls in flight per backend (issue 15): pooled connections that
// pipeline calls to backends answering in order (backend.pipeline, backend.conns), and what
// must hold whether a call rides a pipeline or waits for a free connection: every reply reaches
// the caller it belongs to, in the order sent, exactly once; a -30! backend (qmock --zpg defer,
// answers out of order) is never pipelined by default; a timed-out call keeps its connection
// and its backend busy until its late reply comes, so later calls go elsewhere.
// Backends are qmock: `tag[x]` answers (`name;x), so a reply names the backend that made it
// and the call it answers.

const {
  itest, assert, startStack, startRecordingStack, recordedFrames, startQmock, RawClient, MSG,
  qmsg, qlist, qstr, qlong, qbytesHeader, decode, errorText, stats, counter, waitCounter,
  pollUntil, tcpQueues, settled,
} = require('./lib.js');

const REQ = { mode: 'request', group: 'rdb' };
const FOUR = ['rdb1', 'rdb2', 'rdb3', 'rdb4'];
const FAST_HEALTH = { reconnect_min_ms: 20, reconnect_max_ms: 200, eject_after_failures: 2 };

const tagCall = (x) => qmsg(MSG.sync, qlist(qstr('tag'), qlong(x)));
/** The [backend, x] of a tag reply frame (throws on a q error). */
function tagOf(frame) {
  const v = decode(frame, { long2number: true });
  return [v[0], Number(v[1])];
}

/** Writes `frames` in one write, then reads as many replies (in order); bounded. */
async function roundTrip(raw, frames, ms = 15000) {
  await raw.write(Buffer.concat(frames));
  const out = [];
  for (let i = 0; i < frames.length; i++) out.push((await raw.readFrame(ms)).frame);
  return out;
}

/** One more call after the expected replies: the next frame must be its own, so a call that
 *  got a second answer (or a stray frame) shows up here. */
async function assertNothingExtra(raw, id) {
  const [f] = await roundTrip(raw, [qmsg(MSG.sync, qlist(qstr('echo'), qlong(id)))]);
  assert.equal(Number(decode(f, { long2number: true })), id, 'no frame beyond one per call');
}

// ---------------------------------------------------------------- qmock --zpg (the backends)

itest('qmock --zpg: the probe answers 1b / 0b; none answers in order and blocks, defer does not',
  { ioIndependent: true }, async (t, ctx) => {
    const none = await startQmock(ctx, { name: 'plain', record: true, workMs: 150 });
    const defer = await startQmock(ctx, { name: 'zpg', zpg: 'defer', record: true, workMs: 150 });
    const probe = qmsg(MSG.sync, qstr('@[get;`.z.pg;`]~`'));
    for (const [m, want] of [[none, 1], [defer, 0]]) {
      const a = await RawClient.connect(ctx, m.port, { auth: 'gw:pw' });
      const [p] = await roundTrip(a, [probe]);
      assert.deepEqual([...p.subarray(8)], [0xff, want], `${m.name}: the probe's boolean atom`);
      // deferred, then getTrades (--work-ms), then echo, on one connection: a plain q answers
      // in order; a -30! one answers the echo first, then the two it deferred.
      const frames = await roundTrip(a, [
        qmsg(MSG.sync, qstr('deferred[200;1]')), qmsg(MSG.sync, qstr('getTrades[`A;1]')),
        qmsg(MSG.sync, qlist(qstr('echo'), qlong(3)))]);
      const got = frames.map((f) => {
        const v = decode(f, { long2number: true });
        return Array.isArray(v) ? 'trades' : Number(v);
      });
      assert.deepEqual(got, want ? [1, 'trades', 3] : [3, 'trades', 1], `${m.name}: reply order`);
    }
    // Blocking: once qmock has read deferred[600;2] (--record writes it before handling it),
    // another connection's echo waits for the 600 ms (none), or is answered before it (defer).
    for (const [m, blocks] of [[none, true], [defer, false]]) {
      const a = await RawClient.connect(ctx, m.port, { auth: 'gw:pw' });
      const b = await RawClient.connect(ctx, m.port, { auth: 'gw:pw' });
      const seen = recordedFrames(m.record).length;
      const t0 = Date.now();
      await a.write(qmsg(MSG.sync, qstr('deferred[600;2]')));
      await pollUntil(() => recordedFrames(m.record).length > seen, { what: 'deferred read' });
      const order = [];
      const pa = a.readFrame(5000).then(() => order.push('deferred'));
      const pb = b.call(qmsg(MSG.sync, qlist(qstr('echo'), qlong(4))), 5000)
        .then(() => order.push('echo'));
      await pb;
      const waited = Date.now() - t0;
      await pa;
      if (blocks) assert.ok(waited >= 590, `${m.name}: echo answered after ${waited} ms`);
      else assert.deepEqual(order, ['echo', 'deferred'], m.name);
    }
  });

// ---------------------------------------------------------------- 1. in order, 16 in flight

/** 16 tag calls in one write, `rounds` times: replies in order, each its own; returns the
 *  backends seen per round. */
async function sixteenInFlight(ctx, gw, rounds) {
  const raw = await RawClient.connect(ctx, gw.port);
  const perRound = [];
  for (let r = 0; r < rounds; r++) {
    const xs = Array.from({ length: 16 }, (_, i) => 1000 * r + i);
    const frames = await roundTrip(raw, xs.map(tagCall));
    const seen = new Set();
    frames.forEach((f, i) => {
      const [name, x] = tagOf(f);
      assert.equal(x, xs[i], `round ${r} reply ${i}: the reply to call ${i}, in order`);
      assert.ok(FOUR.includes(name), `round ${r} reply ${i}: from ${name}`);
      seen.add(name);
    });
    perRound.push(seen);
  }
  await assertNothingExtra(raw, -1);
  return perRound;
}

for (const shards of [1, 2]) {
  itest(`16 calls in flight over 4 backends (${shards} shard${shards > 1 ? 's' : ''}, ` +
        'round-robin, one pipelined connection each): in order, each its own',
  async (t, ctx) => {
    const { gw } = await startStack(ctx, {
      shards,
      listeners: [REQ],
      backends: FOUR.map((name) => ({ name, conns: 1, pipeline: 'on' })),
      routes: [{ match: ['*'], group: 'rdb', policy: 'round-robin' }],
    });
    const perRound = await sixteenInFlight(ctx, gw, 25);
    perRound.forEach((seen, r) => assert.equal(seen.size, 4, `round ${r}: all four backends`));
    const s = await stats(ctx, gw);
    assert.equal(counter(s, 'disconnect_errors'), 0);
    assert.equal(counter(s, 'request_late_replies'), 0);
  });
}

itest('16 calls in flight over 4 backends (2 shards, least-busy, defaults): in order, each its own',
  async (t, ctx) => {
    // No conns / pipeline: the defaults (conns = 4, pipeline = "auto" against plain q).
    const { gw } = await startStack(ctx, {
      shards: 2, listeners: [REQ], backends: FOUR.map((name) => ({ name })),
    });
    const perRound = await sixteenInFlight(ctx, gw, 25);
    const all = new Set(perRound.flatMap((s) => [...s]));
    assert.equal(all.size, 4, `least-busy spreads over all four: ${[...all]}`);
  });

// ---------------------------------------------------------------- 2. 200 clients x 16

/** Byte-vector body of n bytes that no other call sends: `id` at both ends, a pattern between. */
function uniqueBytes(id, n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + id) & 0xff;
  if (n >= 8) { b.writeUInt32LE(id, 0); b.writeUInt32LE(id, n - 4); }
  return Buffer.concat([qbytesHeader(n), b]);
}

itest('200 clients x 16 in flight, 4 backends, 2 shards: every reply checked, none lost or crossed',
  { timeout: 60000 }, async (t, ctx) => {
    const { gw } = await startStack(ctx, {
      shards: 2,
      listeners: [REQ],
      backends: FOUR.map((name) => ({ name })),
    });
    const before = await stats(ctx, gw);
    const clients = [];
    for (let c = 0; c < 200; c++) clients.push(await RawClient.connect(ctx, gw.port));
    const ROUNDS = 3;
    const byBackend = {};
    let big = 0;
    const t0 = Date.now();
    for (let r = 0; r < ROUNDS; r++) {
      await Promise.all(clients.map(async (raw, c) => {
        const calls = [];
        for (let i = 0; i < 16; i++) {
          const id = (r * 200 + c) * 16 + i;
          if (i % 4 !== 1) {
            calls.push({ id, frame: tagCall(id) });
            continue;
          }
          // Distinct sizes; a few past a 64 KiB receive buffer.
          const n = c % 25 === 0 && i === 5 ? 65536 + 1 + ((id * 7) % 4096) : 1 + ((id * 37) % 3000);
          const body = uniqueBytes(id, n);
          calls.push({ id, body, frame: qmsg(MSG.sync, qlist(qstr('echo'), body)) });
        }
        const frames = await roundTrip(raw, calls.map((x) => x.frame), 30000);
        frames.forEach((f, i) => {
          const { id, body } = calls[i];
          assert.equal(f[1], MSG.response, `client ${c} call ${id}: a response`);
          if (body) {
            assert.ok(f.subarray(8).equals(body), `client ${c} call ${id}: echo of its own ` +
              `${body.length - 6} bytes (got ${f.length - 8} bytes)`);
            if (body.length > 65536) big++;
            return;
          }
          const [name, x] = tagOf(f);
          assert.equal(x, id, `client ${c} call ${i}: its own tag`);
          assert.ok(FOUR.includes(name), `client ${c} call ${i}: from ${name}`);
          byBackend[name] = (byBackend[name] || 0) + 1;
        });
      }));
    }
    const took = Date.now() - t0;
    assert.ok(took < 40000, `${ROUNDS * 3200} calls took ${took} ms`);
    assert.equal(big, ROUNDS * 8, 'the big echoes were made');
    for (const n of FOUR) assert.ok(byBackend[n] > 0, `${n} served: ${JSON.stringify(byBackend)}`);
    await Promise.all(clients.map((raw, c) => assertNothingExtra(raw, 1e6 + c)));
    const total = ROUNDS * 200 * 16 + 200;  // + the extra-frame checks
    const after = await pollUntil(async () => {
      const s = await stats(ctx, gw);
      return FOUR.every((n) => counter(s, `backend_load_${n}`) === 0) ? s : null;
    }, { what: 'every backend idle', timeoutMs: 5000 });
    const d = (name) => counter(after, name) - counter(before, name);
    assert.equal(d('requests_routed'), total, 'each call routed once');
    assert.equal(d('sync_requests'), total);
    assert.ok(d('xshard_requests') > 0, 'calls crossed between the 2 shards');
    for (const n of ['request_timeouts', 'request_late_replies', 'disconnect_errors',
      'backend_unsolicited', 'request_busy', 'request_no_backend', 'requests_rerouted',
      'backend_disconnect']) {
      assert.equal(d(n), 0, n);
    }
  });

// ---------------------------------------------------------------- 3. a backend killed

itest('a backend killed with calls in flight on several connections: one answer each, ' +
      "'disconnected' once per lost call, the other backends unaffected", async (t, ctx) => {
  const { gw, mocks } = await startRecordingStack(ctx, {
    listeners: [REQ],
    backends: [{ name: 'v1', group: 'v', conns: 4, pipeline: 'on' }, { name: 'r1' }, { name: 'r2' }],
    routes: [{ match: ['sleep', 'seq'], group: 'v' }, { match: ['*'], group: 'rdb' }],
    // No hold: calls pile up on v1's connections behind the sleep (with the hold, they would
    // wait in its queue and be re-routed when it is ejected).
    // Depth 16: the 41 calls for v1 fill its connections in turn, so several hold some.
    limits: { ...FAST_HEALTH, pipeline_hold_ms: 0, pipeline_depth: 16 },
  });
  const before = await stats(ctx, gw);
  const sleeper = await RawClient.connect(ctx, gw.port);
  await sleeper.write(qmsg(MSG.sync, qlist(qstr('sleep'), qlong(5000))));
  // v1 is blocked once it has read the sleep (--record writes a frame before handling it).
  await pollUntil(() => recordedFrames(mocks.v1.record)
    .some((f) => f.includes(Buffer.from('sleep'))), { what: 'v1 sleeping' });
  // Four clients, each 10 calls for v1 between 10 for the others, in one write.
  const clients = [];
  const plans = [];
  for (let c = 0; c < 4; c++) {
    const raw = await RawClient.connect(ctx, gw.port);
    const plan = [];
    for (let i = 0; i < 20; i++) {
      const id = c * 100 + i;
      const frame = qmsg(MSG.sync, qlist(qstr(i % 2 ? 'tag' : 'seq'), qlong(id)));
      plan.push({ id, lost: i % 2 === 0, frame });
    }
    await raw.write(Buffer.concat(plan.map((p) => p.frame)));
    clients.push(raw);
    plans.push(plan);
  }
  await waitCounter(ctx, gw, 'backend_load_v1', 41);
  // The calls sit unread in v1's sockets, on more than one connection.
  await pollUntil(() => tcpQueues(mocks.v1.port)
    .filter((q) => q.localPort === mocks.v1.port && q.rxQueue > 0).length >= 2,
  { what: 'calls unread on two or more of v1\'s connections' });
  // Meanwhile a client of the other backends only.
  const bystander = await RawClient.connect(ctx, gw.port);
  const side = settled(roundTrip(bystander, Array.from({ length: 16 }, (_, i) => tagCall(5000 + i))));
  await mocks.v1.proc.stop('SIGKILL');

  const lost = [];
  lost.push(errorText((await sleeper.readFrame(10000)).frame));
  assert.equal(lost[0], 'qgate: backend v1 disconnected', 'the sleep, in flight');
  for (let c = 0; c < 4; c++) {
    for (const p of plans[c]) {
      const f = (await clients[c].readFrame(10000)).frame;
      if (!p.lost) {
        const [name, x] = tagOf(f);
        assert.equal(x, p.id, `client ${c}: its own tag`);
        assert.ok(name === 'r1' || name === 'r2', `client ${c} call ${p.id} from ${name}`);
        continue;
      }
      const e = errorText(f);
      assert.ok(e === 'qgate: backend v1 disconnected' ||
                e === 'qgate: no backend available for group v',
      `client ${c} call ${p.id} (v1): ${e === null ? JSON.stringify(decode(f)) : e}`);
      lost.push(e);
    }
  }
  const disconnected = lost.filter((e) => e === 'qgate: backend v1 disconnected').length;
  t.diagnostic(`v1's 41 calls: ${disconnected} 'disconnected', ${lost.length - disconnected} ` +
               "'no backend available'");
  // The sleep and at least one call on each other connection holding some.
  assert.ok(disconnected >= 3, `${disconnected} calls lost in flight`);
  const other = await side;
  assert.ok(other.v, `the bystander's calls: ${other.e}`);
  other.v.forEach((f, i) => {
    const [name, x] = tagOf(f);
    assert.ok(x === 5000 + i && (name === 'r1' || name === 'r2'), `bystander ${i}: ${name} ${x}`);
  });
  for (const [i, raw] of [sleeper, bystander, ...clients].entries()) {
    await assertNothingExtra(raw, 7000 + i);
  }
  const base = counter(before, 'disconnect_errors');
  const after = await waitCounter(ctx, gw, 'disconnect_errors', base + disconnected);
  assert.equal(counter(after, 'disconnect_errors') - base, disconnected,
    "each lost call got 'disconnected' exactly once");
  await pollUntil(async () => counter(await stats(ctx, gw), 'backend_load_v1') === 0,
    { what: 'nothing left at v1', timeoutMs: 5000 });
});

// ---------------------------------------------------------------- 4. -30! backends

/** Twelve calls of deferred[ms;x] / deferredFail[ms;text] for one client, ms varied so that
 *  later calls often finish first. */
function deferredCalls(base) {
  const calls = [];
  for (let i = 0; i < 12; i++) {
    const id = base + i;
    const ms = 5 + ((id * 37) % 60);
    calls.push(i % 5 === 4
      ? { id, fail: `f${id}`, frame: qmsg(MSG.sync, qstr(`deferredFail[${ms};"f${id}"]`)) }
      : { id, frame: qmsg(MSG.sync, qstr(`deferred[${ms};${id}]`)) });
  }
  return calls;
}

/** What each deferred call got: its x, or its error text. */
const deferredAnswer = (f) => errorText(f) ?? Number(decode(f, { long2number: true }));
const deferredWant = (x) => x.fail ?? x.id;

/** 8 clients x 12 deferred calls in flight, 3 rounds: each reply must be the caller's own. */
async function deferredStorm(ctx, gw) {
  const clients = [];
  for (let c = 0; c < 8; c++) clients.push(await RawClient.connect(ctx, gw.port));
  for (let r = 0; r < 3; r++) {
    await Promise.all(clients.map(async (raw, c) => {
      const calls = deferredCalls((r * 8 + c) * 12);
      const frames = await roundTrip(raw, calls.map((x) => x.frame));
      assert.deepEqual(frames.map(deferredAnswer), calls.map(deferredWant),
        `round ${r} client ${c}: each reply its own call's`);
    }));
  }
}

for (const pipeline of [undefined, 'off']) {
  itest(`-30! backends (qmock --zpg defer), ${pipeline ? 'pipeline = "off"' : 'the defaults'}: ` +
        'deferred replies out of order never cross', async (t, ctx) => {
    const { gw, mocks } = await startStack(ctx, {
      zpg: 'defer',
      listeners: [REQ],
      backends: [{ name: 'd1', pipeline }, { name: 'd2', pipeline }],
    });
    // The control: the same calls pipelined straight to a backend come back in another order,
    // so a gateway pipelining them and matching replies in order would cross them.
    const direct = await RawClient.connect(ctx, mocks.d1.port, { auth: 'gw:pw' });
    const calls = deferredCalls(0);
    const got = (await roundTrip(direct, calls.map((x) => x.frame))).map(deferredAnswer);
    assert.notDeepEqual(got, calls.map(deferredWant), 'the backend answers out of order');
    await deferredStorm(ctx, gw);
    const s = await stats(ctx, gw);
    assert.equal(counter(s, 'request_late_replies'), 0);
    assert.equal(counter(s, 'disconnect_errors'), 0);
  });
}

// ---------------------------------------------------------------- 5. timed-out calls

itest('a timed-out call keeps its backend busy: least-busy sends the next calls to the other',
  async (t, ctx) => {
    const { gw, mocks } = await startRecordingStack(ctx, {
      listeners: [REQ],
      backends: [{ name: 'rdb1' }, { name: 'rdb2' }],
      routes: [{ match: ['sleep'], group: 'rdb', timeout_ms: 100 }, { match: ['*'], group: 'rdb' }],
    });
    const raw = await RawClient.connect(ctx, gw.port);
    const t0 = Date.now();
    // The sleep outlasts the 6 calls below on a loaded box (each may take up to 300 ms).
    const [f] = await roundTrip(raw, [qmsg(MSG.sync, qlist(qstr('sleep'), qlong(3000)))]);
    assert.equal(errorText(f), 'qgate: timeout after 100ms');
    const sleeper = ['rdb1', 'rdb2'].find((n) => recordedFrames(mocks[n].record)
      .some((fr) => fr.includes(Buffer.from('sleep'))));
    assert.ok(sleeper, 'a backend read the sleep');
    const names = [];
    for (let i = 0; i < 6; i++) {
      const t1 = Date.now();
      const [g] = await roundTrip(raw, [tagCall(i)]);
      const [name, x] = tagOf(g);
      assert.equal(x, i);
      names.push(name);
      assert.ok(Date.now() - t1 < 300, `tag ${i} took ${Date.now() - t1} ms`);
    }
    assert.ok(names.every((n) => n !== sleeper),
      `calls after the timeout went to ${names} while ${sleeper} still slept ` +
      `(${Date.now() - t0} ms after the sleep was sent)`);
    await waitCounter(ctx, gw, 'request_late_replies', 1);
  });

itest('a timed-out call on a pipelined connection: the next call takes the other connection',
  async (t, ctx) => {
    const { gw } = await startStack(ctx, {
      zpg: 'defer',
      listeners: [REQ],
      backends: [{ name: 'd1', conns: 2, pipeline: 'on' }],
      routes: [{ match: ['deferred'], group: 'rdb', timeout_ms: 100 }],
      // No hold (pipeline_hold_ms): only the abandoned-reply rule keeps the call off the
      // connection (with the hold, it would wait in the queue until the late reply).
      limits: { pipeline_hold_ms: 0 },
    });
    const raw = await RawClient.connect(ctx, gw.port);
    const [f] = await roundTrip(raw, [qmsg(MSG.sync, qstr('deferred[1000;1]'))]);
    assert.equal(errorText(f), 'qgate: timeout after 100ms');
    // Behind the abandoned call on its connection, a -30! backend's early answer to this one
    // would be taken as the late reply, and the late 1 given to this call.
    const t1 = Date.now();
    const [g] = await roundTrip(raw, [qmsg(MSG.sync, qstr('deferred[10;2]'))]);
    const took = Date.now() - t1;
    assert.equal(Number(decode(g, { long2number: true })), 2, 'its own answer');
    assert.ok(took < 500, `answered after ${took} ms: waited behind the abandoned call`);
    const s = await waitCounter(ctx, gw, 'request_late_replies', 1);
    assert.equal(counter(s, 'request_timeouts'), 1);
    assert.equal(counter(s, 'request_late_replies'), 1);
  });

itest('a pipelined backend busy on a long call takes no more: later calls wait in its queue, ' +
      'skipped when their client leaves', async (t, ctx) => {
  // The defaults: qmock answers the order query as a plain q (1b), so v1 is pipelined, 4
  // connections; limits.pipeline_hold_ms = 2.
  const { gw } = await startStack(ctx, { listeners: [REQ], backends: [{ name: 'rdb1' }] });
  const a = await RawClient.connect(ctx, gw.port);
  const gone = await RawClient.connect(ctx, gw.port);
  const t0 = Date.now();
  const block = a.call(qmsg(MSG.sync, qlist(qstr('sleep'), qlong(600))));
  await waitCounter(ctx, gw, 'backend_load_rdb1', 1);
  // The hold is about time: the sleep must have run 2 ms before the next calls come.
  await pollUntil(() => Date.now() - t0 >= 20, { what: 'the sleep running 20 ms', intervalMs: 5 });
  const sleeps = [];
  for (let i = 0; i < 5; i++) sleeps.push(qmsg(MSG.sync, qlist(qstr('sleep'), qlong(10000))));
  await gone.write(Buffer.concat(sleeps));
  await waitCounter(ctx, gw, 'backend_load_rdb1', 6);
  // A reset: a FIN alone is a half-close, answered (README 'Half-closed clients').
  gone.sock.resetAndDestroy();
  await waitCounter(ctx, gw, 'requests_abandoned', 5);
  assert.equal(Number(decode((await block).frame, { long2number: true })), 600);
  const t1 = Date.now();
  const r = await a.call(qmsg(MSG.sync, qlist(qstr('echo'), qlong(1))));
  assert.equal(Number(decode(r.frame, { long2number: true })), 1);
  assert.ok(Date.now() - t1 < 10000, 'no abandoned 10 s sleep ran: they never left the queue');
  const s = await waitCounter(ctx, gw, 'requests_skipped', 5);
  assert.equal(counter(s, 'backend_load_rdb1'), 0);
});

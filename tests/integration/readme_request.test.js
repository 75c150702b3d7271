'use strict';
// README "Behaviour decisions", request mode, one test per promise:
//  * a call is committed to a backend when it is routed: it does not move to another member
//    that frees up first, and nothing is re-routed unless a backend is ejected;
//  * an async call that cannot be routed (no backend, busy) is dropped and counted
//    (async_dropped), and the client is sent nothing;
//  * a client whose replies pile up past out_bytes_high is not read until they drain;
//  * a reply over 1 MiB has only its first read (at most 64 KiB) copied.
// Backends are qmocks; one that must stay busy is stopped with SIGSTOP (its calls stay in
// flight, exactly as long as the test says) and resumed with SIGCONT.

const {
  itest, assert, startStack, qconnect, RawClient, MSG, qmsg, qlist, qstr, qlong, decode,
  errorText, payloadPattern, stats, counter, waitCounter, pollUntil, waitRepliesHeld,
  waitUnreadByQgate, qcall, settled, payloadReplyLen,
} = require('./lib.js');

const REQ = { mode: 'request', group: 'rdb' };

/** Polls until `want(loads)` holds; loads = { name: backend_load_name }. */
function waitLoads(ctx, gw, names, want, what) {
  return pollUntil(async () => {
    const s = await stats(ctx, gw);
    const loads = Object.fromEntries(names.map((n) => [n, counter(s, `backend_load_${n}`)]));
    return want(loads) ? loads : null;
  }, { what, timeoutMs: 10000, intervalMs: 30 });
}

itest('committed at routing: a queued call waits for its backend though another frees up first',
  async (t, ctx) => {
    const names = ['rdb1', 'rdb2'];
    const { gw, mocks } = await startStack(ctx, {
      listeners: [REQ], backends: names.map((name) => ({ name, conns: 1 })),
    });
    // Both pool connections up and used (idle ties rotate, so a few calls reach both).
    const warm = await qconnect(ctx, gw.port);
    const seen = new Set();
    for (let i = 0; i < 6 && seen.size < 2; i++) seen.add((await warm.k('tag', i))[0]);
    assert.equal(seen.size, 2, 'both backends answered a warm-up call');
    for (const n of names) mocks[n].proc.kill('SIGSTOP');
    ctx.defer(() => names.forEach((n) => mocks[n].proc.kill('SIGCONT')));

    const c = [];
    for (let i = 0; i < 4; i++) c.push(await qconnect(ctx, gw.port));
    // One call on each backend (least-busy: the second goes to the idle one), then Z on a tie.
    const p1 = settled(c[0].kt(30000, 'tag', 'a'));
    const l1 = await waitLoads(ctx, gw, names, (l) => l.rdb1 + l.rdb2 === 1, 'first in flight');
    const first = l1.rdb1 === 1 ? 'rdb1' : 'rdb2';  // where the first call went
    const p2 = settled(c[1].kt(30000, 'tag', 'b'));
    await waitLoads(ctx, gw, names, (l) => l.rdb1 === 1 && l.rdb2 === 1, 'one call on each');
    let zDone = false;
    const pz = settled(c[2].kt(30000, 'tag', 'z')).finally(() => { zDone = true; });
    const l3 = await waitLoads(ctx, gw, names, (l) => l.rdb1 + l.rdb2 === 3, 'Z queued');
    const home = l3.rdb1 === 2 ? 'rdb1' : 'rdb2';  // Z's backend
    const other = home === 'rdb1' ? 'rdb2' : 'rdb1';

    // The other backend answers its call and is idle while Z still waits behind home's.
    mocks[other].proc.kill('SIGCONT');
    const freed = await (first === other ? p1 : p2);
    assert.deepEqual(freed.v?.[0], other, `the ${other} call is answered (${freed.e?.message})`);
    await waitLoads(ctx, gw, names, (l) => l[other] === 0 && l[home] === 2, `${other} idle`);
    // A new call goes to the idle member and is answered there, Z still not.
    assert.deepEqual(await c[3].k('tag', 'after'), [other, 'after'], 'new call on the idle one');
    assert.equal(zDone, false, 'Z did not move to the member that freed up');
    const s = await stats(ctx, gw);
    assert.equal(counter(s, `backend_load_${home}`), 2, 'Z still queued on its backend');
    assert.equal(counter(s, 'requests_rerouted'), 0, 'nothing re-routed: no backend was ejected');

    mocks[home].proc.kill('SIGCONT');
    assert.deepEqual((await pz).v, [home, 'z'], 'Z answered by the backend it was routed to');
  });

itest('async calls with no live backend are dropped and counted; the client gets no frame',
  async (t, ctx) => {
    const { gw } = await startStack(ctx, {
      listeners: [REQ], backends: [{ name: 'rdb1', mock: false }],
      limits: { reconnect_min_ms: 20, reconnect_max_ms: 50 },
    });
    await pollUntil(async () => counter(await stats(ctx, gw), 'backend_live_rdb1') === 0,
      { what: 'rdb1 ejected', timeoutMs: 10000, intervalMs: 30 });
    const raw = await RawClient.connect(ctx, gw.port);
    await raw.write(Buffer.concat([1, 2, 3].map((i) => qcall(MSG.async, 'echo', qlong(i)))));
    const r = await raw.call(qcall(MSG.sync, 'echo', qlong(4)));
    assert.equal(r.type, MSG.response);
    assert.equal(errorText(r.frame), 'qgate: no backend available for group rdb',
      'the first frame answers the sync call: nothing was sent for the 3 async ones');
    // A second sync call: once its answer is in, any frame sent before it is too.
    const r2 = await raw.call(qcall(MSG.sync, 'echo', qlong(5)));
    assert.equal(errorText(r2.frame), 'qgate: no backend available for group rdb');
    assert.equal(raw.received, 1 + r.length + r2.length, 'the two answers are all it got');
    const s = await waitCounter(ctx, gw, 'async_dropped', 3);
    assert.equal(counter(s, 'async_dropped'), 3);
    assert.equal(counter(s, 'request_no_backend'), 5, '3 async + 2 sync had no backend');
  });

itest('async calls to a busy backend (queue at queue_max) are dropped and counted, no frame',
  async (t, ctx) => {
    const { gw, mocks } = await startStack(ctx, {
      // One call at a time on one connection: the second call waits in the queue.
      listeners: [REQ], backends: [{ name: 'rdb1', conns: 1, pipeline: 'off' }],
      limits: { queue_max: 1 },
    });
    const a = await qconnect(ctx, gw.port);
    const b = await qconnect(ctx, gw.port);
    assert.equal(await a.k('echo', 1), 1, 'pool connection up');
    mocks.rdb1.proc.kill('SIGSTOP');
    ctx.defer(() => mocks.rdb1.proc.kill('SIGCONT'));
    const inflight = settled(a.kt(30000, 'echo', 2));
    await waitCounter(ctx, gw, 'backend_load_rdb1', 1);
    const queued = settled(b.kt(30000, 'echo', 3));
    await waitCounter(ctx, gw, 'backend_load_rdb1', 2);  // queue full: 1 queued, 1 in flight
    const raw = await RawClient.connect(ctx, gw.port);
    await raw.write(Buffer.concat([qcall(MSG.async, 'echo', qlong(4)),
      qcall(MSG.async, 'echo', qlong(5))]));
    const r = await raw.call(qcall(MSG.sync, 'echo', qlong(6)));
    assert.equal(errorText(r.frame), 'qgate: busy',
      'the first frame answers the sync call: nothing was sent for the 2 async ones');
    const r2 = await raw.call(qcall(MSG.sync, 'echo', qlong(7)));
    assert.equal(errorText(r2.frame), 'qgate: busy');
    assert.equal(raw.received, 1 + r.length + r2.length, 'the two answers are all it got');
    const s = await stats(ctx, gw);
    assert.equal(counter(s, 'request_busy'), 4, '2 async + 2 sync found the queue full');
    assert.equal(counter(s, 'async_dropped'), 2, 'the 2 async calls are counted as dropped');
    mocks.rdb1.proc.kill('SIGCONT');
    assert.deepEqual([(await inflight).v, (await queued).v], [2, 3], 'the calls in are served');
  });

const MIB = 1 << 20;
const payloadCall = (n) => qcall(MSG.sync, 'payload', qlong(n));

/** Reads `n` payload replies of `len` bytes each and checks their bytes. */
async function readPayloads(raw, count, n, what) {
  const want = payloadPattern(n);
  for (let i = 0; i < count; i++) {
    const f = await raw.readFrame(30000);
    assert.equal(f.type, MSG.response, `${what} ${i}: a response`);
    assert.equal(f.length, payloadReplyLen(n), `${what} ${i}: length`);
    assert.ok(f.body.subarray(6).equals(want), `${what} ${i}: bytes intact`);
  }
}

itest('out_bytes_high: a client whose replies pile up is not read until they drain',
  async (t, ctx) => {
    const HIGH = MIB;
    const N = 16;  // 16 MiB of replies: more than the kernel buffers of one connection hold
    const { gw } = await startStack(ctx, {
      listeners: [REQ], backends: [{ name: 'rdb1', conns: 1 }],
      limits: { out_bytes_high: HIGH, out_bytes_low: 256 * 1024 },
    });
    const raw = await RawClient.connect(ctx, gw.port);
    raw.sock.pause();  // the client stops reading its replies
    await raw.write(Buffer.concat(Array.from({ length: N }, () => payloadCall(MIB))));
    // qgate holds more than HIGH of the replies itself (the kernel buffers are full).
    await waitRepliesHeld(ctx, gw, raw, N * payloadReplyLen(MIB), 2 * HIGH);
    assert.equal(counter(await stats(ctx, gw), 'slow_reader_pauses'), 0, 'not paused yet');
    // The next call is read (and routed); qgate then stops reading this client.
    await raw.write(qcall(MSG.sync, 'echo', qlong(1)));
    await waitCounter(ctx, gw, 'slow_reader_pauses', 1);
    const late = qcall(MSG.sync, 'echo', qlong(2));
    await raw.write(late);
    await waitUnreadByQgate(gw, raw, late.length);  // it stays in qgate's socket, unread
    let s = await stats(ctx, gw);
    assert.equal(counter(s, 'requests_routed'), N + 1, 'the late call was not routed');
    assert.equal(counter(s, 'slow_reader_pauses'), 1);
    raw.sock.resume();
    await readPayloads(raw, N, MIB, 'payload');
    for (const v of [1, 2]) {
      const f = await raw.readFrame(10000);
      assert.equal(Number(decode(f.frame)), v, `echo ${v} answered after the payloads`);
    }
    s = await stats(ctx, gw);
    assert.equal(counter(s, 'requests_routed'), N + 2, 'the late call was routed once read');
    assert.equal(raw.buffered, 0);
  });

itest('replies over 1 MiB: once warm, only their first read (at most 64 KiB) is copied',
  async (t, ctx) => {
  const { gw } = await startStack(ctx, {
    listeners: [REQ], backends: [{ name: 'rdb1', conns: 1 }],
  });
  const raw = await RawClient.connect(ctx, gw.port);
  const n = 3 * MIB;
  let s0 = await stats(ctx, gw);
  for (let i = 0; i < 4; i++) {
    await raw.write(payloadCall(n));
    await readPayloads(raw, 1, n, `reply ${i}`);
    // Counters are bumped before the reply is handed to the client's shard.
    const s1 = await stats(ctx, gw);
    const d = (name) => counter(s1, name) - counter(s0, name);
    const copied = d('reply_bytes_copied');
    const direct = d('reply_bytes_received_direct');
    s0 = s1;
    if (i === 0) {
      // Cold: no cached buffer fits, and a declared length reserves nothing it has not
      // received (README "Memory held"), so the buffer grows with the bytes (about 1 MiB,
      // then doubling) and each step copies what came before it: under twice the reply.
      assert.ok(copied >= 8 && copied < 2 * payloadReplyLen(n), `reply 0: ${copied} bytes copied`);
      continue;
    }
    assert.equal(copied + direct, payloadReplyLen(n), `reply ${i}: all counted`);
    assert.ok(copied >= 8 && copied <= 64 * 1024,
      `reply ${i}: its first read copied (${copied} bytes: the header at least, <= 64 KiB)`);
  }
});

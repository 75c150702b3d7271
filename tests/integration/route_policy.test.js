'use strict';
// Request mode, routing policies: consistent hash keeps a key on one backend (and moves only a
// down backend's keys), least-busy steers away from a busy backend, calls queue in FIFO order
// when every backend is busy. Real qgate + qmock backends + node-q clients.

const fs = require('node:fs');
const path = require('node:path');
const {
  itest, assert, ROOT, startStack, startQmock, startQgate, startRecordingStack, recordedFrames,
  qconnect, RawClient, MSG, header, qmsg, qlist, qstr, qlong, decode, errorText,
  stats, counter, waitCounter, pollUntil,
} = require('./lib.js');

const REQ = { mode: 'request', group: 'rdb' };

/** Calls tag[key] for every key on `q`, pipelined; resolves with { key: backend }. */
async function where(q, keys) {
  const out = {};
  await Promise.all(keys.map(async (k) => {
    const r = await q.kt(20000, 'tag', k);
    assert.equal(r[1], k, `tag ${k} came back with its own argument`);
    out[k] = r[0];
  }));
  return out;
}

itest('consistent-hash: a key always lands on one backend; a down backend moves only its keys',
  async (t, ctx) => {
    const names = ['rdb1', 'rdb2', 'rdb3'];
    const { gw, mocks } = await startStack(ctx, {
      listeners: [REQ],
      backends: names.map((name) => ({ name, conns: 2 })),
      routes: [{ match: ['tag'], group: 'rdb', policy: 'consistent-hash', hash_arg: 1 }],
      limits: { reconnect_min_ms: 20, reconnect_max_ms: 100 },
    });
    const keys = Array.from({ length: 600 }, (_, i) => `SYM${i}`);
    const a = await qconnect(ctx, gw.port);
    const b = await qconnect(ctx, gw.port);
    const first = await where(a, keys);
    const again = await where(b, keys);
    const shares = {};
    for (const k of keys) {
      assert.equal(again[k], first[k], `key ${k} moved between two rounds`);
      shares[first[k]] = (shares[first[k]] || 0) + 1;
    }
    for (const n of names) {
      assert.ok((shares[n] || 0) > keys.length / 6, `${n} owns a fair share: ${JSON.stringify(shares)}`);
    }
    // The same call sent as text hashes alike: "tag[`SYM1]" routes like ("tag";"SYM1").
    assert.deepEqual(await a.k('tag[`SYM1]'), [first.SYM1, 'SYM1']);

    // rdb2 dies: once it is ejected its keys go to the others, and no other key moves.
    await mocks.rdb2.proc.stop('SIGKILL');
    await waitCounter(ctx, gw, 'backends_ejected', 1, 10000);
    const after = await where(a, keys);
    let moved = 0;
    for (const k of keys) {
      if (first[k] === 'rdb2') {
        assert.notEqual(after[k], 'rdb2');
        moved++;
      } else {
        assert.equal(after[k], first[k], `key ${k} of a live backend moved`);
      }
    }
    assert.equal(moved, shares.rdb2);
  });

itest('least-busy: new calls go around a backend busy with sleep', async (t, ctx) => {
  const { gw } = await startStack(ctx, {
    listeners: [REQ],
    backends: [{ name: 'rdb1' }, { name: 'rdb2' }, { name: 'rdb3' }],
  });
  const sleeper = await qconnect(ctx, gw.port);
  const q = await qconnect(ctx, gw.port);
  const slow = sleeper.kt(20000, 'sleep', 1500).then((v) => ({ v }), (e) => ({ e }));
  // Which backend took it: the one whose load is 1 (each home shard publishes its load).
  const s = await pollUntil(async () => {
    const st = await stats(ctx, gw);
    const busy = ['rdb1', 'rdb2', 'rdb3'].filter((n) => counter(st, `backend_load_${n}`) > 0);
    return busy.length === 1 ? busy[0] : null;
  }, { what: 'one backend busy', timeoutMs: 5000 });
  const seen = {};
  for (let i = 0; i < 12; i++) {
    const n = await q.k('name[]');
    assert.notEqual(n, s, `call ${i} was sent to the busy backend ${s}`);
    seen[n] = (seen[n] || 0) + 1;
  }
  assert.equal(Object.keys(seen).length, 2, `ties rotate over both idle backends: ${JSON.stringify(seen)}`);
  const r = await slow;
  assert.equal(r.v, 1500);
});

itest('all backends busy: calls from many clients queue and drain in FIFO order', async (t, ctx) => {
  const { gw } = await startStack(ctx, {
    listeners: [REQ],
    backends: [{ name: 'rdb1', conns: 1 }],
  });
  const blocker = await qconnect(ctx, gw.port);
  const clients = [];
  for (let i = 0; i < 8; i++) clients.push(await qconnect(ctx, gw.port));
  // The blocker must outlast queueing 8 calls one by one, each confirmed by a stats poll: a
  // loaded box (the sanitizer build, both io runs side by side) can take seconds for that.
  const block = blocker.kt(20000, 'sleep', 4000);
  await waitCounter(ctx, gw, 'backend_load_rdb1', 1);
  const calls = [];
  for (let i = 0; i < clients.length; i++) {
    // Each call is queued (load i+2) before the next client sends its own.
    calls.push(clients[i].kt(20000, 'seq', i));
    await waitCounter(ctx, gw, 'backend_load_rdb1', i + 2);
  }
  assert.equal(await block, 4000);
  const res = (await Promise.all(calls)).map((r) => [Number(r[0]), Number(r[1])]);
  // The backend ran them in the order they were queued (replies may reach node in any order:
  // the clients sit on different shards).
  res.forEach((r, i) => assert.deepEqual(r, [res[0][0] + i, i], `call ${i} ran ${i}th`));
  const st = await stats(ctx, gw);
  assert.equal(counter(st, 'backend_load_rdb1'), 0, 'queue drained');
});

itest('pipelined sync calls are answered in the order sent, across backends', async (t, ctx) => {
  const { gw } = await startStack(ctx, {
    listeners: [{ mode: 'request', group: 'fast' }],
    backends: [{ name: 'slow1', group: 'slow' }, { name: 'fast1', group: 'fast' }],
    routes: [{ match: ['sleep'], group: 'slow' }, { match: ['*'], group: 'fast' }],
  });
  const raw = await RawClient.connect(ctx, gw.port);
  const msgs = [qmsg(MSG.sync, qlist(qstr('sleep'), qlong(300)))];
  for (let i = 0; i < 20; i++) msgs.push(qmsg(MSG.sync, qlist(qstr('tag'), qlong(i))));
  await raw.write(Buffer.concat(msgs));
  const first = await raw.readFrame(10000);
  assert.equal(first.type, MSG.response);
  assert.equal(Number(decode(first.frame)), 300, 'the slow call is answered first');
  for (let i = 0; i < 20; i++) {
    const f = await raw.readFrame(10000);
    const v = decode(f.frame, { long2number: true });
    assert.deepEqual([v[0], Number(v[1])], ['fast1', i], `reply ${i} in order`);
  }
  // node-q pipelining too.
  const q = await qconnect(ctx, gw.port);
  const got = await Promise.all([q.k('sleep', 100), q.k('tag', 'x'), q.k('echo', 7)]);
  assert.deepEqual(got, [100, ['fast1', 'x'], 7]);
});

itest('consistent-hash: adding or removing one of N backends moves <= 1.5/N of 10,000 keys',
  { timeout: 120000 }, async (t, ctx) => {
    const names = ['rdb1', 'rdb2', 'rdb3', 'rdb4', 'rdb5'];
    const mocks = {};
    for (const name of names) mocks[name] = await startQmock(ctx, { name, users: ['gw:pw'] });
    const farm = (members, procName) => startQgate(ctx, {
      procName,
      listeners: [REQ],
      backends: members.map((name) => ({ name, port: mocks[name].port, credentials: 'gw:pw' })),
      routes: [{ match: ['name'], group: 'rdb', policy: 'consistent-hash', hash_arg: 1 }],
    });
    const keys = Array.from({ length: 10000 }, (_, i) => `K${i}`);
    const map = async (gw) => {
      const q = await qconnect(ctx, gw.port);
      const out = new Map();
      for (let i = 0; i < keys.length; i += 1000) {  // 1000 calls in flight at a time
        const part = keys.slice(i, i + 1000);
        const got = await Promise.all(part.map((k) => q.kt(30000, 'name', k)));
        part.forEach((k, j) => out.set(k, got[j]));
      }
      await q.close();
      return out;
    };
    const four = await map(await farm(names.slice(0, 4), 'qgate4'));
    const five = await map(await farm(names, 'qgate5'));
    const three = await map(await farm(names.slice(0, 3), 'qgate3'));
    let added = 0;
    let removed = 0;
    for (const k of keys) {
      if (five.get(k) !== four.get(k)) {
        added++;
        assert.equal(five.get(k), 'rdb5', `${k} moved between old backends`);
      }
      if (three.get(k) !== four.get(k)) {
        removed++;
        assert.equal(four.get(k), 'rdb4', `${k} moved although its backend stayed`);
      }
    }
    t.diagnostic(`moved: ${added} of 10000 adding the 5th, ${removed} removing the 4th`);
    assert.ok(added > 0 && added <= 1.5 * keys.length / 5, `adding moved ${added}`);
    assert.ok(removed > 0 && removed <= 1.5 * keys.length / 4, `removing moved ${removed}`);
  });

itest('priority by user: a vip call queued last runs first; equal priorities stay FIFO', async (t, ctx) => {
  const { gw } = await startStack(ctx, {
    listeners: [REQ],
    // One call at a time (pipeline off): the later calls wait in the queue, in priority order.
    backends: [{ name: 'rdb1', conns: 1, pipeline: 'off' }],
    routes: [{ match: ['*'], users: ['vip'], group: 'rdb', priority: 10 }, { match: ['*'], group: 'rdb' }],
  });
  const blocker = await qconnect(ctx, gw.port);
  const plain = await qconnect(ctx, gw.port, { user: 'joe', password: 'x' });
  const vip = await qconnect(ctx, gw.port, { user: 'vip', password: 'x' });
  const block = blocker.kt(20000, 'sleep', 3000);  // outlasts the queueing on a loaded box
  await waitCounter(ctx, gw, 'backend_load_rdb1', 1);
  const p0 = plain.kt(20000, 'seq', 0);
  await waitCounter(ctx, gw, 'backend_load_rdb1', 2);
  const p1 = plain.kt(20000, 'seq', 1);
  await waitCounter(ctx, gw, 'backend_load_rdb1', 3);
  const v = vip.kt(20000, 'seq', 2);
  await waitCounter(ctx, gw, 'backend_load_rdb1', 4);
  assert.equal(await block, 3000);
  const ran = (await Promise.all([p0, p1, v])).map((r) => Number(r[0]));
  assert.ok(ran[2] < ran[0] && ran[0] < ran[1], `vip first, then FIFO: ${ran}`);
});

itest('a client pipelining past requests_per_client_max is paused, then served in order', async (t, ctx) => {
  const { gw } = await startStack(ctx, {
    listeners: [REQ],
    backends: [{ name: 'rdb1', conns: 2 }, { name: 'rdb2', conns: 2 }],
    routes: [{ match: ['echo'], group: 'rdb' }],
    limits: { requests_per_client_max: 16 },
  });
  const raw = await RawClient.connect(ctx, gw.port);
  const n = 3000;
  const msgs = [];
  // Every 7th call has no route: answered at once, in its place, while others are in flight.
  const name = (i) => (i % 7 === 3 ? 'nosuch' : 'echo');
  for (let i = 0; i < n; i++) msgs.push(qmsg(MSG.sync, qlist(qstr(name(i)), qlong(i))));
  await raw.write(Buffer.concat(msgs));
  for (let i = 0; i < n; i++) {
    const f = (await raw.readFrame(10000)).frame;
    if (name(i) === 'nosuch') {
      assert.equal(errorText(f), 'qgate: no route for nosuch', `reply ${i}`);
    } else {
      assert.equal(Number(decode(f, { long2number: true })), i, `reply ${i}`);
    }
  }
  assert.ok(counter(await stats(ctx, gw), 'client_quota_pauses') >= 1);
});

// Compressed calls made by q itself, from ../shared/qipc-vectors (never copied here).
const VECTORS = path.resolve(ROOT, '..', 'shared', 'qipc-vectors');

/** qPython's messages captured from kdb+ 3.x, each rebuilt as a sync compressed message. */
function realQCompressed() {
  const lines = fs.readFileSync(path.join(VECTORS, 'qpython-QCompressedExpressions3.out'), 'latin1')
    .split('\n').filter((l) => l.trim() !== '');
  const out = [];
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const rest = Buffer.from(lines[i + 1].trim(), 'hex');  // after the 8-byte header
    const h = header(MSG.sync, 8 + rest.length, { compressed: 1 });
    out.push({ expr: lines[i], msg: Buffer.concat([h, rest]) });
  }
  return out;
}

/** A javakdb-compress-cases.tsv row: { plain, packed } messages, made sync. */
function compressCase(prefix) {
  const row = fs.readFileSync(path.join(VECTORS, 'javakdb-compress-cases.tsv'), 'latin1')
    .split('\n').find((l) => l.startsWith(prefix));
  assert.ok(row, `vector ${prefix}`);
  const [plain, packed] = row.split('\t').slice(1, 3).map((h) => Buffer.from(h.trim(), 'hex'));
  plain[1] = MSG.sync;
  packed[1] = MSG.sync;  // the type byte is in the header, outside the compressed stream
  return { plain, packed };
}

itest('compressed calls are classified (decompressed aside) and forwarded as sent',
  async (t, ctx) => {
    // Backends record every message as read off the wire (qmock --record), so what qgate
    // forwarded is compared byte for byte with what the client sent.
    const { gw, mocks } = await startRecordingStack(ctx, {
      listeners: [REQ],
      backends: [
        { name: 'rdb1' }, { name: 'rdb2' }, { name: 'rdb3' }, { name: 'hdb1', group: 'hdb' },
      ],
      routes: [
        { match: ['the'], group: 'rdb', policy: 'consistent-hash', hash_arg: 1 },
        { match: ['<other>'], group: 'hdb' },
      ],
    });
    const raw = await RawClient.connect(ctx, gw.port);
    // Three messages compressed by kdb+ (a symbol vector and two tables: not calls, so named
    // <other>). qmock answers 'type for them, which it can only do after decompressing and
    // walking them whole (a message that does not decompress closes the connection).
    const real = realQCompressed();
    assert.equal(real.length, 3);
    for (const { expr, msg } of real) {
      const r = await raw.call(msg);
      assert.equal(errorText(r.frame), 'type', `${expr}: answered by qmock after decompressing`);
    }
    const hex = (frames) => frames.map((f) => f.toString('hex'));
    assert.deepEqual(hex(recordedFrames(mocks.hdb1.record)), hex(real.map((v) => v.msg)),
      'hdb1 received the three messages exactly as q compressed them');

    // A text call compressed with q's algorithm (javakdb's compressor, which re-made kdb+'s
    // compressed bytes exactly): "the quick brown fox ..." is named `the` only once decompressed
    // (otherwise it would be <other>, for hdb1). It is hashed on its argument, so the plain
    // form lands on the same backend.
    const { plain, packed } = compressCase('2100-char string');
    assert.equal(packed[2], 1, 'compressed');
    assert.ok(packed.length < plain.length / 2);
    const a = await raw.call(packed);
    const b = await raw.call(plain);
    // qmock cannot read `quick brown fox ...` as a literal argument: 'parse, its own answer.
    assert.equal(errorText(a.frame), 'parse', 'the compressed call reached a backend');
    assert.equal(errorText(b.frame), 'parse', 'the plain call reached a backend');
    const got = ['rdb1', 'rdb2', 'rdb3'].filter((n) => recordedFrames(mocks[n].record).length > 0);
    assert.equal(got.length, 1, `one backend got both forms: ${got}`);
    assert.deepEqual(hex(recordedFrames(mocks[got[0]].record)), hex([packed, plain]),
      `${got[0]} received the compressed call as sent, then the plain one`);
    assert.equal(recordedFrames(mocks.hdb1.record).length, 3, 'nothing more for hdb1');
  });

itest('out of request slots: clients wait (bytes held), nothing is lost or reordered', async (t, ctx) => {
  const { gw } = await startStack(ctx, {
    shards: 1,
    listeners: [REQ],
    backends: [{ name: 'rdb1', conns: 2 }, { name: 'rdb2', conns: 2 }],
    limits: { requests_per_shard_max: 16 },
  });
  const n = 400;
  await Promise.all([0, 1, 2, 3].map(async (c) => {
    const raw = await RawClient.connect(ctx, gw.port);
    const msgs = [];
    for (let i = 0; i < n; i++) msgs.push(qmsg(MSG.sync, qlist(qstr('echo'), qlong(c * 10000 + i))));
    await raw.write(Buffer.concat(msgs));
    for (let i = 0; i < n; i++) {
      const v = decode((await raw.readFrame(10000)).frame, { long2number: true });
      assert.equal(Number(v), c * 10000 + i, `client ${c} reply ${i}`);
    }
  }));
  assert.ok(counter(await stats(ctx, gw), 'request_slots_exhausted') >= 1);
});

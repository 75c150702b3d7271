'use strict';
// README "Behaviour decisions", fan-out (TorQ's .gw.* API and fan-out routes):
//  * .gw.* calls are served by qgate whatever the route table says;
//  * one backend per group is picked by the policy of the [[route]] matching the .gw.* name,
//    least-busy when none does;
//  * a server type whose group has no live backend fails at once with TorQ's text;
//  * a custom join with one server type is not applied (the result is returned as is);
//  * an async call matching a fan-out route goes to every group and is answered by no one.
// qmock's tag[x] answers (`name;x), so each result names the backend that ran it; recording
// qmocks show what each backend received.

const nodeq = require('node-q');
const {
  itest, assert, startQgate, startQmock, startRecordingStack, recordedFrames, deadPort,
  qconnect, RawClient, MSG, qmsg, qlist, qstr, qsym, decode, stats, counter, waitCounter,
  pollUntil,
} = require('./lib.js');

const REQ = { mode: 'request', group: 'rdb' };
const norm = (v) => Array.from(v, (x) => (typeof x === 'string' ? x : Number(x)));
/** The decoded tag calls a recording backend received: [message type, argument]. */
const tagsOf = (mock) => recordedFrames(mock.record)
  .map((f) => [f[1], decode(f, { long2number: true })])
  .filter(([, v]) => Array.isArray(v) && v[0] === 'tag').map(([type, v]) => [type, v[1]]);
const rejectsWith = (p, text) => assert.rejects(p, (e) => {
  assert.equal(e.message, text);
  return true;
});

itest('.gw.syncexec is served by qgate though a catch-all route sends everything elsewhere',
  async (t, ctx) => {
    const { gw, mocks } = await startRecordingStack(ctx, {
      listeners: [REQ],
      backends: [{ name: 'rdb1', group: 'rdb' }, { name: 'hdb1', group: 'hdb' },
        { name: 'trap1', group: 'trap' }],
      routes: [{ match: ['.gw.*'], group: 'trap' }, { match: ['*'], group: 'trap' }],
    });
    const q = await qconnect(ctx, gw.port);
    assert.deepEqual(norm(await q.k('tag', 1)), ['trap1', 1], 'a plain call takes the route');
    const got = await q.k('.gw.syncexec', ['tag', 2], nodeq.symbols(['rdb', 'hdb']));
    assert.deepEqual(norm(got), ['rdb1', 2, 'hdb1', 2], 'raze of each server type\'s result');
    assert.deepEqual(tagsOf(mocks.trap1), [[MSG.sync, 1]], 'trap1 got the plain call only');
    assert.equal(recordedFrames(mocks.trap1.record).length, 1, 'and nothing else');
    assert.equal(counter(await stats(ctx, gw), 'fanout_calls'), 1);
  });

itest('.gw.* picks by the policy of the route matching its name, else least-busy',
  async (t, ctx) => {
    const { gw, mocks } = await startRecordingStack(ctx, {
      listeners: [REQ],
      backends: [{ name: 'rdb1', conns: 1 }, { name: 'rdb2', conns: 1 }],
      routes: [{ match: ['.gw.syncexec'], group: 'rdb', policy: 'first-available' },
        { match: ['sleep'], group: 'rdb', policy: 'first-available' }],
    });
    const rdb = nodeq.symbol('rdb');
    const q = await qconnect(ctx, gw.port);
    // Idle backends: least-busy would rotate; first-available always takes rdb1.
    for (let i = 0; i < 4; i++) {
      assert.deepEqual(norm(await q.k('.gw.syncexec', ['tag', i], rdb)), ['rdb1', i],
        `.gw.syncexec ${i}: the first-available rule's pick`);
    }
    // rdb1 busy (stopped with a call in flight): .gw.syncexecj matches no rule, least-busy
    // sends each part to rdb2.
    const blocker = await qconnect(ctx, gw.port);
    mocks.rdb1.proc.kill('SIGSTOP');
    ctx.defer(() => mocks.rdb1.proc.kill('SIGCONT'));
    const blocked = blocker.kt(30000, 'sleep', 1).then((v) => ({ v }), (e) => ({ e }));
    await waitCounter(ctx, gw, 'backend_load_rdb1', 1);
    for (let i = 0; i < 4; i++) {
      assert.deepEqual(norm(await q.k('.gw.syncexecj', ['tag', i], rdb, nodeq.symbol('raze'))),
        ['rdb2', i], `.gw.syncexecj ${i}: least-busy avoids the busy rdb1`);
    }
    // .gw.syncexec still follows its rule onto the busy rdb1, and waits for it.
    const late = q.kt(30000, '.gw.syncexec', ['tag', 9], rdb);
    await waitCounter(ctx, gw, 'backend_load_rdb1', 2);
    mocks.rdb1.proc.kill('SIGCONT');
    assert.equal((await blocked).v, 1);
    assert.deepEqual(norm(await late), ['rdb1', 9], 'first-available picked the busy rdb1');
  });

itest('.gw.* server type whose group has no live backend: TorQ\'s missing text, nothing sent',
  async (t, ctx) => {
    const rdb1 = await startQmock(ctx, { name: 'rdb1', users: ['gw:pw'], record: true });
    const gw = await startQgate(ctx, {
      listeners: [REQ],
      backends: [{ name: 'rdb1', group: 'rdb', port: rdb1.port, credentials: 'gw:pw' },
        { name: 'hdb1', group: 'hdb', port: await deadPort(), credentials: 'gw:pw' }],
      limits: { reconnect_min_ms: 20, reconnect_max_ms: 50 },
    });
    await pollUntil(async () => counter(await stats(ctx, gw), 'backend_live_hdb1') === 0,
      { what: 'hdb1 ejected', timeoutMs: 10000, intervalMs: 30 });
    const q = await qconnect(ctx, gw.port);
    await rejectsWith(q.k('.gw.syncexec', ['tag', 1], nodeq.symbols(['rdb', 'hdb'])),
      'not all of the requested server types are available; missing hdb');
    assert.deepEqual(norm(await q.k('.gw.syncexec', ['tag', 2], nodeq.symbol('rdb'))),
      ['rdb1', 2], 'the live group alone is served');
    assert.deepEqual(tagsOf(rdb1), [[MSG.sync, 2]], 'the failed call reached no backend');
    assert.equal(counter(await stats(ctx, gw), 'fanout_missing_types'), 1);
  });

itest('a custom join with one server type is not applied: the result as is, no reducer call',
  async (t, ctx) => {
    const { gw, mocks } = await startRecordingStack(ctx, {
      listeners: [REQ],
      backends: [{ name: 'rdb1', group: 'rdb' }, { name: 'hdb1', group: 'hdb' },
        { name: 'red1', group: 'red' }],
      extra: '[fanout]\nreducer = "red"\n',
    });
    const q = await qconnect(ctx, gw.port);
    const counts = nodeq.symbol('counts');
    assert.deepEqual(norm(await q.k('.gw.syncexecj', ['tag', 1], nodeq.symbol('rdb'), counts)),
      ['rdb1', 1], 'one server type: the single result as is');
    assert.equal(recordedFrames(mocks.red1.record).length, 0, 'the reducer got no call');
    assert.equal(counter(await stats(ctx, gw), 'fanout_reducer_calls'), 0);
    // The same join over two server types is applied (count each of the two results).
    assert.deepEqual(norm(await q.k('.gw.syncexecj', ['tag', 2], nodeq.symbols(['rdb', 'hdb']),
      counts)), [2, 2], 'two server types: counts applied by the reducer');
    assert.equal(recordedFrames(mocks.red1.record).length, 1, 'one reducer call');
    assert.equal(counter(await stats(ctx, gw), 'fanout_reducer_calls'), 1);
  });

itest('an async call on a fan-out route reaches every group and is answered by no one',
  async (t, ctx) => {
    const { gw, mocks } = await startRecordingStack(ctx, {
      listeners: [REQ],
      backends: [{ name: 'rdb1', group: 'rdb', conns: 1 },
        { name: 'hdb1', group: 'hdb', conns: 1 }],
      routes: [{ match: ['tag'], groups: ['rdb', 'hdb'], join: 'list' },
        { match: ['*'], group: 'rdb' }],
    });
    const raw = await RawClient.connect(ctx, gw.port);
    await raw.write(qmsg(MSG.async, qlist(qstr('tag'), qsym('a'))));
    // The next frame is the answer to the following sync call: nothing answered the async one.
    const r = await raw.call(qmsg(MSG.sync, qlist(qstr('tag'), qsym('b'))));
    assert.equal(r.type, MSG.response);
    assert.deepEqual(decode(r.frame), [['rdb1', 'b'], ['hdb1', 'b']], 'the sync call, joined');
    const e = await raw.call(qmsg(MSG.sync, qlist(qstr('echo'), qsym('c'))));
    assert.equal(decode(e.frame), 'c', 'then the echo: still no frame for the async call');
    assert.equal(raw.buffered, 0);
    // One connection per backend, serial: the sync tag was answered, so the async one before
    // it is in each record, as an async call.
    for (const name of ['rdb1', 'hdb1']) {
      assert.deepEqual(tagsOf(mocks[name]), [[MSG.async, 'a'], [MSG.sync, 'b']],
        `${name} received the async call, then the sync one`);
    }
    // Delivered to every group, answered by no one as q: not a dropped call.
    assert.equal(counter(await stats(ctx, gw), 'async_dropped'), 0);
  });

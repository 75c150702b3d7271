'use strict';
// README "Behaviour decisions", fan-out: `.gw.syncexec*` must be sent sync; an async one is
// dropped (no backend sees it, no answer) and counted (async_dropped), as q tells an async
// caller nothing. Each backend is a qmock that records every message it receives.

const nodeq = require('node-q');
const {
  itest, assert, startQgate, startQmock, recordedFrames, qconnect, stats, counter, decode,
} = require('./lib.js');

itest('an async .gw.syncexec is dropped: no backend receives it, async_dropped counts it',
  async (t, ctx) => {
    const rdb = await startQmock(ctx, { name: 'rdb1', record: true });
    const hdb = await startQmock(ctx, { name: 'hdb1', record: true });
    const gw = await startQgate(ctx, {
      listeners: [{ group: 'rdb', mode: 'request' }],
      backends: [{ name: 'rdb1', group: 'rdb', port: rdb.port },
        { name: 'hdb1', group: 'hdb', port: hdb.port }],
    });
    const types = nodeq.symbols(['rdb', 'hdb']);
    const q = await qconnect(ctx, gw.port);
    await q.ks('.gw.syncexec', ['seq', '`dropped'], types);
    // The same call sent sync, after it on the same connection: seq[] numbers the calls a
    // backend has run, so 0 says the async one never ran there.
    const got = await q.k('.gw.syncexec', ['seq', '`served'], types);
    assert.deepEqual(Array.from(got, (x) => (typeof x === 'string' ? x : Number(x))),
      [0, 'served', 0, 'served'], 'raze of (0;`served) from each group');
    for (const b of [rdb, hdb]) {
      const frames = recordedFrames(b.record);
      assert.equal(frames.length, 1, `${b.record}: only the sync call was forwarded`);
      assert.equal(frames[0][1], 1, 'forwarded as a sync call');
      assert.deepEqual(decode(frames[0]), ['seq', 'served']);
    }
    const s = await stats(ctx, gw);
    assert.equal(counter(s, 'async_dropped'), 1, 'the async .gw.syncexec is counted');
    assert.equal(counter(s, 'fanout_calls'), 2);
    assert.equal(counter(s, 'fanout_parts'), 2, 'two parts: the sync call\'s only');
  });

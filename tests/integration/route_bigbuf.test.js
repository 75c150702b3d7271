'use strict';
// Request mode's buffers past 1 MiB (src/proxy/big_bufs.h), seen from outside: large calls
// and replies alternate between two backends whose home shards differ (round-robin, 2
// shards), so every client's large replies are received on both shards, one of them not the
// shard that frees them. The buffers still end up where they are needed: after the first call
// every large call and reply reuses a cached one (big_buf_hits) instead of allocating, and
// every reply is the right one.

const { itest, assert, startStack, qconnect, stats, counter } = require('./lib.js');

itest('calls and replies past 1 MiB reuse cached buffers, across shards', async (t, ctx) => {
  const { gw } = await startStack(ctx, {
    shards: 2,
    listeners: [{ mode: 'request', group: 'rdb', policy: 'round-robin' }],
    backends: [{ name: 'rdb1' }, { name: 'rdb2' }],  // homes: shard 0 and shard 1
  });
  const q = await qconnect(ctx, gw.port);
  const before = await stats(ctx, gw);
  const N = 12;
  for (let i = 0; i < N; i++) {
    const big = String.fromCharCode(97 + i).repeat(3 * 1024 * 1024 + i);  // copied, echoed
    assert.equal(await q.kt(20000, 'echo', big), big, `call ${i}: its own bytes back`);
  }
  const after = await stats(ctx, gw);
  const d = (name) => counter(after, name) - counter(before, name);
  // 2N large buffers are needed (a call and a reply each). Only the first call allocates its
  // two: a reply buffer is freed on the client's shard, parked on its slot, and taken by the
  // slot's next call to the other backend's home shard, where the next reply lands in it.
  // Cached per shard only, the shard that is not the client's would allocate every reply
  // it receives (N / 2). A first message grows with its bytes (about 1 MiB, then doubling:
  // README "Memory held"), so the first call and the first reply on each shard allocate
  // up to three buffers each while warming up.
  assert.ok(d('big_buf_misses') <= 9, `misses ${d('big_buf_misses')}`);
  assert.ok(d('big_buf_hits') >= 2 * N - 3, `hits ${d('big_buf_hits')}`);
  assert.equal(d('big_buf_evictions'), 0);
  assert.ok(counter(after, 'big_buf_bytes') > 0, 'buffers are held for the next call');
});

'use strict';
// Request mode hands each call to its backend's home shard as a view of the receive buffer it
// arrived in (src/proxy/request_lend.cc): the admin stats count every call a simple client
// sends in request_bytes_lent, and nothing in request_bytes_copied; a call larger than a
// receive buffer necessarily straddles buffers and is copied. Two shards and two backends, so
// calls go both to a backend of their own shard and across the mailbox.

const {
  itest, assert, startStack, qconnect, RawClient, MSG, qmsg, qlist, qstr, qlong, qbytesHeader,
  payloadPattern, stats, counter, waitCounter, pollUntil,
} = require('./lib.js');

const REQ = { mode: 'request', group: 'rdb' };

async function lendCounters(ctx, gw) {
  const s = await stats(ctx, gw);
  return { lent: counter(s, 'request_bytes_lent'), copied: counter(s, 'request_bytes_copied') };
}

itest('calls are lent, not copied: request_bytes_lent grows by the call sizes', async (t, ctx) => {
  const { gw } = await startStack(ctx, {
    listeners: [REQ],
    backends: [{ name: 'rdb1', conns: 2 }, { name: 'rdb2', conns: 2 }],
  });
  const before = await lendCounters(ctx, gw);
  assert.equal(before.copied, 0);
  const raw = await RawClient.connect(ctx, gw.port);
  let sent = 0;
  // One call at a time.
  for (let i = 0; i < 20; i++) {
    const msg = qmsg(MSG.sync, qlist(qstr('echo'), qlong(i)));
    const r = await raw.call(msg);
    assert.equal(r.type, MSG.response);
    assert.deepEqual(r.body, qlong(i), `echo ${i} came back unchanged`);
    sent += msg.length;
  }
  // Pipelined in one write (one receive buffer shared by every call), an async one among them.
  const batch = [];
  for (let i = 0; i < 10; i++) batch.push(qmsg(MSG.sync, qlist(qstr('echo'), qlong(100 + i))));
  batch.splice(5, 0, qmsg(MSG.async, qlist(qstr('echo'), qlong(-1))));
  const all = Buffer.concat(batch);
  await raw.write(all);
  sent += all.length;
  for (let i = 0; i < 10; i++) {
    const r = await raw.readFrame();
    assert.deepEqual(r.body, qlong(100 + i), `pipelined echo ${i} in order`);
  }
  const mid = await lendCounters(ctx, gw);
  assert.equal(mid.lent - before.lent, sent, 'every byte of every call lent');
  assert.equal(mid.copied, 0, 'nothing copied for calls whole in one receive buffer');
  // A node-q client (its own framing): lent as well.
  const q = await qconnect(ctx, gw.port);
  assert.equal(await q.k('echo', 42), 42);
  const after = await lendCounters(ctx, gw);
  assert.ok(after.lent > mid.lent);
  assert.equal(after.copied, 0);

  // Larger than a receive buffer (64 KiB): it straddles buffers and is copied, once.
  const arg = Buffer.concat([qbytesHeader(200000), payloadPattern(200000)]);
  const big = qmsg(MSG.sync, qlist(qstr('echo'), arg));
  const r = await raw.call(big);
  assert.ok(r.body.equals(arg), 'the copied call reached the backend intact');
  const end = await lendCounters(ctx, gw);
  assert.equal(end.copied - after.copied, big.length);
  assert.equal(end.lent, after.lent);
});

itest('a sleeping backend cannot pin the receive pool: past a quarter lent, calls are copied',
  async (t, ctx) => {
    const { gw } = await startStack(ctx, {
      shards: 1,
      listeners: [REQ],
      backends: [{ name: 'rdb1', conns: 1 }],
      limits: { buf_ring_entries: 16 },  // at most 4 buffers lent
    });
    const sleeper = await RawClient.connect(ctx, gw.port);
    const nap = qmsg(MSG.sync, qlist(qstr('sleep'), qlong(1500)));
    await sleeper.write(nap);
    await waitCounter(ctx, gw, 'backend_load_rdb1', 1);
    // Ten clients, one call each: each call in a buffer of its own, queued behind the sleep.
    const clients = [];
    for (let i = 0; i < 10; i++) clients.push(await RawClient.connect(ctx, gw.port));
    const calls = clients.map((_, i) => qmsg(MSG.sync, qlist(qstr('echo'), qlong(i))));
    await Promise.all(clients.map((c, i) => c.write(calls[i])));
    const s = await waitCounter(ctx, gw, 'backend_load_rdb1', 11);
    assert.equal(counter(s, 'request_lend_pressure'), 7, 'the sleep and 3 calls lent, 7 copied');
    assert.equal(counter(s, 'request_bytes_lent'), nap.length + 3 * calls[0].length);
    assert.equal(counter(s, 'request_bytes_copied'), 7 * calls[0].length);
    assert.ok(counter(s, 'bufs_held') <= 4, `bufs_held ${counter(s, 'bufs_held')}`);
    const r = await sleeper.readFrame();
    assert.deepEqual(r.body, qlong(1500));
    for (let i = 0; i < 10; i++) {
      assert.deepEqual((await clients[i].readFrame()).body, qlong(i), `call ${i} answered`);
    }
    await pollUntil(async () => counter(await stats(ctx, gw), 'bufs_held') === 0,
      { what: 'every lent buffer back in the pool', timeoutMs: 5000 });
  });

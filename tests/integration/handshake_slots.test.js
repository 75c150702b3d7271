'use strict';
// Handshakes never hold a slot others need (issue 18, "Limits per user"): a shard at
// limits.conns_per_shard_max closes its oldest pending handshake (plain q or TLS) to admit a
// newcomer, counted in handshakes_evicted, so half-open handshakes (a slowloris) cannot lock
// real clients out; a shard whose every connection has logged in still refuses
// (conns_rejected). And limits.handshake_timeout_ms runs from accept over a TLS listener's TLS
// handshake and the q handshake after it, as one deadline.

const fs = require('node:fs');
const net = require('node:net');
const tls = require('node:tls');
const {
  itest, assert, startStack, qconnect, RawClient, stats, counter, waitCounter, pollUntil,
  within, HOST, qcall, qlong, MSG, decode,
} = require('./lib.js');
const { makePki, tlsConnect } = require('./tls_lib');

const USERS = ['alice:pw', 'ops:pw:admin'];
const ALICE = { user: 'alice', password: 'pw' };
const NODEQ_REFUSED = { message: 'Connection closes (wrong auth?)' };

async function waitOpen(ctx, gw, n) {
  await pollUntil(async () => counter(await stats(ctx, gw), 'conns_open') === n,
    { what: `${n} connections open`, timeoutMs: 10000 });
}

/** A plain TCP client that sends `bytes` and nothing more; resolves once qgate holds it. */
async function stalled(ctx, gw, bytes, open) {
  const raw = await RawClient.open(ctx, gw.port);
  if (bytes.length !== 0) await raw.write(bytes);
  await waitOpen(ctx, gw, open);  // accepted (in this order: the oldest is the first)
  return raw;
}

function endOf(sock, ms = 10000) {
  return within(new Promise((res) => {
    if (sock.destroyed) return res('closed');
    sock.once('error', (e) => res(`refused: ${e.code || e.message}`));
    sock.once('close', () => res('closed'));
  }), ms, 'socket end');
}

itest('handshake slots: a full shard closes its oldest pending handshake for a newcomer ' +
  '(counted); real clients get in past a slowloris; logged-in ones are never closed',
async (t, ctx) => {
  const { gw } = await startStack(ctx, {
    users: USERS, shards: 1,
    limits: { conns_per_shard_max: 4, handshake_timeout_ms: 60000 },  // no timeout helps here
  });
  // Four half-open handshakes fill the shard: credentials without their NUL, or nothing.
  const slow = [];
  for (let i = 0; i < 4; ++i) {
    slow.push(await stalled(ctx, gw, Buffer.from(i % 2 ? 'alice:pw' : '', 'latin1'), i + 1));
  }
  // Each real client takes the place of the oldest pending handshake, and is served.
  const real = [];
  for (let i = 0; i < 4; ++i) {
    const q = await qconnect(ctx, gw.port, ALICE);
    assert.equal(await q.k('echo', i), i, `client ${i} served`);
    real.push(q);
    assert.equal(await slow[i].waitEof(5000), 0, `the oldest handshake (${i}) closed, no byte`);
    const s = await stats(ctx, gw);
    assert.equal(counter(s, 'handshakes_evicted'), i + 1);
    assert.equal(counter(s, 'conns_rejected'), 0);
  }
  // Every slot is a logged-in client now: a newcomer is refused, nobody is closed for it.
  // Closed unread at accept: when the client's handshake is already in qgate's socket, the
  // kernel answers the close with a reset (seen under epoll), else node-q sees a plain close.
  await assert.rejects(qconnect(ctx, gw.port, ALICE),
    (e) => [NODEQ_REFUSED.message, 'read ECONNRESET'].includes(e.message));
  const s = await waitCounter(ctx, gw, 'conns_rejected', 1);
  assert.equal(counter(s, 'handshakes_evicted'), 4);
  assert.equal(counter(s, 'handshake_fail'), 0, 'evicted, not failed');
  for (const [i, q] of real.entries()) assert.equal(await q.k('echo', 10 + i), 10 + i);
});

/** TLS handshake only (no q handshake after it); resolves with the socket once TLS is up. */
function tlsOnly(port, ca) {
  return within(new Promise((res, rej) => {
    const s = tls.connect({ host: HOST, port, servername: 'localhost', ca: fs.readFileSync(ca) },
      () => res(s));
    s.once('error', rej);
  }), 10000, 'TLS connect');
}

itest('handshake slots: a TLS handshake left half-done is pending too, evicted for a TLS ' +
  'client; handshake_timeout_ms covers the TLS handshake and the q handshake after it',
async (t, ctx) => {
  const pki = makePki(ctx.dir);
  const keys = { tls_cert: pki.cert, tls_key: pki.key, tls_ca: pki.ca };
  const { gw } = await startStack(ctx, {
    users: ['u:p', 'ops:pw:admin'], shards: 1,
    limits: { conns_per_shard_max: 2, handshake_timeout_ms: 3000 },
    listeners: [{ group: 'rdb', keys }],
  });
  // A partial TLS record, then silence: stalled mid-TLS-handshake.
  const half = net.connect({ host: HOST, port: gw.port });
  const halfEnd = endOf(half);
  half.on('connect', () => half.write(Buffer.from([0x16, 0x03, 0x01, 0x00])));
  await waitOpen(ctx, gw, 1);
  // TLS done, then no q handshake: still pending, on the deadline set at accept.
  const bare = await tlsOnly(gw.port, pki.ca);
  const bareEnd = endOf(bare);
  await waitOpen(ctx, gw, 2);
  // The shard is full: a TLS client takes the slot of the oldest, the half-done TLS handshake.
  const c = await tlsConnect(gw.port, { ca: pki.ca });
  assert.equal(c.cap, 3, 'the q handshake answered');
  assert.equal(await halfEnd, 'closed', 'the handshake stalled mid-TLS is closed');
  let s = await waitCounter(ctx, gw, 'handshakes_evicted', 1);
  assert.equal(counter(s, 'conns_rejected'), 0);
  // The one that finished TLS but not its q handshake: closed by handshake_timeout_ms.
  assert.equal(await bareEnd, 'closed');
  s = await waitCounter(ctx, gw, 'handshake_fail', 1);
  assert.equal(counter(s, 'handshakes_evicted'), 1, 'timed out, not evicted');
  assert.equal(counter(s, 'tls_handshakes'), 2);
  c.send(qcall(MSG.sync, 'echo', qlong(5)));
  assert.equal(Number(decode(await c.frame())), 5, "the TLS client is served");
});

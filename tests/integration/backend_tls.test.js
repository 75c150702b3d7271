'use strict';
// TLS to backends (issue 18): a tls = true [[backend]] is reached over TLS 1.2/1.3 by every
// upstream connection (session upstreams, request mode's pool links and their health probes),
// the q handshake inside TLS; the certificate is verified (tls_ca, tls_server_name, expiry)
// and failures are counted (backend_tls_failures), logged with OpenSSL's reason and treated
// as failed connects. qmock plays q's -E 1 / -E 2. README.md "Behaviour decisions" (TLS).

const fs = require('node:fs');
const {
  itest, assert, startStack, startQmock, startQgate, qconnect, qcall, qlong, MSG, decode,
  payloadPattern, payloadReplyLen, stats, counter, waitCounter, pollUntil, qgateConfigText,
  runQgateSync, deadPort, RawClient, syncText,
} = require('./lib');
const { makePki, tlsConnect } = require('./tls_lib');

const MIB = 1 << 20;
const USERS = ['u:p', 'a:b:admin'];
const AUTH = { user: 'u', password: 'p' };
// Fast reconnects and ejection; a connect (TCP + TLS + q handshake) within 2 s.
const LIMITS = {
  reconnect_min_ms: 20, reconnect_max_ms: 200, eject_after_failures: 2, connect_timeout_ms: 2000,
};

/** qmock flags: TLS only (q's -E 2) with `cert`, or `mode` 1 (plain and TLS). */
function tlsMock(cert, key, mode = 2, more = []) {
  return { args: ['--tls-cert', cert, '--tls-key', key, '--tls-mode', String(mode), ...more] };
}

async function tlsCall(c, name, arg) {
  c.send(qcall(MSG.sync, name, qlong(arg)));
  return c.frame(30000);
}

const rejectsWith = (p, text) => assert.rejects(p, (e) => {
  assert.equal(e.message, text);
  return true;
});

itest('TLS backend: session and request mode, plain and TLS clients, the q handshake inside TLS',
  async (t, ctx) => {
    const pki = makePki(ctx.dir);
    const lkeys = { tls_cert: pki.cert, tls_key: pki.key };
    const { gw } = await startStack(ctx, {
      users: USERS,
      limits: LIMITS,
      listeners: [
        { group: 'rdb' }, { group: 'rdb', mode: 'request' },
        { group: 'rdb', keys: lkeys }, { group: 'rdb', mode: 'request', keys: lkeys },
      ],
      backends: [{
        name: 'rdb1', conns: 2, mock: tlsMock(pki.cert, pki.key), keys: { tls: true, tls_ca: pki.ca },
      }],
    });
    for (const i of [0, 1]) {  // plain clients (node-q)
      const q = await qconnect(ctx, gw.ports[i], AUTH);
      assert.equal(await q.k('whoami'), 'gw', `listener ${i}: the backend's .z.u over TLS`);
      assert.equal(await q.k('echo', 42), 42);
      assert.equal(await q.k('name[]'), 'rdb1');
      await q.close();
    }
    for (const i of [2, 3]) {  // TLS clients (node's tls): TLS on both sides of qgate
      const c = await tlsConnect(gw.ports[i], { ca: pki.ca });
      assert.equal(decode(await tlsCall(c, 'echo', 7)), 7);
      for (const n of [MIB + 7, 3 * MIB]) {  // many records each way
        const f = await tlsCall(c, 'payload', n);
        assert.equal(f.length, payloadReplyLen(n), `listener ${i} payload ${n}: length`);
        assert.ok(f.subarray(14).equals(payloadPattern(n)), `listener ${i} payload ${n}: bytes`);
      }
      c.close();
    }
    const s = await stats(ctx, gw);
    // 2 pool links + at least 2 session upstreams
    assert.ok(counter(s, 'backend_tls_handshakes') >= 4, 'TLS handshakes with the backend');
    assert.equal(counter(s, 'backend_tls_failures'), 0);
  });

// Each refused certificate: the log names the backend and the reason, the counter moves, a
// client of a group with only that backend gets q's no-backend error, and a healthy backend
// in the same group as a refused one serves every client (session and request mode).
const REFUSED = [
  ['wrong CA', (p) => ({ mock: tlsMock(p.cert, p.key), keys: { tls: true, tls_ca: p.ca2 } }),
    /certificate verify failed: (self-signed certificate|unable to get local issuer)/],
  ['wrong server name', (p) => ({
    mock: tlsMock(p.cert, p.key), keys: { tls: true, tls_ca: p.ca, tls_server_name: 'rdb.example' },
  }), /certificate verify failed: hostname mismatch/],
  ['expired certificate', (p) => ({
    mock: tlsMock(p.expiredCert, p.expiredKey), keys: { tls: true, tls_ca: p.ca },
  }), /certificate verify failed: certificate has expired/],
];

for (const [what, make, reason] of REFUSED) {
  itest(`TLS backend refused (${what}): logged with the reason, counted, the group's other backend serves`,
    async (t, ctx) => {
      const pki = makePki(ctx.dir);
      const { gw, mocks } = await startStack(ctx, {
        users: USERS,
        limits: LIMITS,
        listeners: [{ group: 'bad' }, { group: 'mix' }, { group: 'mix', mode: 'request' }],
        backends: [
          { name: 'bad1', group: 'bad', ...make(pki) },
          { name: 'bad2', group: 'mix', conns: 1, ...make(pki) },
          { name: 'good', group: 'mix', conns: 1 },
        ],
      });
      const lone = await qconnect(ctx, gw.ports[0], AUTH);
      await rejectsWith(lone.k('echo', 1), 'qgate: no backend available for group bad');
      for (let i = 0; i < 4; i++) {  // least-busy ties rotate: some sessions try bad2 first
        const q = await qconnect(ctx, gw.ports[1], AUTH);
        assert.equal(await q.k('name[]'), 'good', `session ${i} served by the healthy backend`);
        await q.close();
      }
      const s = await waitCounter(ctx, gw, 'backend_tls_failures', 2, 10000);
      assert.ok(counter(s, 'backend_connect_fail') >= counter(s, 'backend_tls_failures') - 1,
        'TLS failures are connect failures');  // (relaxed counters: one may lag)
      const r = await qconnect(ctx, gw.ports[2], AUTH);
      for (let i = 0; i < 4; i++) assert.equal(await r.k('name[]'), 'good', 'request mode');
      const log = gw.proc.logText();
      for (const b of ['bad1', 'bad2']) {
        const line = new RegExp(`WARN.*backend ${b} 127\\.0\\.0\\.1:${mocks[b].port}: TLS: ` +
          reason.source, 'i');
        assert.match(log, line, `${b}: warn line with the reason`);
      }
    });
}

itest('tls = true against a plain q, tls = false against a TLS-only q: refused, counted, no hang',
  async (t, ctx) => {
    const pki = makePki(ctx.dir);
    const { gw, mocks } = await startStack(ctx, {
      users: USERS,
      limits: LIMITS,
      listeners: [{ group: 'a' }, { group: 'b' }],
      backends: [
        { name: 'plainq', group: 'a', keys: { tls: true, tls_ca: pki.ca } },
        { name: 'tlsq', group: 'b', mock: tlsMock(pki.cert, pki.key) },
      ],
    });
    for (const [i, g] of [[0, 'a'], [1, 'b']]) {
      const t0 = Date.now();
      const q = await qconnect(ctx, gw.ports[i], AUTH);
      await rejectsWith(q.k('echo', 1), `qgate: no backend available for group ${g}`);
      assert.ok(Date.now() - t0 < LIMITS.connect_timeout_ms + 3000, `group ${g}: bounded`);
      await q.close();
    }
    const s = await waitCounter(ctx, gw, 'backend_connect_fail', 2, 10000);
    assert.ok(counter(s, 'backend_tls_failures') >= 1, 'the plain q counted as a TLS failure');
    assert.match(gw.proc.logText(), new RegExp(`backend plainq 127\\.0\\.0\\.1:${mocks.plainq.port}` +
      ': TLS: (the backend answered without TLS|the backend closed)'));
    assert.match(mocks.tlsq.proc.logText(), /plain client on a TLS-only port/);
  });

itest('TLS backend requiring a client certificate: served with tls_cert/tls_key, refused without',
  async (t, ctx) => {
    const pki = makePki(ctx.dir);
    const mock = tlsMock(pki.cert, pki.key, 2, ['--tls-verify-client', pki.ca]);
    const { gw, mocks } = await startStack(ctx, {
      users: USERS,
      limits: LIMITS,
      listeners: [{ group: 'with' }, { group: 'without' }],
      backends: [
        { name: 'withcert', group: 'with', mock, keys: {
          tls: true, tls_ca: pki.ca, tls_cert: pki.clientCert, tls_key: pki.clientKey,
        } },
        { name: 'nocert', group: 'without', mock, keys: { tls: true, tls_ca: pki.ca } },
      ],
    });
    const q = await qconnect(ctx, gw.ports[0], AUTH);
    assert.equal(await q.k('whoami'), 'gw');
    const n = await qconnect(ctx, gw.ports[1], AUTH);
    await rejectsWith(n.k('echo', 1), 'qgate: no backend available for group without');
    await waitCounter(ctx, gw, 'backend_tls_failures', 1, 10000);
    assert.match(gw.proc.logText(),
      new RegExp(`backend nocert 127\\.0\\.0\\.1:${mocks.nocert.port}: TLS: .*certificate`));
  });

itest('reload (SIGHUP): a backend switched from tls = false to true is reached over TLS',
  async (t, ctx) => {
    const pki = makePki(ctx.dir);
    const m = await startQmock(ctx, { name: 'rdb1', users: ['gw:pw'], ...tlsMock(pki.cert, pki.key, 1) });
    const opts = (keys) => ({
      users: USERS,
      limits: LIMITS,
      listeners: [{ group: 'rdb' }, { group: 'rdb', mode: 'request' }],
      backends: [{ name: 'rdb1', port: m.port, credentials: 'gw:pw', conns: 1, keys }],
    });
    const gw = await startQgate(ctx, opts({}));
    const q0 = await qconnect(ctx, gw.ports[1], AUTH);
    assert.equal(await q0.k('echo', 1), 1);
    assert.equal(counter(await stats(ctx, gw), 'backend_tls_handshakes'), 0, 'plain at first');
    fs.writeFileSync(gw.cfgPath, qgateConfigText({
      ...opts({ tls: true, tls_ca: pki.ca }),
      portFile: `${ctx.dir}/qgate.ports`, usersFile: `${ctx.dir}/qgate.users`,
    }));
    gw.proc.kill('SIGHUP');
    await waitCounter(ctx, gw, 'backend_tls_handshakes', 1, 10000);  // the new pool link
    const q = await qconnect(ctx, gw.ports[0], AUTH);  // a new session: TLS upstream
    assert.equal(await q.k('whoami'), 'gw');
    const r = await pollUntil(async () => {
      try { return (await q0.k('echo', 2)) === 2; } catch { return false; }
    }, { what: 'request mode over the new link', timeoutMs: 10000, intervalMs: 100 });
    assert.ok(r);
    const s = await waitCounter(ctx, gw, 'backend_tls_handshakes', 2, 10000);
    assert.equal(counter(s, 'backend_tls_failures'), 0);
  });

itest('pub/sub feed from a TLS tickerplant: updates arrive whole and in sequence', async (t, ctx) => {
  const pki = makePki(ctx.dir);
  const tp = await startQmock(ctx, {
    name: 'tp', ...tlsMock(pki.cert, pki.key, 2, ['--tickerplant', '--tp-rate', '200', '--tp-rows', '3']),
  });
  const gw = await startQgate(ctx, {
    limits: LIMITS,
    listeners: [{ group: 'tp', mode: 'pubsub' }],
    backends: [{ name: 'tp', group: 'tp', port: tp.port, keys: { tls: true, tls_ca: pki.ca } }],
    extra: '[pubsub]\nupstream = "tp"',
  });
  await waitCounter(ctx, gw, 'pubsub_upstream_connects', 1, 10000);
  const raw = await RawClient.connect(ctx, gw.port);
  const reply = await raw.call(syncText('.u.sub[`trade;`]'));
  assert.equal(reply.type, MSG.response);
  let last = -1;
  for (let i = 0; i < 40; i++) {  // 120 rows: many TLS records through the feed's reads
    const rows = decode((await raw.readFrame()).frame)[2];
    for (const r of rows) {
      if (last >= 0) assert.equal(r.seq, last + 1, 'rows in sequence, none lost');
      last = r.seq;
    }
  }
  const s = await stats(ctx, gw);
  assert.ok(counter(s, 'backend_tls_handshakes') >= 1, 'the feed spoke TLS');
  assert.equal(counter(s, 'backend_tls_failures'), 0);
});

itest('backend TLS config errors: cert without key refused; an unreadable file is named',
  { ioIndependent: true }, async (t, ctx) => {
    const pki = makePki(ctx.dir);
    const port = await deadPort();
    const cases = [
      [{ tls: true, tls_cert: pki.clientCert }, /tls_cert and tls_key go together/],
      [{ tls_ca: pki.ca }, /need tls = true/],
      [{ tls: true, tls_ca: `${ctx.dir}/nope.pem` }, /backend b: tls_ca .*nope\.pem/],
      [{ tls: true, tls_ca: pki.ca, tls_cert: pki.clientCert, tls_key: `${ctx.dir}/no.key` },
        /backend b: tls_key .*no\.key/],
    ];
    for (const [keys, want] of cases) {
      const cfg = ctx.file('bad.toml', qgateConfigText({ backends: [{ name: 'b', port, keys }] }));
      const r = runQgateSync(['-c', cfg]);
      assert.equal(r.code, 1, `qgate exits 1 (${r.stderr})`);
      assert.match(r.stderr + r.stdout, want);
    }
  });

'use strict';
// TLS listeners (issue 18): TLS 1.2/1.3 in front of the q handshake on session and request
// listeners, side by side with a plain one; certificate checks both ways; plain q-IPC to a TLS
// port and TLS to a plain port refused and counted. README.md "Behaviour decisions" (TLS).

const fs = require('node:fs');
const net = require('node:net');
const tls = require('node:tls');
const { spawn } = require('node:child_process');
const path = require('node:path');
const {
  itest, assert, startStack, qconnect, qcall, qlong, MSG, decode, payloadPattern,
  payloadReplyLen, stats, counter, waitCounter, pollUntil, within, HOST, qgateConfigText,
  runQgateSync, deadPort,
} = require('./lib');
const { makePki, tlsConnect } = require('./tls_lib');

const MIB = 1 << 20;

function tlsKeys(pki, more = {}) {
  return { tls_cert: pki.cert, tls_key: pki.key, tls_ca: pki.ca, ...more };
}

/** A stack with listeners: 0 TLS session, 1 TLS request, 2 plain session. */
async function tlsStack(ctx, pki, more = {}) {
  return startStack(ctx, {
    users: ['u:p', 'a:b:admin'],
    listeners: [
      { group: 'rdb', keys: tlsKeys(pki, more) },
      { group: 'rdb', mode: 'request', keys: tlsKeys(pki, more) },
      { group: 'rdb' },
    ],
  });
}

async function call(c, name, arg) {
  c.send(qcall(MSG.sync, name, qlong(arg)));
  return c.frame(30000);
}

/** Resolves with 'closed' or 'refused: <error>' once the socket ends; bounded. */
function endOf(sock, ms = 10000) {
  return within(new Promise((res) => {
    sock.once('error', (e) => res(`refused: ${e.code || e.message}`));
    sock.once('close', () => res('closed'));
  }), ms, 'socket end');
}

for (const [li, kind] of [[0, 'session'], [1, 'request']]) {
  itest(`TLS ${kind} listener: calls answered, 1 MiB+ replies intact, TLS 1.2 and 1.3`,
    async (t, ctx) => {
      const pki = makePki(ctx.dir);
      const { gw } = await tlsStack(ctx, pki);
      for (const v of ['TLSv1.2', 'TLSv1.3']) {
        const c = await tlsConnect(gw.ports[li], { ca: pki.ca, minVersion: v, maxVersion: v });
        assert.equal(c.sock.getProtocol(), v);
        assert.equal(c.cap, 3, 'q handshake reply over TLS');
        assert.equal(decode(await call(c, 'echo', 42)), 42);
        for (const n of [MIB + 7, 3 * MIB]) {
          const f = await call(c, 'payload', n);
          assert.equal(f.length, payloadReplyLen(n), `${v} payload ${n}: length`);
          assert.ok(f.subarray(14).equals(payloadPattern(n)), `${v} payload ${n}: bytes intact`);
        }
        // A large request too (several TLS records per recv; decrypted into spare buffers).
        const big = Buffer.alloc(200000, 7);
        const h = Buffer.alloc(6); h[0] = 4; h.writeUInt32LE(big.length, 2);
        c.send(qcall(MSG.sync, 'echo', Buffer.concat([h, big])));
        const back = decode(await c.frame(30000));
        assert.equal(back.length, big.length, 'echoed 200 KB request');
        c.close();
      }
      const s = await stats(ctx, gw);
      assert.ok(counter(s, 'tls_handshakes') >= 2, 'handshakes counted');
      assert.equal(counter(s, 'tls_handshake_failures'), 0);
      // the plain listener beside them still speaks plain q-IPC
      const q = await qconnect(ctx, gw.ports[2], { user: 'u', password: 'p' });
      assert.equal(await q.k('echo', 5), 5);
    });
}

itest('TLS: python3 ssl client through the TLS request listener', async (t, ctx) => {
  const pki = makePki(ctx.dir);
  const { gw } = await tlsStack(ctx, pki);
  const script = path.join(__dirname, 'tls_client.py');
  const out = await within(new Promise((res, rej) => {
    const p = spawn('python3', [script, String(gw.ports[1]), pki.ca], { stdio: ['ignore', 'pipe', 'pipe'] });
    let o = ''; let e = '';
    p.stdout.on('data', (b) => { o += b; });
    p.stderr.on('data', (b) => { e += b; });
    p.on('close', (code) => (code === 0 ? res(o) : rej(new Error(`python3: ${code} ${e}`))));
  }), 30000, 'python client');
  assert.match(out, /^ok 3 1048576 TLSv1\.[23]$/m);
});

itest('TLS: a client trusting another CA refuses qgate; an expired server certificate is refused',
  async (t, ctx) => {
    const pki = makePki(ctx.dir);
    const { gw } = await tlsStack(ctx, pki);
    await assert.rejects(tlsConnect(gw.ports[0], { ca: pki.ca2 }), /self-signed|unable to verify|UNABLE_TO/i);
    const { gw: gw2 } = await startStack(ctx, {
      procName: 'qgate2', users: ['u:p', 'a:b:admin'],
      listeners: [{ group: 'rdb', keys: { tls_cert: pki.expiredCert, tls_key: pki.expiredKey } }],
    });
    await assert.rejects(tlsConnect(gw2.port, { ca: pki.ca }), /expired/i);
    // the same client with the right CA and a valid certificate is served
    const c = await tlsConnect(gw.port, { ca: pki.ca });
    assert.equal(decode(await call(c, 'echo', 1)), 1);
    c.close();
  });

itest('TLS verify_client: no client certificate refused (logged, counted); a signed one served',
  async (t, ctx) => {
    const pki = makePki(ctx.dir);
    const { gw } = await tlsStack(ctx, pki, { tls_verify_client: true });
    // TLS 1.3: the client learns of the refusal after its handshake, at its first read.
    const refused = (async () => {
      const c = await tlsConnect(gw.port, { ca: pki.ca });
      return c;
    })();
    await assert.rejects(refused, /certificate|closed|ECONNRESET|alert/i);
    await waitCounter(ctx, gw, 'tls_handshake_failures', 1);
    await pollUntil(() => /TLS client refused on listener 0: .*certificate/i.test(fs.readFileSync(gw.proc.log, 'utf8')),
      { what: 'the refusal logged' });
    const c = await tlsConnect(gw.port, { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey });
    assert.equal(decode(await call(c, 'echo', 9)), 9);
    c.close();
  });

itest('TLS: plain q-IPC to a TLS port closed and counted; a ClientHello to a plain port too',
  async (t, ctx) => {
    const pki = makePki(ctx.dir);
    const { gw } = await tlsStack(ctx, pki);
    const plain = net.connect({ host: HOST, port: gw.ports[0] });
    plain.on('connect', () => plain.write(Buffer.from('u:p\x03\x00', 'latin1')));
    let got = 0;
    plain.on('data', (b) => { got += b.length; });
    assert.equal(await endOf(plain), 'closed');
    assert.equal(got, 0, 'not a byte written back (no handshake reply)');
    await waitCounter(ctx, gw, 'tls_plain_refused', 1);

    const hello = tls.connect({ host: HOST, port: gw.ports[2], ca: pki.ca, servername: 'localhost' });
    const end = await endOf(hello);
    assert.match(end, /refused|closed/);
    await waitCounter(ctx, gw, 'tls_on_plain_refused', 1);
  });

itest('TLS: a client that never finishes its TLS handshake is closed at handshake_timeout_ms',
  async (t, ctx) => {
    const pki = makePki(ctx.dir);
    const { gw } = await startStack(ctx, {
      users: ['u:p', 'a:b:admin'], limits: { handshake_timeout_ms: 300 },
      listeners: [{ group: 'rdb', keys: tlsKeys(pki) }],
    });
    const before = counter(await stats(ctx, gw), 'handshake_fail');
    const s = net.connect({ host: HOST, port: gw.port });
    s.on('connect', () => s.write(Buffer.from([0x16, 0x03, 0x01, 0x00])));  // a partial record
    assert.equal(await endOf(s, 5000), 'closed');
    const after = await waitCounter(ctx, gw, 'handshake_fail', before + 1);
    assert.equal(counter(after, 'tls_handshakes'), 0);
  });

itest('TLS with 4 KiB receive buffers: a 16 KiB record decrypts into reserve buffers, in order',
  async (t, ctx) => {
    const pki = makePki(ctx.dir);
    const { gw } = await startStack(ctx, {
      users: ['u:p', 'a:b:admin'], limits: { buf_size: 4096 },
      listeners: [{ group: 'rdb', keys: tlsKeys(pki) }, { group: 'rdb', mode: 'request', keys: tlsKeys(pki) }],
    });
    for (const port of gw.ports) {
      const c = await tlsConnect(port, { ca: pki.ca });
      const big = payloadPattern(300000);
      const h = Buffer.alloc(6); h[0] = 4; h.writeUInt32LE(big.length, 2);
      c.send(qcall(MSG.sync, 'echo', Buffer.concat([h, big])));
      const back = await c.frame(30000);
      assert.ok(back.subarray(14).equals(big), 'the 300 KB request came back byte for byte');
      c.close();
    }
    assert.equal(counter(await stats(ctx, gw), 'tls_rx_no_buffer'), 0);
  });

itest('TLS config errors stop the start with the file named', { ioIndependent: true }, async (t, ctx) => {
  const pki = makePki(ctx.dir);
  const cases = [
    [{ tls_cert: pki.cert, tls_key: `${ctx.dir}/nope.key` }, /tls_key .*nope\.key/],
    [{ tls_cert: `${ctx.dir}/nope.pem`, tls_key: pki.key }, /tls_cert .*nope\.pem/],
    [{ tls_cert: pki.cert, tls_key: pki.clientKey }, /tls_key .*client\.key.*(mismatch|does not match)/],
  ];
  for (const [keys, want] of cases) {
    const cfg = ctx.file('bad.toml', qgateConfigText({
      listeners: [{ group: 'rdb', keys }], backends: [{ name: 'b', port: await deadPort() }],
    }));
    const r = runQgateSync(['-c', cfg]);
    assert.equal(r.code, 1, `qgate exits 1 (${r.stderr})`);
    assert.match(r.stderr + r.stdout, want);
  }
});

itest('TLS reload (SIGHUP): a renewed certificate serves new clients; open ones keep theirs',
  async (t, ctx) => {
    const pki = makePki(ctx.dir);
    const live = { tls_cert: `${ctx.dir}/live.pem`, tls_key: `${ctx.dir}/live.key` };
    fs.copyFileSync(pki.cert, live.tls_cert);
    fs.copyFileSync(pki.key, live.tls_key);
    const { gw } = await startStack(ctx, { users: ['u:p', 'a:b:admin'], listeners: [{ group: 'rdb', keys: live }] });
    const old = await tlsConnect(gw.port, { ca: pki.ca });
    assert.equal(decode(await call(old, 'echo', 1)), 1);
    await assert.rejects(tlsConnect(gw.port, { ca: pki.ca2 }), /self-signed|unable|UNABLE/i);
    fs.copyFileSync(pki.cert2, live.tls_cert);
    fs.copyFileSync(pki.key2, live.tls_key);
    gw.proc.kill('SIGHUP');
    const renewed = await pollUntil(async () => {
      try { return await tlsConnect(gw.port, { ca: pki.ca2 }); } catch { return null; }
    }, { what: 'the renewed certificate served', timeoutMs: 10000, intervalMs: 100 });
    assert.equal(decode(await call(renewed, 'echo', 2)), 2);
    assert.equal(decode(await call(old, 'echo', 3)), 3, 'the connection opened before is served');
    await assert.rejects(tlsConnect(gw.port, { ca: pki.ca }), /self-signed|unable|UNABLE/i);
    old.close();
    renewed.close();
  });

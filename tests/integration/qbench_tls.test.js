'use strict';
// qbench's TLS client and issue 18's benchmark harness (tools/qbench/README.md, "TLS").
//
// --target with --tls / --tls-ca against a qgate TLS listener: calls and connection set-ups
// (--handshakes) complete over TLS 1.3; the same client refuses a certificate from another CA,
// and plain qbench is refused by the TLS port (so the client really speaks TLS). Pipelined
// replies in request mode reach the client as one TLS record per burst, not one per reply
// (src/proxy/tls.cc gathers small send-queue items), read from qbench's wire-bytes ratio.
// --compare --tls --quick: qgate-tls, qgate-req-tls and HAProxy terminating the same
// certificate run beside the plain targets, all negotiate one suite, every target completes
// calls and set-ups, and the T1/HS lines carry values.

const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { itest, assert, BUILD, QGATE, startStack } = require('./lib.js');
const { makePki } = require('./tls_lib');

const QBENCH = path.join(BUILD, 'tools', 'qbench', 'qbench');

function qbench(args) {
  const r = spawnSync(QBENCH, args, { encoding: 'utf8', timeout: 120000 });
  return { code: r.status, stdout: r.stdout || '', stderr: r.stderr || '', error: r.error };
}

function tlsStack(ctx, pki) {
  return startStack(ctx, {
    users: ['u:p'],
    listeners: [
      { group: 'rdb', keys: { tls_cert: pki.cert, tls_key: pki.key } },
      { group: 'rdb', mode: 'request', keys: { tls_cert: pki.cert, tls_key: pki.key } },
    ],
  });
}

const short = ['--duration', '0.4', '--warmup', '0.1', '--user', 'u:p'];

itest('qbench --tls: calls and set-ups over TLS 1.3 to session and request listeners',
  async (t, ctx) => {
    const pki = makePki(ctx.dir);
    const { gw } = await tlsStack(ctx, pki);
    for (const [i, port] of gw.ports.slice(0, 2).entries()) {
      const target = ['--target', `127.0.0.1:${port}`, ...short];
      const r = qbench([...target, '--tls-ca', pki.ca, '--conns', '4', '--depth', '16']);
      assert.equal(r.code, 0, `${r.error || ''}${r.stderr}${r.stdout}`);
      const wire = /, TLS\n\s+TLSv1\.3 TLS_\w+, (\d\.\d{3}) wire bytes per reply byte\n/.exec(r.stdout);
      assert.ok(wire && +wire[1] > 1, r.stdout);
      // Request mode queues each 52-byte reply as an item of its own: qgate writes a burst of
      // them as one record (~1.03 bytes on the wire per reply byte), not one record per reply
      // (22 bytes of TLS framing and tag each: ~1.42).
      if (i === 1) assert.ok(+wire[1] < 1.2, `pipelined replies one record per burst: ${r.stdout}`);
      const rt = +/(\d+) rt\/s/.exec(r.stdout)[1];
      assert.ok(rt > 0, r.stdout);
      assert.doesNotMatch(r.stdout, /q error replies/);
      const h = qbench([...target, '--tls-ca', pki.ca, '--handshakes', '--conns', '2']);
      assert.equal(h.code, 0, `${h.stderr}${h.stdout}`);
      assert.match(h.stdout, /TLS handshake, q handshake, close/);
      assert.ok(+/(\d+) handshakes\/s/.exec(h.stdout)[1] > 0, h.stdout);
      assert.doesNotMatch(h.stdout, /failed set-ups/);
      // Another CA's certificate: the client's check refuses it.
      const bad = qbench([...target, '--tls-ca', pki.ca2]);
      assert.equal(bad.code, 1, bad.stdout);
      assert.match(bad.stderr, /certificate verify failed/);
      // Plain q-IPC to the TLS port: refused (qbench without --tls is not speaking TLS).
      const plain = qbench(target);
      assert.equal(plain.code, 1, plain.stdout);
      assert.match(plain.stderr, /handshake refused/);
    }
  });

itest('qbench --compare --tls: qgate-tls, qgate-req-tls, haproxy-tls beside the plain targets',
  { ioIndependent: true, timeout: 180000 }, async () => {
    const r = qbench(['--compare', '--tls', '--quick', '--only', 'G1,HS', '--qgate', QGATE]);
    assert.equal(r.code, 0, `${r.error || ''}\n${r.stderr}`);
    const suites = {};
    for (const m of r.stdout.matchAll(/^note: (\S+) negotiates (TLSv1\.3 TLS_\w+) /gm)) {
      suites[m[1]] = m[2];
    }
    assert.deepEqual(Object.keys(suites).sort(), ['haproxy-tls', 'qgate-req-tls', 'qgate-tls'],
      r.stdout);
    assert.equal(new Set(Object.values(suites)).size, 1, 'one suite for all three');
    assert.match(r.stdout, /^note: --tls: certificate EC P-256/m);
    const all = ['direct', 'qgate', 'qgate-req', 'haproxy', 'qgate-tls', 'qgate-req-tls',
      'haproxy-tls'];
    for (const id of ['G1', 'HS']) {
      const rows = [...r.stdout.matchAll(new RegExp(`^${id}\\s+.+?\\s{2,}(\\S+)\\s+(\\d+)\\s+[\\d.]+`,
        'gm'))].map((m) => ({ target: m[1], rt: +m[2] }));
      assert.deepEqual(rows.map((x) => x.target), all, r.stdout);
      for (const x of rows) assert.ok(x.rt > 0, `${id} ${x.target}: ${r.stdout}`);
    }
    assert.match(r.stdout,
      /^T1\s+rt\/s, qgate-tls \/ haproxy-tls \(1x1, 64 B\)\s+>= 1\.00\s+\d+\.\d\d\s+(PASS|FAIL)$/m);
    assert.match(r.stdout,
      /^T1\s+rt\/s, qgate-req-tls \/ qgate-req \(plain\) \(1x1, 64 B\)\s+info\s+\d+\.\d\d\s+info$/m);
    // A full TLS handshake costs far more than a plain set-up: well under the plain rate.
    const hs = /^HS\s+set-ups\/s, qgate-tls \/ qgate \(plain\)\s+info\s+(\d+\.\d\d)/m.exec(r.stdout);
    assert.ok(hs && +hs[1] > 0 && +hs[1] < 0.7, r.stdout);
  });

'use strict';
// TLS helpers for tls.test.js: a throwaway PKI made with the openssl CLI in the test's temp
// dir, and a q-IPC client over node's tls module (node-q does not speak TLS): the q
// handshake and sync calls written by hand with lib.js's qmsg / decode helpers.

const fs = require('node:fs');
const path = require('node:path');
const tls = require('node:tls');
const { spawnSync } = require('node:child_process');
const { HOST, within } = require('./lib');

function openssl(dir, args) {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8', timeout: 20000 });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

/** A CA, a server cert for 127.0.0.1 (and an expired one), a client cert, another CA. */
function makePki(dir) {
  const d = path.join(dir, 'pki');
  fs.mkdirSync(d, { recursive: true });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const ca of ['ca', 'ca2']) {
    openssl(d, ['req', '-x509', ...ec, '-keyout', `${ca}.key`, '-out', `${ca}.pem`,
      '-days', '2', '-subj', `/CN=qgate test ${ca}`]);
  }
  fs.writeFileSync(path.join(d, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  const leaf = (name, cn, extra) => {
    openssl(d, ['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    openssl(d, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key',
      '-CAcreateserial', '-out', `${name}.pem`, '-extfile', 'san.ext', ...extra]);
  };
  leaf('server', 'localhost', ['-days', '2']);
  // A renewed server certificate, signed by the other CA (the reload test tells them apart).
  openssl(d, ['req', ...ec, '-keyout', 'server2.key', '-out', 'server2.csr', '-subj', '/CN=localhost']);
  openssl(d, ['x509', '-req', '-in', 'server2.csr', '-CA', 'ca2.pem', '-CAkey', 'ca2.key',
    '-CAcreateserial', '-out', 'server2.pem', '-extfile', 'san.ext', '-days', '2']);
  leaf('client', 'client1', ['-days', '2']);
  // Expired: valid 2020-01-01 to 2020-01-02, signed with `openssl ca` (OpenSSL 3.0's x509
  // has no -not_before / -not_after, and -days refuses a non-positive number).
  openssl(d, ['req', ...ec, '-keyout', 'expired.key', '-out', 'expired.csr', '-subj', '/CN=localhost']);
  fs.writeFileSync(path.join(d, 'index.txt'), '');
  fs.writeFileSync(path.join(d, 'serial'), '01\n');
  fs.writeFileSync(path.join(d, 'ca.cnf'), '[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\n' +
    'new_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = p\n' +
    'copy_extensions = copy\n[p]\ncommonName = supplied\n');
  openssl(d, ['ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key',
    '-in', 'expired.csr', '-out', 'expired.pem', '-startdate', '20200101000000Z',
    '-enddate', '20200102000000Z', '-notext', '-extfile', 'san.ext']);
  const f = (n) => path.join(d, n);
  return {
    dir: d, ca: f('ca.pem'), ca2: f('ca2.pem'), cert: f('server.pem'), key: f('server.key'),
    cert2: f('server2.pem'), key2: f('server2.key'),
    clientCert: f('client.pem'), clientKey: f('client.key'),
    expiredCert: f('expired.pem'), expiredKey: f('expired.key'),
  };
}

/** A TLS q client: connect, q handshake, then sync calls whose replies are read as frames. */
class TlsQ {
  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.waiters = [];
    this.closed = false;
    this.error = null;
    sock.on('data', (b) => { this.buf = Buffer.concat([this.buf, b]); this._wake(); });
    sock.on('error', (e) => { this.error = e; this._wake(); });
    sock.on('close', () => { this.closed = true; this._wake(); });
  }

  _wake() { const w = this.waiters; this.waiters = []; for (const f of w) f(); }

  /** Resolves with `n` bytes once they arrived; rejects on close or after `ms`. */
  read(n, ms = 10000) {
    const once = () => new Promise((res) => this.waiters.push(res));
    const loop = async () => {
      for (let i = 0; i < 100000; i++) {
        if (this.buf.length >= n) {
          const out = this.buf.subarray(0, n);
          this.buf = this.buf.subarray(n);
          return out;
        }
        if (this.closed || this.error) throw this.error || new Error('connection closed');
        await once();
      }
      throw new Error('read loop bound');
    };
    return within(loop(), ms, `read of ${n} bytes`);
  }

  async frame(ms = 10000) {
    const h = await this.read(8, ms);
    const len = h.readUInt32LE(4);
    return Buffer.concat([h, await this.read(len - 8, ms)]);
  }

  send(b) { this.sock.write(b); }
  close() { this.sock.destroy(); }
}

/** TLS connect (rejects on a refused handshake), then the q handshake (user:pw, cap 3). */
async function tlsConnect(port, opts = {}) {
  const { user = 'u', password = 'p', ...tlsOpts } = opts;
  for (const k of ['ca', 'cert', 'key']) {  // paths: node's tls wants the PEM text
    if (typeof tlsOpts[k] === 'string') tlsOpts[k] = fs.readFileSync(tlsOpts[k]);
  }
  const sock = await within(new Promise((res, rej) => {
    const s = tls.connect({ host: HOST, port, servername: 'localhost', ...tlsOpts }, () => res(s));
    s.once('error', rej);
  }), 10000, 'TLS connect');
  const c = new TlsQ(sock);
  c.send(Buffer.from(`${user}:${password}\x03\x00`, 'latin1'));
  const cap = await c.read(1);
  c.cap = cap[0];
  return c;
}

module.exports = { makePki, tlsConnect, TlsQ, openssl };

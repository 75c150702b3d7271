'use strict';
// A q-IPC client on a bare socket for tools/chaos and tools/soak: handshake, sync calls
// matched to their responses in FIFO order (q answers a handle's sync calls in the order it
// read them), async sends, and async messages from the server (pub/sub updates) handed to a
// callback. It tells apart the three outcomes a caller must count: a value, a q error, and
// no answer at all (the connection closed or the call timed out with the call outstanding).
// node-q's decoder (tests/node_modules) turns frames into values.

const net = require('node:net');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const nodeqC = require(require.resolve('node-q/lib/c.js', { paths: [path.join(ROOT, 'tests')] }));

const MSG = { async: 0, sync: 1, response: 2 };

// ------------------------------------------------------------------ encoding (little-endian)

function frame(type, body) {
  const h = Buffer.alloc(8);
  h[0] = 1; h[1] = type;
  h.writeUInt32LE(8 + body.length, 4);
  return Buffer.concat([h, body]);
}
function qstr(text) {
  const b = Buffer.from(text, 'latin1');
  const h = Buffer.alloc(6); h[0] = 10; h.writeUInt32LE(b.length, 2);
  return Buffer.concat([h, b]);
}
function qsym(s) { return Buffer.concat([Buffer.from([0xf5]), Buffer.from(`${s}\0`, 'latin1')]); }
function qsyms(xs) {
  const h = Buffer.alloc(6); h[0] = 11; h.writeUInt32LE(xs.length, 2);
  return Buffer.concat([h, ...xs.map((s) => Buffer.from(`${s}\0`, 'latin1'))]);
}
function qlong(n) {
  const b = Buffer.alloc(9); b[0] = 0xf9; b.writeBigInt64LE(BigInt(n), 1);
  return b;
}
function qlist(...items) {
  const h = Buffer.alloc(6); h[0] = 0; h.writeUInt32LE(items.length, 2);
  return Buffer.concat([h, ...items]);
}
/** The body of the call (name; args...): what h(`name;a;b) sends, with the name a string. */
function qcall(name, ...args) { return qlist(qstr(name), ...args); }

/** A decoded value of a whole frame; throws Error(q error text) for an error response. */
function decode(f) { return nodeqC.deserialize(f); }

/** A q error response frame's text, or null (not compressed: errors are short). */
function errorOf(f) {
  if (f[2] !== 0 || f.length < 10 || f[8] !== 0x80) return null;
  const end = f.indexOf(0, 9);
  return f.subarray(9, end < 0 ? f.length : end).toString('latin1');
}

// ------------------------------------------------------------------ the client

class QClient {
  constructor(sock) {
    this.sock = sock;
    this.chunks = [];
    this.buffered = 0;
    this.pending = [];   // sync calls awaiting a response, oldest first
    this.closed = false;
    this.onAsync = null;  // (frame) => void, for messages the server sends unasked
    this.closedP = new Promise((res) => { this.resolveClosed = res; });
    sock.on('data', (d) => this.feed(d));
    sock.on('error', () => {});
    sock.on('close', () => this.gone());
  }

  /** Connects and handshakes; resolves with the client, rejects on refusal, close, timeout. */
  static connect(port, { host = '127.0.0.1', auth = 'chaos:chaos', cap = 3, ms = 10000 } = {}) {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host, port });
      sock.setNoDelay(true);
      let done = false;
      const fail = (why) => {
        if (done) return;
        done = true; clearTimeout(timer); sock.destroy(); reject(new Error(why));
      };
      const timer = setTimeout(() => fail(`handshake with ${port}: no answer in ${ms} ms`), ms);
      sock.once('error', (e) => fail(`connect to ${port}: ${e.code || e.message}`));
      sock.once('close', () => fail(`connect to ${port}: closed in the handshake`));
      sock.once('connect', () => sock.write(Buffer.from(`${auth}${String.fromCharCode(cap)}\0`,
        'latin1')));
      sock.once('data', (d) => {
        if (done) return;
        done = true; clearTimeout(timer);
        sock.removeAllListeners('error'); sock.removeAllListeners('close');
        const c = new QClient(sock);
        c.capability = d[0];
        if (d.length > 1) c.feed(d.subarray(1));
        resolve(c);
      });
    });
  }

  feed(d) {
    this.chunks.push(d);
    this.buffered += d.length;
    for (;;) {
      if (this.buffered < 8) return;
      const head = this.peek(8);
      const len = (head[0] === 1 ? head.readUInt32LE(4) : head.readUInt32BE(4)) + head[3] * 2 ** 32;
      if (len < 8) { this.sock.destroy(); return; }
      if (this.buffered < len) return;
      this.dispatch(this.take(len));
    }
  }

  peek(n) {
    if (this.chunks[0].length >= n) return this.chunks[0].subarray(0, n);
    this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return this.chunks[0].subarray(0, n);
  }

  take(n) {
    let out;
    if (this.chunks[0].length >= n) {
      out = this.chunks[0].subarray(0, n);
    } else {
      const all = Buffer.concat(this.chunks, this.buffered);
      this.chunks = [all];
      out = all.subarray(0, n);
    }
    this.chunks[0] = this.chunks[0].subarray(n);
    if (this.chunks[0].length === 0) this.chunks.shift();
    this.buffered -= n;
    return out;
  }

  dispatch(f) {
    if (f[1] === MSG.response) {
      const call = this.pending.shift();
      if (!call) { this.unsolicited = (this.unsolicited || 0) + 1; return; }
      clearTimeout(call.timer);
      call.resolve({ frame: f, error: errorOf(f) });
    } else if (f[1] === MSG.async && this.onAsync) {
      this.onAsync(f);
    }
  }

  gone() {
    if (this.closed) return;
    this.closed = true;
    for (const call of this.pending.splice(0)) {
      clearTimeout(call.timer);
      call.resolve({ lost: 'closed' });
    }
    this.resolveClosed();
  }

  /**
   * Sends a sync call; resolves with { frame, error } (error: the q error text or null), or
   * { lost: 'closed' | 'timeout' } when no answer came. Never rejects.
   */
  call(body, ms = 30000) {
    return new Promise((resolve) => {
      if (this.closed) { resolve({ lost: 'closed', unsent: true }); return; }
      const entry = { resolve };
      entry.timer = setTimeout(() => {
        // The answer may still come; it would then match a later call. Nothing can be matched
        // safely after a timeout, so the connection is dropped with it.
        entry.resolve({ lost: 'timeout' });
        entry.resolve = () => {};
        this.sock.destroy();
      }, ms);
      this.pending.push(entry);
      this.sock.write(frame(MSG.sync, body));
    });
  }

  /** Sends an async message; resolves when written (false when the socket is gone). */
  send(body) {
    return new Promise((resolve) => {
      if (this.closed || this.sock.destroyed) { resolve(false); return; }
      this.sock.write(frame(MSG.async, body), (err) => resolve(!err));
    });
  }

  /** Closes the socket and resolves once it is closed (bounded). */
  close(ms = 3000) {
    if (this.closed) return Promise.resolve();
    this.sock.end();
    const t = setTimeout(() => this.sock.destroy(), ms);
    return this.closedP.then(() => clearTimeout(t));
  }

  destroy() { this.sock.destroy(); }
}

module.exports = {
  MSG, QClient, frame, qstr, qsym, qsyms, qlong, qlist, qcall, decode, errorOf, ROOT,
};

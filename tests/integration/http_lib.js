'use strict';
// A minimal HTTP/1.1 client over a plain TCP socket, for the admin port's HTTP side (no npm
// package: the tests see exactly the bytes qgate sends). One connection, requests written as
// raw text (so tests can pipeline, send junk or oversized heads), responses read in order.

const net = require('node:net');
const { within } = require('./lib.js');

class HttpConn {
  /** Connects to 127.0.0.1:port; registered with ctx for teardown. */
  static open(ctx, port) {
    return within(new Promise((resolve, reject) => {
      const c = new HttpConn(net.connect(port, '127.0.0.1'));
      ctx.defer(() => c.sock.destroy());
      c.sock.once('connect', () => resolve(c));
      c.sock.once('error', reject);
    }), 5000, `http connect to ${port}`);
  }

  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.received = 0;
    this.ended = false;
    this.waiter = null;
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.received += d.length;
      if (this.waiter) this.waiter();
    });
    sock.on('error', () => {});  // a close by qgate may surface as ECONNRESET
    sock.on('close', () => { this.ended = true; if (this.waiter) this.waiter(); });
  }

  send(text) { this.sock.write(text); }

  /** `GET path` (or another method) with keep-alive; extra header lines optional. */
  request(path, { method = 'GET', headers = [] } = {}) {
    this.send(`${method} ${path} HTTP/1.1\r\nHost: qgate\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`);
  }

  _parse(head) {
    const text = this.buf.subarray(0, head).toString('latin1');
    const [status, ...lines] = text.split('\r\n');
    const m = /^HTTP\/1\.1 (\d{3}) /.exec(status);
    if (!m) throw new Error(`not an HTTP response: ${JSON.stringify(status)}`);
    const headers = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    return { status: Number(m[1]), headers };
  }

  /** Resolves with the next whole response { status, headers, body } (bounded wait). */
  response(ms = 10000, { head = false } = {}) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`no whole HTTP response within ${ms} ms (${this.buf.length} bytes buffered)`));
      }, ms);
      const check = () => {
        const end = this.buf.indexOf('\r\n\r\n');
        if (end >= 0) {
          const r = this._parse(end);
          const len = head ? 0 : Number(r.headers['content-length'] || 0);
          if (this.buf.length >= end + 4 + len) {
            r.body = this.buf.subarray(end + 4, end + 4 + len).toString('utf8');
            this.buf = this.buf.subarray(end + 4 + len);
            clearTimeout(timer);
            this.waiter = null;
            return resolve(r);
          }
        }
        if (this.ended) {
          clearTimeout(timer);
          this.waiter = null;
          return reject(new Error(`connection closed (${this.buf.length} bytes buffered)`));
        }
        this.waiter = check;
      };
      check();
    });
  }

  /** Resolves once qgate has closed the connection (bounded wait). */
  waitClosed(ms = 10000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not closed within ${ms} ms`)), ms);
      const check = () => {
        if (this.ended) { clearTimeout(timer); this.waiter = null; return resolve(); }
        this.waiter = check;
      };
      check();
    });
  }
}

/** One GET on a fresh connection: { status, headers, body }. */
async function httpGet(ctx, port, path) {
  const c = await HttpConn.open(ctx, port);
  c.request(path);
  const r = await c.response();
  c.sock.destroy();
  return r;
}

/**
 * Prometheus text → Map "name{labels}" → number (labels as written by qgate, in its order).
 * Comment lines are skipped.
 */
function parseMetrics(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

module.exports = { HttpConn, httpGet, parseMetrics };

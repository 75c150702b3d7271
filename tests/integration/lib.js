'use strict';
// Shared helpers for qgate's black-box integration suite (session mode).
//
// Everything runs on 127.0.0.1 with ports bound to 0; the real port of each process is read from
// the port file it writes after binding (polled with a bounded number of attempts and a deadline,
// never a bare sleep). Every test gets a context (temp dir, spawned processes with stdio captured
// to per-process logs, sockets) that is torn down after the test whether it passed or not; a
// process 'exit' hook kills anything still alive. Every wait is bounded in count and time.
//
// Environment: QGATE_BUILD (build dir with src/app/qgate and tools/qmock/qmock), QGATE_IO
// (uring | epoll, passed to qgate as --io=).

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const { spawn, spawnSync } = require('node:child_process');
const nodeq = require('node-q');
const libc = require('node-q/lib/c.js');

const ROOT = path.resolve(__dirname, '..', '..');
const BUILD = path.resolve(ROOT, process.env.QGATE_BUILD || 'build');
const IO = process.env.QGATE_IO || 'uring';
const QGATE = path.join(BUILD, 'src', 'app', 'qgate');
const QMOCK = path.join(BUILD, 'tools', 'qmock', 'qmock');
const HOST = '127.0.0.1';

// ---------------------------------------------------------------- time / bounded waiting

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` (sync or async) until it returns a truthy value; bounded by attempts and time. */
async function pollUntil(fn, { what = 'condition', timeoutMs = 10000, intervalMs = 20, attempts } = {}) {
  const deadline = Date.now() + timeoutMs;
  const max = attempts || Math.ceil(timeoutMs / intervalMs) + 1;
  let last;
  for (let i = 0; i < max && Date.now() <= deadline; i++) {
    last = await fn();
    if (last) return last;
    await delay(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Rejects if `p` does not settle within `ms`. */
function within(p, ms, what = 'operation') {
  let timer;
  return Promise.race([
    p,
    new Promise((_, rej) => {
      timer = setTimeout(() => rej(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------- processes

const live = new Set();
process.on('exit', () => {
  for (const p of live) {
    try { p.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

function tail(file, lines = 40) {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

class Proc {
  constructor(ctx, name, cmd, args, env) {
    this.name = name;
    this.log = path.join(ctx.dir, `${name}.log`);
    const fd = fs.openSync(this.log, 'a');
    const extra = env ? { env: { ...process.env, ...env } } : {};
    this.child = spawn(cmd, args, { stdio: ['ignore', fd, fd], ...extra });
    fs.closeSync(fd);
    this.exitInfo = null;
    live.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        live.delete(this.child);
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
      this.child.on('error', (err) => {
        live.delete(this.child);
        this.exitInfo = { code: null, signal: null, error: err };
        resolve(this.exitInfo);
      });
    });
  }

  get pid() { return this.child.pid; }
  get alive() { return this.exitInfo === null; }

  kill(sig = 'SIGKILL') {
    if (this.alive) {
      try { this.child.kill(sig); } catch { /* gone */ }
    }
  }

  /** Sends `sig` and waits (bounded) for the exit. */
  async stop(sig = 'SIGKILL', ms = 10000) {
    this.kill(sig);
    return within(this.exited, ms, `${this.name} exit after ${sig}`);
  }

  logText() { return tail(this.log, 1e9); }
}

// ---------------------------------------------------------------- per-test context

class Ctx {
  constructor(t) {
    this.t = t;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qgate-it-'));
    this.procs = [];
    this.closers = [];
    this.failed = false;
    this.cleaned = false;
  }

  /** Starts `cmd`; `env`: variables added to this process's environment. */
  spawn(name, cmd, args, env) {
    const p = new Proc(this, name, cmd, args, env);
    this.procs.push(p);
    return p;
  }

  /** Registers a teardown action (sockets, connections). */
  defer(fn) { this.closers.push(fn); }

  file(name, text) {
    const f = path.join(this.dir, name);
    fs.writeFileSync(f, text);
    return f;
  }

  dumpLogs() {
    for (const p of this.procs) {
      const exit = p.exitInfo ? ` (exited ${JSON.stringify(p.exitInfo)})` : ' (running)';
      const msg = `--- ${p.name}${exit}, log ${p.log}:\n${tail(p.log)}`;
      try { this.t.diagnostic(msg); } catch { process.stderr.write(msg + '\n'); }
    }
  }

  async cleanup() {
    if (this.cleaned) return;
    this.cleaned = true;
    for (const fn of this.closers.reverse()) {
      try { await within(Promise.resolve().then(fn), 2000, 'closer'); } catch { /* best effort */ }
    }
    for (const p of this.procs) p.kill('SIGKILL');
    await Promise.all(this.procs.map((p) => within(p.exited, 5000, 'exit').catch(() => {})));
    if (!this.failed && !process.env.QGATE_IT_KEEP) {
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/**
 * Declares an integration test: `fn(t, ctx)` gets a fresh context that is always torn down.
 * On failure the tails of the process logs are printed as TAP diagnostics.
 */
function itest(name, opts, fn) {
  if (typeof opts === 'function') { fn = opts; opts = {}; }
  // A test that does not run qgate's io (qmock alone, --check-config) is declared under the
  // first io backend only: tools/run-tests sets QGATE_IO_REPEAT=1 for the second, so it is
  // neither run nor counted twice.
  const { ioIndependent = false, ...testOpts } = opts;
  if (ioIndependent && process.env.QGATE_IO_REPEAT === '1') return undefined;
  return test(name, { timeout: 60000, ...testOpts }, async (t) => {
    const ctx = new Ctx(t);
    t.after(() => ctx.cleanup());
    try {
      await fn(t, ctx);
    } catch (e) {
      ctx.failed = true;
      ctx.dumpLogs();
      throw e;
    } finally {
      await ctx.cleanup();
    }
  });
}

/** True when the binaries this suite needs exist (the suite cannot run without them). */
function haveBinaries() {
  return fs.existsSync(QGATE) && fs.existsSync(QMOCK);
}

// ---------------------------------------------------------------- port files

/** Waits for `file` to exist and be parsed by `parse` (bounded); fails early if `proc` exits. */
async function waitPortFile(file, proc, parse, timeoutMs = 10000) {
  return pollUntil(() => {
    if (proc && !proc.alive) {
      throw new Error(`${proc.name} exited ${JSON.stringify(proc.exitInfo)} before writing ` +
                      `${path.basename(file)}:\n${tail(proc.log)}`);
    }
    let text;
    try { text = fs.readFileSync(file, 'utf8'); } catch { return null; }
    return parse(text);
  }, { what: `port file ${file}`, timeoutMs, intervalMs: 20 });
}

// ---------------------------------------------------------------- qmock

/**
 * Starts qmock. opts: name, host (127.0.0.1; '::1' for IPv6), users (array of "user:pw" lines),
 * compress, rows, workMs, zpg
 * ('none' | 'defer': a q without .z.pg, answering in order, or a .z.pg deferring with -30!, whose
 * deferred/deferredFail/workMs answer later and out of order; qmock's default is none), port (0), record
 * (true: `--record ctx.dir/NAME.rec`, tools/qmock/README.md: every message qmock receives,
 * exactly as read off the wire, appended before it is handled; see recordedFrames), args (more
 * command-line flags, appended as given).
 * Returns { proc, port, name }.
 */
async function startQmock(ctx, opts = {}) {
  const name = opts.name || 'qmock';
  const portFile = path.join(ctx.dir, `${name}.port`);
  const args = ['--port', String(opts.port || 0), '--port-file', portFile, '--name', name];
  if (opts.users) args.push('--users', ctx.file(`${name}.users`, opts.users.join('\n') + '\n'));
  if (opts.host) args.push('--host', opts.host);
  if (opts.compress) args.push('--compress', opts.compress);
  if (opts.rows !== undefined) args.push('--rows', String(opts.rows));
  if (opts.workMs !== undefined) args.push('--work-ms', String(opts.workMs));
  if (opts.zpg !== undefined) args.push('--zpg', opts.zpg);
  const record = opts.record ? path.join(ctx.dir, `${name}.rec`) : undefined;
  if (record) args.push('--record', record);
  if (opts.args) args.push(...opts.args);  // any other flags, e.g. --discovery
  const proc = ctx.spawn(`qmock-${name}`, QMOCK, args);
  const port = await waitPortFile(portFile, proc, (text) => {
    const m = /^(\d+)\s*$/m.exec(text);
    return m ? Number(m[1]) : null;
  });
  return { proc, port, name, record };
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
async function deadPort() {
  const srv = net.createServer();
  await new Promise((res, rej) => srv.listen(0, HOST, res).on('error', rej));
  const { port } = srv.address();
  await new Promise((res) => srv.close(res));
  return port;
}

// ---------------------------------------------------------------- qgate

function tomlString(s) { return JSON.stringify(String(s)); }

/**
 * Renders a qgate config. opts:
 *   listeners: [{ group, mode='session', policy='least-connections' }]  (default: one, group rdb)
 *   backends:  [{ name, group, port, credentials?, conns?, pipeline? ('auto' | 'on' | 'off'),
 *                address?, keys? (any other backend keys: tls = true, user_idle_ms = 200) }]
 *   routes:    [{ match: [..], users: [..], type, group, policy, hash_arg, timeout_ms, queue_max }]
 *   shards (2), portFile, usersFile, limits: { key: value }, extra (raw TOML),
 *   admin (true; false = none; or { listen = '127.0.0.1:0', ...[admin] integer knobs })
 */
function qgateConfigText(opts) {
  const lines = [];
  lines.push('[server]');
  lines.push(`shards = ${opts.shards ?? 2}`);
  lines.push(`io = ${tomlString(IO)}`);
  if (opts.portFile) lines.push(`port_file = ${tomlString(opts.portFile)}`);
  if (opts.usersFile) lines.push(`users_file = ${tomlString(opts.usersFile)}`);
  lines.push('');
  lines.push('[limits]');
  const limits = {
    message_bytes_max: 1073741824,
    out_bytes_high: 8388608,
    out_bytes_low: 2097152,
    ...(opts.limits || {}),
  };
  for (const [k, v] of Object.entries(limits)) lines.push(`${k} = ${v}`);
  lines.push('');
  if (opts.admin !== false) {
    // admin: true, or { listen, and [admin] integer knobs (handshake_timeout_ms, ...) }.
    const { listen = '127.0.0.1:0', ...knobs } = typeof opts.admin === 'object' ? opts.admin : {};
    lines.push('[admin]');
    lines.push(`listen = ${tomlString(listen)}`);
    for (const [k, v] of Object.entries(knobs)) lines.push(`${k} = ${v}`);
    lines.push('');
  }
  const listeners = opts.listeners || [{ group: 'rdb' }];
  for (const l of listeners) {
    lines.push('[[listener]]');
    lines.push(`listen = ${tomlString(l.listen || '127.0.0.1:0')}`);
    lines.push(`mode = ${tomlString(l.mode || 'session')}`);
    lines.push(`group = ${tomlString(l.group)}`);
    lines.push(`policy = ${tomlString(l.policy || 'least-connections')}`);
    // Any other listener keys (tls_cert = "...", tls_verify_client = true, ...).
    for (const [k, v] of Object.entries(l.keys || {})) {
      lines.push(`${k} = ${typeof v === 'string' ? tomlString(v) : v}`);
    }
    lines.push('');
  }
  for (const b of opts.backends || []) {
    lines.push('[[backend]]');
    lines.push(`name = ${tomlString(b.name)}`);
    lines.push(`group = ${tomlString(b.group || 'rdb')}`);
    lines.push(`address = ${tomlString(b.address || `127.0.0.1:${b.port}`)}`);
    if (b.credentials !== undefined) lines.push(`credentials = ${tomlString(b.credentials)}`);
    if (b.conns !== undefined) lines.push(`conns = ${b.conns}`);
    if (b.pipeline !== undefined) lines.push(`pipeline = ${tomlString(b.pipeline)}`);
    // Any other backend keys (tls = true, tls_ca = "...", ...).
    for (const [k, v] of Object.entries(b.keys || {})) {
      lines.push(`${k} = ${typeof v === 'string' ? tomlString(v) : v}`);
    }
    lines.push('');
  }
  for (const r of opts.routes || []) {
    lines.push('[[route]]');
    for (const [k, v] of Object.entries(r)) {
      if (Array.isArray(v)) lines.push(`${k} = [${v.map(tomlString).join(', ')}]`);
      else if (typeof v === 'number') lines.push(`${k} = ${v}`);
      else lines.push(`${k} = ${tomlString(v)}`);
    }
    lines.push('');
  }
  if (opts.extra) lines.push(opts.extra);
  return lines.join('\n') + '\n';
}

function parseQgatePorts(text, nListeners) {
  const listeners = [];
  let admin = null;
  let register = null;  // the registration listener ([register]), when configured
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === 'listener' && f.length === 3) listeners[Number(f[1])] = Number(f[2]);
    else if (f[0] === 'admin' && f.length === 2) admin = Number(f[1]);
    else if (f[0] === 'register' && f.length === 2) register = Number(f[1]);
  }
  const n = listeners.filter((p) => Number.isInteger(p) && p > 0).length;
  if (n < nListeners || admin === null) return null;
  return { listeners, admin, register };
}

/**
 * Writes a config (see qgateConfigText) and starts qgate with --io=$QGATE_IO (opts.env:
 * variables added to its environment).
 * Returns { proc, port (listener 0), ports, admin, register (the registration listener's port,
 * null without [register]), cfgPath }.
 */
async function startQgate(ctx, opts = {}) {
  const name = opts.procName || 'qgate';
  const portFile = path.join(ctx.dir, `${name}.ports`);
  const cfg = { ...opts, portFile };
  if (opts.users) cfg.usersFile = ctx.file(`${name}.users`, opts.users.join('\n') + '\n');
  const cfgPath = ctx.file(`${name}.toml`, qgateConfigText(cfg));
  const args = ['-c', cfgPath, `--io=${IO}`, ...(opts.args || [])];
  const proc = ctx.spawn(name, QGATE, args, opts.env);
  const nListeners = (opts.listeners || [{}]).length;
  const ports = await waitPortFile(portFile, proc, (t) => parseQgatePorts(t, nListeners));
  // The admin port's login: the first user with the admin role (`user:secret:admin`), else the
  // first user (refused on the admin port: no role).
  let adminUser = null;
  if (opts.users && opts.users.length) {
    const line = opts.users.find((u) => u.endsWith(':admin')) || opts.users[0];
    const [user, ...pw] = line.replace(/:admin$/, '').split(':');
    adminUser = { user, password: pw.join(':') };
  }
  return {
    proc, port: ports.listeners[0], ports: ports.listeners, admin: ports.admin,
    register: ports.register, adminUser, cfgPath,
  };
}

/** Runs qgate synchronously (for --check-config and similar); bounded by a timeout. */
function runQgateSync(args, timeoutMs = 10000) {
  const r = spawnSync(QGATE, args, { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, signal: r.signal, stdout: r.stdout || '', stderr: r.stderr || '', error: r.error };
}

/**
 * Starts one qmock per backend and a qgate in front of them. opts:
 *   backends: [{ name, group='rdb', credentials='gw:pw', conns, pipeline, keys,
 *                mock: { users, compress, rows, workMs, zpg } | false }]
 *     (mock users default to [credentials] so the backend checks what qgate sends upstream;
 *      mock false = nothing listens on the backend's address)
 *   zpg: every mock's --zpg unless its mock says otherwise (startQmock)
 *   everything else goes to startQgate (listeners, users, limits, shards, ...).
 * Returns { gw, mocks: { name: { port, proc } } }.
 */
async function startStack(ctx, opts = {}) {
  const mocks = {};
  const backends = [];
  for (const b of opts.backends || [{ name: 'rdb1' }]) {
    const credentials = b.credentials === undefined ? 'gw:pw' : b.credentials;
    let port;
    if (b.mock === false) {
      port = await deadPort();
    } else {
      const m = b.mock || {};
      const users = m.users === undefined ? (credentials ? [credentials] : undefined) : m.users;
      const zpg = m.zpg === undefined ? opts.zpg : m.zpg;
      mocks[b.name] = await startQmock(ctx, { name: b.name, ...m, users, zpg });
      port = mocks[b.name].port;
    }
    backends.push({
      name: b.name, group: b.group || 'rdb', port, credentials, conns: b.conns, pipeline: b.pipeline,
      keys: b.keys, address: b.address,
    });
  }
  const gw = await startQgate(ctx, { ...opts, backends });
  return { gw, mocks };
}

// ---------------------------------------------------------------- node-q, promisified

/** A node-q connection with promise calls. Every pending call is rejected on close. */
class QConn {
  constructor(con, socket) {
    this.con = con;
    this.socket = socket;
    this.closed = false;
    this.errors = [];
    this.pending = new Set();
    con.on('error', (e) => this.errors.push(e));
    this.closedP = new Promise((res) => {
      con.on('close', () => {
        this.closed = true;
        for (const p of this.pending) p.reject(new Error('connection closed'));
        this.pending.clear();
        res();
      });
    });
  }

  _call(fn, args, ms, what) {
    return new Promise((resolve, reject) => {
      const entry = { reject };
      const timer = setTimeout(() => {
        this.pending.delete(entry);
        reject(new Error(`${what} got no answer within ${ms} ms`));
      }, ms);
      entry.reject = (e) => { clearTimeout(timer); reject(e); };
      if (this.closed) return entry.reject(new Error('connection closed'));
      this.pending.add(entry);
      fn((err, res) => {
        clearTimeout(timer);
        this.pending.delete(entry);
        if (err) reject(err); else resolve(res);
      });
    });
  }

  /** Sync call: k("echo[1]") or k("echo", 42); resolves with the value, rejects with q errors. */
  k(...args) { return this.kt(10000, ...args); }
  /** Sync call with an explicit timeout in ms. */
  kt(ms, ...args) {
    return this._call((cb) => this.con.k(...args, cb), args, ms, `k(${String(args[0]).slice(0, 40)})`);
  }
  /** Async send; resolves once written. */
  ks(...args) {
    return this._call((cb) => this.con.ks(...args, () => cb()), args, 10000, 'ks');
  }
  /** Waits for the next incoming message (node-q's "listen to a handle"). */
  next(ms = 10000) { return this._call((cb) => this.con.k(cb), [], ms, 'next message'); }

  close() {
    if (this.closed) return Promise.resolve();
    return within(new Promise((res) => { this.con.close(() => res()); }), 3000, 'close')
      .catch(() => { this.socket.destroy(); });
  }

  waitClosed(ms = 10000) { return within(this.closedP, ms, 'connection close'); }
}

/**
 * Connects node-q to 127.0.0.1:port. opts: user, password, timeoutMs, and node-q options.
 * Resolves with a QConn (registered for teardown with ctx when given).
 */
function qconnect(ctx, port, opts = {}) {
  const { timeoutMs = 5000, ...params } = opts;
  return within(new Promise((resolve, reject) => {
    let done = false;
    nodeq.connect({ host: HOST, port, ...params }, (err, con) => {
      if (done) { if (con) con.socket.destroy(); return; }
      done = true;
      if (err) return reject(err);
      const q = new QConn(con, con.socket);
      if (ctx) ctx.defer(() => q.socket.destroy());
      resolve(q);
    });
  }), timeoutMs, `node-q connect to ${port}`);
}

// ---------------------------------------------------------------- raw q-IPC encoding

const MSG = { async: 0, sync: 1, response: 2 };

function header(type, totalLen, { endian = 1, compressed = 0, byte3 = 0 } = {}) {
  const h = Buffer.alloc(8);
  h[0] = endian; h[1] = type; h[2] = compressed; h[3] = byte3;
  h.writeUInt32LE(totalLen >>> 0, 4);
  return h;
}
/** A whole message: header + body (little-endian). */
function qmsg(type, body) { return Buffer.concat([header(type, 8 + body.length), body]); }
/** Char vector body. */
function qstr(text) {
  const b = Buffer.from(text, 'latin1');
  const h = Buffer.alloc(6); h[0] = 10; h.writeUInt32LE(b.length, 2);
  return Buffer.concat([h, b]);
}
/** Symbol atom body. */
function qsym(s) { return Buffer.concat([Buffer.from([0xf5]), Buffer.from(s, 'latin1'), Buffer.from([0])]); }
/** Long atom body. */
function qlong(n) { const b = Buffer.alloc(9); b[0] = 0xf9; b.writeBigInt64LE(BigInt(n), 1); return b; }
/** Byte vector body around `data`. */
function qbytesHeader(n) { const h = Buffer.alloc(6); h[0] = 4; h.writeUInt32LE(n, 2); return h; }
/** General list body. */
function qlist(...items) {
  const h = Buffer.alloc(6); h[0] = 0; h.writeUInt32LE(items.length, 2);
  return Buffer.concat([h, ...items]);
}
/** A sync request of q text, as node-q's k("text") sends it. */
function syncText(text) { return qmsg(MSG.sync, qstr(text)); }
function asyncText(text) { return qmsg(MSG.async, qstr(text)); }
/** A sync call as a general list ("name"; args...), each arg an encoded body (qlong, qstr...). */
/** A call of message type `type` as a general list ("name"; args...), each arg an encoded body. */
function qcall(type, name, ...args) { return qmsg(type, qlist(qstr(name), ...args)); }
function syncCall(name, ...args) { return qcall(MSG.sync, name, ...args); }

/** The byte pattern of qmock's payload[n]: byte i = i mod 251. */
function payloadPattern(n) {
  const b = Buffer.alloc(n);
  const block = Buffer.alloc(251);
  for (let i = 0; i < 251; i++) block[i] = i;
  for (let off = 0; off < n; off += 251) block.copy(b, off, 0, Math.min(251, n - off));
  return b;
}

/** The length of the response to qmock's payload[n]: header, byte-vector header, n bytes. */
function payloadReplyLen(n) { return 8 + 6 + n; }

/** A promise that always resolves: { v } with the value, or { e } with the rejection. */
function settled(p) { return p.then((v) => ({ v }), (e) => ({ e })); }

/** Decodes a whole message with node-q (decompresses too). Throws for -128 replies. */
function decode(frame, opts = {}) {
  return libc.deserialize(frame, opts.nanos2date, opts.flipTables, opts.emptyChar2null, opts.long2number);
}

/** The q error text of a response frame, or null when it is not an error. */
function errorText(frame) {
  try { decode(frame); return null; } catch (e) { return e.message; }
}

// ---------------------------------------------------------------- raw socket client

/**
 * A q-IPC client on a bare net.Socket: handshake with any bytes, send anything, read exact byte
 * counts or whole frames, observe EOF. All reads are bounded by a timeout.
 */
class RawClient {
  constructor(sock) {
    this.sock = sock;
    this.chunks = [];
    this.buffered = 0;
    this.received = 0;
    this.ended = false;
    this.error = null;
    this.waiter = null;
    sock.on('data', (d) => {
      this.chunks.push(d);
      this.buffered += d.length;
      this.received += d.length;
      this._wake();
    });
    sock.on('end', () => { this.ended = true; this._wake(); });
    sock.on('close', () => { this.ended = true; this._wake(); });
    sock.on('error', (e) => { this.error = e; this.ended = true; this._wake(); });
  }

  static open(ctx, port, ms = 5000) {
    return within(new Promise((resolve, reject) => {
      const sock = net.connect({ host: HOST, port });
      sock.setNoDelay(true);
      const onErr = (e) => reject(e);
      sock.once('error', onErr);
      sock.once('connect', () => {
        sock.removeListener('error', onErr);
        const c = new RawClient(sock);
        if (ctx) ctx.defer(() => sock.destroy());
        resolve(c);
      });
    }), ms, `raw connect to ${port}`);
  }

  /** Opens and does the handshake; resolves with the client (capability in .capability). */
  static async connect(ctx, port, { auth = 'anonymous', cap = 3, ms = 5000 } = {}) {
    const c = await RawClient.open(ctx, port, ms);
    c.capability = await c.handshake(auth, cap, ms);
    return c;
  }

  _wake() { if (this.waiter) { const w = this.waiter; this.waiter = null; w(); } }

  /** Waits until `pred()` holds; rejects on timeout (and on EOF unless `eofOk`). */
  _until(pred, ms, what, eofOk = false) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.waiter = null; reject(new Error(`${what}: timed out after ${ms} ms (${this.buffered} bytes buffered, ${this.received} received)`)); }, ms);
      const check = () => {
        if (pred()) { clearTimeout(timer); return resolve(); }
        if (this.ended && !eofOk) {
          clearTimeout(timer);
          const e = new Error(`${what}: connection closed (${this.buffered} bytes buffered, ${this.received} received)`);
          e.code = 'EOF';
          return reject(e);
        }
        if (this.ended && eofOk) { clearTimeout(timer); return resolve(); }
        this.waiter = check;
      };
      check();
    });
  }

  _take(n) {
    if (this.chunks.length && this.chunks[0].length >= n) {
      const first = this.chunks[0];
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift(); else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const all = Buffer.concat(this.chunks, this.buffered);
    const out = all.subarray(0, n);
    this.chunks = all.length > n ? [all.subarray(n)] : [];
    this.buffered -= n;
    return out;
  }

  async readExact(n, ms = 10000) {
    await this._until(() => this.buffered >= n, ms, `read ${n} bytes`);
    return this._take(n);
  }

  /** cap null sends no capability byte at all ("user:pw" NUL), as kdb+ 2.5 clients did. */
  async handshake(auth, cap = 3, ms = 5000) {
    const tailBytes = cap === null ? [0] : [cap, 0];
    const b = Buffer.concat([Buffer.from(auth, 'latin1'), Buffer.from(tailBytes)]);
    this.sock.write(b);
    const r = await this.readExact(1, ms);
    return r[0];
  }

  write(buf) {
    return new Promise((resolve) => {
      if (this.sock.destroyed) return resolve(false);
      this.sock.write(buf, (err) => resolve(!err));
    });
  }

  /** Reads one whole frame; returns { frame, type, compressed, length, body }. */
  async readFrame(ms = 10000) {
    await this._until(() => this.buffered >= 8, ms, 'read frame header');
    const h = this.chunks[0].length >= 8 ? this.chunks[0].subarray(0, 8) : Buffer.concat(this.chunks).subarray(0, 8);
    const le = h[0] === 1;
    const length = (le ? h.readUInt32LE(4) : h.readUInt32BE(4)) + h[3] * 2 ** 32;
    if (length < 8) throw new Error(`bad frame length ${length}`);
    const frame = await this.readExact(length, ms);
    return { frame, type: frame[1], compressed: frame[2], length, body: frame.subarray(8) };
  }

  /** Sends a request and reads the next frame. */
  async call(msg, ms = 10000) {
    await this.write(msg);
    return this.readFrame(ms);
  }

  /** Waits for EOF; resolves with the number of bytes received in total. */
  async waitEof(ms = 10000) {
    await this._until(() => this.ended, ms, 'wait for EOF', true);
    return this.received;
  }

  destroy() { this.sock.destroy(); }
}

// ---------------------------------------------------------------- admin stats

/**
 * Reads .qgate.stats[] from the admin endpoint (a table name, kind, value, help: node-q gives its
 * rows) as a plain object name → value. `gw` is what startQgate returned (its admin port, and its
 * admin user when there is a users file: the admin endpoint checks it too), or a bare port number.
 */
/** The rows of a .qgate.stats[] table (as node-q decodes it) as an object name → value. */
function statsOf(rows) {
  assert.ok(Array.isArray(rows), '.qgate.stats[] is a table');
  return Object.fromEntries(rows.map((r) => [r.name, r.value]));
}

async function stats(ctx, gw) {
  const port = typeof gw === 'number' ? gw : gw.admin;
  const auth = typeof gw === 'object' && gw.adminUser ? gw.adminUser : {};
  const q = await qconnect(ctx, port, auth);
  try {
    return statsOf(await q.k('.qgate.stats[]'));
  } finally {
    await q.close();
  }
}

/** The value of counter `name` in a stats dict, asserting it exists. */
function counter(s, name) {
  assert.ok(Object.prototype.hasOwnProperty.call(s, name),
    `counter ${name} missing from .qgate.stats[] (have: ${Object.keys(s).join(' ')})`);
  return Number(s[name]);
}

/** Polls the stats until counter `name` reaches at least `min` (counters are relaxed). */
async function waitCounter(ctx, gw, name, min, timeoutMs = 5000) {
  let last;
  try {
    return await pollUntil(async () => {
      last = await stats(ctx, gw);
      return counter(last, name) >= min ? last : null;
    }, { what: `${name} >= ${min}`, timeoutMs, intervalMs: 50 });
  } catch (e) {
    if (last) e.message += ` (last ${name} = ${last[name]})`;
    throw e;
  }
}

// ---------------------------------------------------------------- getTrades reference

const TRADES_EPOCH_MS = Date.UTC(2026, 0, 2, 9, 30, 0);
/** qmock's getTrades rule (tools/qmock/trades.cc), as node-q decodes it (rows). */
function expectedTrades(sym, n) {
  let h = 0;
  for (const ch of Buffer.from(sym, 'latin1')) h += ch;
  const rows = [];
  for (let i = 0; i < n; i++) {
    rows.push({
      time: new Date(TRADES_EPOCH_MS + i * 1000),
      sym,
      price: (h % 1000) + i * 0.25,
      size: 100 * (1 + ((h + i) % 10)),
    });
  }
  return rows;
}

/**
 * Compares decoded getTrades rows with qmock's rule. node-q turns timestamps into Dates through
 * a double (nanoseconds / 86400e9 days), which can land 1 ms off; allow exactly that.
 */
function assertTrades(got, want, what = 'trades') {
  assert.equal(got.length, want.length, `${what}: row count`);
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    assert.ok(g.time instanceof Date, `${what} row ${i}: time is a timestamp`);
    assert.ok(Math.abs(g.time.getTime() - w.time.getTime()) <= 1,
      `${what} row ${i} time: ${g.time.toISOString()} vs ${w.time.toISOString()}`);
    assert.equal(g.sym, w.sym, `${what} row ${i} sym`);
    assert.equal(g.price, w.price, `${what} row ${i} price`);
    assert.equal(g.size, w.size, `${what} row ${i} size`);
  }
}

/** Resident set size of `pid` in bytes (Linux /proc). */
function rssBytes(pid) {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

module.exports = {
  test, assert, itest, Ctx, ROOT, BUILD, IO, QGATE, QMOCK, HOST, haveBinaries,
  delay, pollUntil, within, waitPortFile,
  startQmock, startQgate, startStack, qgateConfigText, runQgateSync, deadPort,
  qconnect, QConn, RawClient, MSG, header, qmsg, qstr, qsym, qlong, qbytesHeader, qlist,
  syncText, asyncText, qcall, syncCall, assertTrades, payloadPattern, payloadReplyLen, decode,
  errorText, settled,
  stats, counter, waitCounter, expectedTrades, rssBytes,
  statsOf,
};

// ---------------------------------------------------------------- qmock --record

/** The sync query qgate sends first on each pooled connection of a backend with
 *  pipeline = "auto" (src/proxy/pool_links.cc): qgate's own, not a client's call. */
const ORDER_QUERY = '@[get;`.z.pg;`]~`';
function isOrderQuery(f) {
  return f.length === 14 + ORDER_QUERY.length && f[1] === MSG.sync &&
    f.subarray(14).toString('latin1') === ORDER_QUERY;
}

/** The whole frames of a qmock --record file, in arrival order, without qgate's own order
 *  queries (isOrderQuery); a torn tail is an error. */
function recordedFrames(file) {
  let data;
  try { data = fs.readFileSync(file); } catch { return []; }
  const frames = [];
  for (let off = 0; off < data.length;) {
    if (data.length - off < 8) throw new Error(`${file}: ${data.length - off} stray bytes at end`);
    const le = data[off] === 1;
    const len = (le ? data.readUInt32LE(off + 4) : data.readUInt32BE(off + 4)) +
      data[off + 3] * 2 ** 32;
    if (len < 8 || off + len > data.length) throw new Error(`${file}: bad frame at ${off}`);
    const f = data.subarray(off, off + len);
    if (!isOrderQuery(f)) frames.push(f);
    off += len;
  }
  return frames;
}

/** startStack whose qmocks record what they receive: mocks[name].record (startQmock). */
function startRecordingStack(ctx, opts = {}) {
  const backends = (opts.backends || [{ name: 'rdb1' }])
    .map((b) => ({ ...b, mock: { ...b.mock, record: true } }));
  return startStack(ctx, { ...opts, backends });
}

// ---------------------------------------------------------------- a non-local peer (netns)

let netnsSeq = 0;
const netnsLive = new Set();
process.on('exit', () => {
  for (const ns of netnsLive) spawnSync('ip', ['netns', 'del', ns], { timeout: 5000 });
});

function ipRun(args) {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10000 });
  if (r.error || r.status !== 0) {
    throw new Error(`ip ${args.join(' ')}: ${r.error ? r.error.message : r.stderr.trim()}`);
  }
  return r.stdout;
}

/**
 * A network namespace joined to this host by a veth pair on a private /30 (10.213.x.y), so a
 * process inside is a peer that is not on loopback. Torn down with ctx (also at process exit);
 * throws a clear error when it cannot be made (root and iproute2 are needed).
 * Returns { ns, hostAddr, peerAddr }.
 */
function netnsPeer(ctx) {
  const ns = `qgt${process.pid % 100000}n${netnsSeq++}`;  // + 'h' / 'p': under IFNAMSIZ
  const hostIf = `${ns}h`;
  const used = spawnSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' }).stdout || '';
  let net3 = null;
  for (let i = 0; i < 50 && !net3; i++) {
    const cand = `10.213.${Math.floor(Math.random() * 256)}.${4 * Math.floor(Math.random() * 64)}`;
    const base = cand.split('.').map(Number);
    if (!used.includes(` 10.213.${base[2]}.${base[3] + 1}/`)) net3 = base;
  }
  if (!net3) throw new Error('netnsPeer: no free 10.213.x.y/30 subnet');
  const hostAddr = `10.213.${net3[2]}.${net3[3] + 1}`;
  const peerAddr = `10.213.${net3[2]}.${net3[3] + 2}`;
  const cleanup = () => {
    spawnSync('ip', ['netns', 'del', ns], { timeout: 5000 });  // takes the veth pair with it
    spawnSync('ip', ['link', 'del', hostIf], { timeout: 5000 });  // in case it was not moved
    netnsLive.delete(ns);
  };
  ctx.defer(cleanup);
  try {
    ipRun(['netns', 'add', ns]);
    netnsLive.add(ns);
    ipRun(['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', `${ns}p`]);
    ipRun(['link', 'set', `${ns}p`, 'netns', ns]);
    ipRun(['addr', 'add', `${hostAddr}/30`, 'dev', hostIf]);
    ipRun(['link', 'set', hostIf, 'up']);
    ipRun(['-n', ns, 'addr', 'add', `${peerAddr}/30`, 'dev', `${ns}p`]);
    ipRun(['-n', ns, 'link', 'set', `${ns}p`, 'up']);
    ipRun(['-n', ns, 'link', 'set', 'lo', 'up']);
  } catch (e) {
    cleanup();
    throw new Error(`cannot make a network namespace with a veth pair (needs root and ` +
                    `iproute2; QGATE_NO_NETNS=1 skips such tests): ${e.message}`);
  }
  return { ns, hostAddr, peerAddr };
}

// Runs in the namespace: handshake, one message, the first whole frame back into a file.
const NETNS_CLIENT = `
const net = require('net'); const fs = require('fs');
const [host, port, hex, out] = process.argv.slice(1);
const fail = (code, why) => {
  process.stderr.write('netns client: ' + why + '\\n');
  process.exit(code);
};
const timer = setTimeout(() => fail(3, 'no reply within 20 s'), 20000);
const s = net.connect({ host, port: Number(port) });
let buf = Buffer.alloc(0); let shook = false;
s.on('connect', () => s.write(Buffer.from([...Buffer.from('anonymous'), 3, 0])));
s.on('data', (d) => {
  buf = Buffer.concat([buf, d]);
  if (!shook) { shook = true; buf = buf.subarray(1); s.write(Buffer.from(hex, 'hex')); }
  if (buf.length >= 8 && buf.length >= buf.readUInt32LE(4)) {
    fs.writeFileSync(out, buf.subarray(0, buf.readUInt32LE(4)));
    clearTimeout(timer);
    process.exit(0);
  }
});
s.on('error', (e) => fail(4, e.message));
s.on('close', () => fail(5, 'closed before a whole reply (' + buf.length + ' bytes)'));
`;

/**
 * From inside the namespace of `peer` (netnsPeer): connects to host:port, handshakes with
 * capability 3, sends `msg` and resolves with the first whole frame received (a Buffer).
 */
async function netnsCall(ctx, peer, host, port, msg) {
  const out = path.join(ctx.dir, `netns-reply-${netnsSeq++}.bin`);
  const proc = ctx.spawn(`netns-client-${netnsSeq}`, 'ip',
    ['netns', 'exec', peer.ns, process.execPath, '-e', NETNS_CLIENT, host, String(port),
      msg.toString('hex'), out]);
  const e = await within(proc.exited, 30000, 'the client in the network namespace');
  if (e.code !== 0) throw new Error(`netns client exited ${JSON.stringify(e)}: ${tail(proc.log)}`);
  return fs.readFileSync(out);
}

Object.assign(module.exports, {
  startRecordingStack, recordedFrames, netnsPeer, netnsCall,
});

// ---------------------------------------------------------------- kernel socket state

/**
 * The kernel's queues of the established IPv4 TCP connections with an end on `port`, from
 * /proc/net/tcp: [{ localPort, remotePort, txQueue, rxQueue }] (bytes not yet acknowledged by
 * the peer / not yet read by the owner). Lets a test see that a peer stopped reading.
 */
function tcpQueues(port) {
  const rows = [];
  for (const line of fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || f[3] !== '01') continue;  // 01: TCP_ESTABLISHED
    const localPort = parseInt(f[1].split(':')[1], 16);
    const remotePort = parseInt(f[2].split(':')[1], 16);
    if (localPort !== port && remotePort !== port) continue;
    const [tx, rx] = f[4].split(':').map((h) => parseInt(h, 16));
    rows.push({ localPort, remotePort, txQueue: tx, rxQueue: rx });
  }
  return rows;
}

module.exports.tcpQueues = tcpQueues;

// ---------------------------------------------------------------- replies piled up in qgate

/**
 * For a RawClient `raw` of request-mode qgate `gw` that stopped reading (raw.sock.pause())
 * after sending calls whose replies total `total` bytes: waits (bounded) until every reply
 * has reached qgate and more than `minBytes` of them sit in qgate's own send queue, i.e. not
 * in the kernel (either end of the connection, /proc/net/tcp) and not received by node.
 */
async function waitRepliesHeld(ctx, gw, raw, total, minBytes, timeoutMs = 20000) {
  return pollUntil(async () => {
    const held = await qgateHeldBytes(ctx, gw, raw, 1 + total, total);  // + the handshake byte
    return held !== null && held > minBytes;
  }, { what: `more than ${minBytes} reply bytes held in qgate`, timeoutMs, intervalMs: 50 });
}

/** Waits (bounded) until qgate's end of `raw`'s connection holds exactly `n` unread bytes. */
function waitUnreadByQgate(gw, raw, n, timeoutMs = 10000) {
  const me = raw.sock.localPort;
  return pollUntil(() => tcpQueues(gw.port).some((r) => r.remotePort === me && r.rxQueue === n),
    { what: `${n} bytes unread in qgate's socket`, timeoutMs });
}

Object.assign(module.exports, { waitRepliesHeld, waitUnreadByQgate });

// ---------------------------------------------------------------- a backend that answers on cue

/**
 * A q process inside the test process that answers only when told, so a test decides exactly
 * when each pooled call completes (qmock answers at once, or not at all under SIGSTOP).
 * Each connection's handshake (bytes up to the first NUL) is kept and answered with `cap`;
 * every later frame is kept in arrival order. answer(body) sends a response with `body` to
 * the oldest sync frame not answered yet; with `autoAnswer(frame)` every sync frame is
 * answered at once with what it returns (a scripted q peer, e.g. a discovery process).
 * Returns { port, handshakes, frames, answer, send(frame), waitFrames(n), inKernel() }:
 * send writes to the newest connection; inKernel() is the bytes sent to it that it has not
 * read yet (kernel queues of both ends, /proc/net/tcp).
 */
async function startFakeBackend(ctx, { cap = 3, autoAnswer = null } = {}) {
  const fake = { handshakes: [], frames: [], owed: [], sock: null };
  const srv = net.createServer((sock) => {
    fake.sock = sock;
    ctx.defer(() => sock.destroy());
    let buf = Buffer.alloc(0);
    let shook = false;
    sock.on('error', () => {});
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!shook) {
        const nul = buf.indexOf(0);
        if (nul < 0) return;
        fake.handshakes.push(buf.subarray(0, nul + 1));
        buf = buf.subarray(nul + 1);
        shook = true;
        sock.write(Buffer.from([cap]));
      }
      while (buf.length >= 8 && buf.length >= buf.readUInt32LE(4)) {  // qgate writes LE
        const frame = buf.subarray(0, buf.readUInt32LE(4));
        buf = buf.subarray(frame.length);
        // qgate's order query is answered at once, 0b (as by a q whose .z.pg may defer): the
        // fake answers by hand, so each connection carries one call at a time.
        if (isOrderQuery(frame)) {
          sock.write(Buffer.from([1, 2, 0, 0, 10, 0, 0, 0, 0xff, 0]));
          continue;
        }
        fake.frames.push(frame);
        if (frame[1] !== MSG.sync) continue;
        if (autoAnswer) sock.write(qmsg(MSG.response, autoAnswer(frame)));
        else fake.owed.push(sock);
      }
    });
  });
  await new Promise((res, rej) => srv.listen(0, HOST, res).on('error', rej));
  ctx.defer(() => new Promise((res) => srv.close(() => res())));
  fake.port = srv.address().port;
  fake.answer = (body) => {
    const sock = fake.owed.shift();
    assert.ok(sock, 'the fake backend owes no answer');
    sock.write(qmsg(MSG.response, body));
  };
  fake.send = (frame) => fake.sock.write(frame);
  fake.waitFrames = (n, timeoutMs = 10000) => pollUntil(() => fake.frames.length >= n,
    { what: `${n} frames at the fake backend (have ${fake.frames.length})`, timeoutMs });
  fake.inKernel = () => tcpQueues(fake.port).reduce((a, r) => a + r.txQueue + r.rxQueue, 0);
  return fake;
}

/**
 * The reply bytes request-mode qgate `gw` holds in its own send queue for RawClient `raw`, when
 * `total` bytes are owed to it in all (the handshake byte and `replyTotal` bytes of backend
 * replies): what neither node (received, or buffered in the paused stream) nor the kernel (the
 * client's receive queue, qgate's unacknowledged send queue) holds. Null while some of the
 * replies have not reached qgate (its reply_bytes_* counters).
 */
async function qgateHeldBytes(ctx, gw, raw, total, replyTotal) {
  const s = await stats(ctx, gw);
  const got = counter(s, 'reply_bytes_received_direct') + counter(s, 'reply_bytes_copied');
  if (got < replyTotal) return null;
  const me = raw.sock.localPort;
  let kernel = 0;
  for (const r of tcpQueues(gw.port)) {
    if (r.localPort === me) kernel += r.rxQueue;  // the client's end
    else if (r.remotePort === me) kernel += r.txQueue;  // qgate's end (its rx: unread calls)
  }
  return total - raw.received - raw.sock.readableLength - kernel;
}

Object.assign(module.exports, { startFakeBackend, qgateHeldBytes });

// ---------------------------------------------------------------- more raw q-IPC bodies

/** Symbol vector body. */
function qsyms(xs) {
  const h = Buffer.alloc(6); h[0] = 11; h.writeUInt32LE(xs.length, 2);
  return Buffer.concat([h, ...xs.map((s) => Buffer.from(`${s}\0`, 'latin1'))]);
}
/** A vector body of 8-byte integers of q type `type` (7 long, 16 timespan). */
function qlongs(xs, type = 7) {
  const b = Buffer.alloc(6 + 8 * xs.length); b[0] = type; b.writeUInt32LE(xs.length, 2);
  xs.forEach((v, i) => b.writeBigInt64LE(BigInt(v), 6 + 8 * i));
  return b;
}

/** Table body ([] names...) with column bodies `cols`. */
function qtable(names, cols) {
  return Buffer.concat([Buffer.from([98, 0, 99]), qsyms(names), qlist(...cols)]);
}
/** The seq column of a pub/sub update frame (`upd;t;table), as numbers. */
const seqsOf = (frame) => decode(frame)[2].map((r) => Number(r.seq));

Object.assign(module.exports, { qsyms, qlongs, qtable, seqsOf });

// ---------------------------------------------------------------- shutdown

/**
 * Connects to `port` and offers a handshake: resolves { refused } when the connect fails,
 * { answered: true } when the capability byte comes back, else { closedAfter } = the bytes
 * qgate sent before the connection ended (reset or EOF). Shutdown tests: is a listener closed?
 */
async function tryConnect(ctx, port) {
  let raw;
  try {
    raw = await RawClient.open(ctx, port);
  } catch (e) {
    return { refused: e.code };
  }
  await raw.write(Buffer.from('late:pw\x03\x00', 'latin1'));
  try {
    await raw.readExact(1, 10000);
    raw.destroy();
    return { answered: true };
  } catch (e) {
    if (e.code !== 'EOF') throw e;
    return { closedAfter: raw.received };
  }
}

Object.assign(module.exports, { tryConnect });

// ---------------------------------------------------------------- TorQ discovery (qmock)

/**
 * A TorQ discovery service stand-in (`qmock --discovery`, tools/qmock/README.md "Discovery
 * mode") and qmocks registering with it (`--discovery-register`): procs is
 * [{ name, proctype, args }] (args: more qmock flags). Resolves once getservices lists every
 * one of them (bounded): { disc, procs: { name: qmock as startQmock returns it } }. Each
 * listed hpup is `:127.0.0.1:<port>`.
 */
async function startDiscovery(ctx, { procs = [], args = [] } = {}) {
  const disc = await startQmock(ctx, { name: 'discovery', args: ['--discovery', ...args] });
  const started = {};
  for (const p of procs) {
    started[p.name] = await startQmock(ctx, { name: p.name, args: ['--discovery-register',
      `${HOST}:${disc.port}`, '--proctype', p.proctype, ...(p.args || [])] });
  }
  const q = await qconnect(ctx, disc.port);
  await pollUntil(async () => (await q.k('getservices[`ALL;0b]')).length === procs.length,
    { what: `${procs.length} processes registered with the discovery qmock` });
  await q.close();
  return { disc, procs: started };
}

module.exports.startDiscovery = startDiscovery;

'use strict';
// A qgate in front of qmock processes, for tools/chaos and tools/soak (and chaos.test.js):
// starts them on 127.0.0.1 with ports chosen by the kernel, kills a qmock with SIGKILL and
// restarts it on the same port (qmock sets SO_REUSEADDR), reads qgate's counters from its
// admin port and its RSS and open fds from /proc. Every wait is bounded in count and time.
//
// The farm: groups rdb (rdb1, rdb2) and hdb (hdb1, hdb2) of plain qmocks, and tp, a qmock
// --tickerplant; qgate listener 0 is session mode on rdb, 1 request mode on rdb (with .gw.*
// fan-out over rdb and hdb), 2 pub/sub re-publishing tp. Two shards.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { QClient, qstr, decode } = require('./qclient.js');

const ROOT = path.resolve(__dirname, '..', '..');
const BUILD = path.resolve(process.env.QGATE_BUILD || path.join(ROOT, 'build'));
const QGATE = path.join(BUILD, 'src', 'app', 'qgate');
const QMOCK = path.join(BUILD, 'tools', 'qmock', 'qmock');

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

/** p, or `onTimeout` after ms (the timer is cleared either way, so it holds no process up). */
function within(p, ms, onTimeout = null) {
  let timer;
  const t = new Promise((r) => { timer = setTimeout(() => r(onTimeout), ms); });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Polls fn until it returns a truthy value; throws after timeoutMs (bounded attempts too). */
async function pollUntil(fn, what, timeoutMs = 10000, intervalMs = 25) {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < Math.ceil(timeoutMs / intervalMs) + 1 && Date.now() <= deadline; i++) {
    const v = await fn();
    if (v) return v;
    await delay(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

class Proc {
  constructor(name, cmd, args, logFile) {
    this.name = name;
    const fd = fs.openSync(logFile, 'a');
    this.child = spawn(cmd, args, { stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    this.exitInfo = null;
    this.exited = new Promise((res) => {
      this.child.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        res(this.exitInfo);
      });
      this.child.on('error', (e) => { this.exitInfo = { error: e.message }; res(this.exitInfo); });
    });
  }
  get pid() { return this.child.pid; }
  get alive() { return this.exitInfo === null; }
  kill(sig = 'SIGKILL') { if (this.alive) try { this.child.kill(sig); } catch { /* gone */ } }
}

function readPort(file) {
  try {
    const m = /^(\d+)\s*$/m.exec(fs.readFileSync(file, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch { return null; }
}

/** Resident set size (bytes) and open fd count of a process, from /proc. */
function rssBytes(pid) {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}
function fdCount(pid) { return fs.readdirSync(`/proc/${pid}/fd`).length; }

class Farm {
  /** opts: dir (a scratch dir; made when absent), io ('auto'), qgateLimits, tpRate, log. */
  constructor(opts = {}) {
    this.dir = opts.dir || fs.mkdtempSync(path.join(os.tmpdir(), 'qgate-farm-'));
    this.io = opts.io || process.env.QGATE_IO || 'auto';
    this.opts = opts;
    this.mocks = {};   // name -> { proc, port, args, restarts }
    this.procs = new Set();
    this.killLog = [];  // { name, at }: every SIGKILL, in order
  }

  mockArgs(name) {
    if (name === 'tp') {
      return ['--tickerplant', '--tp-rate', String(this.opts.tpRate ?? 50), '--tp-rows', '4'];
    }
    return [];
  }

  async startMock(name, port = 0) {
    const portFile = path.join(this.dir, `${name}.port`);
    fs.rmSync(portFile, { force: true });
    const args = ['--port', String(port), '--port-file', portFile, '--name', name,
      ...this.mockArgs(name)];
    const proc = new Proc(`qmock-${name}`, QMOCK, args, path.join(this.dir, `${name}.log`));
    this.procs.add(proc);
    proc.exited.then(() => this.procs.delete(proc));
    const got = await pollUntil(() => {
      if (!proc.alive) throw new Error(`qmock ${name} exited ${JSON.stringify(proc.exitInfo)}`);
      return readPort(portFile);
    }, `qmock ${name} port file`);
    const prev = this.mocks[name];
    this.mocks[name] = { proc, port: got, restarts: prev ? prev.restarts + 1 : 0 };
    return this.mocks[name];
  }

  /** SIGKILL a qmock and wait for its exit. */
  async killMock(name) {
    const m = this.mocks[name];
    this.killLog.push({ name, at: Date.now() });
    m.proc.kill('SIGKILL');
    await within(m.proc.exited, 5000);
    if (m.proc.alive) throw new Error(`qmock ${name} did not exit after SIGKILL`);
  }

  /** Restarts a killed qmock on its port; a port taken meanwhile is retried (bounded). */
  async restartMock(name) {
    const { port } = this.mocks[name];
    let last;
    for (let i = 0; i < 50; i++) {
      try { return await this.startMock(name, port); } catch (e) { last = e; await delay(100); }
    }
    throw new Error(`qmock ${name} could not listen on ${port} again: ${last && last.message}`);
  }

  config() {
    const L = {
      reconnect_min_ms: 20, reconnect_max_ms: 400, connect_timeout_ms: 1000,
      ...(this.opts.qgateLimits || {}),
    };
    const be = (name, group) => `[[backend]]\nname = "${name}"\ngroup = "${group}"\n` +
      `address = "127.0.0.1:${this.mocks[name].port}"\n`;
    return [
      '[server]', 'shards = 2', `io = "${this.io}"`,
      `port_file = "${path.join(this.dir, 'qgate.ports')}"`, '',
      '[limits]', ...Object.entries(L).map(([k, v]) => `${k} = ${v}`), '',
      '[admin]', 'listen = "127.0.0.1:0"', '',
      '[[listener]]', 'listen = "127.0.0.1:0"', 'mode = "session"', 'group = "rdb"', '',
      '[[listener]]', 'listen = "127.0.0.1:0"', 'mode = "request"', 'group = "rdb"', '',
      '[[listener]]', 'listen = "127.0.0.1:0"', 'mode = "pubsub"', 'group = "tp"', '',
      be('rdb1', 'rdb'), be('rdb2', 'rdb'), be('hdb1', 'hdb'), be('hdb2', 'hdb'), be('tp', 'tp'),
      '[[route]]', 'match = ["*"]', 'group = "rdb"',
      `timeout_ms = ${this.opts.routeTimeoutMs || 20000}`, '',
      '[pubsub]', 'upstream = "tp"', '',
    ].join('\n');
  }

  async start() {
    for (const n of ['rdb1', 'rdb2', 'hdb1', 'hdb2', 'tp']) await this.startMock(n);
    const cfg = path.join(this.dir, 'qgate.toml');
    fs.writeFileSync(cfg, this.config());
    const args = ['-c', cfg, `--io=${this.io}`, ...(this.opts.qgateArgs || [])];
    this.qgate = new Proc('qgate', QGATE, args,
      path.join(this.dir, 'qgate.log'));
    this.procs.add(this.qgate);
    const ports = await pollUntil(() => {
      if (!this.qgate.alive) throw new Error(`qgate exited ${JSON.stringify(this.qgate.exitInfo)}`);
      let text;
      try {
        text = fs.readFileSync(path.join(this.dir, 'qgate.ports'), 'utf8');
      } catch { return null; }
      const l = [...text.matchAll(/^listener (\d+) (\d+)$/gm)].map((m) => Number(m[2]));
      const a = /^admin (\d+)$/m.exec(text);
      return l.length === 3 && a ? { listeners: l, admin: Number(a[1]) } : null;
    }, 'qgate port file');
    [this.session, this.request, this.pubsub] = ports.listeners;
    this.admin = ports.admin;
    await this.waitAllUp();
  }

  /** qgate's counters: .qgate.stats[] on the admin port, as { name: number }. */
  async stats() {
    const c = await QClient.connect(this.admin);
    try {
      const r = await c.call(qstr('.qgate.stats[]'), 10000);
      if (!r.frame || r.error) throw new Error(`stats: ${r.error || r.lost}`);
      const rows = decode(r.frame);  // the stats table: rows of name, kind, value, help
      return Object.fromEntries(rows.map((x) => [x.name, Number(x.value)]));
    } finally {
      await c.close();
    }
  }

  /** Bounded wait until every pool backend is live and the upstream feed is subscribed. */
  async waitAllUp(timeoutMs = 20000) {
    const t0 = Date.now();
    const connects = () => this.stats().then((s) => s.pubsub_upstream_connects);
    await pollUntil(async () => {
      const s = await this.stats();
      const live = Object.keys(s).filter((k) => k.startsWith('backend_live'));
      return live.every((k) => s[k] === 1) && s.pubsub_upstream_connects >= 1;
    }, 'every backend live', timeoutMs, 100);
    return { ms: Date.now() - t0, connects: await connects() };
  }

  rss() { return rssBytes(this.qgate.pid); }
  fds() { return fdCount(this.qgate.pid); }

  /** Stops everything (SIGTERM to qgate first, so its exit code can be read). */
  async stop() {
    let qgateExit = null;
    if (this.qgate && this.qgate.alive) {
      this.qgate.kill('SIGTERM');
      qgateExit = await within(this.qgate.exited, 15000);
    }
    for (const p of this.procs) p.kill('SIGKILL');
    await Promise.all([...this.procs].map((p) => within(p.exited, 5000)));
    return qgateExit;
  }

  cleanup() { fs.rmSync(this.dir, { recursive: true, force: true }); }
}

module.exports = { Farm, pollUntil, delay, within, rssBytes, fdCount, BUILD, QGATE, QMOCK };

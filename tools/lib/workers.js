'use strict';
// Client workers for tools/chaos and tools/soak. Each worker keeps one connection to qgate
// (reconnecting when it is closed) and records every outcome in a shared tally:
//   * a caller keeps `depth` sync calls in flight, each carrying a unique tag that the backend
//     echoes back (qmock's tag[x] answers (`name;x)); a reply is matched to the oldest call
//     outstanding, as q answers a handle's sync calls in order, so a reply with another
//     call's tag is a crossed reply;
//   * a subscriber calls .u.sub on the pub/sub listener and checks every update it receives:
//     table trade, rows of its syms only, each row's sym the feed's sym for its seq
//     (qmock --tickerplant: syms[seq mod 4]), seq rising (it restarts only when the
//     tickerplant does).
// Outcomes: ok (the right value), qerr (a q error, counted by text), crossed, lost (the
// connection closed with the call outstanding), timeout (no answer within callMs).

const { QClient, qcall, qstr, qsym, qsyms, qlong, decode } = require('./qclient.js');

const SYMS = ['AAPL', 'MSFT', 'IBM', 'GOOG'];
const { delay, within } = require('./farm.js');

/** Counts per kind of worker; `samples` keeps a few examples of each failure. */
class Tally {
  constructor() { this.by = {}; this.samples = []; this.qerrs = {}; }
  kind(k) {
    return (this.by[k] ||= { calls: 0, ok: 0, qerr: 0, crossed: 0, lost: 0, timeout: 0,
      asyncs: 0, connects: 0, connect_fail: 0, closes: 0, updates: 0, rows: 0, bad_rows: 0,
      resets: 0 });
  }
  add(k, what, n = 1) { this.kind(k)[what] += n; }
  qerr(k, text) {
    this.add(k, 'qerr');
    const key = `${k}: ${text.replace(/\d+/g, 'N')}`;
    this.qerrs[key] = (this.qerrs[key] || 0) + 1;
  }
  fail(k, what, detail) {
    this.add(k, what);
    if (this.samples.length < 20) this.samples.push({ kind: k, what, detail, at: Date.now() });
  }
  total(what) { return Object.values(this.by).reduce((a, c) => a + c[what], 0); }
}

/** The run state workers read: `running` false asks them to finish and close. */
class Run {
  constructor() { this.running = true; this.workers = []; }
  stop() { this.running = false; return Promise.all(this.workers); }
}

/** Connects (retrying while the run lasts); null once the run has stopped. */
async function connectRetry(run, tally, kind, port) {
  while (run.running) {
    try {
      const c = await QClient.connect(port);
      tally.add(kind, 'connects');
      return c;
    } catch {
      tally.add(kind, 'connect_fail');
      await delay(50);
    }
  }
  return null;
}

/**
 * A caller. spec: kind (a label), port, depth, body(tag) -> call body, check(value, tag) ->
 * true when the value answers the call tagged `tag`, reconnectEvery (calls; 0: never),
 * callMs (client-side timeout), asyncEvery (every Nth call also sends an async tag call).
 */
function caller(run, tally, id, spec) {
  const { kind, port, depth = 1, body, check, reconnectEvery = 0, callMs = 30000 } = spec;
  let seq = 0;
  const one = async (c, tag) => {
    tally.add(kind, 'calls');
    const r = await c.call(body(tag), callMs);
    if (r.lost === 'timeout') return tally.fail(kind, 'timeout', tag);
    if (r.lost) {
      if (spec.onLost) spec.onLost(c.backend, Date.now());
      return tally.fail(kind, 'lost', `${tag} after ${c.answered} answers, ` +
        `${Date.now() - c.since} ms into its connection on ${c.backend || 'no backend yet'}`);
    }
    c.answered += 1;
    if (r.error !== null) {
      if (spec.endOn && spec.endOn.test(r.error)) c.ended = true;  // the session is gone
      return tally.qerr(kind, r.error);
    }
    if (spec.checkFrame) {
      if (spec.checkFrame(r.frame)) return tally.add(kind, 'ok');
      return tally.fail(kind, 'crossed', `${tag}: a reply of ${r.frame.length} bytes`);
    }
    let v;
    try {
      v = decode(r.frame);
    } catch (e) {
      return tally.fail(kind, 'crossed', `${tag}: ${e.message}`);
    }
    if (!check(v, tag)) {
      return tally.fail(kind, 'crossed', `${tag} answered ${JSON.stringify(v).slice(0, 200)}`);
    }
    c.backend = v[0];
    return tally.add(kind, 'ok');
  };
  const lane = async (c) => {
    while (run.running && !c.closed && !c.ended) {
      const tag = `${kind[0]}${id}.${seq++}`;
      await one(c, tag);
      if (spec.asyncEvery && seq % spec.asyncEvery === 0 && !c.closed) {
        await c.send(qcall('tag', qstr(`${tag}a`)));
        tally.add(kind, 'asyncs');
      }
      if (reconnectEvery && seq % reconnectEvery === 0) break;
    }
  };
  const loop = async () => {
    while (run.running) {
      const c = await connectRetry(run, tally, kind, port);
      if (!c) return;
      c.since = Date.now();
      c.answered = 0;
      await Promise.all(Array.from({ length: depth }, () => lane(c)));
      if (c.ended) await within(c.closedP, 10000);  // qgate closes the session
      if (!c.closed) await c.close(); else tally.add(kind, 'closes');
    }
  };
  const p = loop();
  run.workers.push(p);
  return p;
}

/** Checks one decoded (`upd;`trade;rows) message for subscriber state `st`. */
function checkUpdate(tally, st, msg) {
  const kind = 'subscriber';
  if (!Array.isArray(msg) || msg[0] !== 'upd') return;  // .u.end and the like
  tally.add(kind, 'updates');
  if (msg[1] !== 'trade' || !Array.isArray(msg[2])) {
    return tally.fail(kind, 'bad_rows', `update ${JSON.stringify(msg).slice(0, 120)}`);
  }
  for (const row of msg[2]) {
    tally.add(kind, 'rows');
    const seq = Number(row.seq);
    if ((st.syms && !st.syms.includes(row.sym)) || row.sym !== SYMS[seq % SYMS.length]) {
      tally.fail(kind, 'bad_rows', `sym ${row.sym} seq ${seq} for filter ${st.syms || 'all'}`);
    }
    if (st.last !== null && seq <= st.last) {
      tally.add(kind, 'resets');
      // The feed restarts from seq 0 only when the tickerplant does.
      if (++st.resets > st.tpKills() - st.kills0) {
        tally.fail(kind, 'bad_rows', `seq ${seq} after ${st.last} with no tickerplant restart`);
      }
    }
    st.last = seq;
  }
}

/**
 * A subscriber: .u.sub[`trade;syms] (syms null: every sym), reading updates; every
 * `resubEvery` ms (0: never) it closes and subscribes again on a new connection.
 */
function subscriber(run, tally, id,
  { port, syms = null, resubEvery = 0, callMs = 30000, tpKills = () => 0 }) {
  const kind = 'subscriber';
  const loop = async () => {
    while (run.running) {
      const c = await connectRetry(run, tally, kind, port);
      if (!c) return;
      const st = { syms, last: null, resets: 0, tpKills, kills0: tpKills() };
      c.onAsync = (f) => {
        let m;
        try { m = decode(f); } catch (e) { return tally.fail(kind, 'bad_rows', e.message); }
        return checkUpdate(tally, st, m);
      };
      tally.add(kind, 'calls');
      const r = await c.call(qcall('.u.sub', qsym('trade'), syms ? qsyms(syms) : qsym('')), callMs);
      if (r.lost) tally.fail(kind, r.lost === 'timeout' ? 'timeout' : 'lost', `.u.sub ${id}`);
      else if (r.error !== null) tally.qerr(kind, r.error);
      else tally.add(kind, 'ok');
      const until = resubEvery ? Date.now() + resubEvery * (0.5 + Math.random()) : Infinity;
      while (run.running && !c.closed && Date.now() < until) await delay(50);
      if (!c.closed) await c.close(); else tally.add(kind, 'closes');
    }
  };
  const p = loop();
  run.workers.push(p);
  return p;
}

/** payload[n] answers n bytes, byte i = i mod 251 (checked at a few places, not decoded). */
function payloadCheck(n) {
  return (f) => f.length === 14 + n && f[2] === 0 && f[8] === 4 && f.readUInt32LE(10) === n &&
    [0, 1, 250, 251, 65537, n - 1].every((i) => f[14 + i] === i % 251);
}

/** tag[x] answers (`name;x): from a member of `names`, carrying `tag`. */
const tagFrom = (names) => (v, tag) => Array.isArray(v) && v.length === 2 &&
  names.includes(v[0]) && v[1] === tag;

/** .gw.syncexec[(`tag;x);`rdb`hdb] razes (`rdbN;x) and (`hdbN;x). */
function fanoutCheck(v, tag) {
  return Array.isArray(v) && v.length === 4 && /^rdb\d$/.test(v[0]) && v[1] === tag &&
    /^hdb\d$/.test(v[2]) && v[3] === tag;
}
const fanoutBody = (tag) => qcall('.gw.syncexec', qcall('tag', qstr(tag)), qsyms(['rdb', 'hdb']));
const tagBody = (tag) => qcall('tag', qstr(tag));
const qcallPayload = (n) => qcall('payload', qlong(n));

module.exports = {
  Tally, Run, caller, subscriber, tagFrom, payloadCheck, qcallPayload, fanoutCheck, fanoutBody,
  tagBody, SYMS, delay,
};

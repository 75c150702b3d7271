// Demo client: an unmodified node-q client talking to qgate as if it were q, on each of
// qgate's three kinds of listener. Every answer printed comes from a qmock behind qgate.
// Usage: node client.js SESSION_PORT REQUEST_PORT PUBSUB_PORT ADMIN_PORT (NODE_PATH: node-q).
'use strict';
const nodeq = require('node-q');

const [session, request, pubsub, admin] = process.argv.slice(2).map(Number);
const connect = (p) => new Promise((ok, ko) =>
  nodeq.connect({ host: '127.0.0.1', port: p, user: 'demo', password: 'demo' },
    (e, c) => (e ? ko(e) : ok(c))));
const k = (con, ...args) => new Promise((ok) =>
  con.k(...args, (err, res) => ok(err ? `'${err.message}` : res)));
const text = (r) => (typeof r === 'string' ? r : JSON.stringify(r));
const show = (q, r) => console.log(`q)${q}\n${text(r)}`);
const say = (s) => console.log(`\n-- ${s}`);

async function sessionMode() {
  say('session mode: each connection is pinned to one RDB (least-connections)');
  const a = await connect(session);
  const b = await connect(session);
  for (const [con, q] of [[a, 'name[]'], [b, 'name[]'], [a, 'echo[42]'],
                          [a, 'getTrades[`AAPL;3]'], [b, 'fail["boom"]'], [b, 'whoami[]']]) {
    show(q, await k(con, q));
  }
  show('("echo"; 1 2 3)', await k(a, 'echo', [1, 2, 3]));
  return [a, b];
}

async function requestMode() {
  say('request mode: tag[] is consistent-hashed on its argument, so a sym always lands on '
      + 'the same RDB');
  const c = await connect(request);
  for (const q of ['tag[`AAPL]', 'tag[`MSFT]', 'tag[`AAPL]', 'tag[`MSFT]', 'tag[`IBM]']) {
    show(q, await k(c, q));
  }
  say('fan-out: getTrades goes to the RDB and the HDB in parallel, replies razed by qgate');
  const rows = await k(c, 'getTrades[`AAPL;2]');
  show('getTrades[`AAPL;2]', Array.isArray(rows) ? `${rows.length} rows: ${text(rows)}` : rows);
  say('TorQ gateway API, served by qgate itself');
  const q1 = '.gw.syncexec["getTrades[`IBM;1]";`rdb`hdb]';
  const gw = await k(c, q1);
  show(q1, Array.isArray(gw) ? `${gw.length} rows: ${text(gw)}` : gw);
  const q2 = '.gw.syncexec["getTrades[`IBM;1]";`rdb`nosuch]';
  show(q2, await k(c, q2));
  return [c];
}

async function pubsubMode() {
  say('pub/sub: qgate subscribed to the tickerplant once and re-publishes to its subscribers');
  const s = await connect(pubsub);
  const got = new Promise((ok) => {
    const rows = [];
    s.on('upd', (table, data) => {
      rows.push(...data);
      if (rows.length >= 3) ok({ table, rows: rows.slice(0, 3) });
    });
  });
  show('.u.sub[`trade;`AAPL]', await k(s, '.u.sub[`trade;`AAPL]'));
  const { table, rows } = await got;
  console.log(`upd ${table}: ${rows.map((r) => `${r.sym} seq ${r.seq}`).join(', ')}`
              + ' (only AAPL rows: the filter is applied once per update, not per subscriber)');
  return [s];
}

async function main() {
  const timer = setTimeout(() => { console.error('demo timed out'); process.exit(1); }, 30000);
  const open = [...await sessionMode(), ...await requestMode(), ...await pubsubMode()];
  const st = await connect(admin);
  const stats = Object.fromEntries((await k(st, '.qgate.stats[]')).map((r) => [r.name, r.value]));
  const pick = ['accepts', 'msgs_fwd', 'requests_routed', 'request_bytes_lent',
                'request_bytes_copied', 'reply_bytes_received_direct', 'fanout_joined',
                'fanout_column_bytes_copied', 'pubsub_updates_in', 'pubsub_deliveries',
                'pubsub_ingest_bytes_direct', 'pubsub_ingest_bytes_copied', 'enters'];
  console.log('\nadmin q).qgate.stats[] (excerpt):',
    Object.fromEntries(Object.entries(stats).filter(([n]) => pick.includes(n))));
  // A keyed table decodes as [key rows, value rows] in node-q: one row object per backend.
  // rdb3 registers itself (registerResource): wait for it, at most 5 s.
  let keys = [];
  let values = [];
  for (let i = 0; i < 100 && !values.some((v) => v.source === 'register'); ++i) {
    if (i > 0) await new Promise((r) => setTimeout(r, 50));
    [keys, values] = await k(st, '.qgate.backends[]');
  }
  const cols = ['group', 'address', 'source', 'state', 'conns', 'inflight', 'calls', 'errors',
                'p50_us', 'p99_us'];
  console.log('\nadmin q).qgate.backends[]');
  console.table(keys.map((key, i) => ({ name: key.name,
    ...Object.fromEntries(cols.map((c) => [c, values[i][c]])) })));
  for (const c of [...open, st]) c.close(() => {});
  clearTimeout(timer);
}
main().catch((e) => { console.error('demo failed:', e.message); process.exit(1); });

// Demo client: an unmodified node-q client talking to qgate as if it were q.
// Usage: node client.js GATEWAY_PORT ADMIN_PORT (NODE_PATH must reach node-q).
'use strict';
const nodeq = require('node-q');

const [port, admin] = process.argv.slice(2).map(Number);
const connect = (p) => new Promise((ok, ko) =>
  nodeq.connect({ host: '127.0.0.1', port: p, user: 'demo', password: 'demo' },
    (e, c) => (e ? ko(e) : ok(c))));
const k = (con, ...args) => new Promise((ok) =>
  con.k(...args, (err, res) => ok(err ? `'${err.message}` : res)));
const show = (q, r) => console.log(`q)${q}\n${typeof r === 'string' ? r : JSON.stringify(r)}`);

async function main() {
  const timer = setTimeout(() => { console.error('demo timed out'); process.exit(1); }, 20000);
  const a = await connect(port);
  const b = await connect(port);
  for (const [con, q] of [[a, 'name[]'], [b, 'name[]'], [a, 'echo[42]'], [a, 'getTrades[`AAPL;3]'],
                          [b, 'fail["boom"]'], [b, 'whoami[]']]) {
    show(q, await k(con, q));
  }
  show('("echo"; 1 2 3)', await k(a, 'echo', [1, 2, 3]));
  const st = await connect(admin);
  const stats = await k(st, '.qgate.stats[]');
  const pick = ['accepts', 'msgs_fwd', 'bytes_in', 'bytes_out', 'enters', 'cqes'];
  console.log('admin q).qgate.stats[] (excerpt):',
    Object.fromEntries(Object.entries(stats).filter(([n]) => pick.includes(n))));
  for (const c of [a, b, st]) c.close(() => {});
  clearTimeout(timer);
}
main().catch((e) => { console.error('demo failed:', e.message); process.exit(1); });

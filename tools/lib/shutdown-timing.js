'use strict';
// Time from kill -TERM to qgate's exit (waitpid), over RUNS fresh qgates, one qmock
// (--zpg defer) behind them (TESTING.md, "Shutdown timing"):
//   node tools/lib/shutdown-timing.js BUILD uring|epoll RUNS CLIENTS [session|request]
// CLIENTS connected and idle (handshake done) at the signal. Environment: SHARDS (2),
// DRAIN (limits.drain_timeout_ms, 5000), BUSY=ms (each client has deferred[ms;1] in flight),
// DEAD=1 (the backend's address has nothing listening). Prints p50/p90/max and every time.
const { spawn } = require('child_process');
const fs = require('fs'); const net = require('net'); const path = require('path');
const [build, io, runs, nclients, mode] = [process.argv[2], process.argv[3],
  Number(process.argv[4]), Number(process.argv[5]), process.argv[6] || 'session'];
const QGATE = path.join(build, 'src/app/qgate'); const QMOCK = path.join(build, 'tools/qmock/qmock');
const dir = fs.mkdtempSync('/tmp/shutm/run-');
const delay = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFile(f, re) {
  for (let i = 0; i < 500; i++) {
    try { const m = re.exec(fs.readFileSync(f, 'utf8')); if (m) return m; } catch {}
    await delay(10);
  }
  throw new Error('no port file ' + f);
}
function hs(port) {
  return new Promise((res, rej) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(Buffer.from('u:p\x03\x00')));
    s.once('data', () => res(s)); s.on('error', rej);
  });
}
(async () => {
  const qm = spawn(QMOCK, ['--port', '0', '--zpg', 'defer', '--port-file', `${dir}/qm.port`], { stdio: 'ignore' });
  const qport = Number((await waitFile(`${dir}/qm.port`, /^(\d+)/m))[1]);
  const times = [];
  for (let r = 0; r < runs; r++) {
    const pf = `${dir}/gw${r}.ports`;
    fs.writeFileSync(`${dir}/gw.toml`, `[server]\nshards = ${process.env.SHARDS || 2}\nio = "${io}"\nport_file = "${pf}"\n` +
      `[limits]\ndrain_timeout_ms = ${process.env.DRAIN || 5000}\n[admin]\nlisten = "127.0.0.1:0"\n[[listener]]\nlisten = "127.0.0.1:0"\nmode = "${mode}"\n` +
      `group = "rdb"\n[[backend]]\nname = "rdb1"\ngroup = "rdb"\naddress = "127.0.0.1:${process.env.DEAD ? 1 : qport}"\n`);
    const gw = spawn(QGATE, ['-c', `${dir}/gw.toml`, `--io=${io}`], { stdio: ['ignore', 'ignore', fs.openSync(`${dir}/gw.log`, 'w')] });
    const exited = new Promise((res) => gw.on('exit', (code, sig) => res({ code, sig, t: process.hrtime.bigint() })));
    const port = Number((await waitFile(pf, /^listener 0 (\d+)/m))[1]);
    const socks = [];
    for (let c = 0; c < nclients; c++) socks.push(await hs(port));
    if (process.env.BUSY) {
      const body = Buffer.from('deferred[' + process.env.BUSY + ';1]');
      const m = Buffer.alloc(14 + body.length); m[0] = 1; m[1] = 1; m.writeUInt32LE(m.length, 4);
      m[8] = 10; m.writeUInt32LE(body.length, 10); body.copy(m, 14);
      for (const s of socks) s.write(m);
    }
    await delay(50);
    const t0 = process.hrtime.bigint();
    gw.kill('SIGTERM');
    const e = await exited;
    times.push(Number(e.t - t0) / 1e6);
    if (e.code !== 0) console.error('exit', e);
    socks.forEach((s) => s.destroy());
  }
  qm.kill();
  times.sort((a, b) => a - b);
  const p = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(1);
  console.log(`${io} ${mode} clients=${nclients} runs=${runs} p50=${p(0.5)} p90=${p(0.9)} max=${times[times.length - 1].toFixed(1)} ms`);
  console.log(times.map((t) => t.toFixed(0)).join(' '));
})();

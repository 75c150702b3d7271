'use strict';
// Request mode, the reply path alone: one raw client makes sequential sync calls
// `payload[N]` (a 14-byte call, a reply of N + 14 bytes) through qgate (1 shard, request
// mode, one pooled connection) and the script reports qgate's CPU time per call
// (utime + stime from /proc, the whole process) and the wall time per call. The call is tiny,
// so what qgate spends per call is nearly all in receiving the reply and sending it on.
// Run (QGATE_BUILD picks the binaries, so two builds can be compared back to back):
//   QGATE_BUILD=$PWD/build node bench/reply_cpu.js [bytes=1000000] [calls=2000]
const fs = require('node:fs');
const path = require('node:path');
const lib = require(path.join(__dirname, '..', 'tests', 'integration', 'lib.js'));
const { Ctx, startStack, RawClient, MSG, qmsg, qstr, qlong, qlist, stats } = lib;

const BYTES = Number(process.argv[2] || 1000000);
const CALLS = Number(process.argv[3] || 2000);
const WARM = 50;

function cpuMs(pid) {  // utime + stime, in ms (clock ticks of 10 ms on Linux)
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) * 10;
}

(async () => {
  const ctx = new Ctx({ diagnostic: (m) => process.stderr.write(m + '\n') });
  try {
    const { gw } = await startStack(ctx, {
      shards: 1,
      listeners: [{ mode: 'request', group: 'rdb' }],
      backends: [{ name: 'rdb1', mock: { compress: 'never' } }],
    });
    const c = await RawClient.connect(ctx, gw.port);
    const call = qmsg(MSG.sync, qlist(qstr('payload'), qlong(BYTES - 14)));
    for (let i = 0; i < WARM; i++) await c.call(call, 30000);
    const cpu0 = cpuMs(gw.proc.pid);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < CALLS; i++) {
      const r = await c.call(call, 30000);
      if (r.length !== BYTES) throw new Error(`reply of ${r.length} bytes`);
    }
    const wallUs = Number(process.hrtime.bigint() - t0) / 1e3 / CALLS;
    const cpuUs = (cpuMs(gw.proc.pid) - cpu0) * 1000 / CALLS;
    console.log(`${BYTES}-byte replies x ${CALLS}: qgate CPU ${cpuUs.toFixed(1)} us/call, ` +
                `wall ${wallUs.toFixed(1)} us/call`);
    const s = await stats(ctx, gw);
    for (const k of ['reply_bytes_received_direct', 'reply_bytes_copied', 'bytes_in']) {
      if (k in s) console.log(`${k} = ${s[k]}`);
    }
  } finally {
    await ctx.cleanup();
  }
})().catch((e) => { console.error(e); process.exit(1); });

'use strict';
// End-to-end fan-out benchmark (issue 6): `.gw.syncexec[(getTrades;`AAPL;N); `rdb`hdb]` through
// qgate (request mode, raze of two ~1 MB tables) against each backend called directly and
// through qgate alone. Wall time per call until the last reply byte is read (raw sockets, no
// decoding), median of ITER calls of each kind, interleaved, after WARM warm-up rounds; then the
// admin counters
// (fanout_column_bytes_copied must be 0). Run:
//   QGATE_BUILD=$PWD/build node bench/fanout_e2e.js [rows=36000] [iter=60] [work_ms=0]
// work_ms > 0: each backend's getTrades answers after that many ms (qmock --work-ms, a query's
// work, deferred with -30! under --zpg defer so the backend is not blocked), for the case where
// the backends' work, not moving the bytes, dominates.
const path = require('node:path');
const lib = require(path.join(__dirname, '..', 'tests', 'integration', 'lib.js'));
const { Ctx, startStack, RawClient, MSG, qmsg, qstr, qsym, qlong, qlist, stats, counter } = lib;

const ROWS = Number(process.argv[2] || 36000);
const ITER = Number(process.argv[3] || 60);
const WORK_MS = Number(process.argv[4] || 0);
const WARM = 10;

function qsyms(names) {
  const parts = names.map((n) => Buffer.from(n + '\0', 'latin1'));
  const h = Buffer.alloc(6);
  h[0] = 11;
  h.writeUInt32LE(names.length, 2);
  return Buffer.concat([h, ...parts]);
}

async function timeCalls(c, frame) {
  const t0 = process.hrtime.bigint();
  const r = await c.call(frame, 30000);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.frame[8] === 0x80) throw new Error('q error: ' + lib.errorText(r.frame));
  return { ms, bytes: r.frame.length };
}

(async () => {
  const ctx = new Ctx({ diagnostic: (m) => process.stderr.write(m + '\n') });
  try {
    const { gw, mocks } = await startStack(ctx, {
      listeners: [{ mode: 'request', group: 'rdb' }, { mode: 'request', group: 'hdb' }],
      backends: [
        { name: 'rdb1', group: 'rdb', mock: { compress: 'never', workMs: WORK_MS, zpg: 'defer' } },
        { name: 'hdb1', group: 'hdb', mock: { compress: 'never', workMs: WORK_MS, zpg: 'defer' } },
      ],
    });
    const call = qmsg(MSG.sync, qlist(qstr('getTrades'), qsym('AAPL'), qlong(ROWS)));
    const gwcall = qmsg(MSG.sync, qlist(qstr('.gw.syncexec'),
      qlist(qstr('getTrades'), qsym('AAPL'), qlong(ROWS)), qsyms(['rdb', 'hdb'])));
    // Interleaved: every iteration makes one call of each kind in turn, so the shared
    // machine's noise falls on all of them alike.
    const kinds = [];
    for (const name of ['rdb1', 'hdb1']) {
      kinds.push([`direct ${name}`, await RawClient.connect(ctx, mocks[name].port, { auth: 'gw:pw' }), call]);
    }
    kinds.push(['direct rdb1, 2N rows', await RawClient.connect(ctx, mocks.rdb1.port, { auth: 'gw:pw' }),
      qmsg(MSG.sync, qlist(qstr('getTrades'), qsym('AAPL'), qlong(2 * ROWS)))]);
    const viaRdb = await RawClient.connect(ctx, gw.ports[0]);
    const viaHdb = await RawClient.connect(ctx, gw.ports[1]);
    kinds.push(['qgate -> rdb1 alone', viaRdb, call]);
    kinds.push(['qgate -> hdb1 alone', viaHdb, call]);
    kinds.push(['qgate .gw.syncexec raze', viaRdb, gwcall]);
    const samples = kinds.map(() => []);
    const sizes = kinds.map(() => 0);
    for (let i = 0; i < WARM + ITER; i++) {
      for (let k = 0; k < kinds.length; k++) {
        const r = await timeCalls(kinds[k][1], kinds[k][2]);
        sizes[k] = r.bytes;
        if (i >= WARM) samples[k].push(r.ms);
      }
    }
    const out = {};
    kinds.forEach(([name], k) => {
      const ms = samples[k].sort((a, b) => a - b);
      out[name] = { median: ms[ms.length >> 1], p10: ms[Math.floor(ms.length * 0.1)], bytes: sizes[k] };
    });
    const s = await stats(ctx, gw);
    for (const [k, v] of Object.entries(out)) {
      console.log(`${k.padEnd(28)} median ${v.median.toFixed(3)} ms  p10 ${v.p10.toFixed(3)} ms  ` +
                  `reply ${v.bytes} bytes`);
    }
    const slower = Math.max(out['direct rdb1'].median, out['direct hdb1'].median);
    const slowerGw = Math.max(out['qgate -> rdb1 alone'].median, out['qgate -> hdb1 alone'].median);
    const fan = out['qgate .gw.syncexec raze'].median;
    console.log(`fan-out / slower backend direct:      ${(fan / slower).toFixed(2)}x`);
    console.log(`fan-out / slower backend via qgate:   ${(fan / slowerGw).toFixed(2)}x`);
    console.log(`fan-out / one backend sending 2N rows: ${(fan / out['direct rdb1, 2N rows'].median).toFixed(2)}x`);
    for (const k of ['fanout_joined', 'fanout_joined_bytes', 'fanout_referenced_bytes',
      'fanout_column_bytes_copied', 'reply_bytes_received_direct', 'reply_bytes_copied']) {
      if (k in s) console.log(`${k} = ${counter(s, k)}`);  // reply_*: since the zero-copy reply
    }
  } finally {
    await ctx.cleanup();
  }
})().catch((e) => { console.error(e); process.exit(1); });

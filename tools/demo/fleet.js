'use strict';
// tools/run-demo --fleet (issue 19): etcd and three qgate instances (g1, g2, g3) in front of
// three qmock RDBs (b1, b2, b3), all on 127.0.0.1 with ports chosen by the kernel. Shows the
// fleet as .qgate.fleet[] lists it, one key -> backend map on all three, a drain made on g2
// taking effect on g1 and g3, and a backend added through g1 served by all. Every process
// stops at the end. Uses the fleet test's helpers (tests/integration/fleet_lib.js).
const path = require('node:path');
const lib = require(path.join(__dirname, '..', '..', 'tests', 'integration', 'lib.js'));
const fleet = require(path.join(__dirname, '..', '..', 'tests', 'integration', 'fleet_lib.js'));

const hr = (s) => console.log(`\n== ${s} ==`);

/** Which backend answers name[`kI], I < n, on `gw` (sync calls, one at a time). */
async function owners(ctx, gw, n) {
  const c = await lib.RawClient.connect(ctx, gw.port);
  const out = [];
  for (let i = 0; i < n; i++) {
    const r = await c.call(lib.qcall(lib.MSG.sync, 'name', lib.qsym(`k${i}`)));
    out.push(lib.decode(r.frame));
  }
  c.destroy();
  return out;
}

async function stateOn(ctx, gws, name) {
  const out = [];
  for (const gw of gws) {
    const b = (await fleet.backendsOf(ctx, gw))[name];
    out.push(`${gw.proc.name}: ${b ? b.state : '-'}`);
  }
  return out.join(', ');
}

async function until(ctx, gws, name, pred, what) {
  const t0 = Date.now();
  for (const gw of gws) {
    await lib.pollUntil(async () => pred((await fleet.backendsOf(ctx, gw))[name]),
                        { what, timeoutMs: 5000, intervalMs: 5 });
  }
  return Date.now() - t0;
}

(async () => {
  const ctx = new lib.Ctx({ diagnostic: (m) => process.stderr.write(m + '\n') });
  try {
    const { etcd, gws } = await fleet.startFleet(ctx);
    console.log(`etcd on 127.0.0.1:${etcd.port}; instances: ` +
                gws.map((g) => `${g.proc.name} :${g.port} (admin :${g.admin})`).join(', '));

    hr('.qgate.fleet[] on g1');
    console.table(await fleet.admin(ctx, gws[0], '.qgate.fleet[]'));

    hr('one ring: name[`kI] for 1000 keys on each instance');
    const maps = [];
    for (const gw of gws) maps.push(await owners(ctx, gw, 1000));
    const same = maps[0].filter((b, i) => b === maps[1][i] && b === maps[2][i]).length;
    console.log(`keys routed to the same backend by g1, g2 and g3: ${same} of 1000`);

    hr('.qgate.drain[`b2] on g2');
    await fleet.admin(ctx, gws[1], '.qgate.drain[`b2]');
    const ms = await until(ctx, gws, 'b2', (b) => b && b.state === 'draining', 'b2 draining');
    console.log(`b2 draining on every instance within ${ms} ms: ${await stateOn(ctx, gws, 'b2')}`);
    const drained = await owners(ctx, gws[2], 300);
    console.log(`g3 sends ${drained.filter((b) => b === 'b2').length} of 300 calls to b2`);

    hr('.qgate.enable[`b2] on g3');
    await fleet.admin(ctx, gws[2], '.qgate.enable[`b2]');
    await until(ctx, gws, 'b2', (b) => b && b.state !== 'draining', 'b2 enabled');
    console.log(await stateOn(ctx, gws, 'b2'));

    hr('.qgate.fleet.add[`b4;`rdb;"127.0.0.1:PORT"] on g1');
    const b4 = await lib.startQmock(ctx, { name: 'b4' });
    await fleet.admin(ctx, gws[0], `.qgate.fleet.add[\`b4;\`rdb;"127.0.0.1:${b4.port}"]`);
    const add = await until(ctx, gws, 'b4', (b) => b, 'b4 everywhere');
    console.log(`b4 on every instance within ${add} ms: ${await stateOn(ctx, gws, 'b4')}`);
    console.log('\nfleet demo done: etcd carried the drain and the new backend to every instance.');
  } catch (e) {
    ctx.failed = true;
    ctx.dumpLogs();
    process.exitCode = 1;
    console.error(e);
  } finally {
    await ctx.cleanup();
  }
})();

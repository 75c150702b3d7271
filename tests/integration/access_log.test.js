'use strict';
// The access log ([access_log], README "Behaviour decisions"): one line per request-mode sync
// call with the user, client, route, backend, µs, bytes and status (ok, a q error, timeout,
// refused), written by the logger thread; slow_ms keeps only the slow calls; SIGHUP reopens
// the file (logrotate moves it first). Lines are written in passes of ~100 ms, so the tests
// poll the file for the count they expect.

const fs = require('fs');
const path = require('path');
const {
  itest, assert, startStack, qconnect, pollUntil, within, counter, stats,
} = require('./lib.js');

function lines(file) {
  let text;
  try { text = fs.readFileSync(file, 'utf8'); } catch { return []; }
  return text.split('\n').filter((l) => l !== '');
}

/** A line as an object: { time, user, client, listener, route, backend, us, in, out, ... }. */
function parse(line) {
  const [time, ...rest] = line.split(' ');
  const out = { time };
  // Values are bare words or "quoted" (spaces inside): rejoin the fields a split cut.
  const re = /(\w+)=("(?:[^"\\]|\\.)*"|\S+)/g;
  for (const m of rest.join(' ').matchAll(re)) {
    out[m[1]] = m[2].startsWith('"') ? JSON.parse(m[2]) : m[2];
  }
  return out;
}

async function waitLines(file, n) {
  return pollUntil(() => { const l = lines(file); return l.length >= n ? l : null; },
    { what: `${n} access log line(s) in ${file}`, timeoutMs: 5000 });
}

const STACK = {
  listeners: [{ group: 'a', mode: 'request' }],
  backends: [{ name: 'rdb1', group: 'a' }, { name: 'rdb2', group: 'b' }],
  routes: [
    { match: ['echo'], group: 'a' },
    { match: ['deferred'], group: 'b', timeout_ms: 300 },
    { match: ['nosuchfn'], group: 'b' },
  ],
  zpg: 'defer',
};

itest('access log: one line per call with its user, route, backend, bytes and status',
  async (t, ctx) => {
    const file = path.join(ctx.dir, 'access.log');
    const { gw } = await startStack(ctx, { ...STACK, extra: `[access_log]\npath = "${file}"\n` });
    const q = await qconnect(ctx, gw.port, { user: 'alice', password: 'pw' });
    assert.equal(await q.k('echo', 7), 7);
    await assert.rejects(q.k('nosuchfn', 1), /nosuchfn/);
    await assert.rejects(q.k('other', 1), /qgate: no route for other/);
    await assert.rejects(q.k('deferred[5000;1]'), /qgate: timeout after 300ms/);
    const got = (await waitLines(file, 4)).map(parse);
    t.diagnostic(lines(file).join('\n'));
    assert.equal(got.length, 4, 'one line per call, no more');
    for (const l of got) {
      assert.match(l.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      assert.equal(l.user, 'alice');
      assert.match(l.client, /^\d+\.\d+$/);
      assert.equal(l.listener, '0');
      assert.ok(Number(l.in) > 8 && Number(l.out) > 8, `bytes in/out: ${l.in}/${l.out}`);
    }
    const pick = (l) => ({ route: l.route, backend: l.backend, status: l.status, err: l.err });
    assert.deepEqual(got.map(pick), [
      { route: '0', backend: 'rdb1', status: 'ok', err: undefined },
      { route: '2', backend: 'rdb2', status: 'error', err: 'nosuchfn' },
      { route: '-', backend: '-', status: 'refused', err: 'qgate: no route for other' },
      { route: '1', backend: 'rdb2', status: 'timeout', err: 'qgate: timeout after 300ms' },
    ]);
    // The deadline is armed in whole milliseconds of the shard's loop clock (engine::clock_now,
    // read once per turn), the record's start from a nanosecond clock read: the deadline can
    // fall up to a millisecond before 300 ms after that start (seen: 299.2 ms in CI).
    assert.ok(Number(got[3].us) >= 299000, `the timed-out call took its 300 ms (${got[3].us})`);
    assert.equal(Number(got[0].out), 17, 'echo 7: a long atom answer, 8 + 9 bytes');
    const s = await stats(ctx, gw);
    assert.equal(counter(s, 'access_log_records'), 4);
    assert.equal(counter(s, 'access_log_dropped'), 0);
  });

itest('access log: slow_ms keeps only the calls at least that slow', async (t, ctx) => {
  const file = path.join(ctx.dir, 'access.log');
  const { gw } = await startStack(ctx,
    { ...STACK, extra: `[access_log]\npath = "${file}"\nslow_ms = 150\n` });
  const q = await qconnect(ctx, gw.port);
  for (let i = 0; i < 5; i++) assert.equal(await q.k('echo', i), i);
  assert.equal(await q.k('deferred[200;9]'), 9);
  for (let i = 0; i < 5; i++) assert.equal(await q.k('echo', i), i);
  // The logger drains in passes: once the slow call's line is there, every earlier record has
  // been written too (a shard's ring is drained in order), so no fast line may follow.
  const got = (await waitLines(file, 1)).map(parse);
  const exit = await gw.proc.stop('SIGTERM', 10000);  // the logger's last pass, then exit
  assert.equal(exit.code, 0);
  const all = lines(file).map(parse);
  assert.equal(all.length, 1, `only the slow call: ${lines(file).join(' | ')}`);
  assert.equal(got[0].status, 'ok');
  assert.ok(Number(all[0].us) >= 150000, `${all[0].us} us`);
});

itest('access log: SIGHUP reopens the file (logrotate)', async (t, ctx) => {
  const file = path.join(ctx.dir, 'access.log');
  const { gw } = await startStack(ctx, { ...STACK, extra: `[access_log]\npath = "${file}"\n` });
  const q = await qconnect(ctx, gw.port);
  assert.equal(await q.k('echo', 1), 1);
  await waitLines(file, 1);
  fs.renameSync(file, `${file}.1`);
  gw.proc.kill('SIGHUP');
  // The reopen happens at the logger's next pass: until the new file exists, keep calling.
  await pollUntil(async () => {
    assert.equal(await q.k('echo', 2), 2);
    return fs.existsSync(file) ? true : null;
  }, { what: 'the access log reopened at its path', timeoutMs: 5000, intervalMs: 50 });
  const n1 = lines(`${file}.1`).length;
  await within(q.k('echo', 3), 5000, 'echo');
  await waitLines(file, 1);
  const exit = await gw.proc.stop('SIGTERM', 10000);
  assert.equal(exit.code, 0);
  assert.equal(lines(`${file}.1`).length, n1, 'nothing more went to the rotated file');
  assert.ok(lines(file).length >= 1, 'the calls after SIGHUP are in the new file');
});

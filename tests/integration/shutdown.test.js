'use strict';
// SIGTERM drain (README "Behaviour decisions", shutdown), both io backends, each exit time
// recorded as a TAP diagnostic:
//  * a slow call in flight when SIGTERM arrives is answered (session and request mode), then
//    qgate exits 0 long before the drain timeout; a new connect during the drain gets no
//    handshake (refused: the listener is closed at once);
//  * a call longer than limits.drain_timeout_ms: qgate exits 0 at about the timeout (not a
//    second later: request mode used to wait a 1 s grace for the call still at the backend),
//    and that client sees its connection close;
//  * a second SIGTERM during the drain ends it at once (exit 0, the busy client closed);
//  * systemd readiness: with $NOTIFY_SOCKET set, qgate sends READY=1 once it serves and
//    STOPPING=1 at SIGTERM (a unix datagram socket stands in for systemd); conf/qgate.service
//    passes systemd-analyze verify.
// The slow calls are qmock's deferred[ms;x] under --zpg defer: answered after ms without
// blocking qmock, so nothing else waits on them.

const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const {
  itest, assert, startStack, qconnect, counter, stats, waitCounter, within, pollUntil,
  settled, runQgateSync, ROOT, QGATE, tryConnect,
} = require('./lib.js');

const FWD = { session: 'msgs_fwd', request: 'requests_routed' };

/** A stack whose backend answers deferred[ms;x] late without blocking; one busy call held. */
async function busyStack(ctx, t, mode, drainMs, callMs) {
  const { gw } = await startStack(ctx, {
    listeners: [{ group: 'rdb', mode }], zpg: 'defer', limits: { drain_timeout_ms: drainMs },
  });
  const idle = await qconnect(ctx, gw.port);
  const busy = await qconnect(ctx, gw.port);
  assert.equal(await busy.k('echo', 1), 1);
  const before = counter(await stats(ctx, gw), FWD[mode]);
  const call = settled(busy.kt(callMs + 30000, `deferred[${callMs};42]`));
  await waitCounter(ctx, gw, FWD[mode], before + 1);  // qgate holds the call: the client is busy
  return { gw, idle, busy, call };
}

function sigterm(gw) {
  const t0 = Date.now();
  gw.proc.kill('SIGTERM');
  return t0;
}

for (const mode of ['session', 'request']) {
  itest(`${mode} mode SIGTERM: the call in flight is answered, new connects refused, exit 0`,
    async (t, ctx) => {
      const DRAIN = 20000;
      const CALL = 1500;
      const { gw, idle, call } = await busyStack(ctx, t, mode, DRAIN, CALL);
      const t0 = sigterm(gw);
      await idle.waitClosed(5000);  // idle clients are closed at once: the drain has started
      // ... on the idle client's shard. Each shard stops accepting when it sees the drain, so
      // a connect in its first instant may still reach a shard that has not (seen once in CI
      // under load 10): connects are refused once every shard drains, well within the call.
      let late;
      let answered = 0;
      for (let i = 0; i < 50; ++i) {
        late = await tryConnect(ctx, gw.port);
        if (!late.answered) break;
        ++answered;
      }
      if (answered > 0) t.diagnostic(`${answered} connect(s) answered before every shard drained`);
      assert.ok(gw.proc.alive, 'qgate is still draining (the busy call keeps it alive)');
      assert.ok(['ECONNREFUSED', 'ECONNRESET'].includes(late.refused) || late.closedAfter === 0,
        `a connect during the drain gets no handshake (${JSON.stringify(late)})`);
      assert.ok(answered <= 2, `at most a connect per lagging shard is answered (${answered})`);
      assert.deepEqual(await call, { v: 42 }, 'the call in flight is answered');
      const exit = await within(gw.proc.exited, DRAIN, 'qgate exit');
      const ms = Date.now() - t0;
      t.diagnostic(`${mode}: exit ${ms} ms after SIGTERM (call ${CALL} ms, drain ${DRAIN} ms)`);
      assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
      assert.ok(ms < CALL + 3000, `exit ${ms} ms after SIGTERM: at the answer, not the timeout`);
    });

  itest(`${mode} mode SIGTERM: a call longer than the drain timeout is cut at ~the timeout`,
    async (t, ctx) => {
      const DRAIN = 1000;
      const { gw, busy, call } = await busyStack(ctx, t, mode, DRAIN, 60000);
      const t0 = sigterm(gw);
      const exit = await within(gw.proc.exited, DRAIN + 10000, 'qgate exit');
      const ms = Date.now() - t0;
      t.diagnostic(`${mode}: exit ${ms} ms after SIGTERM (drain timeout ${DRAIN} ms)`);
      assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
      assert.ok(ms >= DRAIN - 50, `qgate waited the drain timeout (${ms} ms)`);
      // Before the fix request mode exited at the timeout + a 1 s grace (2 s here).
      assert.ok(ms < DRAIN + 700, `exit ${ms} ms after SIGTERM: at the timeout, no grace`);
      await busy.waitClosed(3000);
      const r = await call;
      assert.equal(r.e && r.e.message, 'connection closed', 'the cut call sees the close');
    });

  itest(`${mode} mode: a second SIGTERM during the drain exits at once`, async (t, ctx) => {
    const DRAIN = 30000;
    const { gw, idle, busy, call } = await busyStack(ctx, t, mode, DRAIN, 60000);
    sigterm(gw);
    await idle.waitClosed(5000);  // the first signal is taken: the drain runs
    assert.ok(gw.proc.alive, 'draining: the busy call keeps qgate alive');
    const t1 = sigterm(gw);
    const exit = await within(gw.proc.exited, 10000, 'qgate exit after the second SIGTERM');
    const ms = Date.now() - t1;
    t.diagnostic(`${mode}: exit ${ms} ms after the second SIGTERM (drain timeout ${DRAIN} ms)`);
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
    assert.ok(ms < 3000, `exit ${ms} ms after the second signal`);
    await busy.waitClosed(3000);
    assert.equal((await call).e.message, 'connection closed');
    assert.match(gw.proc.logText(), /again: ending the drain now/);
  });
}

// systemd's notify protocol: datagrams to $NOTIFY_SOCKET. python3 binds the socket (node has
// no unix datagram sockets) and prints each datagram on its own line.
const RECEIVER = [
  'import socket, sys',
  's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
  's.bind(sys.argv[1])',
  'open(sys.argv[1] + ".bound", "w").close()',
  'while True:',
  '    print(s.recv(4096).decode(), flush=True)',
].join('\n');

itest('systemd: READY=1 once serving, STOPPING=1 at SIGTERM ($NOTIFY_SOCKET)', async (t, ctx) => {
  const sock = path.join(ctx.dir, 'notify.sock');
  const rx = ctx.spawn('notify-rx', 'python3', ['-c', RECEIVER, sock]);
  await pollUntil(() => fs.existsSync(`${sock}.bound`) || null,
    { what: 'notify socket bound', timeoutMs: 10000 });
  const said = () => rx.logText().split('\n').filter((l) => l !== '');
  const { gw } = await startStack(ctx, { env: { NOTIFY_SOCKET: sock } });
  await pollUntil(() => (said().length >= 1 ? true : null),
    { what: 'READY=1 on the notify socket', timeoutMs: 5000 });
  assert.deepEqual(said(), ['READY=1']);
  const q = await qconnect(ctx, gw.port);  // READY meant it: a client is served
  assert.equal(await q.k('echo', 5), 5);
  const exit = await gw.proc.stop('SIGTERM', 10000);
  assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
  await pollUntil(() => (said().length >= 2 ? true : null),
    { what: 'STOPPING=1 on the notify socket', timeoutMs: 5000 });
  assert.deepEqual(said(), ['READY=1', 'STOPPING=1']);
});

// conf/qgate.service: systemd-analyze verify (tools/lib/setup.sh installs systemd) on a copy
// whose qgate path is this build's (verify checks that the ExecStart binary exists), and the
// unit's promises: Type=notify, reload = SIGHUP, a stop timeout above the default drain.
itest('conf/qgate.service: systemd-analyze verify passes; stop timeout above the drain timeout',
  { ioIndependent: true }, async (t, ctx) => {
    const text = fs.readFileSync(path.join(ROOT, 'conf/qgate.service'), 'utf8');
    const unit = ctx.file('qgate.service', text.replaceAll('/usr/local/bin/qgate', QGATE));
    const r = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8', timeout: 30000 });
    assert.equal(r.error, undefined, `systemd-analyze runs (${r.error})`);
    assert.equal(r.status, 0, `systemd-analyze verify: ${r.stderr}`);
    assert.equal(r.stderr.trim(), '', 'no warning');
    const key = (k) => [...text.matchAll(new RegExp(`^${k}=(.*)$`, 'gm'))].map((m) => m[1]);
    assert.deepEqual(key('Type'), ['notify']);
    assert.deepEqual(key('ExecReload'), ['/bin/kill -HUP $MAINPID']);
    assert.deepEqual(key('KillSignal'), ['SIGTERM']);
    const help = runQgateSync(['--help']).stdout;
    const drainMs = Number(/limits\.drain_timeout_ms = (\d+)/.exec(help)[1]);
    const stopS = Number(key('TimeoutStopSec')[0]);
    assert.ok(stopS * 1000 >= drainMs + 5000,
      `TimeoutStopSec ${stopS} s leaves a margin over the ${drainMs} ms drain`);
  });

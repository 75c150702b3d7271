'use strict';
// Chaos, short (tools/chaos runs the same for 120 s): 100 clients in every mode (30 session,
// 30 request, 20 .gw.* fan-out, 20 pub/sub subscribers) while the rdb and hdb backends and the
// upstream tickerplant (qmock) are killed with SIGKILL and restarted on the same port in a
// loop. Every call carries a unique tag the backend echoes (tag[x] answers (`name;x)), so a
// crossed reply is seen; every call must be answered with its own value or a q error, every
// pub/sub row must be one the subscriber's filter selects, in sequence; after the clients
// disconnect, qgate's open fds come back to the baseline and its RSS to within 10 % + 4 MiB
// of it (plus ASan's quarantine under the sanitizer build). The run itself is
// tools/lib/chaos.js (its header says how it is measured).

const { itest, assert, IO } = require('./lib.js');
const { runChaos, summary } = require('../../tools/lib/chaos.js');

itest('chaos: 100 clients in every mode while backends and the tickerplant are SIGKILLed: ' +
  'every call answered, none crossed, fds and RSS back', { timeout: 120000 }, async (t) => {
  const r = await runChaos({
    io: IO, seconds: 12, warmSeconds: 3, recoverMs: 15000, routeTimeoutMs: 5000,
    killMs: [150, 500], downMs: [100, 1200],
  });
  for (const line of summary(r).split('\n')) t.diagnostic(line);
  assert.deepEqual(r.verdict, [], 'the run passes (tools/lib/chaos.js verdict)');
  const c = r.chaos.by;
  for (const kind of ['session', 'request', 'fanout', 'subscriber']) {
    assert.ok(c[kind].ok > 0, `${kind}: right answers during the chaos`);
  }
  assert.ok(c.subscriber.updates > 0, 'subscribers got updates');
  const kills = Object.values(r.kills).reduce((a, b) => a + b, 0);
  assert.ok(kills >= 5, `qmocks were killed: ${JSON.stringify(r.kills)}`);
  // A session whose backend dies answers its waiting call 'disconnected' (README): with 30
  // synchronous session clients, some call is waiting at some death.
  const errs = Object.entries(r.chaos.qerrs);
  assert.ok(errs.some(([k, n]) => k.startsWith('session: qgate: backend') && n > 0),
    `session clients got 'disconnected' errors: ${JSON.stringify(r.chaos.qerrs)}`);
  assert.ok(r.stats.backend_disconnect > 0, 'backends were lost while in use');
});

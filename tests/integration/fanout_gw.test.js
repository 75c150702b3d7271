'use strict';
// Fan-out in request mode: TorQ's .gw.* calls over qmock RDB and HDB groups, decoded results
// compared with the joined table computed from each backend called directly.

const nodeq = require('node-q');
const {
  itest, assert, startStack, qconnect, stats, counter, assertTrades, expectedTrades,
} = require('./lib.js');

const REQ = { mode: 'request', group: 'rdb' };
const BACKENDS = [{ name: 'rdb1', group: 'rdb' }, { name: 'hdb1', group: 'hdb' }];
const TYPES = nodeq.symbols(['rdb', 'hdb']);
const QUERY = ['getTrades', '`AAPL', 5];

const rejectsWith = (p, text) => assert.rejects(p, (e) => {
  assert.equal(e.message, text);
  return true;
});

/** Each backend called directly (through qgate's session-free path: a plain route). */
async function direct(ctx, mocks, sym, n) {
  const out = [];
  for (const name of ['rdb1', 'hdb1']) {
    const q = await qconnect(ctx, mocks[name].port, { user: 'gw', password: 'pw' });
    out.push(await q.k('getTrades', `\`${sym}`, n));
    await q.close();
  }
  return out;
}

itest('.gw.syncexec: raze of the rdb and hdb tables, in server-type order', async (t, ctx) => {
  const { gw, mocks } = await startStack(ctx, { listeners: [REQ], backends: BACKENDS });
  const q = await qconnect(ctx, gw.port);
  const parts = await direct(ctx, mocks, 'AAPL', 5);
  assertTrades(parts[0], expectedTrades('AAPL', 5), 'rdb direct');
  const got = await q.k('.gw.syncexec', QUERY, TYPES);
  assertTrades(got, [...parts[0], ...parts[1]], 'syncexec');
  const one = await q.k('.gw.syncexec', QUERY, nodeq.symbol('hdb'));
  assertTrades(one, parts[1], 'one server type');
  const s = await stats(ctx, gw);
  assert.ok(counter(s, 'fanout_joined') >= 2);
  assert.equal(counter(s, 'fanout_column_bytes_copied'), 0, 'raze of tables copies no column byte');
});

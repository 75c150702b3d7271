'use strict';
// qmock registering itself and acting as a discovery service (tools/qmock/README.md,
// "Registering" and "Discovery mode"): the KX whitepaper's registerResource, TorQ's
// `..register` + getdetails call, and a TorQ discovery service (register, getservices,
// .servers.procupdate). Messages are compared byte for byte with what q sends. Only qmock
// runs here (no qgate), so each test is declared for one io run (ioIndependent).

const net = require('node:net');
const {
  assert, itest, HOST, pollUntil, startQmock, qconnect, RawClient, MSG, qmsg, qstr, qsym, qlist,
  qsyms, qlongs, qtable, syncText, decode, startDiscovery,
} = require('./lib');

const opts = { ioIndependent: true };
/** ()!(): a dict of two empty general lists. */
const EMPTY_DICT = Buffer.from([99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
const SERVICE_COLS = ['procname', 'proctype', 'hpup', 'attributes'];
const UPDATE_COLS = ['proctype', 'procname', 'hpup', 'attributes'];  // register's select
/** The lambda TorQ's .servers.addhw sends to a registering process (trackservers.q). */
const DETAILS_LAMBDA = '{$[`getdetails in key`.servers;.servers.getdetails[];' +
  '(.z.f;.z.h;system"p";`;`;$[`getattributes in key`.proc;.proc.getattributes[];()!()])]}';

const qbool = (b) => Buffer.from([0xff, b ? 1 : 0]);
const qint = (n) => { const b = Buffer.alloc(5); b[0] = 0xfa; b.writeInt32LE(n, 1); return b; };
const qlambda = (src) => Buffer.concat([Buffer.from([100, 0]), qstr(src)]);
const hpupOf = (port) => `:127.0.0.1:${port}`;
/** A getservices / procupdate table of `rows` ([procname, proctype, hpup, attributes]). */
function servicesTable(rows, cols = SERVICE_COLS) {
  const col = (name) => rows.map((r) => r[SERVICE_COLS.indexOf(name)]);
  return qtable(cols, cols.map((c) => (c === 'attributes' ? qlist(...col(c)) : qsyms(col(c)))));
}
const servicesReply = (rows) => qmsg(MSG.response, servicesTable(rows));
const updateMsg = (row) => qmsg(MSG.async, qlist(qsym('.servers.procupdate'),
  servicesTable([row], UPDATE_COLS)));

/** A qmock that registers with TorQ discovery at `discPort`. */
function startRegistering(ctx, name, proctype, discPort, more = []) {
  return startQmock(ctx, {
    name, args: ['--discovery-register', `127.0.0.1:${discPort}`, '--proctype', proctype, ...more],
  });
}

/** Polls `getservices` text on `raw` until the reply equals `want` (bounded). */
async function waitServices(raw, text, want, what) {
  let last;
  await pollUntil(async () => {
    last = (await raw.call(syncText(text))).frame;
    return last.equals(want);
  }, { what: `${what} (last reply ${last && last.toString('hex')})`, timeoutMs: 10000 });
}

/**
 * A q listener in the test (a load balancer or discovery stand-in): answers each handshake with
 * capability 3 and keeps every connection's handshake and frames (on `port`, 0: any). close(cb)
 * stops listening. waitConn(i) resolves with the
 * i-th connection { sock, handshake, frames, closed, waitFrames(n), opened }.
 */
async function startListener(ctx, port = 0) {
  const l = { conns: [] };
  const srv = net.createServer((sock) => {
    const c = { sock, frames: [], closed: false, opened: Date.now(), buf: Buffer.alloc(0) };
    l.conns.push(c);
    ctx.defer(() => sock.destroy());
    sock.on('error', () => {});
    sock.on('close', () => { c.closed = true; });
    sock.on('data', (d) => {
      c.buf = Buffer.concat([c.buf, d]);
      if (!c.handshake) {
        const nul = c.buf.indexOf(0);
        if (nul < 0) return;
        c.handshake = c.buf.subarray(0, nul + 1);
        c.buf = c.buf.subarray(nul + 1);
        sock.write(Buffer.from([3]));
      }
      while (c.buf.length >= 8 && c.buf.length >= c.buf.readUInt32LE(4)) {
        c.frames.push(c.buf.subarray(0, c.buf.readUInt32LE(4)));
        c.buf = c.buf.subarray(c.buf.readUInt32LE(4));
      }
    });
    c.waitFrames = (n) => pollUntil(() => c.frames.length >= n,
      { what: `${n} frames on listener connection ${l.conns.indexOf(c)}` });
  });
  await new Promise((res, rej) => srv.listen(port, HOST, res).on('error', rej));
  ctx.defer(() => new Promise((res) => srv.close(() => res())));
  l.port = srv.address().port;
  l.close = (cb) => srv.close(cb);
  l.waitConn = (i) => pollUntil(() => l.conns[i], { what: `listener connection ${i}` });
  return l;
}

itest('discovery: getservices lists registered qmocks with their hpup, byte for byte', opts,
  async (t, ctx) => {
    const { disc, procs } = await startDiscovery(ctx, { procs: [
      { name: 'rdb1', proctype: 'rdb' },  // procname = --name
      { name: 'h', proctype: 'hdb', args: ['--procname', 'hdb1'] }] });
    const { rdb1, h: hdb1 } = procs;
    const raw = await RawClient.connect(ctx, disc.port);
    const rdbRow = ['rdb1', 'rdb', hpupOf(rdb1.port), EMPTY_DICT];
    const hdbRow = ['hdb1', 'hdb', hpupOf(hdb1.port), EMPTY_DICT];
    await waitServices(raw, 'getservices[`rdb;0b]', servicesReply([rdbRow]), 'rdb1 listed');
    await waitServices(raw, 'getservices[`hdb`nosuch;0b]', servicesReply([hdbRow]), 'hdb1');
    // The functional form with a symbol list and `ALL: both, in registration order.
    const both = await raw.call(qmsg(MSG.sync, qlist(qsym('getservices'), qsyms(['rdb', 'hdb']),
      qbool(false))));
    const all = await raw.call(qmsg(MSG.sync, qlist(qsym('getservices'), qsym('ALL'), qbool(0))));
    assert.deepEqual(all.frame, both.frame);
    const names = decode(both.frame).map((r) => r.procname).sort();
    assert.deepEqual(names, ['hdb1', 'rdb1']);
    // The discovery's own kind is never listed; wrong arguments are q errors.
    const none = await raw.call(syncText('getservices[`discovery;0b]'));
    assert.deepEqual(none.frame, servicesReply([]));
    const rank = await raw.call(syncText('getservices[`rdb]'));
    assert.equal(rank.body.toString('latin1'), '\x80rank\0');
  });

itest('discovery: subscribers get .servers.procupdate for their proctypes only', opts,
  async (t, ctx) => {
    const disc = await startQmock(ctx, { name: 'disc', args: ['--discovery'] });
    const subRdb = await RawClient.connect(ctx, disc.port);
    const subHdb = await RawClient.connect(ctx, disc.port);
    const subAll = await RawClient.connect(ctx, disc.port);
    assert.deepEqual((await subRdb.call(syncText('getservices[`rdb;1b]'))).frame,
      servicesReply([]));
    await subHdb.call(qmsg(MSG.sync, qlist(qsym('getservices'), qsyms(['hdb']), qbool(1))));
    await subAll.call(syncText('getservices[`ALL;1b]'));
    const rdb2 = await startRegistering(ctx, 'rdb2', 'rdb', disc.port);
    const rdbUpdate = updateMsg(['rdb2', 'rdb', hpupOf(rdb2.port), EMPTY_DICT]);
    assert.deepEqual((await subRdb.readFrame()).frame, rdbUpdate);
    assert.deepEqual((await subAll.readFrame()).frame, rdbUpdate);
    const hdb2 = await startRegistering(ctx, 'hdb2', 'hdb', disc.port);
    const hdbUpdate = updateMsg(['hdb2', 'hdb', hpupOf(hdb2.port), EMPTY_DICT]);
    // subHdb's first message is hdb2's: it never got rdb2's.
    assert.deepEqual((await subHdb.readFrame()).frame, hdbUpdate);
    assert.deepEqual((await subAll.readFrame()).frame, hdbUpdate);
    // subRdb got no hdb update: the next thing on its connection is its own call's reply.
    const next = await subRdb.call(syncText('getservices[`rdb;0b]'));
    assert.equal(next.type, MSG.response);
  });

itest('discovery: asks a registering process with TorQ\'s lambda, not updating it itself', opts,
  async (t, ctx) => {
    const disc = await startQmock(ctx, { name: 'disc', args: ['--discovery'] });
    const proc = await RawClient.connect(ctx, disc.port);
    await proc.call(syncText('getservices[`ALL;1b]'));  // subscribed to everything
    await proc.write(qmsg(MSG.async, qsyms(['..register', ''])));
    const ask = await proc.readFrame();
    assert.deepEqual(ask.frame, qmsg(MSG.sync, qlist(qlambda(DETAILS_LAMBDA), qsym(''))));
    // A TorQ process's answer: no procname (it comes from .z.f), a mixed-case host, attributes.
    const attrs = Buffer.concat([Buffer.from([99]), qsyms(['date']), qlist(qlongs([9500]))]);
    await proc.write(qmsg(MSG.response, qlist(qsym('/opt/torq/torq.q'), qsym('LocalHost'),
      qint(5555), qsym(''), qsym('tp'), attrs)));
    const got = await proc.call(syncText('getservices[`tp;0b]'));  // no procupdate before it
    assert.deepEqual(got.frame, servicesReply([['torq.q', 'tp', ':localhost:5555', attrs]]));
    // Registering again from another connection with the same hpup replaces the row.
    const again = await RawClient.connect(ctx, disc.port);
    await again.write(qmsg(MSG.async, qsyms(['..register', ''])));
    await again.readFrame();
    await again.write(qmsg(MSG.response, qlist(qsym('x'), qsym('localhost'), qint(5555),
      qsym('tp2'), qsym('tp'), EMPTY_DICT)));
    const upd = await proc.readFrame();  // the first connection is subscribed: it hears of it
    assert.deepEqual(upd.frame, updateMsg(['tp2', 'tp', ':localhost:5555', EMPTY_DICT]));
    const replaced = await proc.call(syncText('getservices[`tp;0b]'));
    assert.deepEqual(replaced.frame, servicesReply([['tp2', 'tp', ':localhost:5555', EMPTY_DICT]]));
    // Answers that are an error or not (f;h;port;name;type;attrs) register nothing.
    for (const answer of [Buffer.from('\x80nope\0', 'latin1'),
      qlist(qsym('f'), qsym('h'), qint(5556), qsym('n'), qsym('tp')),
      qlist(qsym('f'), qsym('h'), qint(-2147483648), qsym('n'), qsym('tp'), EMPTY_DICT)]) {
      const bad = await RawClient.connect(ctx, disc.port);
      await bad.write(qmsg(MSG.async, qsyms(['..register', ''])));
      await bad.readFrame();
      await bad.write(qmsg(MSG.response, answer));
      await bad.call(syncText('::'));  // a barrier: the answer has been handled
    }
    const still = await proc.call(syncText('getservices[`ALL;0b]'));
    assert.deepEqual(still.frame, servicesReply([['tp2', 'tp', ':localhost:5555', EMPTY_DICT]]));
  });

itest('discovery: a process whose connection closes leaves getservices', opts, async (t, ctx) => {
  const disc = await startQmock(ctx, { name: 'disc', args: ['--discovery'] });
  const keep = await startQmock(ctx, { name: 'keep', args: ['--discovery', '--discovery-keep-closed',
    '--verbose'] });
  const rdb1 = await startRegistering(ctx, 'rdb1', 'rdb', disc.port);
  const rdb2 = await startRegistering(ctx, 'rdb2', 'rdb', keep.port);
  const raw = await RawClient.connect(ctx, disc.port);
  const rawKeep = await RawClient.connect(ctx, keep.port);
  const row1 = ['rdb1', 'rdb', hpupOf(rdb1.port), EMPTY_DICT];
  const row2 = ['rdb2', 'rdb', hpupOf(rdb2.port), EMPTY_DICT];
  await waitServices(raw, 'getservices[`rdb;0b]', servicesReply([row1]), 'rdb1 listed');
  await waitServices(rawKeep, 'getservices[`rdb;0b]', servicesReply([row2]), 'rdb2 listed');
  await rdb1.proc.stop('SIGKILL');
  await rdb2.proc.stop('SIGKILL');
  await waitServices(raw, 'getservices[`rdb;0b]', servicesReply([]), 'rdb1 gone');
  // --discovery-keep-closed (TorQ's AUTOCLEAN 0b): once the close is seen, the row stays.
  await pollUntil(() => /closed by peer/.test(keep.proc.logText()), { what: 'close seen' });
  assert.deepEqual((await rawKeep.call(syncText('getservices[`rdb;0b]'))).frame,
    servicesReply([row2]));
});

itest('--register-resource: registerResource as q sends it, again after a lost connection', opts,
  async (t, ctx) => {
    const lb = await startListener(ctx);
    const svc = await startQmock(ctx, { name: 'svc1', args: ['--register-resource',
      `127.0.0.1:${lb.port}`, '--service', 'EQUITY', '--register-retry-ms', '300',
      '--register-user', 'lb:secret'] });
    const want = qmsg(MSG.async, qsyms(['registerResource', 'EQUITY', hpupOf(svc.port)]));
    const first = await lb.waitConn(0);
    await first.waitFrames(1);
    assert.equal(first.handshake.toString('latin1'), 'lb:secret\x03\0');
    assert.deepEqual(first.frames[0], want);
    // Requests on the registration connection are served, as on any q handle.
    first.sock.write(syncText('name[]'));
    await first.waitFrames(2);
    assert.deepEqual(first.frames[1], qmsg(MSG.response, qsym('svc1')));
    const lost = Date.now();
    first.sock.destroy();
    const q = await qconnect(ctx, svc.port);  // its own clients are served meanwhile
    assert.equal(await q.k('echo', 42), 42);
    const second = await lb.waitConn(1);
    await second.waitFrames(1);
    assert.deepEqual(second.frames[0], want);
    assert.ok(second.opened - lost >= 250, `re-registered after ${second.opened - lost} ms`);
  });

itest('--discovery-register: `..register, the getdetails answer, again after a loss', opts,
  async (t, ctx) => {
    const disc = await startListener(ctx);
    const rdb = await startQmock(ctx, { name: 'rdb9', args: ['--discovery-register',
      `127.0.0.1:${disc.port}`, '--proctype', 'rdb', '--discovery-retry-ms', '100'] });
    const first = await disc.waitConn(0);
    await first.waitFrames(1);
    assert.equal(first.handshake.toString('latin1'), '\x03\0');
    assert.deepEqual(first.frames[0], qmsg(MSG.async, qsyms(['..register', ''])));
    const details = qmsg(MSG.response, qlist(qsym('qmock'), qsym('127.0.0.1'), qint(rdb.port),
      qsym('rdb9'), qsym('rdb'), EMPTY_DICT));
    first.sock.write(qmsg(MSG.sync, qlist(qlambda(DETAILS_LAMBDA), qsym(''))));
    first.sock.write(syncText('.servers.getdetails[]'));
    first.sock.write(qmsg(MSG.sync, qlist(qlambda('{x+1}'), qlongs([1]))));  // not recognised
    await first.waitFrames(4);
    assert.deepEqual(first.frames[1], details);
    assert.deepEqual(first.frames[2], details);
    assert.equal(first.frames[3].subarray(8).toString('latin1'), '\x80type\0');
    first.sock.destroy();
    const second = await disc.waitConn(1);
    await second.waitFrames(1);
    assert.deepEqual(second.frames[0], qmsg(MSG.async, qsyms(['..register', ''])));
  });

itest('a registration is retried until the discovery service listens', opts, async (t, ctx) => {
  const disc = await startListener(ctx);
  const port = disc.port;
  await new Promise((res) => disc.close(res));  // nothing listens on `port` now
  const rdb = await startQmock(ctx, { name: 'rdb', args: ['--discovery-register',
    `127.0.0.1:${port}`, '--proctype', 'rdb', '--discovery-retry-ms', '100'] });
  await pollUntil(() => (rdb.proc.logText().match(/cannot connect|closed; retrying/g) || [])
    .length >= 2, { what: 'two failed attempts' });
  const q = await qconnect(ctx, rdb.port);  // serving meanwhile
  assert.equal(await q.k('echo', 7), 7);
  const again = await startListener(ctx, port);
  const c = await again.waitConn(0);
  await c.waitFrames(1);
  assert.deepEqual(c.frames[0], qmsg(MSG.async, qsyms(['..register', ''])));
});

'use strict';
// A q process inside the test process, for attacks no qmock can make: a net server that
// answers the handshake (capability byte `cap`) and hands each whole frame to the test, so the
// test decides byte by byte what qgate gets back. Used by the attack files (a reducer, an
// upstream tickerplant, a session backend that misbehaves on cue).

const net = require('node:net');
const { HOST } = require('./lib.js');

/**
 * Listens on loopback port 0; for each connection calls `onConn(sock)` once (its return value,
 * if any, is passed on as `conn`), then `onFrame(frame, sock, conn)` per whole frame received
 * after the handshake (little-endian length; qgate sends little-endian). Every socket is
 * destroyed and the server closed when the test ends. Returns the server (port: .address()).
 */
async function serveFakeQ(ctx, { cap = 3, onConn = () => undefined, onFrame }) {
  const srv = net.createServer((sock) => {
    ctx.defer(() => sock.destroy());
    sock.on('error', () => {});
    const conn = onConn(sock);
    let buf = Buffer.alloc(0);
    let shook = false;
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!shook) {
        const nul = buf.indexOf(0);
        if (nul < 0) return;
        buf = buf.subarray(nul + 1);
        shook = true;
        sock.write(Buffer.from([cap]));
      }
      while (buf.length >= 8 && buf.length >= buf.readUInt32LE(4)) {
        const frame = buf.subarray(0, buf.readUInt32LE(4));
        buf = buf.subarray(frame.length);
        onFrame(frame, sock, conn);
      }
    });
  });
  await new Promise((res, rej) => srv.listen(0, HOST, res).on('error', rej));
  ctx.defer(() => new Promise((res) => srv.close(() => res())));
  return srv;
}

module.exports = { serveFakeQ };

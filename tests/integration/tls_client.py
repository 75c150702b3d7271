#!/usr/bin/env python3
"""q-IPC over TLS with python3's ssl module (tls.test.js): handshake, echo, a 1 MiB payload.
Usage: tls_client.py PORT CA_FILE. Prints "ok <cap> <payload bytes> <protocol>"."""
import socket
import ssl
import struct
import sys


def frame(s):
    head = read(s, 8)
    (length,) = struct.unpack("<I", head[4:8])
    return head + read(s, length - 8)


def read(s, n):
    out = bytearray()
    while len(out) < n:
        b = s.recv(n - len(out))
        if not b:
            raise SystemExit("closed early")
        out += b
    return bytes(out)


def call(name, n):
    sym = bytes([0xF5]) + name.encode() + b"\0"
    body = bytes([0, 0]) + struct.pack("<I", 2) + sym + bytes([0xF9]) + struct.pack("<q", n)
    return bytes([1, 1, 0, 0]) + struct.pack("<I", 8 + len(body)) + body


def main():
    port, ca = int(sys.argv[1]), sys.argv[2]
    ctx = ssl.create_default_context(cafile=ca)
    with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(b"u:p\x03\x00")
            cap = read(s, 1)[0]
            s.sendall(call("echo", 7))
            r = frame(s)
            assert r[8:] == bytes([0xF9]) + struct.pack("<q", 7), r
            n = 1 << 20
            s.sendall(call("payload", n))
            r = frame(s)
            pattern = bytes(range(251)) * (n // 251 + 1)
            assert r[8] == 4 and r[14:] == pattern[:n], "payload bytes"
            print("ok", cap, len(r) - 14, s.version())


main()

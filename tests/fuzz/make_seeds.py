#!/usr/bin/env python3
"""Writes the fuzz seed corpus: tests/fuzz/corpus/<target>/<name>, one small input per file.

Every seed is written out here by hand from the layouts in qipc-reference.md (sections 1-4), so
the corpus depends on nothing outside the repository. Compressed seeds are made with
compress_q(), a transcription of the reference 4.5 pseudo-code. Re-run after editing:
    tests/fuzz/make_seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def h(s):
    return bytes.fromhex(s.replace(" ", ""))


def message(body, le=True, mtype=0):
    n = 8 + len(body)
    return bytes([1 if le else 0, mtype, 0, 0]) + struct.pack("<I" if le else ">I", n) + body


def compress_q(y):
    """Reference 4.5 (q's -18!), or None when q would send the message uncompressed."""
    t = len(y)
    if t <= 2000:
        return None
    e = t // 2
    o = bytearray(e)
    o[0:4] = y[0:4]
    o[2] = 1
    tab = [0] * 256
    c = d = 12
    s = 8
    bit = ctl = h_ = h0 = s0 = 0
    while s < t:
        if bit == 0:
            if d > e - 17:
                return None
            bit = 1
            o[c] = ctl
            c = d
            d += 1
            ctl = 0
        lit = s > t - 3
        p = 0
        if not lit:
            h_ = y[s] ^ y[s + 1]
            p = tab[h_]
            lit = p == 0 or y[s] != y[p]
        if s0 > 0:
            tab[h0] = s0
            s0 = 0
        if lit:
            h0 = h_
            s0 = s
            o[d] = y[s]
            d += 1
            s += 1
        else:
            tab[h_] = s
            ctl |= bit
            p += 2
            s += 2
            r = s
            q = min(s + 255, t)
            while s < q and y[p] == y[s]:
                p += 1
                s += 1
            o[d] = h_
            o[d + 1] = s - r
            d += 2
        bit = (bit << 1) & 0xFF
    o[c] = ctl
    fmt = "<I" if y[0] == 1 else ">I"
    o[4:8] = struct.pack(fmt, d)
    o[8:12] = struct.pack(fmt, t)
    return bytes(o[:d])


# Bodies (section 3), little-endian unless named _be.
BODIES = {
    "generic_null": h("65 00"),
    "long_atom": h("f9 0100000000000000"),
    "int_vector": h("06 00 03000000 01000000 02000000 03000000"),
    "int_vector_be": h("06 00 00000003 00000001 00000002 00000003"),
    "symbol_vector": h("0b 00 02000000 6100 6200"),
    "char_vector": h("0a 00 03000000 616263"),
    "guid_atom": h("fe 8c680a015a495aab5a65d4bfddb6a661"),
    "dict": h("63 0b 00 02000000 6100 6200 06 00 02000000 02000000 03000000"),
    "sorted_dict": h("7f 0b 01 02000000 6100 6200 06 00 02000000 02000000 03000000"),
    "table": h("62 00 63 0b 00 02000000 6100 6200 00 00 02000000"
               "06 00 01000000 02000000 06 00 01000000 03000000"),
    "keyed_table": h("63 62 00 63 0b 00 01000000 6100 00 00 01000000 06 00 01000000 02000000"
                     "62 00 63 0b 00 01000000 6200 00 00 01000000 06 00 01000000 03000000"),
    "splayed_ref": h("62 00 63 0b 00 01000000 6100 f5 3a746573742f 00"),
    "list": h("00 00 03000000 f5 6100 fa 01000000 0a 00 01000000 33"),
    "error": h("80 74797065 00"),
    "lambda": h("64 00 0a 00 05000000 7b782b797d"),
    "projection": h("68 02000000 64 00 0a00 05000000 7b782b797d f9 0300000000000000"),
    "composition": h("69 02000000 65 1c 68 02000000 66 0b f6 62"),
    "adverb": h("6c 66 01"),
    "upd": h("00 00 03000000 f5 75706400 f5 747261646500 62 00 63 0b 00 02000000 73796d00"
             "707800 00 00 02000000 0b 00 02000000 6100 6200 09 00 02000000"
             "000000000000f83f 0000000000000440"),
    "nested": h("00 00 01000000 00 00 01000000 00 00 01000000 65 00"),
}


def char_vector(text):
    return b"\x0a\x00" + struct.pack("<I", len(text)) + text.encode()


def sym(name):
    return b"\xf5" + name.encode() + b"\x00"


def glist(*items):
    return b"\x00\x00" + struct.pack("<I", len(items)) + b"".join(items)


def syms(*names):
    return b"\x0b\x00" + struct.pack("<I", len(names)) + b"".join(n.encode() + b"\0" for n in names)


def longs(*xs):
    return b"\x07\x00" + struct.pack("<I", len(xs)) + b"".join(struct.pack("<q", x) for x in xs)


def timespan(ns):
    return b"\xf0" + struct.pack("<q", ns)


# Request bodies as clients send them (classify).
CALLS = {
    "string_call": char_vector("getTrades[`AAPL;2024.01.02]"),
    "string_juxtaposed": char_vector("getTrades `AAPL"),
    "string_expr": char_vector("1+1"),
    "list_call": glist(sym("getTrades"), sym("AAPL"), longs(1, 2)),
    "list_char_name": glist(char_vector("getTrades"), sym("MSFT")),
    "lambda_call": glist(BODIES["lambda"], h("f9 0100000000000000")),
    "gw_syncexec": glist(sym(".gw.syncexec"), char_vector("count trade"), syms("hdb", "rdb")),
    "gw_syncexec_text": char_vector(".gw.syncexec[\"select from t\";`hdb`rdb]"),
    "gw_syncexecj": glist(sym(".gw.syncexecj"), glist(sym("f"), sym("x")), syms("rdb"),
                          BODIES["lambda"]),
    "gw_asyncexecjpt": glist(sym(".gw.asyncexecjpt"), char_vector("1+1"), syms("rdb"),
                             BODIES["lambda"], sym("cb"), timespan(5_000_000_000)),
    "gw_asyncexecjpt_text": char_vector(
        ".gw.asyncexecjpt[\"1+1\";`hdb`rdb;raze;`cb;0D00:00:05]"),
}

# Updates a feed handler sends (.u.upd, columns and a row), on top of BODIES["upd"].
UPDATES = {
    "u_upd_columns": glist(char_vector(".u.upd"), sym("trade"),
                           glist(syms("a", "b"), h("09 00 02000000") + bytes(16), longs(1, 2))),
    "u_upd_timed": glist(sym(".u.upd"), sym("trade"),
                         glist(h("10 00 02000000") + bytes(16), syms("a", "b"),
                               h("09 00 02000000") + bytes(16), longs(1, 2))),
    "u_upd_row": glist(sym(".u.upd"), sym("trade"),
                       glist(sym("a"), h("f7") + bytes(8), h("f9") + bytes(8))),
    "upd_other_table": glist(sym("upd"), sym("quote"),
                             glist(h("10 00 01000000") + bytes(8), syms("x"))),
}

HANDSHAKES = {
    "alice": b"alice:secret\x03\x00",
    "bob_md5": b"bob:pw\x06\x00",
    "carol_sha1": b"carol:hunter2\x03\x00",
    "dave_empty": b"dave:\x03\x00",
    "no_cap": b"alice:secret\x00",
    "early_bytes": b"alice:secret\x03\x00" + b"\x01\x01\x00\x00\x0d\x00\x00\x00\xfa\x01\x00\x00\x00",
    "wrong": b"alice:wrong\x03\x00",
    "no_colon": b"anonymous\x03\x00",
}

CONFIGS = {
    "minimal": """[[listener]]
listen = "127.0.0.1:5010"
group = "rdb"

[[backend]]
name = "rdb1"
group = "rdb"
address = "127.0.0.1:5011"
""",
    "request": """[server]
shards = 2

[limits]
out_bytes_high = 1048576
out_bytes_low = 65536

[[listener]]
listen = "127.0.0.1:5010"
mode = "request"
group = "rdb"

[[backend]]
name = "r1"
group = "rdb"
address = "127.0.0.1:5011"
conns = 2

[[route]]
match = ["get*", ".gw.*"]
group = "rdb"
hash_arg = 1
""",
    "bad_type": "[[listener]]\nlisten = 5\n",
    "unknown_key": "[limits]\nnope = 1\n",
    "no_listener": "[server]\nshards = 1\n",
}


def til(n):
    return b"\x07\x00" + struct.pack("<I", n) + b"".join(struct.pack("<q", i) for i in range(n))


def table_rows(n):
    syms = b"".join(b"s%d\x00" % (i % 7) for i in range(n))
    prices = b"".join(struct.pack("<d", i * 0.25) for i in range(n))
    sizes = b"".join(struct.pack("<q", i * 100) for i in range(n))
    count = struct.pack("<I", n)
    return (h("62 00 63 0b 00 03000000 73796d00 707800 73697a6500 00 00 03000000")
            + b"\x0b\x00" + count + syms + b"\x09\x00" + count + prices
            + b"\x07\x00" + count + sizes)


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    # frame: headers, whole messages and handshakes.
    write("frame", "header_async", h("01 00 00 00 0d000000"))
    write("frame", "header_sync_be", h("00 01 00 00 0000000d"))
    write("frame", "header_compressed", h("01 02 01 00 cc0c0000"))
    write("frame", "header_large", h("01 02 00 01 00000000"))
    write("frame", "message_int", message(h("fa 01000000")))
    write("frame", "handshake", b"user:pass\x03\x00")
    write("frame", "handshake_anonymous", b"anonymous\x03\x00")
    write("frame", "handshake_nocap", b"u:pw\x00")
    write("frame", "handshake_cap6", b"a:b\x06\x00extra")

    # walker: flag byte (bit 0 = little-endian, bits 1..3 = depth limit) + body.
    for name, body in BODIES.items():
        le = not name.endswith("_be")
        write("walker", name, bytes([0x0f if le else 0x0e]) + body)
    write("walker", "message_upd", message(BODIES["upd"]))

    # decompress: compressed messages, a hand-made stream, and plain bodies for the round trip.
    for name, body in (("til_1000", til(1000)), ("table_200", table_rows(200)),
                       ("zeros", bytes(3000))):
        msg = message(body, mtype=2)
        z = compress_q(msg)
        assert z is not None and len(z) < len(msg) // 2, name
        write("decompress", "q_" + name, z)
    be = bytearray(message(til(300)))
    be[0] = 0
    be[4:8] = struct.pack(">I", len(be))
    write("decompress", "q_til_300_be", compress_q(bytes(be)))
    write("decompress", "ab_overlap", h("01 00 01 00 11000000 14000000 04 61 62 03 08"))
    write("decompress", "body_upd", BODIES["upd"])
    write("decompress", "body_table", table_rows(40))

    # classify: flag byte (bit 0 = little-endian, bit 1 = async) + request body.
    for name, body in CALLS.items():
        write("classify", name, bytes([0x01]) + body)
    write("classify", "call_be", bytes([0x00]) + h("00 00 00000002 f5 6600 f9 0000000000000001"))
    write("classify", "upd_async", bytes([0x03]) + BODIES["upd"])

    # update: flag byte (bit 0 = little-endian, bit 1 = the store knows `trade) + body.
    write("update", "upd_table", bytes([0x01]) + BODIES["upd"])
    write("update", "upd_table_store", bytes([0x03]) + BODIES["upd"])
    for name, body in UPDATES.items():
        write("update", name, bytes([0x03]) + body)

    # admin_query: flag byte (bit 0 = little-endian) + sync request body.
    write("admin_query", "stats_text", bytes([0x01]) + char_vector(".qgate.stats[]"))
    write("admin_query", "stats_bare", bytes([0x01]) + char_vector("  .qgate.stats ; "))
    write("admin_query", "stats_list", bytes([0x01]) + h("00 00 01000000 f5") + b".qgate.stats\0")
    write("admin_query", "stats_list_arg",
          bytes([0x01]) + h("00 00 02000000 f5") + b".qgate.stats\0" + h("65 00"))
    write("admin_query", "unknown", bytes([0x01]) + char_vector("2+2"))
    # The two inputs the target found (tests/ctl/admin_query_test.cc, tests/qipc/display_test.cc):
    # a NUL in an echoed query, and a timestamp whose day split overflowed.
    write("admin_query", "found_nul_text", bytes([0x01]) + char_vector("-\0\x01"))
    write("admin_query", "found_timestamp_min", bytes([0x01]) + glist(sym("x"), h("f4 0200000000000080")))
    write("admin_query", "be_list", bytes([0x00]) + h("00 00 00000001 0a 00 0000000c")
          + b".qgate.stats")

    # handshake: chunk seed, bound flag (bit 0: 16 bytes), then the client's bytes.
    for name, data in HANDSHAKES.items():
        write("handshake", name, bytes([0x2b, 0x00]) + data)
    write("handshake", "short_bound", bytes([0x07, 0x01]) + b"averylongusername:pw\x03\x00")

    # config: TOML text.
    for name, text in CONFIGS.items():
        write("config", name, text.encode())
    with open(os.path.join(HERE, "..", "..", "conf", "qgate.example.toml"), "rb") as f:
        write("config", "example", f.read())


if __name__ == "__main__":
    main()

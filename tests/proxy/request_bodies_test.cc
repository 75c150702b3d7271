// Request mode, what is checked or rewritten inside bodies (src/proxy/request_bodies.cc),
// driven through the engine rig (one backend with one pooled connection, one client):
//  * a call that is not exactly one q object, plain or compressed, is answered 'badmsg (sync)
//    or dropped (async), counted, and never sent to the backend; the client stays usable;
//  * a compressed reply reaches a client of capability 0, or one on this host, decompressed;
//    a remote client of capability 3 gets it as the backend sent it;
//  * a compressed call or reply that would inflate past limits.inflate_bytes_max or
//    inflate_ratio_max is refused unread and counted;
//    a big call's scratch buffer goes to the shard's cache of big buffers once routed;
//  * a compressed call past one slice (1 MiB) is inflated a slice per turn and sent only once
//    whole; a client that disconnects meanwhile takes its parked call with it.

#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "engine_rig.h"
#include "qgate/qipc/compress.h"

using namespace qgate;
using namespace qgate::io;
using namespace qgate::testing;

namespace {

struct bodies_fixture : engine_rig {
    // The pool connection is the first session slot, the client the second.
    static constexpr uint32_t kPool = proxy::sock_id(0, role::upstream);
    static constexpr uint32_t kCli = proxy::sock_id(1, role::client);

    /// `hello`: the client's handshake ("user:pw" + capability + NUL, or no capability byte).
    explicit bodies_fixture(const std::string& hello = std::string("user:pw\x03\x00", 9),
                            uint64_t request_bytes_max = 64 << 20,
                            uint64_t inflate_bytes_max = 64 << 20,
                            uint32_t inflate_ratio_max = 0) {
        auto c = request_config();
        c->backends.push_back({"b1", "g", {"127.0.0.1", 1}, "", 1, pipeline_mode::off});
        c->limits.request_bytes_max = request_bytes_max;
        c->limits.inflate_bytes_max = inflate_bytes_max;
        c->limits.inflate_ratio_max = inflate_ratio_max;
        start(c);
        pool_connect(kPool);
        recv(kPool, "\x03");
        const rec* a = be.last(op::accept, 0);
        REQUIRE(a != nullptr);
        complete(a->ud, ::socket(AF_INET, SOCK_STREAM, 0), kFlagMore);
        recv(kCli, hello);
        sent(kCli);  // the handshake answer
    }
    /// What the client is sent next (a send must be made: an old one does not count).
    std::string answer() {
        const size_t before = client_sends();
        turn();
        REQUIRE(client_sends() == before + 1);
        return sent(kCli);
    }
    size_t pool_sends() const { return be.count(op::send, kPool); }
    size_t client_sends() const { return be.count(op::send, kCli); }
    proxy::session& client() { return *eng->session_at(1); }
};

std::string frame(uint8_t type, const std::string& body) {
    std::string f("\x01\x00\x00\x00", 4);
    f[1] = static_cast<char>(type);
    const auto len = static_cast<uint32_t>(8 + body.size());
    f.append(reinterpret_cast<const char*>(&len), 4);
    return f + body;
}
// (`f;2 3) as the body of a call: a general list of a symbol and a long vector.
std::string good_body() {
    std::string b("\x00\x00\x02\x00\x00\x00", 6);
    b += std::string("\xf5" "f\x00", 3);
    b += std::string("\x07\x00\x02\x00\x00\x00", 6);
    b += std::string(16, '\x01');
    return b;
}
// A general list claiming 3 items that holds 1 (a long atom): framed right, body short.
std::string lying_list() {
    return std::string("\x00\x00\x03\x00\x00\x00\xf9", 7) + std::string(8, 'x');
}
// A byte vector of `n` bytes, byte i = i mod 251 (compresses well, like qmock's payload[n]).
std::string bytes_body(uint32_t n) {
    std::string b("\x04\x00", 2);
    b.append(reinterpret_cast<const char*>(&n), 4);
    for (uint32_t i = 0; i < n; ++i) b.push_back(static_cast<char>(i % 251));
    return b;
}
// A byte vector of `n` copies of 'x': q's format at its best ratio (~121x).
std::string run_body(uint32_t n) {
    std::string b("\x04\x00", 2);
    b.append(reinterpret_cast<const char*>(&n), 4);
    return b + std::string(n, 'x');
}
std::string compressed(const std::string& plain) {
    std::vector<uint8_t> out(plain.size() / 2);
    const auto* p = reinterpret_cast<const uint8_t*>(plain.data());
    const uint64_t n = qipc::compress({p, plain.size()}, out);
    REQUIRE(n != 0);
    return {reinterpret_cast<const char*>(out.data()), n};
}
std::string error_frame(const std::string& text) {
    return frame(2, "\x80" + text + std::string(1, '\0'));
}

}  // namespace

TEST_CASE("request bodies: a lying general list is answered 'badmsg, never sent; the client "
          "goes on") {
    bodies_fixture f;
    const size_t pool_before = f.pool_sends();
    f.recv(bodies_fixture::kCli, frame(1, lying_list()));
    CHECK(f.answer() == error_frame("badmsg"));
    CHECK(f.pool_sends() == pool_before);  // the backend's shared connection never saw it
    CHECK(f.ctr.malformed_frames.load() == 1);
    CHECK(f.ctr.request_malformed.load() == 1);
    CHECK(f.ctr.requests_routed.load() == 0);
    // Async: dropped, counted, nothing written anywhere.
    const size_t cli_before = f.client_sends();
    f.recv(bodies_fixture::kCli, frame(0, lying_list()));
    f.turn();
    CHECK(f.client_sends() == cli_before);
    CHECK(f.pool_sends() == pool_before);
    CHECK(f.ctr.malformed_frames.load() == 2);
    CHECK(f.ctr.async_dropped.load() == 0);
    // Trailing bytes after one good object are malformed too.
    f.recv(bodies_fixture::kCli, frame(1, good_body() + "z"));
    CHECK(f.answer() == error_frame("badmsg"));
    // The connection is intact: a good call goes through and is answered.
    const std::string good = frame(1, good_body());
    f.recv(bodies_fixture::kCli, good);
    CHECK(f.sent(bodies_fixture::kPool) == good);
    f.recv(bodies_fixture::kPool, response_frame());
    CHECK(f.answer() == response_frame());
    CHECK(f.ctr.request_malformed.load() == 3);
    CHECK_FALSE(f.be.was_closed(f.client().s[0].fd));
}

TEST_CASE("request bodies: compressed calls that do not decompress, or decompress to a bad "
          "body, are answered 'badmsg") {
    bodies_fixture f;
    const size_t pool_before = f.pool_sends();
    // A good compressed call, then the same with its stream cut short (declared lengths kept:
    // the framing is intact), then a bad body that compresses.
    const std::string good = compressed(frame(1, bytes_body(3000)));
    std::string torn = good.substr(0, good.size() - 20);
    const auto torn_len = static_cast<uint32_t>(torn.size());
    std::memcpy(&torn[4], &torn_len, 4);
    const std::string lying = compressed(frame(1, lying_list() + std::string(3000, 'y')));
    f.recv(bodies_fixture::kCli, torn);
    CHECK(f.answer() == error_frame("badmsg"));
    f.recv(bodies_fixture::kCli, lying);
    CHECK(f.answer() == error_frame("badmsg"));
    CHECK(f.pool_sends() == pool_before);
    CHECK(f.ctr.request_malformed.load() == 2);
    f.recv(bodies_fixture::kCli, good);
    CHECK(f.sent(bodies_fixture::kPool) == good);  // forwarded compressed, as received
}

TEST_CASE("request bodies: a compressed call over request_bytes_max once decompressed is too "
          "large") {
    bodies_fixture f(std::string("user:pw\x03\x00", 9), 2000);
    const std::string big = compressed(frame(1, bytes_body(3000)));  // ~3 KB plain, 2 KB max
    REQUIRE(big.size() < 2000);
    f.recv(bodies_fixture::kCli, big);
    CHECK(f.answer() == error_frame("qgate: request too large"));
    CHECK(f.ctr.request_too_large.load() == 1);
    CHECK(f.ctr.request_malformed.load() == 0);
}

TEST_CASE("request bodies: a compressed reply is decompressed for a local client, passed on "
          "to a remote one") {
    bodies_fixture f;  // the rig's sockets have no peer: local, as for loopback
    const std::string plain = frame(2, bytes_body(5000));
    const std::string packed = compressed(plain);
    const std::string call = frame(1, good_body());
    f.recv(bodies_fixture::kCli, call);
    f.sent(bodies_fixture::kPool);
    f.recv(bodies_fixture::kPool, packed);
    CHECK(f.answer() == plain);
    CHECK(f.ctr.replies_decompressed.load() == 1);
    // A remote client of capability 3 gets it as q would send it: compressed.
    f.client().rq.peer_local = false;
    f.recv(bodies_fixture::kCli, call);
    f.sent(bodies_fixture::kPool);
    f.recv(bodies_fixture::kPool, packed);
    CHECK(f.answer() == packed);
    CHECK(f.ctr.replies_decompressed.load() == 1);
    // A reply that does not decompress is a qgate error, counted.
    std::string bad = packed;
    bad[12] = '\xff';  // the first control byte: every item a match, into an empty table
    f.recv(bodies_fixture::kCli, call);
    f.sent(bodies_fixture::kPool);
    f.client().rq.peer_local = true;
    f.recv(bodies_fixture::kPool, bad);
    CHECK(f.answer() == error_frame("qgate: backend b1 sent a malformed reply"));
    CHECK(f.ctr.replies_malformed.load() == 1);
}

TEST_CASE("request bodies: a client of capability 0 gets a compressed reply decompressed") {
    bodies_fixture f(std::string("user:pw\x00", 8));  // no capability byte: capability 0
    CHECK(f.client().cap == 0);
    f.client().rq.peer_local = false;  // remote, yet q would not compress to it
    const std::string plain = frame(2, bytes_body(3000));
    f.recv(bodies_fixture::kCli, frame(1, good_body()));
    f.sent(bodies_fixture::kPool);
    f.recv(bodies_fixture::kPool, compressed(plain));
    CHECK(f.answer() == plain);
    CHECK(f.ctr.replies_decompressed.load() == 1);
}

TEST_CASE("request bodies: a compressed call past inflate_bytes_max is refused 'badmsg, "
          "counted, never sent; the client stays usable") {
    bodies_fixture f(std::string("user:pw\x03\x00", 9), 64 << 20, 4000);
    const std::string bomb = compressed(frame(1, bytes_body(5000)));  // 5014 bytes plain
    const std::string fits = compressed(frame(1, bytes_body(3000)));
    const size_t pool_before = f.pool_sends();
    f.recv(bodies_fixture::kCli, bomb);
    CHECK(f.answer() == error_frame("badmsg"));
    CHECK(f.ctr.inflate_refused.load() == 1);
    CHECK(f.ctr.request_malformed.load() == 0);  // well formed: refused, not malformed
    std::string async_bomb = bomb;
    async_bomb[1] = 0;
    f.recv(bodies_fixture::kCli, async_bomb);  // async: dropped, no answer
    CHECK(f.ctr.inflate_refused.load() == 2);
    CHECK(f.pool_sends() == pool_before);
    f.recv(bodies_fixture::kCli, fits);
    CHECK(f.sent(bodies_fixture::kPool) == fits);  // forwarded compressed, as received
}

TEST_CASE("request bodies: a compressed call past inflate_ratio_max is refused 'badmsg") {
    // A run of one byte: far more than 4x, the bound here.
    bodies_fixture f(std::string("user:pw\x03\x00", 9), 64 << 20, 64 << 20, 4);
    const std::string call = compressed(frame(1, run_body(5000)));
    REQUIRE(call.size() * 4 < 5014);
    const size_t pool_before = f.pool_sends();
    f.recv(bodies_fixture::kCli, call);
    CHECK(f.answer() == error_frame("badmsg"));
    CHECK(f.ctr.inflate_refused.load() == 1);
    CHECK(f.pool_sends() == pool_before);
}

TEST_CASE("request bodies: a compressed reply past inflate_bytes_max reaches a local client "
          "as a qgate error, counted") {
    bodies_fixture f(std::string("user:pw\x03\x00", 9), 64 << 20, 4000);
    f.recv(bodies_fixture::kCli, frame(1, good_body()));
    f.sent(bodies_fixture::kPool);
    f.recv(bodies_fixture::kPool, compressed(frame(2, bytes_body(5000))));
    CHECK(f.answer() == error_frame("qgate: backend b1 reply over the inflate limit"));
    CHECK(f.ctr.inflate_refused.load() == 1);
    CHECK(f.ctr.replies_malformed.load() == 0);
    CHECK(f.ctr.replies_decompressed.load() == 0);
}

// `data` in receive buffers of the rig's size, one after another.
void recv_chunks(bodies_fixture& f, const std::string& data) {
    const size_t n = f.be.pool().size();
    for (size_t at = 0; at < data.size(); at += n) f.recv(bodies_fixture::kCli, data.substr(at, n));
}

// Turns until the parked compressed call is whole and sent (a slice of 1 MiB per turn).
void inflate_all(bodies_fixture& f) {
    const size_t before = f.pool_sends();
    for (int i = 0; i < 64 && f.pool_sends() == before; ++i) f.turn();
    REQUIRE(f.pool_sends() == before + 1);
}

TEST_CASE("request bodies: a big compressed call's scratch buffer goes to the shard's cache "
          "once routed, and the next one reuses it") {
    bodies_fixture f;
    const std::string call = compressed(frame(1, run_body(3 << 20)));  // 3 MiB plain
    REQUIRE(call.size() < (1 << 20));  // the call itself is not a big buffer
    recv_chunks(f, call);
    inflate_all(f);
    CHECK(f.sent(bodies_fixture::kPool) == call);
    CHECK(f.ctr.big_buf_misses.load() == 1);  // the scratch, allocated once
    CHECK(f.ctr.big_buf_bytes.load() >= (3 << 20));  // held by the cache, not by the scratch
    f.recv(bodies_fixture::kPool, frame(2, good_body()));
    f.answer();
    recv_chunks(f, call);
    inflate_all(f);
    CHECK(f.sent(bodies_fixture::kPool) == call);
    CHECK(f.ctr.big_buf_hits.load() == 1);  // warm: no fresh pages for the second inflate
    CHECK(f.ctr.big_buf_misses.load() == 1);
}

TEST_CASE("request bodies: a compressed call past 1 MiB is inflated a slice per turn and sent "
          "once whole; one under it at once") {
    bodies_fixture f;
    const std::string call = compressed(frame(1, run_body(3 << 20)));  // 3 MiB plain
    const size_t pool_before = f.pool_sends();
    recv_chunks(f, call);
    CHECK(f.ctr.inflate_sliced.load() == 1);
    CHECK(f.ctr.inflate_slices.load() == 0);  // parked: the turn inflates
    uint64_t turns = 0;
    for (; turns < 8 && f.pool_sends() == pool_before; ++turns) {
        f.turn();  // routed (and sent) in the turn of its last slice, not before
        CHECK(f.ctr.inflate_slices.load() == turns + 1);  // one slice per turn
    }
    CHECK(turns >= 3);  // 3 MiB in slices of 1 MiB (+ at most one match each)
    CHECK(turns <= 4);
    CHECK(f.sent(bodies_fixture::kPool) == call);  // forwarded compressed, as received
    f.recv(bodies_fixture::kPool, frame(2, good_body()));
    CHECK(f.answer() == frame(2, good_body()));
    // 1 MiB plain: one slice or less, inflated at once (the path of every small call).
    const std::string small = compressed(frame(1, run_body((1 << 20) - 14)));
    recv_chunks(f, small);
    CHECK(f.sent(bodies_fixture::kPool) == small);
    CHECK(f.ctr.inflate_sliced.load() == 1);
    CHECK(f.ctr.inflate_slices.load() == turns);
}

TEST_CASE("request bodies: a client that disconnects while its call is parked frees it at the "
          "next turn; nothing is sent") {
    bodies_fixture f;
    const std::string call = compressed(frame(1, run_body(3 << 20)));
    const size_t pool_before = f.pool_sends();
    recv_chunks(f, call);
    f.turn();
    CHECK(f.ctr.inflate_slices.load() == 1);
    const rec* r = f.be.last(op::recv, bodies_fixture::kCli);
    REQUIRE(r != nullptr);
    f.complete(r->ud, -ECONNRESET);
    for (int i = 0; i < 6; ++i) f.turn();     // enough for the whole call had it stayed
    CHECK(f.ctr.inflate_slices.load() == 1);  // dropped, not inflated further
    CHECK(f.pool_sends() == pool_before);
    CHECK(f.ctr.request_bytes_held.load() == 0);
    CHECK(f.ctr.big_buf_bytes.load() >= (3 << 20));  // its output buffer went to the cache
}

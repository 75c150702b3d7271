// A pooled upstream connection's receive side (src/proxy/pool_rx.cc), driven through the
// fake io backend: the backend's reply is read with recv_into straight into the buffer the
// client's answer is sent from (zero copy), whatever way the kernel splits it into reads;
// header split, warm-up growth (the one counted copy), a message right behind a reply, EOF
// while idle, an abandoned call's late reply dropped without growing the buffer.

#include <doctest/doctest.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "engine_rig.h"

using namespace qgate;
using namespace qgate::io;
using namespace qgate::testing;

namespace {

// One shard, one backend with one pooled connection (the first session slot), one client.
struct pool_fixture : engine_rig {
    static constexpr uint32_t kPool = proxy::sock_id(0, role::upstream);
    static constexpr uint32_t kCli = proxy::sock_id(1, role::client);

    explicit pool_fixture(uint32_t per_client_max = 1024) {
        auto c = request_config();
        c->backends.push_back({"b1", "g", {"127.0.0.1", 1}, "", 1, pipeline_mode::off});
        c->limits.requests_per_client_max = per_client_max;
        c->limits.reconnect_min_ms = 100;
        start(c);
    }
    void pool_up() {
        CHECK(pool_connect(kPool) == std::string("qgate\x03", 7));
        const rec& hs = armed_read(kPool);
        CHECK(hs.len == 1);  // the handshake byte alone: nothing behind it is over-read
        CHECK_FALSE(hs.all);
        read(kPool, "\x03");
    }
    void client_up() { CHECK(accept_client(kCli, '\x06') == "\x03"); }
    /// The client sends one sync call; it goes out on the pool connection.
    void call() {
        recv(kCli, sync_frame());
        CHECK(sent(kPool) == sync_frame());
    }
    uint64_t direct() const { return ctr.reply_bytes_received_direct.load(); }
    uint64_t copied() const { return ctr.reply_bytes_copied.load(); }
};

// A response frame of `n` bytes in all: a byte vector with a recognisable pattern.
std::string reply_of(size_t n) {
    REQUIRE(n >= 14);
    std::string f("\x01\x02\x00\x00", 4);
    const uint32_t len = static_cast<uint32_t>(n);
    f.append(reinterpret_cast<const char*>(&len), 4);
    f.append("\x04\x00", 2);
    const uint32_t count = static_cast<uint32_t>(n - 14);
    f.append(reinterpret_cast<const char*>(&count), 4);
    for (size_t i = 0; i < count; ++i) f.push_back(static_cast<char>(i * 7 + i / 251));
    return f;
}
const std::string kAsync("\x01\x00\x00\x00\x10\x00\x00\x00\x0a\x00\x02\x00\x00\x00zz", 16);
const std::string kCallback("\x01\x01\x00\x00\x10\x00\x00\x00\x0a\x00\x02\x00\x00\x00" "cb", 16);

}  // namespace

TEST_CASE("pool rx: a reply split across short reads lands in the buffer the client is sent "
          "from; the rest of a frame is asked for exactly, with MSG_WAITALL") {
    pool_fixture f;
    f.pool_up();
    f.client_up();
    f.call();
    const std::string rep = reply_of(1000);
    const rec& first = f.armed_read(pool_fixture::kPool);
    CHECK_FALSE(first.all);  // the frame's length is not known yet: take what is there
    CHECK(first.len >= 1000);
    const uint8_t* landing = first.buf;
    // 100 bytes per read, as a busy kernel (or epoll, which may complete short) would give.
    CHECK(f.read(pool_fixture::kPool, rep.substr(0, 100), 100) == 1);
    const rec& rest = f.armed_read(pool_fixture::kPool);
    CHECK(rest.all);
    CHECK(rest.len == 900);  // never past the frame's end
    CHECK(rest.buf == landing + 100);
    CHECK(f.read(pool_fixture::kPool, rep.substr(100), 100) == 9);
    f.turn();
    const rec* s = f.be.last(op::send, pool_fixture::kCli);
    REQUIRE(s != nullptr);
    CHECK(s->bytes == rep);
    CHECK(s->base == landing);  // the very bytes recv_into wrote: no copy on the hand-off
    f.complete(s->ud, static_cast<int32_t>(rep.size()));
    CHECK(f.direct() == 1000);
    CHECK(f.copied() == 0);
    CHECK(f.be.pool().held() == 0);
    CHECK(f.be.count(op::recv, pool_fixture::kPool) == 0);  // no provided-buffer recv at all
    // The connection reads on (one read armed while idle) and serves the next call.
    CHECK(f.armed_read(pool_fixture::kPool).len >= 8);
    f.call();
    f.read(pool_fixture::kPool, response_frame());
    CHECK(f.sent(pool_fixture::kCli) == response_frame());
    CHECK(f.direct() == 1016);
}

TEST_CASE("pool rx: a header split over reads is reassembled before the frame is sized") {
    pool_fixture f;
    f.pool_up();
    f.client_up();
    f.call();
    const std::string rep = reply_of(300);
    f.read(pool_fixture::kPool, rep.substr(0, 3));
    const rec& more = f.armed_read(pool_fixture::kPool);
    CHECK_FALSE(more.all);  // 3 header bytes: the length is still unknown
    CHECK(more.len > 300);
    f.read(pool_fixture::kPool, rep.substr(3, 5));  // the header is whole, no body yet
    const rec& body = f.armed_read(pool_fixture::kPool);
    CHECK(body.all);
    CHECK(body.len == 292);
    f.read(pool_fixture::kPool, rep.substr(8));
    CHECK(f.sent(pool_fixture::kCli) == rep);
    CHECK(f.copied() == 0);
}

TEST_CASE("pool rx: replies longer than the buffer grow it while warming up (counted), then "
          "arrive with no copy at all") {
    pool_fixture f;
    f.pool_up();
    f.client_up();
    const std::string rep = reply_of(10000);
    uint64_t copied_after_warmup = 0;
    for (int i = 0; i < 5; ++i) {
        const uint64_t direct0 = f.direct();
        f.call();
        f.read(pool_fixture::kPool, rep);
        f.turn();
        const rec* s = f.be.last(op::send, pool_fixture::kCli);
        REQUIRE(s != nullptr);
        CHECK(s->bytes == rep);
        const uint64_t landed = f.direct() - direct0;
        f.complete(s->ud, static_cast<int32_t>(rep.size()));
        // Two buffers circulate (the connection's and the slot's); each grows once.
        if (i < 2) {
            CHECK(landed < rep.size());
            CHECK(landed + 4096 == rep.size());  // the first 4 KiB read was copied over
        } else {
            CHECK(landed == rep.size());
        }
        if (i == 1) copied_after_warmup = f.copied();
    }
    CHECK(copied_after_warmup == 2 * 4096);
    CHECK(f.copied() == copied_after_warmup);  // steady state: nothing copied
    // Once warm, the first read has room for the whole reply.
    CHECK(f.armed_read(pool_fixture::kPool).len >= 10000);
}

TEST_CASE("pool rx: messages right behind a reply in the same read are handled in place") {
    pool_fixture f;
    f.pool_up();
    f.client_up();
    f.call();
    const std::string rep = reply_of(100);
    // The reply, an async message and a sync call from the backend, in one read.
    CHECK(f.read(pool_fixture::kPool, rep + kAsync + kCallback) == 1);
    f.turn();
    const rec* s = f.be.last(op::send, pool_fixture::kCli);
    REQUIRE(s != nullptr);
    CHECK(s->bytes == rep);
    f.complete(s->ud, static_cast<int32_t>(rep.size()));
    // The reply has bytes behind it, so it is copied out (small: it shared a read); the two
    // 16-byte messages behind it are parsed where they are, nothing moved.
    CHECK(f.direct() == 0);
    CHECK(f.copied() == 100);
    CHECK(f.ctr.backend_unsolicited.load() == 2);
    // The sync call is answered with an error so the backend does not block.
    const std::string answer = f.sent(pool_fixture::kPool);
    CHECK(answer.find("qgate: request mode does not serve calls from backends") !=
          std::string::npos);
    // A partial message behind a reply: kept, completed by the next read.
    f.call();
    f.read(pool_fixture::kPool, response_frame() + kAsync.substr(0, 5));
    CHECK(f.sent(pool_fixture::kCli) == response_frame());
    f.read(pool_fixture::kPool, kAsync.substr(5));
    CHECK(f.ctr.backend_unsolicited.load() == 3);
    CHECK(f.ctr.malformed_frames.load() == 0);
}

TEST_CASE("pool rx: EOF while idle fails the connection, which reconnects") {
    pool_fixture f;
    f.pool_up();
    const size_t connects = f.be.count(op::connect, pool_fixture::kPool);
    f.end_read(pool_fixture::kPool, 0);  // the backend went away with nothing outstanding
    CHECK(f.ctr.backend_disconnect.load() == 1);
    CHECK(f.be.closed.size() == 1);
    g_now += 1000;
    f.turn();
    CHECK(f.be.count(op::connect, pool_fixture::kPool) == connects + 1);
    f.pool_up();
    f.client_up();
    f.call();
    f.read(pool_fixture::kPool, response_frame());
    CHECK(f.sent(pool_fixture::kCli) == response_frame());
}

TEST_CASE("pool rx: an abandoned call's late reply is dropped in chunks, the buffer not grown") {
    pool_fixture f;
    f.pool_up();
    f.client_up();
    f.call();
    f.complete(f.be.last(op::recv, pool_fixture::kCli)->ud, -ECONNRESET);  // the client is reset
    CHECK(f.ctr.requests_abandoned.load() == 1);
    const std::string late = reply_of(10000);
    CHECK(f.read(pool_fixture::kPool, late) == 3);  // 4096 + 4096 + 1808: never grown
    CHECK(f.ctr.request_late_replies.load() == 1);
    CHECK(f.direct() == 0);
    CHECK(f.copied() == 0);
    CHECK(f.plane.state(0).load_now() == 0);
    // The connection is free again: a new client's call is served.
    f.client_up();  // the gone client's session slot, reused
    f.call();
    f.read(pool_fixture::kPool, response_frame());
    CHECK(f.sent(pool_fixture::kCli) == response_frame());
}

TEST_CASE("pool rx: a malformed frame from the backend fails the connection") {
    pool_fixture f;
    f.pool_up();
    f.client_up();
    f.call();
    f.read(pool_fixture::kPool, std::string("\x07\x02\x00\x00\x10\x00\x00\x00", 8));
    CHECK(f.ctr.malformed_frames.load() == 1);
    CHECK(f.ctr.backend_disconnect.load() == 1);
    const std::string err = f.sent(pool_fixture::kCli);
    CHECK(err.find("qgate: backend b1 disconnected") != std::string::npos);
}

TEST_CASE("pool rx: teardown cancels the armed read before its buffer is freed") {
    pool_fixture f;
    f.pool_up();
    const uint64_t rd = f.armed_read(pool_fixture::kPool).ud;
    f.eng.reset();  // the fake never completes the cancel: the wait for it is bounded
    bool cancelled = false;
    for (const rec& r : f.be.ops) cancelled |= r.o == op::cancel && r.ud == rd;
    CHECK(cancelled);
}

namespace {
// sync_frame() with its last byte replaced: calls that can be told apart.
std::string call_n(char n) {
    std::string f = sync_frame();
    f.back() = n;
    return f;
}
}  // namespace

TEST_CASE("pool rx: a backend lost with calls waiting hands none to the dying connection") {
    pool_fixture f(2);  // a client may have 2 calls outstanding
    f.pool_up();
    f.client_up();
    // One receive, three calls: 1 goes out, 2 waits in the backend's queue, 3 is held (quota).
    f.recv(pool_fixture::kCli, call_n('1') + call_n('2') + call_n('3'));
    CHECK(f.sent(pool_fixture::kPool) == call_n('1'));
    // EOF: call 1 is answered with the error, which frees quota and frames call 3; neither it
    // nor call 2 may be given to this connection, which is going down.
    f.end_read(pool_fixture::kPool, 0);
    CHECK(f.sent(pool_fixture::kCli).find("qgate: backend b1 disconnected") != std::string::npos);
    g_now += 1000;
    f.turn();
    f.pool_up();
    CHECK(f.sent(pool_fixture::kPool) == call_n('2'));  // on the new connection, in order
    f.read(pool_fixture::kPool, response_frame());
    CHECK(f.sent(pool_fixture::kCli) == response_frame());
    CHECK(f.sent(pool_fixture::kPool) == call_n('3'));
    f.read(pool_fixture::kPool, response_frame());
    CHECK(f.sent(pool_fixture::kCli) == response_frame());
    CHECK(f.plane.state(0).load_now() == 0);
}

TEST_CASE("pool rx: a response read while an async call completes is a stray, not its reply") {
    pool_fixture f;
    f.pool_up();
    f.client_up();
    f.recv(pool_fixture::kCli, kAsync);  // an async call: done when its send is
    f.turn();
    const rec* s = f.be.last(op::send, pool_fixture::kPool);
    REQUIRE(s != nullptr);
    CHECK(s->bytes == kAsync);
    const uint64_t send_ud = s->ud;  // `s` points into the op log, which the read may grow
    const std::string resp = reply_of(100);
    f.read(pool_fixture::kPool, resp.substr(0, 10));  // a response begins
    f.complete(send_ud, static_cast<int32_t>(kAsync.size()));  // the async call is done
    f.read(pool_fixture::kPool, resp.substr(10));  // the rest: nobody's reply
    CHECK(f.ctr.backend_unsolicited.load() == 1);
    CHECK(f.direct() == 0);
    f.call();  // the connection still serves calls
    f.read(pool_fixture::kPool, response_frame());
    CHECK(f.sent(pool_fixture::kCli) == response_frame());
}

TEST_CASE("pool rx: a reply read between two messages is copied out; they are parsed in place") {
    pool_fixture f;
    f.pool_up();
    f.client_up();
    f.call();
    // One read: an async message, the reply, another async message. The reply is copied into
    // its slot (it is not all the read brought), so none of it counts as received in place.
    f.read(pool_fixture::kPool, kAsync + response_frame() + kAsync);
    CHECK(f.sent(pool_fixture::kCli) == response_frame());
    CHECK(f.direct() == 0);
    CHECK(f.copied() == response_frame().size());
    CHECK(f.ctr.backend_unsolicited.load() == 2);
}

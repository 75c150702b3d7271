// Session mode when a peer breaks the session (src/proxy/session_guard.cc), driven through the
// fake io backend (engine_rig.h): the backend's capability byte, malformed and oversized
// backend frames, the reply timeout, half-closed clients, a bad first frame, calls read in the
// batch of the backend's EOF.

#include <doctest/doctest.h>
#include <sys/socket.h>

#include <cerrno>
#include <memory>
#include <string>

#include "engine_rig.h"
#include "proxy/engine.h"

using namespace qgate;
using namespace qgate::io;
using namespace qgate::testing;
using qgate::proxy::role;

namespace {

constexpr uint32_t kClient = proxy::sock_id(0, role::client);
constexpr uint32_t kUp = proxy::sock_id(0, role::upstream);

struct guard_fixture : engine_rig {
    explicit guard_fixture(uint32_t reply_timeout_ms = 0, uint64_t message_max = 1 << 20) {
        auto c = std::make_shared<config>();
        c->listeners.push_back({{"127.0.0.1", 0}, conn_mode::session, "g", {}});
        c->backends.push_back({"b1", "g", {"127.0.0.1", 1}, ""});
        c->limits.buf_ring_entries = 8;
        c->limits.conns_per_shard_max = 4;
        c->limits.message_bytes_max = message_max;
        c->limits.session_reply_timeout_ms = reply_timeout_ms;
        start(c);
    }
    void accept() {
        const rec* a = be.last(op::accept, 0);
        REQUIRE(a != nullptr);
        complete(a->ud, ::socket(AF_INET, SOCK_STREAM, 0), kFlagMore);
    }
    /// Connect and upstream handshake done, the backend answers `reply`: the byte the client
    /// gets.
    std::string backend_answers(uint8_t reply) {
        complete(be.last(op::connect, kUp)->ud, 0);
        sent(kUp);
        recv(kUp, std::string(1, static_cast<char>(reply)));
        return sent(kClient);
    }
    /// A streaming session; the client offered `hs` (credentials, capability, NUL).
    std::string establish(const std::string& hs = std::string("u:p\x03", 4) + '\0',
                          uint8_t reply = 3) {
        accept();
        recv(kClient, hs);
        return backend_answers(reply);
    }
    /// The client's calls reach the backend (their send completes).
    void calls(const std::string& bytes) {
        recv(kClient, bytes);
        CHECK(sent(kUp) == bytes);
    }
    bool client_cancelled() const { return be.was_cancelled(be.last(op::recv, kClient)->fd); }
    bool client_closed() const { return be.was_closed(be.last(op::recv, kClient)->fd); }
};

std::string error_frame(const std::string& text) {
    std::string f("\x01\x02\x00\x00", 4);
    const uint32_t n = static_cast<uint32_t>(8 + 2 + text.size());
    f.append(reinterpret_cast<const char*>(&n), 4);
    f.push_back('\x80');
    f += text;
    f.push_back('\0');
    return f;
}

// A response header announcing `len` bytes (little-endian).
std::string response_header(uint32_t len) {
    std::string h("\x01\x02\x00\x00", 4);
    h.append(reinterpret_cast<const char*>(&len), 4);
    return h;
}

// An async call (message type 0): a sync_frame's bytes otherwise.
std::string async_frame() {
    std::string f = sync_frame();
    f[1] = '\x00';
    return f;
}

const std::string kDisconnected = error_frame("qgate: backend b1 disconnected");

}  // namespace

TEST_CASE("session guard: the client gets min(offered, the backend's answer), not its echo") {
    struct row {
        std::string hs;
        uint8_t backend;
        char want;
    };
    const row rows[] = {
        {std::string("u:p\x03", 4) + '\0', 0xff, 3},  // a broken backend: 0xff
        {std::string("u:p\x06", 4) + '\0', 5, 5},     // q: the common capability
        {std::string("u:p\x03", 4) + '\0', 1, 1},
        {std::string("u:pw") + '\0', 3, 0},           // no capability byte offered
    };
    for (const row& r : rows) {
        CAPTURE(int(r.backend));
        guard_fixture f;
        CHECK(f.establish(r.hs, r.backend) == std::string(1, r.want));
    }
}

TEST_CASE("session guard: a malformed backend header: frames before it forwarded, each waiting "
          "sync call gets 'disconnected', then the client is closed") {
    guard_fixture f;
    f.establish();
    f.calls(sync_frame() + sync_frame() + sync_frame());
    f.recv(kUp, response_frame() + std::string("\x07\x02\x00\x00\x10\x00\x00\x00", 8));
    CHECK(f.sent(kClient) == response_frame() + kDisconnected + kDisconnected);
    CHECK(f.ctr.malformed_frames.load() == 1);
    CHECK(f.ctr.disconnect_errors.load() == 2);
    CHECK(f.client_cancelled());  // closed once the errors were sent
    CHECK(f.be.pool().held() == 0);
}

TEST_CASE("session guard: a reply longer than message_bytes_max is refused the same way") {
    guard_fixture f(0, 1000);
    f.establish();
    f.calls(sync_frame());
    const std::string exact = response_header(1000) + std::string(992, 'x');
    f.recv(kUp, exact);
    CHECK(f.sent(kClient) == exact);  // at the limit: forwarded
    f.calls(sync_frame());
    f.recv(kUp, response_header(1001) + "xx");
    CHECK(f.sent(kClient) == kDisconnected);
    CHECK(f.ctr.malformed_frames.load() == 1);
    CHECK(f.ctr.disconnect_errors.load() == 1);
}

TEST_CASE("session guard: a bad backend header split over two buffers closes without an error") {
    guard_fixture f;
    f.establish();
    f.calls(sync_frame());
    f.recv(kUp, std::string("\x01\x02\x00", 3));  // forwarded: nothing wrong yet
    CHECK(f.sent(kClient) == std::string("\x01\x02\x00", 3));
    const size_t sends = f.be.count(op::send, kClient);
    f.recv(kUp, std::string("\x00\x03\x00\x00\x00", 5));  // length 3: malformed
    f.turn();
    CHECK(f.ctr.malformed_frames.load() == 1);
    CHECK(f.be.count(op::send, kClient) == sends);  // no error after half a header
    CHECK(f.client_cancelled());
}

TEST_CASE("session guard: reply timeout: a silent backend with a call owed, error then close") {
    guard_fixture f(100);
    f.establish();
    f.calls(sync_frame());
    g_now += 99;
    f.turn();
    CHECK(f.ctr.session_reply_timeouts.load() == 0);
    g_now += 2;
    f.turn();
    CHECK(f.ctr.session_reply_timeouts.load() == 1);
    CHECK(f.sent(kClient) == error_frame("qgate: timeout after 100ms"));
    CHECK(f.client_cancelled());
}

TEST_CASE("session guard: reply timeout: progress restarts the silence; mid-message, no error") {
    guard_fixture f(100);
    f.establish();
    f.calls(sync_frame());
    f.turn();  // the shard's loop turns after each batch of completions
    g_now += 80;
    f.recv(kUp, response_frame().substr(0, 8));  // the header, then silence
    CHECK(f.sent(kClient) == response_frame().substr(0, 8));
    g_now += 80;  // 160 since the call, 80 since the header
    f.turn();
    CHECK(f.ctr.session_reply_timeouts.load() == 0);
    const size_t sends = f.be.count(op::send, kClient);
    g_now += 30;
    f.turn();
    CHECK(f.ctr.session_reply_timeouts.load() == 1);
    CHECK(f.be.count(op::send, kClient) == sends);  // nothing can follow half a message
    CHECK(f.client_cancelled());
}

TEST_CASE("session guard: reply timeout: nothing owed, or the knob off (default): no timeout") {
    guard_fixture on(100);
    on.establish();
    on.calls(sync_frame());
    on.recv(kUp, response_frame());
    CHECK(on.sent(kClient) == response_frame());
    g_now += 10000;
    on.turn();
    guard_fixture off;
    off.establish();
    off.calls(sync_frame());
    g_now += 3600 * 1000;
    off.turn();
    CHECK(on.ctr.session_reply_timeouts.load() == 0);
    CHECK(off.ctr.session_reply_timeouts.load() == 0);
    CHECK_FALSE(on.client_cancelled());
    CHECK_FALSE(off.client_cancelled());
}

TEST_CASE("session guard: a half-closed client is answered what it asked, then closed") {
    guard_fixture f;
    f.establish();
    const size_t arms = f.be.count(op::recv, kClient);
    // Two whole calls and the start of a third, then EOF (shutdown(SHUT_WR)).
    f.calls(sync_frame() + sync_frame() + sync_frame().substr(0, 10));
    f.complete(f.be.last(op::recv, kClient)->ud, 0);
    f.turn();
    CHECK(f.be.count(op::recv, kClient) == arms);  // not read again
    CHECK_FALSE(f.client_closed());
    f.recv(kUp, response_frame());
    CHECK(f.sent(kClient) == response_frame());
    CHECK_FALSE(f.client_closed());  // one whole call still owed
    f.recv(kUp, response_frame());
    CHECK(f.sent(kClient) == response_frame());
    CHECK(f.client_closed());  // the cut-off third is owed nothing
}

TEST_CASE("session guard: half-closed before its backend answered: the early call is answered") {
    guard_fixture f;
    f.accept();
    f.recv(kClient, std::string("u:p\x03", 4) + '\0' + sync_frame());
    f.complete(f.be.last(op::recv, kClient)->ud, 0);  // `printf ... | nc`: EOF at once
    CHECK(f.backend_answers(3) == "\x03");
    CHECK(f.sent(kUp) == sync_frame());
    CHECK_FALSE(f.client_closed());
    f.recv(kUp, response_frame());
    CHECK(f.sent(kClient) == response_frame());
    CHECK(f.client_closed());
}

TEST_CASE("session guard: a bad first frame with the handshake: counted, closed, no backend") {
    guard_fixture f;
    f.accept();
    const std::string bad("\x01\x09\x00\x00\x10\0\0\0", 8);  // message type 9
    f.recv(kClient, std::string("u:p\x03", 4) + '\0' + bad);
    CHECK(f.ctr.malformed_frames.load() == 1);
    CHECK(f.be.last(op::connect, kUp) == nullptr);
    CHECK(f.client_cancelled());
}

TEST_CASE("session guard: calls read in the batch after the backend's EOF get 'disconnected' "
          "too, before the close") {
    guard_fixture f;
    f.establish();
    f.calls(sync_frame());
    f.complete(f.be.last(op::recv, kUp)->ud, 0);  // the backend is gone: one error owed
    // Same batch: the client's recv had already read two more sync calls and an async one
    // (the pause that stops it reading is only a cancel in flight).
    f.recv(kClient, sync_frame() + sync_frame() + async_frame());
    CHECK(f.sent(kClient) == kDisconnected + kDisconnected + kDisconnected);
    CHECK(f.ctr.disconnect_errors.load() == 3);
    CHECK(f.ctr.async_dropped.load() == 1);  // counted, as q tells an async caller nothing
    CHECK(f.client_cancelled());  // closed once the errors were sent
    CHECK(f.be.pool().held() == 0);
}

// Fault injection into the session state machine: a fake io backend records what the engine
// submits and the test fabricates the completions, including the ones a kernel produces only
// under stress: -ENOBUFS, short sends, multishot recv ending without F_MORE, -ECANCELED,
// connection refused, backend EOF with requests outstanding, malformed client frames.
// Request mode too: pooled connection life cycle, ordering, disconnect, backoff, ejection.
// The fake backend and the completion helpers are in engine_rig.h.

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine_rig.h"
#include "proxy/engine.h"
#include "proxy/request.h"

using namespace qgate;
using namespace qgate::io;
using namespace qgate::testing;
using qgate::proxy::role;

namespace {

struct fixture : engine_rig {
    static constexpr uint32_t kClient = proxy::sock_id(0, role::client);
    static constexpr uint32_t kUp = proxy::sock_id(0, role::upstream);

    explicit fixture(uint64_t high = 1 << 20, uint64_t low = 1 << 10,
                     std::vector<user_entry> users = {}) {
        auto c = std::make_shared<config>();
        c->users = std::move(users);  // empty: anyone may connect, as q without -u
        c->listeners.push_back({{"127.0.0.1", 0}, conn_mode::session, "g", {}});
        c->backends.push_back({"b1", "g", {"127.0.0.1", 1}, ""});
        c->backends.push_back({"b2", "g", {"127.0.0.1", 2}, "u:p"});
        c->limits.out_bytes_high = high;
        c->limits.out_bytes_low = low;
        c->limits.buf_ring_entries = 8;
        c->limits.conns_per_shard_max = 4;
        start(c);
    }
    void accept() {
        const rec* a = be.last(op::accept, 0);
        REQUIRE(a != nullptr);
        complete(a->ud, ::socket(AF_INET, SOCK_STREAM, 0), kFlagMore);
    }
    /// Accept + client handshake + connect + upstream handshake: a streaming session.
    std::string establish(uint8_t reply = 3) {
        accept();
        recv(kClient, std::string("user:pw\x03", 8) + std::string(1, '\0'));
        const rec* c = be.last(op::connect, kUp);
        REQUIRE(c != nullptr);
        complete(c->ud, 0);
        turn();
        const rec* s = be.last(op::send, kUp);
        REQUIRE(s != nullptr);
        std::string hs = s->bytes;
        complete(s->ud, static_cast<int32_t>(hs.size()));
        recv(kUp, std::string(1, static_cast<char>(reply)));
        turn();
        const rec* r = be.last(op::send, kClient);
        REQUIRE(r != nullptr);
        REQUIRE(r->bytes == std::string(1, static_cast<char>(reply)));
        complete(r->ud, 1);
        return hs;
    }
};

}  // namespace

TEST_CASE("engine: handshake is relayed, reply byte written alone, short sends resumed") {
    fixture f;
    f.accept();
    CHECK(f.ctr.accepts.load() == 1);
    REQUIRE(f.be.last(op::recv, fixture::kClient) != nullptr);
    f.recv(fixture::kClient, std::string("user:pw\x05", 8) + std::string(1, '\0'));
    CHECK(f.be.pool().held() == 0);  // handshake bytes copied, buffer returned at once
    const rec* c = f.be.last(op::connect, fixture::kUp);
    REQUIRE(c != nullptr);
    f.complete(c->ud, 0);
    f.turn();
    const rec* s = f.be.last(op::send, fixture::kUp);
    REQUIRE(s != nullptr);
    const std::string creds = s->bytes;
    CHECK((creds == std::string("qgate\x05", 6) + std::string(1, '\0') ||
           creds == std::string("u:p\x05", 4) + std::string(1, '\0')));
    // Short send: 2 bytes written; the rest must be re-sent from byte 2.
    f.complete(s->ud, 2);
    CHECK(f.ctr.snd_short.load() == 1);
    f.turn();
    s = f.be.last(op::send, fixture::kUp);
    CHECK(s->bytes == creds.substr(2));
    f.complete(s->ud, static_cast<int32_t>(creds.size() - 2));
    // Backend answers 5 and pushes an async message in the same segment (.z.po style).
    const std::string early = std::string("\x01\x00\x00\x00\x0a\x00\x00\x00\x65\x00", 10);
    f.recv(fixture::kUp, std::string(1, '\x05') + early);
    f.turn();
    s = f.be.last(op::send, fixture::kClient);
    REQUIRE(s != nullptr);
    CHECK(s->bytes == std::string(1, '\x05'));  // alone, not gathered with the async message
    f.complete(s->ud, 1);
    f.turn();
    s = f.be.last(op::send, fixture::kClient);
    CHECK(s->bytes == early);
    f.complete(s->ud, 10);
    CHECK(f.be.pool().held() == 0);
}

TEST_CASE("engine: multishot recv ending without F_MORE is re-armed; frames forwarded") {
    fixture f;
    f.establish();
    const size_t arms = f.be.count(op::recv, fixture::kClient);
    f.recv(fixture::kClient, sync_frame(), /*more=*/false);
    CHECK(f.ctr.multishot_rearm.load() >= 1);
    CHECK(f.be.count(op::recv, fixture::kClient) == arms + 1);
    f.turn();
    const rec* s = f.be.last(op::send, fixture::kUp);
    CHECK(s->bytes == sync_frame());
    CHECK(f.ctr.sync_requests.load() == 1);
    CHECK(f.be.pool().held() == 1);  // the buffer itself is in flight (cut-through, no copy)
    f.complete(s->ud, 16);
    CHECK(f.be.pool().held() == 0);
}

TEST_CASE("engine: ENOBUFS waits until half the pool is back, then re-arms") {
    fixture f;
    f.establish();
    const rec* r = f.be.last(op::recv, fixture::kClient);
    std::vector<int> hold;
    for (int i = 0; i < 5; ++i) hold.push_back(f.be.pool().acquire());  // 3 of 8 left
    const size_t arms = f.be.count(op::recv, fixture::kClient);
    f.complete(r->ud, -ENOBUFS);
    CHECK(f.ctr.rcv_enobufs.load() == 1);
    f.turn();
    CHECK(f.be.count(op::recv, fixture::kClient) == arms);  // still starved
    f.be.pool().release(static_cast<uint16_t>(hold[0]));  // 4 of 8 back: half
    f.turn();
    CHECK(f.be.count(op::recv, fixture::kClient) == arms + 1);
    f.turn();
    CHECK(f.be.count(op::recv, fixture::kClient) == arms + 1);  // armed once, not again
}

TEST_CASE("engine: slow reader pauses the feeder (cancel, -ECANCELED) and resumes below low") {
    fixture f(/*high=*/20, /*low=*/8);
    f.establish();
    const size_t up_arms = f.be.count(op::recv, fixture::kUp);
    f.recv(fixture::kUp, response_frame() + response_frame());  // 32 bytes > high for the client
    CHECK(f.ctr.slow_reader_pauses.load() == 1);
    const rec* cancel = f.be.last(op::cancel, fixture::kUp);
    REQUIRE(cancel != nullptr);
    f.complete(f.be.last(op::recv, fixture::kUp)->ud, -ECANCELED);
    f.turn();
    CHECK(f.be.count(op::recv, fixture::kUp) == up_arms);  // paused: not re-armed
    const rec* s = f.be.last(op::send, fixture::kClient);
    f.complete(s->ud, 20);  // 12 left, still above low
    f.turn();
    CHECK(f.be.count(op::recv, fixture::kUp) == up_arms);
    s = f.be.last(op::send, fixture::kClient);
    f.complete(s->ud, 12);
    CHECK(f.be.count(op::recv, fixture::kUp) == up_arms + 1);  // resumed
}

TEST_CASE("engine: a queue over its pool share pauses the feeder, resumes at half the share") {
    fixture f;  // byte watermarks far away; 8 buffers x 10 % -> share 2 buffers (the minimum)
    f.establish();
    const size_t up_arms = f.be.count(op::recv, fixture::kUp);
    // Three small replies, each in its own buffer: only 48 bytes, but 3 buffers > 2.
    for (int i = 0; i < 3; ++i) f.recv(fixture::kUp, response_frame());
    CHECK(f.ctr.buf_share_pauses.load() == 1);
    CHECK(f.ctr.slow_reader_pauses.load() == 0);
    REQUIRE(f.be.last(op::cancel, fixture::kUp) != nullptr);
    f.complete(f.be.last(op::recv, fixture::kUp)->ud, -ECANCELED);
    f.turn();
    CHECK(f.be.count(op::recv, fixture::kUp) == up_arms);  // paused
    const rec* s = f.be.last(op::send, fixture::kClient);
    REQUIRE(s != nullptr);
    CHECK(s->bytes.size() == 48);
    f.complete(s->ud, 16);  // 2 buffers left: above half the share
    f.turn();
    CHECK(f.be.count(op::recv, fixture::kUp) == up_arms);
    s = f.be.last(op::send, fixture::kClient);
    f.complete(s->ud, 16);  // 1 buffer left: at half the share, resume
    CHECK(f.be.count(op::recv, fixture::kUp) == up_arms + 1);
    CHECK(f.be.pool().held() == 1);
}

TEST_CASE("engine: ENOBUFS re-arm does not wait for buffers pinned by a paused slow reader") {
    fixture f;  // 8 buffers, share 2
    f.establish();
    for (int i = 0; i < 3; ++i) f.recv(fixture::kUp, response_frame());  // pinned: upstream paused
    REQUIRE(f.ctr.buf_share_pauses.load() == 1);
    f.turn();  // the client send goes out and never completes: the reader is slow
    std::vector<int> hold;
    for (int i = 0; i < 2; ++i) hold.push_back(f.be.pool().acquire());  // 3 of 8 available
    const rec* r = f.be.last(op::recv, fixture::kClient);
    const size_t arms = f.be.count(op::recv, fixture::kClient);
    f.complete(r->ud, -ENOBUFS);
    f.turn();
    // 3 available < 4 (half the pool), but 3 are pinned: half of the other 5 is enough.
    CHECK(f.be.count(op::recv, fixture::kClient) == arms + 1);
}

TEST_CASE("engine: backend EOF answers each outstanding sync with an error, then closes") {
    fixture f;
    f.establish();
    f.recv(fixture::kClient, sync_frame() + sync_frame());
    f.turn();
    f.complete(f.be.last(op::send, fixture::kUp)->ud, 32);
    f.complete(f.be.last(op::recv, fixture::kUp)->ud, 0);  // backend gone
    CHECK(f.ctr.backend_disconnect.load() == 1);
    CHECK(f.ctr.disconnect_errors.load() == 2);
    f.turn();
    const rec* s = f.be.last(op::send, fixture::kClient);
    REQUIRE(s != nullptr);
    const std::string text = "qgate: backend b1 disconnected";
    const std::string text2 = "qgate: backend b2 disconnected";
    const size_t one = 8 + 2 + text.size();
    REQUIRE(s->bytes.size() == 2 * one);
    CHECK(s->bytes[1] == 2);                      // response
    CHECK(static_cast<uint8_t>(s->bytes[8]) == 0x80);  // q error
    const std::string got = s->bytes.substr(9, text.size());
    CHECK((got == text || got == text2));
    f.complete(s->ud, static_cast<int32_t>(s->bytes.size()));
    // Client closed after the errors; its pending recv completes (EOF after shutdown).
    f.complete(f.be.last(op::recv, fixture::kClient)->ud, 0);
    CHECK(f.eng->sessions_open() == 0);
}

TEST_CASE("engine: refused connect tries the next backend, then answers no-backend errors") {
    fixture f;
    f.accept();
    f.recv(fixture::kClient, std::string("u:p\x06", 4) + std::string(1, '\0'));
    f.complete(f.be.last(op::connect, fixture::kUp)->ud, -ECONNREFUSED);
    CHECK(f.be.count(op::connect, fixture::kUp) == 2);  // second backend of the group
    f.complete(f.be.last(op::connect, fixture::kUp)->ud, -ECONNREFUSED);
    CHECK(f.ctr.backend_connect_fail.load() == 2);
    CHECK(f.ctr.no_backend_sessions.load() == 1);
    f.turn();
    const rec* s = f.be.last(op::send, fixture::kClient);
    CHECK(s->bytes == std::string(1, '\x03'));  // min(client 6, 3)
    f.complete(s->ud, 1);
    f.recv(fixture::kClient,
           sync_frame() + std::string("\x01\x00\x00\x00\x0a\x00\x00\x00\x65\x00", 10));
    f.turn();
    s = f.be.last(op::send, fixture::kClient);
    REQUIRE(s != nullptr);
    const std::string text = "qgate: no backend available for group g";
    CHECK(s->bytes.size() == 8 + 1 + text.size() + 1);  // one error frame: the sync call's
    CHECK(s->bytes.find(text) != std::string::npos);
    CHECK(f.ctr.no_backend_errors.load() == 1);
    CHECK(f.ctr.async_dropped.load() == 1);  // the async one is dropped and counted (README)
}

TEST_CASE("engine: malformed client frame closes client and upstream") {
    fixture f;
    f.establish();
    f.recv(fixture::kClient,
           std::string("\x07\x01\x00\x00\x10\x00\x00\x00", 8));  // bad endian byte
    CHECK(f.ctr.malformed_frames.load() == 1);
    CHECK(f.be.pool().held() == 0);
    const int up_fd = f.be.last(op::recv, fixture::kUp)->fd;
    const int cli_fd = f.be.last(op::recv, fixture::kClient)->fd;
    CHECK(f.be.was_cancelled(up_fd));
    CHECK(f.be.was_cancelled(cli_fd));
    CHECK(f.be.count(op::send, fixture::kUp) == 1);  // the handshake only: nothing forwarded
}

namespace {

const std::vector<user_entry> kOpsUser = {{"ops", user_entry::hash::plain, "pw"}};

// A client handshake: credentials, capability 3, NUL.
std::string client_hs(const std::string& credentials) {
    return credentials + std::string("\x03", 1) + std::string(1, '\0');
}

// Completes the accept and returns the fd the engine got for the new client (fixture::kClient).
int accept_fd(fixture& f) {
    f.accept();
    const rec* r = f.be.last(op::recv, fixture::kClient);
    REQUIRE(r != nullptr);
    return r->fd;
}

// The client was shut down by the engine: its recv is cancelled; once that recv ends (EOF) the
// fd is closed and the session freed.
void check_client_closed(fixture& f, int fd) {
    CHECK(f.be.was_cancelled(fd));
    f.complete(f.be.last(op::recv, fixture::kClient)->ud, 0);
    CHECK(f.be.was_closed(fd));
    CHECK(f.eng->sessions_open() == 0);
}

}  // namespace

TEST_CASE("engine: bad credentials close without a byte") {
    for (const std::string credentials : {"ops:wrong", "nobody:pw", "ops:", "ops"}) {
        CAPTURE(credentials);
        fixture f(1 << 20, 1 << 10, kOpsUser);
        const int fd = accept_fd(f);
        f.recv(fixture::kClient, client_hs(credentials));
        f.turn();
        CHECK(f.ctr.auth_fail.load() == 1);
        CHECK(f.ctr.handshake_fail.load() == 0);  // well-formed: refused for its credentials
        CHECK(f.be.count(op::send, fixture::kClient) == 0);      // not a byte, as q ('access)
        CHECK(f.be.last(op::connect, fixture::kUp) == nullptr);  // no backend was troubled
        CHECK(f.be.pool().held() == 0);
        check_client_closed(f, fd);
        CHECK(f.be.count(op::send, fixture::kClient) == 0);
    }
}

TEST_CASE("engine: the right credentials pass the same users table") {
    fixture f(1 << 20, 1 << 10, kOpsUser);  // the control for the test above
    f.accept();
    f.recv(fixture::kClient, client_hs("ops:pw"));
    CHECK(f.ctr.auth_fail.load() == 0);
    CHECK(f.be.last(op::connect, fixture::kUp) != nullptr);
    CHECK(f.eng->sessions_open() == 1);
}

TEST_CASE("engine: a handshake with no NUL within handshake_bytes_max closes without a byte") {
    fixture f;
    const int fd = accept_fd(f);
    f.recv(fixture::kClient, std::string(2000, 'x'));  // limit 1024
    f.turn();
    CHECK(f.ctr.handshake_fail.load() == 1);
    CHECK(f.ctr.auth_fail.load() == 0);
    CHECK(f.be.count(op::send, fixture::kClient) == 0);
    CHECK(f.be.last(op::connect, fixture::kUp) == nullptr);
    check_client_closed(f, fd);
}

TEST_CASE("engine: a client that never finishes its handshake is closed at the timeout") {
    fixture f;
    const int fd = accept_fd(f);
    f.recv(fixture::kClient, "ops:pw");  // no NUL yet
    f.turn();
    g_now += 4900;  // handshake_timeout_ms is 5000
    f.turn();
    CHECK(f.ctr.handshake_fail.load() == 0);
    CHECK_FALSE(f.be.was_cancelled(fd));  // still waiting for the NUL
    g_now += 200;
    f.turn();
    CHECK(f.ctr.handshake_fail.load() == 1);
    CHECK(f.be.count(op::send, fixture::kClient) == 0);
    check_client_closed(f, fd);
}

namespace {

// Header byte 2 is the compressed flag: 0 plain, 1 compressed (qipc-reference.md §1.2). Any
// other value is malformed (q's 'badmsg): the README promises the connection is closed and
// counted in malformed_frames.
const uint8_t kBadFlags[] = {2, 3, 0x80, 0xff};

std::string flagged_frame(uint8_t flag) {
    std::string fr = sync_frame();
    fr[2] = static_cast<char>(flag);
    return fr;
}

int recv_fd(const fixture& f, uint32_t slot) {
    const rec* r = f.be.last(op::recv, slot);
    REQUIRE(r != nullptr);
    return r->fd;
}

}  // namespace

TEST_CASE("engine: a bad compressed-flag byte closes the session and is counted") {
    for (const uint8_t flag : kBadFlags) {
        CAPTURE(int(flag));
        fixture f;
        f.establish();
        const int cfd = recv_fd(f, fixture::kClient);
        const int ufd = recv_fd(f, fixture::kUp);
        const size_t up_sends = f.be.count(op::send, fixture::kUp);
        const size_t client_sends = f.be.count(op::send, fixture::kClient);
        f.recv(fixture::kClient, flagged_frame(flag));
        f.turn();
        CHECK(f.ctr.malformed_frames.load() == 1);
        CHECK(f.ctr.sync_requests.load() == 0);
        CHECK(f.be.count(op::send, fixture::kUp) == up_sends);  // nothing reached the backend
        CHECK(f.be.count(op::send, fixture::kClient) == client_sends);
        CHECK(f.be.pool().held() == 0);
        CHECK(f.be.was_cancelled(cfd));
        CHECK(f.be.was_cancelled(ufd));
        f.complete(f.be.last(op::recv, fixture::kUp)->ud, 0);
        f.complete(f.be.last(op::recv, fixture::kClient)->ud, 0);
        CHECK(f.be.was_closed(cfd));
        CHECK(f.be.was_closed(ufd));
        CHECK(f.eng->sessions_open() == 0);
    }
}

TEST_CASE("engine: compressed flags 0 and 1 are forwarded as sent") {
    for (const uint8_t flag : {uint8_t{0}, uint8_t{1}}) {  // the control for the test above
        CAPTURE(int(flag));
        fixture f;
        f.establish();
        f.recv(fixture::kClient, flagged_frame(flag));
        f.turn();
        const rec* s = f.be.last(op::send, fixture::kUp);
        REQUIRE(s != nullptr);
        CHECK(s->bytes == flagged_frame(flag));
        CHECK(f.ctr.malformed_frames.load() == 0);
        CHECK(f.ctr.sync_requests.load() == 1);
    }
}

TEST_CASE("engine: no backend: a bad compressed-flag byte closes without an error reply") {
    for (const uint8_t flag : kBadFlags) {
        CAPTURE(int(flag));
        fixture f;
        const int fd = accept_fd(f);
        f.recv(fixture::kClient, client_hs("u:p"));
        for (int i = 0; i < 2; ++i) {  // both backends of the group refuse
            f.complete(f.be.last(op::connect, fixture::kUp)->ud, -ECONNREFUSED);
        }
        REQUIRE(f.ctr.no_backend_sessions.load() == 1);
        CHECK(f.sent(fixture::kClient) == std::string(1, '\x03'));
        const size_t sends = f.be.count(op::send, fixture::kClient);
        f.recv(fixture::kClient, flagged_frame(flag));
        f.turn();
        CHECK(f.ctr.malformed_frames.load() == 1);
        CHECK(f.ctr.no_backend_errors.load() == 0);
        CHECK(f.be.count(op::send, fixture::kClient) == sends);
        check_client_closed(f, fd);
    }
}

TEST_CASE("engine: drain closes idle sessions and finishes") {
    fixture f;
    f.establish();
    CHECK_FALSE(f.eng->finished());
    f.eng->start_drain();
    CHECK(f.ctr.drain_closed.load() == 1);
    f.complete(f.be.last(op::recv, fixture::kClient)->ud, 0);
    f.complete(f.be.last(op::recv, fixture::kUp)->ud, 0);
    f.complete(f.be.last(op::accept, 0)->ud, -ECANCELED);
    CHECK(f.eng->sessions_open() == 0);
    CHECK(f.eng->finished());
}

// ---- request mode: one shard, one backend with one pooled connection -------------------------

namespace {

struct request_fixture : engine_rig {
    // The pool connection is the first session slot, the first client the second.
    static constexpr uint32_t kPool = proxy::sock_id(0, role::upstream);
    static constexpr uint32_t kCli = proxy::sock_id(1, role::client);

    explicit request_fixture(uint32_t health_ms = 0) {
        auto c = request_config();
        c->backends.push_back({"b1", "g", {"127.0.0.1", 1}, "", 1, pipeline_mode::off});
        c->limits.reconnect_min_ms = 100;
        c->limits.eject_after_failures = 2;
        c->limits.health_interval_ms = health_ms;
        c->limits.connect_timeout_ms = 300;
        start(c);
    }
    void pool_up() {
        CHECK(pool_connect(kPool) == std::string("qgate\x03", 7));  // credentials + cap 3 + NUL
        recv(kPool, "\x03");
    }
    void client_up() {
        CHECK(accept_client(kCli, '\x06') == "\x03");  // answered by qgate itself: min(6, 3)
    }
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

}  // namespace

TEST_CASE("request engine: one call per pooled connection, replies in order, disconnect error, "
          "reconnect with backoff") {
    request_fixture f;
    f.pool_up();
    f.client_up();
    // Two pipelined calls: only the first goes out; the second waits for the connection.
    f.recv(request_fixture::kCli, sync_frame() + sync_frame().substr(0, 5));  // split frame
    CHECK(f.sent(request_fixture::kPool) == sync_frame());
    f.recv(request_fixture::kCli, sync_frame().substr(5));
    f.turn();
    CHECK(f.be.count(op::send, request_fixture::kPool) == 2);  // handshake + first call only
    f.recv(request_fixture::kPool, response_frame().substr(0, 3));
    f.recv(request_fixture::kPool, response_frame().substr(3));
    CHECK(f.sent(request_fixture::kCli) == response_frame());
    CHECK(f.sent(request_fixture::kPool) == sync_frame());  // now the second
    // The backend dies with it in flight: the client gets the disconnected error.
    f.end_read(request_fixture::kPool, 0);
    CHECK(f.sent(request_fixture::kCli) == error_frame("qgate: backend b1 disconnected"));
    CHECK(f.ctr.backend_disconnect.load() == 1);
    CHECK(f.ctr.disconnect_errors.load() == 1);
    // Reconnect after the backoff (50..100 ms for the first retry), not before.
    const size_t connects = f.be.count(op::connect, request_fixture::kPool);
    g_now += 40;
    f.turn();
    CHECK(f.be.count(op::connect, request_fixture::kPool) == connects);
    g_now += 100;
    f.turn();
    CHECK(f.be.count(op::connect, request_fixture::kPool) == connects + 1);
    // Refused: the delay doubles (100..200 ms), so nothing before 100 ms.
    f.complete(f.be.last(op::connect, request_fixture::kPool)->ud, -ECONNREFUSED);
    g_now += 99;
    f.turn();
    CHECK(f.be.count(op::connect, request_fixture::kPool) == connects + 1);
    // Refused twice: ejected; a call now gets the no-backend error at once.
    g_now += 1000;
    f.turn();
    f.complete(f.be.last(op::connect, request_fixture::kPool)->ud, -ECONNREFUSED);
    CHECK(f.ctr.backends_ejected.load() == 1);
    f.recv(request_fixture::kCli, sync_frame());
    CHECK(f.sent(request_fixture::kCli) == error_frame("qgate: no backend available for group g"));
    // It comes back: the next handshake makes it live again.
    g_now += 10000;
    f.turn();
    f.pool_up();
    CHECK(f.ctr.backends_recovered.load() == 1);
    f.recv(request_fixture::kCli, sync_frame());
    CHECK(f.sent(request_fixture::kPool) == sync_frame());
}

TEST_CASE("request engine: unsolicited async dropped; a gone client's reply discarded") {
    request_fixture f;
    f.pool_up();
    f.client_up();
    f.recv(request_fixture::kCli, sync_frame());
    CHECK(f.sent(request_fixture::kPool) == sync_frame());
    // An async message from the backend before its response belongs to nobody: dropped.
    f.recv(request_fixture::kPool,
           std::string("\x01\x00\x00\x00\x10\x00\x00\x00\x0a\x00\x02\x00\x00\x00zz", 16));
    CHECK(f.ctr.backend_unsolicited.load() == 1);
    f.recv(request_fixture::kPool, response_frame());
    CHECK(f.sent(request_fixture::kCli) == response_frame());
    // The client sends a call and is reset: the reply is discarded, the connection serves on.
    f.recv(request_fixture::kCli, sync_frame());
    CHECK(f.sent(request_fixture::kPool) == sync_frame());
    f.complete(f.be.last(op::recv, request_fixture::kCli)->ud, -ECONNRESET);  // reset: gone
    f.recv(request_fixture::kPool, response_frame());
    CHECK(f.ctr.requests_abandoned.load() == 1);
    CHECK(f.ctr.request_late_replies.load() == 1);
    CHECK(f.plane.state(0).load_now() == 0);
}

TEST_CASE("request engine: health query on an idle connection; no answer fails it") {
    request_fixture f(500);
    f.pool_up();
    const std::string probe("\x01\x01\x00\x00\x0e\x00\x00\x00\x0a\x00\x00\x00\x00\x00", 14);
    g_now += 501;
    CHECK(f.sent(request_fixture::kPool) == probe);
    CHECK(f.ctr.backend_health_queries.load() == 1);
    f.recv(request_fixture::kPool, std::string("\x01\x02\x00\x00\x0a\x00\x00\x00\x65\x00", 10));
    g_now += 400;  // answered: no failure at the old probe deadline
    f.turn();
    CHECK(f.ctr.backend_health_fail.load() == 0);
    g_now += 101;  // next probe, never answered
    CHECK(f.sent(request_fixture::kPool) == probe);
    CHECK(f.ctr.backend_health_queries.load() == 2);
    g_now += 301;
    f.turn();
    CHECK(f.ctr.backend_health_fail.load() == 1);
    // The connection is shut down; once its recv ends it is closed and, after the backoff,
    // connected again.
    const size_t connects = f.be.count(op::connect, request_fixture::kPool);
    f.end_read(request_fixture::kPool, -ECANCELED);
    CHECK(f.be.closed.size() == 1);
    g_now += 200;
    f.turn();
    CHECK(f.be.count(op::connect, request_fixture::kPool) == connects + 1);
}

TEST_CASE("request engine: a bad compressed-flag byte closes that client, not the pool") {
    for (const uint8_t flag : kBadFlags) {
        CAPTURE(int(flag));
        request_fixture f;
        f.pool_up();
        f.client_up();
        const rec* pr = f.be.last(op::read, request_fixture::kPool);
        REQUIRE(pr != nullptr);
        const int pool_fd = pr->fd;
        const int cli_fd = f.be.last(op::recv, request_fixture::kCli)->fd;
        const size_t pool_sends = f.be.count(op::send, request_fixture::kPool);
        const size_t cli_sends = f.be.count(op::send, request_fixture::kCli);
        f.recv(request_fixture::kCli, flagged_frame(flag));
        f.turn();
        CHECK(f.ctr.malformed_frames.load() == 1);
        CHECK(f.be.count(op::send, request_fixture::kPool) == pool_sends);  // not forwarded
        CHECK(f.be.count(op::send, request_fixture::kCli) == cli_sends);    // no reply either
        CHECK(f.be.pool().held() == 0);
        CHECK(f.be.was_cancelled(cli_fd));
        CHECK_FALSE(f.be.was_cancelled(pool_fd));
        f.complete(f.be.last(op::recv, request_fixture::kCli)->ud, 0);
        CHECK(f.be.was_closed(cli_fd));
        CHECK_FALSE(f.be.was_closed(pool_fd));
        CHECK(f.eng->sessions_open() == 0);
    }
}

TEST_CASE("request_fifo: priority insert keeps FIFO within a priority") {
    proxy::request slots[6];
    const int32_t prio[] = {0, 0, 5, 0, 5, 9};
    proxy::request_fifo q;
    for (int i = 0; i < 6; ++i) {
        slots[i].index = static_cast<uint32_t>(i);
        slots[i].priority = prio[i];
        q.insert(&slots[i]);
    }
    std::vector<uint32_t> order;
    while (proxy::request* r = q.pop()) order.push_back(r->index);
    CHECK(order == std::vector<uint32_t>{5, 2, 4, 0, 1, 3});
    CHECK(q.count == 0);
    CHECK(q.tail == nullptr);
}

TEST_CASE("frame_cut: frames split anywhere; more() stops only between frames") {
    const std::string two = sync_frame() + response_frame();
    for (size_t cut = 0; cut <= two.size(); ++cut) {
        proxy::frame_cut c;
        std::string bodies;
        int headers = 0, ends = 0;
        auto feed = [&](const std::string& part, bool allow) {
            return proxy::cut_frames(
                c, reinterpret_cast<const uint8_t*>(part.data()), part.size(), {},
                [&] { return allow; }, [&](const qipc::frame_header&) { return ++headers, true; },
                [&](const uint8_t* p, size_t n) {
                    bodies.append(reinterpret_cast<const char*>(p), n);
                },
                [&] { ++ends; });
        };
        CHECK(feed(two.substr(0, cut), true) == static_cast<int64_t>(cut));
        CHECK(feed(two.substr(cut), true) == static_cast<int64_t>(two.size() - cut));
        CHECK(headers == 2);
        CHECK(ends == 2);
        CHECK(bodies == two.substr(8, 8) + two.substr(24, 8));
    }
    proxy::frame_cut c;
    auto none = [] { return false; };
    auto h = [](const qipc::frame_header&) { return true; };
    auto b = [](const uint8_t*, size_t) {};
    auto e = [] {};
    const auto* p = reinterpret_cast<const uint8_t*>(two.data());
    CHECK(proxy::cut_frames(c, p, two.size(), {}, none, h, b, e) == 0);  // at a boundary: stop
    CHECK(proxy::cut_frames(c, p, 3, {}, [] { return true; }, h, b, e) == 3);
    CHECK(proxy::cut_frames(c, p + 3, two.size() - 3, {}, none, h, b, e) == 13);  // ends frame 1
    const std::string bad("\x07\x01\x00\x00\x10\x00\x00\x00", 8);  // byte order 7
    proxy::frame_cut d;
    CHECK(proxy::cut_frames(d, reinterpret_cast<const uint8_t*>(bad.data()), bad.size(), {},
                            [] { return true; }, h, b, e) == proxy::kCutFailed);
}

// ---- request mode, fan-out: groups g and h, one pooled connection each ----------------------

namespace {

struct fan_fixture : engine_rig {
    static constexpr uint32_t kPoolG = proxy::sock_id(0, role::upstream);
    static constexpr uint32_t kPoolH = proxy::sock_id(1, role::upstream);
    static constexpr uint32_t kCli = proxy::sock_id(2, role::client);

    fan_fixture() {
        auto c = request_config();
        c->backends.push_back({"b1", "g", {"127.0.0.1", 1}, "", 1, pipeline_mode::off});
        c->backends.push_back({"b2", "h", {"127.0.0.1", 2}, "", 1, pipeline_mode::off});
        c->limits.reconnect_min_ms = 100;
        c->fanout.contexts_max = 2;
        start(c);
    }
    void pool_up(uint32_t slot) {
        pool_connect(slot);
        recv(slot, "\x03");
    }
    void client_up() { CHECK(accept_client(kCli, '\x06') == "\x03"); }
};

std::string frame(uint8_t type, const std::string& body) {
    std::string f{'\x01', static_cast<char>(type), '\0', '\0'};
    const uint32_t n = static_cast<uint32_t>(8 + body.size());
    f.append(reinterpret_cast<const char*>(&n), 4);
    return f + body;
}
std::string longs(std::initializer_list<int64_t> v) {
    std::string b{'\x07', '\0'};
    const uint32_t n = static_cast<uint32_t>(v.size());
    b.append(reinterpret_cast<const char*>(&n), 4);
    for (int64_t x : v) b.append(reinterpret_cast<const char*>(&x), 8);
    return b;
}
// (`f;1j)
const std::string kQuery = std::string("\x00\x00\x02\x00\x00\x00\xf5" "f\x00\xf9", 10) +
                           std::string("\x01\x00\x00\x00\x00\x00\x00\x00", 8);
// (`.gw.syncexec; (`f;1j); types)
std::string gw_call(const std::string& types) {
    return std::string("\x00\x00\x03\x00\x00\x00\xf5.gw.syncexec\x00", 20) + kQuery + types;
}
const std::string kGH = std::string("\x0b\x00\x02\x00\x00\x00g\x00h\x00", 10);
const std::string kG = std::string("\xf5g\x00", 3);

}  // namespace

TEST_CASE("fan-out engine: parts on each group's pool, raze as gathered sends (short send "
          "resumed), a lost part, the context pool") {
    fan_fixture f;
    f.pool_up(fan_fixture::kPoolG);
    f.pool_up(fan_fixture::kPoolH);
    f.client_up();
    f.recv(fan_fixture::kCli, frame(1, gw_call(kGH)));
    // Each group's backend gets the query element re-framed as a sync call, byte for byte.
    CHECK(f.sent(fan_fixture::kPoolG) == frame(1, kQuery));
    CHECK(f.sent(fan_fixture::kPoolH) == frame(1, kQuery));
    f.recv(fan_fixture::kPoolH, frame(2, longs({3})));  // h answers first; order is g, h
    f.recv(fan_fixture::kPoolG, frame(2, longs({1, 2})));
    const std::string want = frame(2, longs({1, 2, 3}));
    const std::string first = f.sent(fan_fixture::kCli, 11);  // a short send
    CHECK(first == want);
    CHECK(f.sent(fan_fixture::kCli) == want.substr(11));       // resumed at byte 11
    CHECK(f.ctr.fanout_joined.load() == 1);
    CHECK(f.ctr.fanout_column_bytes_copied.load() == 0);

    // h's backend dies with its part in flight: TorQ's text at once; g's late reply discarded.
    f.recv(fan_fixture::kCli, frame(1, gw_call(kGH)));
    CHECK(f.sent(fan_fixture::kPoolG) == frame(1, kQuery));
    CHECK(f.sent(fan_fixture::kPoolH) == frame(1, kQuery));
    f.end_read(fan_fixture::kPoolH, 0);
    CHECK(f.sent(fan_fixture::kCli) ==
          error_frame("backend h server handling query closed the connection"));
    f.recv(fan_fixture::kPoolG, frame(2, longs({9})));
    CHECK(f.ctr.fanout_errors.load() == 1);

    // Both contexts came back: two more fan-outs on g alone are served in turn.
    for (int i = 0; i < 3; ++i) {
        f.recv(fan_fixture::kCli, frame(1, gw_call(kG)));
        CHECK(f.sent(fan_fixture::kPoolG) == frame(1, kQuery));
        f.recv(fan_fixture::kPoolG, frame(2, longs({i})));
        CHECK(f.sent(fan_fixture::kCli) == frame(2, longs({i})));
    }
    CHECK(f.ctr.fanout_busy.load() == 0);
    CHECK(f.plane.state(0).load_now() == 0);
}

// Request mode: a call lent to the home shard as a view of its receive buffer (request_lend.cc),
// driven through the fault-injection rig (8 pool buffers of 4 KiB, one backend with one pooled
// connection). What is checked is the receive pool itself: a lent buffer stays out of it until
// the last slot that borrows it is freed, and then goes back.

#include <doctest/doctest.h>

#include <cerrno>
#include <string>

#include "engine_rig.h"

using namespace qgate;
using namespace qgate::io;
using qgate::proxy::role;
using namespace qgate::testing;

namespace {

struct lend_fixture : engine_rig {
    // The pool connection is the first session slot, the first client the second.
    static constexpr uint32_t kPool = proxy::sock_id(0, role::upstream);
    static constexpr uint32_t kCli = proxy::sock_id(1, role::client);

    /// `early`: bytes the client sends in the same segment as its handshake.
    explicit lend_fixture(const std::string& early = "", uint32_t quota = 1024) {
        auto c = request_config();
        c->backends.push_back({"b1", "g", {"127.0.0.1", 1}, "", 1, pipeline_mode::off});
        c->limits.requests_per_client_max = quota;
        start(c);
        pool_connect(kPool);
        recv(kPool, "\x03");  // capability: ready
        REQUIRE(accept_client(kCli, '\x03', early) == "\x03");
    }
    uint32_t held() { return be.pool().held(); }
    /// The backend answers the call in flight; the answer is written to the client in full.
    void answer(const std::string& reply) {
        recv(kPool, reply);
        CHECK(sent(kCli) == reply);
    }
};

// A sync call of `n` bytes (n >= 14): a char vector of n - 14 copies of `c`.
std::string call(uint32_t n, char c) {
    std::string f("\x01\x01\x00\x00", 4);
    f.append(reinterpret_cast<const char*>(&n), 4);
    const uint32_t len = n - 14;
    f += std::string("\x0a\x00", 2);
    f.append(reinterpret_cast<const char*>(&len), 4);
    f += std::string(len, c);
    return f;
}
std::string reply(char c) {
    return std::string("\x01\x02\x00\x00\x10\x00\x00\x00\x0a\x00\x02\x00\x00\x00", 14) +
           std::string(2, c);
}

}  // namespace

TEST_CASE("request lend: a call in one buffer is lent; the buffer is held until its slot is "
          "freed") {
    lend_fixture f;
    REQUIRE(f.held() == 0);
    const std::string c = call(100, 'a');
    f.recv(lend_fixture::kCli, c);
    CHECK(f.ctr.request_bytes_lent.load() == 100);
    CHECK(f.ctr.request_bytes_copied.load() == 0);
    CHECK(f.held() == 1);  // the input is done with it; the slot is not
    CHECK(f.sent(lend_fixture::kPool) == c);  // sent from the view
    CHECK(f.held() == 1);
    f.recv(lend_fixture::kPool, reply('x'));  // the backend's buffer goes back at once
    CHECK(f.held() == 1);
    f.turn();
    const rec* s = f.be.last(op::send, lend_fixture::kCli);
    REQUIRE(s != nullptr);
    CHECK(s->bytes == reply('x'));
    CHECK(f.held() == 1);  // the slot waits for its answer to be written
    f.complete(s->ud, static_cast<int32_t>(s->bytes.size()));
    CHECK(f.held() == 0);
}

TEST_CASE("request lend: pipelined calls in one buffer share it; released after the last") {
    lend_fixture f;
    const std::string a = call(40, 'a'), b = call(50, 'b'), c = call(60, 'c');
    f.recv(lend_fixture::kCli, a + b + c);
    CHECK(f.ctr.request_bytes_lent.load() == 150);
    CHECK(f.ctr.request_bytes_copied.load() == 0);
    CHECK(f.ctr.request_lend_pressure.load() == 0);  // one buffer, however many calls
    CHECK(f.held() == 1);
    CHECK(f.sent(lend_fixture::kPool) == a);
    f.answer(reply('a'));
    CHECK(f.held() == 1);
    CHECK(f.sent(lend_fixture::kPool) == b);
    f.answer(reply('b'));
    CHECK(f.held() == 1);
    CHECK(f.sent(lend_fixture::kPool) == c);
    f.answer(reply('c'));
    CHECK(f.held() == 0);
}

TEST_CASE("request lend: calls held back by the client's quota are lent when framed later") {
    lend_fixture f("", 2);  // at most 2 outstanding: the other calls wait on `held`
    const std::string a = call(40, 'a'), b = call(50, 'b'), c = call(60, 'c'), d = call(70, 'd');
    f.recv(lend_fixture::kCli, a + b + c + d);
    CHECK(f.ctr.request_bytes_lent.load() == 90);  // a and b framed, c and d held
    CHECK(f.ctr.client_quota_pauses.load() == 1);
    CHECK(f.held() == 1);
    for (const std::string* x : {&a, &b, &c, &d}) {
        CHECK(f.sent(lend_fixture::kPool) == *x);
        f.answer(reply((*x)[14]));
        CHECK(f.held() == (x == &d ? 0u : 1u));
    }
    CHECK(f.ctr.request_bytes_lent.load() == 220);  // c and d too, from the held buffer
    CHECK(f.ctr.request_bytes_copied.load() == 0);
}

TEST_CASE("request lend: a call straddling two buffers is copied, header or body split") {
    lend_fixture f;
    const std::string a = call(30, 'a'), b = call(40, 'b'), c = call(50, 'c');
    f.recv(lend_fixture::kCli, a + b.substr(0, 5));  // b's header split
    f.recv(lend_fixture::kCli, b.substr(5) + c.substr(0, 20));  // c's body split
    f.recv(lend_fixture::kCli, c.substr(20));
    CHECK(f.ctr.request_bytes_lent.load() == 30);
    CHECK(f.ctr.request_bytes_copied.load() == 90);
    CHECK(f.held() == 1);  // only a's buffer: the copies let theirs go
    CHECK(f.sent(lend_fixture::kPool) == a);
    f.answer(reply('a'));
    CHECK(f.held() == 0);
    CHECK(f.sent(lend_fixture::kPool) == b);  // the copies reach the backend intact
    f.answer(reply('b'));
    CHECK(f.sent(lend_fixture::kPool) == c);
    f.answer(reply('c'));
    CHECK(f.held() == 0);
}

TEST_CASE("request lend: a call sent with the handshake (bytes the session owns) is copied") {
    const std::string a = call(30, 'a');
    lend_fixture f(a);
    CHECK(f.ctr.request_bytes_copied.load() == 30);
    CHECK(f.ctr.request_bytes_lent.load() == 0);
    CHECK(f.held() == 0);
    CHECK(f.sent(lend_fixture::kPool) == a);
    f.answer(reply('a'));
    CHECK(f.held() == 0);
}

TEST_CASE("request lend: past a quarter of the pool lent, calls are copied") {
    lend_fixture f;  // 8 buffers: at most 2 lent
    const std::string a = call(20, 'a'), b = call(20, 'b'), c = call(20, 'c');
    const std::string d = call(20, 'd');
    f.recv(lend_fixture::kCli, a);
    f.recv(lend_fixture::kCli, b);
    CHECK(f.ctr.request_lend_pressure.load() == 0);
    f.recv(lend_fixture::kCli, c);
    CHECK(f.ctr.request_lend_pressure.load() == 1);
    f.recv(lend_fixture::kCli, d);
    CHECK(f.ctr.request_lend_pressure.load() == 2);
    CHECK(f.ctr.request_bytes_lent.load() == 40);
    CHECK(f.ctr.request_bytes_copied.load() == 40);
    CHECK(f.held() == 2);  // pinned by the sleeping backend: no more than the bound
    CHECK(f.sent(lend_fixture::kPool) == a);
    f.answer(reply('a'));
    CHECK(f.held() == 1);
    const std::string e = call(20, 'e');
    f.recv(lend_fixture::kCli, e);  // below the bound again: lent
    CHECK(f.ctr.request_bytes_lent.load() == 60);
    CHECK(f.held() == 2);
    for (const std::string* x : {&b, &c, &d, &e}) {
        CHECK(f.sent(lend_fixture::kPool) == *x);
        f.answer(reply((*x)[14]));
    }
    CHECK(f.held() == 0);
}

TEST_CASE("request lend: a client gone with calls in flight releases the buffer once they "
          "return") {
    lend_fixture f;
    const std::string a = call(40, 'a'), b = call(50, 'b'), c = call(60, 'c');
    f.recv(lend_fixture::kCli, a + b + c);
    CHECK(f.sent(lend_fixture::kPool) == a);
    f.complete(f.be.last(op::recv, lend_fixture::kCli)->ud, -ECONNRESET);  // reset: gone
    CHECK(f.ctr.requests_abandoned.load() == 3);
    CHECK(f.held() == 1);  // a is in flight, b and c queued: the home shard still has them
    f.recv(lend_fixture::kPool, reply('a'));  // discarded; b and c are skipped
    f.turn();                                 // (the queue is pumped at the end of the turn)
    CHECK(f.ctr.request_late_replies.load() == 1);
    CHECK(f.ctr.requests_skipped.load() == 2);
    CHECK(f.held() == 0);
}

TEST_CASE("request lend: a backend lost while sending keeps the call until the send is done") {
    lend_fixture f;
    const std::string a = call(40, 'a');
    f.recv(lend_fixture::kCli, a);
    f.turn();
    const rec* s = f.be.last(op::send, lend_fixture::kPool);
    REQUIRE(s != nullptr);
    CHECK(s->bytes == a);
    const uint64_t send_ud = s->ud;
    f.complete(f.armed_read(lend_fixture::kPool).ud, 0);  // EOF with the send in flight
    CHECK(f.ctr.backend_disconnect.load() == 1);
    f.turn();
    CHECK(f.be.count(op::send, lend_fixture::kCli) == 1);  // only the handshake reply: no error
    CHECK(f.held() == 1);  // the kernel may still be reading the lent bytes
    f.complete(send_ud, -EPIPE);
    CHECK(f.sent(lend_fixture::kCli).find("qgate: backend b1 disconnected") != std::string::npos);
    CHECK(f.held() == 0);
    CHECK(f.plane.state(0).load_now() == 0);
}

TEST_CASE("request lend: lent buffers count as pinned for the ENOBUFS re-arm rule") {
    lend_fixture f;  // 8 buffers: re-arm at 4 free, or at half of what is not pinned
    f.recv(lend_fixture::kCli, call(20, 'a'));  // in flight at a backend that sleeps
    f.recv(lend_fixture::kCli, call(20, 'b'));  // queued behind it
    CHECK(f.held() == 2);
    for (int i = 0; i < 3; ++i) CHECK(f.be.pool().acquire() >= 0);  // held elsewhere, for now
    const size_t arms = f.be.count(op::recv, lend_fixture::kCli);
    f.complete(f.be.last(op::recv, lend_fixture::kCli)->ud, -ENOBUFS);
    CHECK(f.ctr.rcv_enobufs.load() == 1);
    // 3 free: under half the pool, but half of the 6 buffers that can come back soon.
    f.turn();
    CHECK(f.be.count(op::recv, lend_fixture::kCli) == arms + 1);
}

namespace {

// A route fanning every call out to groups g and h (one pooled connection each).
struct lend_fan_fixture : engine_rig {
    static constexpr uint32_t kPoolG = proxy::sock_id(0, role::upstream);
    static constexpr uint32_t kPoolH = proxy::sock_id(1, role::upstream);
    static constexpr uint32_t kCli = proxy::sock_id(2, role::client);

    lend_fan_fixture() {
        auto c = request_config();
        c->backends.push_back({"b1", "g", {"127.0.0.1", 1}, "", 1, pipeline_mode::off});
        c->backends.push_back({"b2", "h", {"127.0.0.1", 2}, "", 1, pipeline_mode::off});
        route_conf r;
        r.groups = {"g", "h"};
        c->routes.push_back(r);
        c->fanout.contexts_max = 2;
        start(c);
        for (uint32_t slot : {kPoolG, kPoolH}) {
            pool_connect(slot);
            recv(slot, "\x03");
        }
        REQUIRE(accept_client(kCli, '\x03') == "\x03");
    }
    uint32_t held() { return be.pool().held(); }
};

}  // namespace

TEST_CASE("request lend: fan-out parts share the parent's buffer, each with a reference") {
    lend_fan_fixture f;
    // (`f;1j) as a sync call
    const std::string body = std::string("\x00\x00\x02\x00\x00\x00\xf5" "f\x00\xf9", 10) +
                             std::string("\x01\x00\x00\x00\x00\x00\x00\x00", 8);
    std::string c("\x01\x01\x00\x00", 4);
    const uint32_t n = static_cast<uint32_t>(8 + body.size());
    c.append(reinterpret_cast<const char*>(&n), 4);
    c += body;
    f.recv(lend_fan_fixture::kCli, c);
    CHECK(f.ctr.fanout_calls.load() == 1);
    CHECK(f.ctr.request_bytes_lent.load() == c.size());  // once, for the call as received
    CHECK(f.ctr.request_bytes_copied.load() == 0);
    CHECK(f.sent(lend_fan_fixture::kPoolG) == c);
    CHECK(f.sent(lend_fan_fixture::kPoolH) == c);
    CHECK(f.held() == 1);
    // h's backend is lost: the first error answers the parent, which is freed once written,
    // while g's part is still at its backend: the buffer stays until that part comes back.
    f.complete(f.armed_read(lend_fan_fixture::kPoolH).ud, 0);
    const std::string err = f.sent(lend_fan_fixture::kCli);
    REQUIRE(err.size() > 9);
    CHECK(static_cast<uint8_t>(err[8]) == 0x80);
    CHECK(f.held() == 1);
    const std::string late("\x01\x02\x00\x00\x0a\x00\x00\x00\x65\x00", 10);  // ::
    f.recv(lend_fan_fixture::kPoolG, late);
    CHECK(f.held() == 0);
}

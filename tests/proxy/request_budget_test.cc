// Request mode's memory bounds, driven through the fake io backend (engine_rig.h): a declared
// length reserves nothing it has not received (pool_rx.cc step 5, request_budget.cc), and
// the budgets of bytes held, for the process (request_bytes_held_max: a call or a reply it
// cannot cover is answered 'qgate: busy) and per client (client_bytes_max: the client is not
// read; a reply past it is refused) (held_budget.h, request_budget.cc).

#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "engine_rig.h"

using namespace qgate;
using namespace qgate::io;
using namespace qgate::testing;

namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

struct budget_fixture : engine_rig {
    static constexpr uint32_t kPool = proxy::sock_id(0, role::upstream);
    static constexpr uint32_t kCli = proxy::sock_id(1, role::client);

    explicit budget_fixture(uint64_t held_max = uint64_t{4} << 30,
                            uint64_t client_max = uint64_t{1} << 30) {
        auto c = request_config();
        c->backends.push_back({"b1", "g", {"127.0.0.1", 1}, "", 1, pipeline_mode::off});
        c->limits.request_bytes_held_max = held_max;
        c->limits.client_bytes_max = client_max;
        c->limits.reconnect_min_ms = 100;
        start(c);
        pool_connect(kPool);
        read(kPool, "\x03");
        REQUIRE(accept_client(kCli, '\x06') == "\x03");
    }
    uint64_t held() const { return ctr.request_bytes_held.load(); }
    /// The client sends `frame` in receive buffers of at most 4 KiB (so it is copied).
    void send_call(const std::string& frame) {
        for (size_t off = 0; off < frame.size(); off += 4096) recv(kCli, frame.substr(off, 4096));
    }
};

// A frame of type `type` and `n` bytes in all: a byte vector with a recognisable pattern.
std::string frame_of(char type, size_t n) {
    std::string f("\x01", 1);
    f.push_back(type);
    f.append("\x00\x00", 2);
    const uint32_t len = static_cast<uint32_t>(n);
    f.append(reinterpret_cast<const char*>(&len), 4);
    f.append("\x04\x00", 2);
    const uint32_t count = static_cast<uint32_t>(n - 14);
    f.append(reinterpret_cast<const char*>(&count), 4);
    for (size_t i = 0; i < count; ++i) f.push_back(static_cast<char>(i * 7 + i / 251));
    return f;
}
std::string reply_of(size_t n) { return frame_of('\x02', n); }
std::string call_of(size_t n) { return frame_of('\x01', n); }

bool is_busy(const std::string& frame) {
    return frame.find("qgate: busy") != std::string::npos && frame[1] == '\x02';
}

}  // namespace

TEST_CASE("pool rx: a reply header announcing 4 GiB - 1 grows the buffer with the bytes that "
          "arrive, never to the length announced") {
    budget_fixture f;
    f.recv(budget_fixture::kCli, sync_frame());
    CHECK(f.sent(budget_fixture::kPool) == sync_frame());
    std::string head("\x01\x02\x00\x00\xff\xff\xff\xff\x04\x00\xf1\xff\xff\xff", 14);
    f.read(budget_fixture::kPool, head + std::string(100, 'x'));
    // The announced length is taken from the budget (accounting only), not allocated.
    CHECK(f.held() == 0xffffffffu);
    uint64_t got = head.size() + 100;
    CHECK(f.armed_read(budget_fixture::kPool).len <= 2 * kMiB);
    // 6 MiB more: each read asks for no more room than about what has arrived so far.
    const std::string chunk(256 << 10, 'y');
    for (int i = 0; i < 24; ++i) {
        f.read(budget_fixture::kPool, chunk);
        got += chunk.size();
        const rec& next = f.armed_read(budget_fixture::kPool);
        CHECK(next.all);
        CHECK(next.len <= (got > 2 * kMiB ? got : 2 * kMiB));
    }
    // The backend goes away: the call is answered, the reply's budget given back once the
    // connection is made again.
    f.end_read(budget_fixture::kPool, 0);
    CHECK(f.sent(budget_fixture::kCli).find("qgate: backend b1 disconnected") != std::string::npos);
    g_now += 1000;
    f.turn();
    f.pool_connect(budget_fixture::kPool);
    f.read(budget_fixture::kPool, "\x03");
    CHECK(f.held() == 0);
}

TEST_CASE("pool rx: a 5 MiB reply grown in steps reaches the client whole") {
    budget_fixture f;
    f.recv(budget_fixture::kCli, sync_frame());
    CHECK(f.sent(budget_fixture::kPool) == sync_frame());
    const std::string rep = reply_of(5 * kMiB + 3);
    f.read(budget_fixture::kPool, rep);
    CHECK(f.sent(budget_fixture::kCli) == rep);
    CHECK(f.held() == 0);  // sent: its slot is freed, its bytes leave the budget
}

TEST_CASE("budget: a reply the process budget cannot hold is read past; its call gets "
          "'qgate: busy, later calls are served") {
    budget_fixture f(kMiB);
    f.recv(budget_fixture::kCli, sync_frame());
    CHECK(f.sent(budget_fixture::kPool) == sync_frame());
    const std::string rep = reply_of(2 * kMiB);
    // Read past in chunks of the small receive buffer: it never grows for it.
    CHECK(f.read(budget_fixture::kPool, rep) > 100);
    CHECK(f.armed_read(budget_fixture::kPool).len <= 64 * 1024);
    CHECK(is_busy(f.sent(budget_fixture::kCli)));
    CHECK(f.ctr.request_held_refused.load() == 1);
    CHECK(f.held() == 0);
    f.recv(budget_fixture::kCli, sync_frame());
    CHECK(f.sent(budget_fixture::kPool) == sync_frame());
    f.read(budget_fixture::kPool, response_frame());
    CHECK(f.sent(budget_fixture::kCli) == response_frame());
}

TEST_CASE("budget: a copied call the process budget cannot hold is read past and answered "
          "'qgate: busy; it never reaches the backend") {
    budget_fixture f(3 * kMiB / 2);
    const size_t sends = f.be.count(op::send, budget_fixture::kPool);
    f.send_call(call_of(2 * kMiB));  // 1 MiB + 64 KiB at first, then 2 MiB: over 1.5 MiB
    CHECK(is_busy(f.sent(budget_fixture::kCli)));
    CHECK(f.ctr.request_held_refused.load() == 1);
    CHECK(f.held() == 0);
    CHECK(f.be.count(op::send, budget_fixture::kPool) == sends);
    // A call that fits goes out whole.
    const std::string small = call_of(100 * 1024);
    f.send_call(small);
    CHECK(f.sent(budget_fixture::kPool) == small);
    f.read(budget_fixture::kPool, response_frame());
    CHECK(f.sent(budget_fixture::kCli) == response_frame());
    CHECK(f.held() == 0);
}

TEST_CASE("budget: a client holding client_bytes_max is not read; a reply that would take it "
          "past is refused, one it can hold is sent") {
    budget_fixture f(uint64_t{4} << 30, 64 * 1024);
    const std::string c1 = call_of(40 * 1024);
    const std::string c2 = call_of(40 * 1024);
    f.send_call(c1);
    CHECK(f.sent(budget_fixture::kPool) == c1);
    CHECK(f.ctr.client_bytes_pauses.load() == 0);
    f.send_call(c2);  // queued behind c1: the client holds 80 KiB of calls
    CHECK(f.ctr.client_bytes_pauses.load() == 1);
    // c1's reply: its call's bytes go, c2's 40 KiB stay; 30 KiB more would pass 64 KiB.
    f.read(budget_fixture::kPool, reply_of(30 * 1024));
    CHECK(is_busy(f.sent(budget_fixture::kCli)));
    CHECK(f.ctr.client_bytes_refused.load() == 1);
    CHECK(f.sent(budget_fixture::kPool) == c2);
    // c2's reply: the client holds nothing else, so it gets it.
    const std::string r2 = reply_of(30 * 1024);
    f.read(budget_fixture::kPool, r2);
    CHECK(f.sent(budget_fixture::kCli) == r2);
    CHECK(f.ctr.client_bytes_refused.load() == 1);
    CHECK(f.held() == 0);
    // Read again: a new call is served.
    f.recv(budget_fixture::kCli, sync_frame());
    CHECK(f.sent(budget_fixture::kPool) == sync_frame());
}

// The admin endpoint over a real loopback socket (port 0): handshake and authentication,
// .qgate.stats[] in both call forms, unknown and malformed queries.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

#include "ctl/admin_query.h"
#include "qgate/admin.h"
#include "qgate/ctl.h"
#include "qgate/qipc/frame.h"
#include "qgate/qipc/value.h"
#include "qgate/qipc/writer.h"

using namespace qgate;
using namespace qgate::ctl;
using qipc::value;

namespace {

std::atomic<int> g_stats_calls{0};

constexpr stat_desc kAccepted{"conns_accepted", stat_kind::counter, "connections", "x", {}};
constexpr stat_desc kForwarded{"msgs_forwarded", stat_kind::counter, "messages", "y", {}};

stat_list fake_stats() {
    ++g_stats_calls;
    return {{kAccepted, {}, 3}, {kForwarded, {}, 42}};
}

// A blocking q-IPC client with a receive timeout, so a broken server fails the test, not hangs.
class client {
  public:
    explicit client(uint16_t port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const timeval tv{5, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    }
    ~client() { ::close(fd_); }
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    bool connected() const { return connected_; }

    bool send_bytes(const std::vector<uint8_t>& b) {
        return ::send(fd_, b.data(), b.size(), MSG_NOSIGNAL) == ssize_t(b.size());
    }

    /// Sends "credentials" + cap + NUL; returns the reply byte, or -1 when the server closed.
    int handshake(const std::string& credentials, uint8_t cap) {
        std::vector<uint8_t> b(credentials.begin(), credentials.end());
        b.push_back(cap);
        b.push_back(0);
        if (!send_bytes(b)) return -1;
        uint8_t reply = 0;
        return ::recv(fd_, &reply, 1, 0) == 1 ? reply : -1;
    }

    bool recv_exact(uint8_t* p, std::size_t n) {
        while (n > 0) {
            const ssize_t r = ::recv(fd_, p, n, 0);
            if (r <= 0) return false;
            p += r;
            n -= std::size_t(r);
        }
        return true;
    }

    /// Sends `query` as a sync message and decodes the response.
    value call(const value& query, qipc::frame_header* header = nullptr) {
        REQUIRE(send_bytes(qipc::encode_message(query, qipc::msg_type::sync)));
        return read_response(header);
    }

    value read_response(qipc::frame_header* header = nullptr) {
        std::vector<uint8_t> msg(qipc::kHeaderSize);
        REQUIRE(recv_exact(msg.data(), msg.size()));
        qipc::frame_header h;
        REQUIRE(qipc::parse_header(msg, h));
        msg.resize(h.length);
        REQUIRE(recv_exact(msg.data() + qipc::kHeaderSize, h.body_length()));
        value v;
        REQUIRE(qipc::decode(std::span(msg).subspan(qipc::kHeaderSize), h.little_endian, v));
        if (header != nullptr) *header = h;
        return v;
    }

    /// True when the server has closed the connection (EOF, no byte).
    bool closed() {
        uint8_t b = 0;
        return ::recv(fd_, &b, 1, 0) == 0;
    }

  private:
    int fd_ = -1;
    bool connected_ = false;
};

config admin_config(bool with_users) {
    config cfg;
    cfg.admin = {"127.0.0.1", 0};
    cfg.admin_enabled = true;
    if (with_users) cfg.users.push_back({"ops", user_entry::hash::plain, "pw", true});
    return cfg;
}

// The stats table: columns name, kind, value, help.
void check_stats(const value& v) {
    REQUIRE(v.type == qipc::qtype::kTable);
    const value& d = v.items.at(0);
    CHECK(d.items.at(0).syms == std::vector<std::string>{"name", "kind", "value", "help"});
    const value& cols = d.items.at(1);
    CHECK(cols.items.at(0).syms == std::vector<std::string>{"conns_accepted", "msgs_forwarded"});
    const int64_t counts[] = {3, 42};
    CHECK(cols.items.at(2) == value::longs(counts));
}

using ms = std::chrono::milliseconds;

ms since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration_cast<ms>(std::chrono::steady_clock::now() - t0);
}

std::string error_text(const value& v) {
    REQUIRE(v.type == qipc::qtype::kError);
    REQUIRE(v.syms.size() == 1);
    return v.syms[0];
}

}  // namespace

TEST_CASE("admin: .qgate.stats[] as a string and as a general list") {
    admin_server server;
    std::string error;
    REQUIRE_MESSAGE(server.start(admin_config(false), fake_stats, error), error);
    REQUIRE(server.port() != 0);
    client c(server.port());
    REQUIRE(c.connected());
    CHECK(c.handshake("anyone:x", 3) == 3);
    qipc::frame_header h;
    check_stats(c.call(value::string(".qgate.stats[]"), &h));
    CHECK(h.type == qipc::msg_type::response);
    check_stats(c.call(value::list({value::symbol(".qgate.stats"), value::generic_null()})));
    check_stats(c.call(value::list({value::string(".qgate.stats"), value::generic_null()})));
    check_stats(c.call(value::string("  .qgate.stats[::] ")));
    CHECK(g_stats_calls.load() >= 4);
    server.stop();
}

TEST_CASE("admin: unknown and malformed queries get q errors; async is ignored") {
    admin_server server;
    std::string error;
    REQUIRE(server.start(admin_config(false), fake_stats, error));
    client c(server.port());
    REQUIRE(c.handshake("", 3) == 3);
    // An async message gets no reply: the next response answers the sync call after it.
    REQUIRE(c.send_bytes(qipc::encode_message(value::string("1+1"), qipc::msg_type::async)));
    qipc::frame_header h;
    CHECK(error_text(c.call(value::string("1+1"), &h)) == "qgate: unknown admin query 1+1");
    CHECK(h.type == qipc::msg_type::response);
    CHECK(error_text(c.call(value::string(".qgate.statsx[]"))) ==
          "qgate: unknown admin query .qgate.statsx[]");
    const std::string shown =
        error_text(c.call(value::list({value::symbol(".qgate.nope"), value::long_(1)})));
    CHECK(shown.rfind("qgate: unknown admin query ", 0) == 0);
    CHECK(shown.find(".qgate.nope") != std::string::npos);
    // The connection is still usable after errors.
    check_stats(c.call(value::string(".qgate.stats[]")));
}

TEST_CASE("admin: authentication and capability") {
    admin_server server;
    std::string error;
    REQUIRE(server.start(admin_config(true), fake_stats, error));
    {
        client c(server.port());
        CHECK(c.handshake("ops:wrong", 3) == -1);  // closed, no byte
    }
    {
        client c(server.port());
        CHECK(c.handshake("nobody:pw", 3) == -1);
    }
    {
        client c(server.port());
        CHECK(c.handshake("ops:pw", 6) == 3);  // min(client, 3)
        check_stats(c.call(value::string(".qgate.stats[]")));
    }
    {
        client c(server.port());
        CHECK(c.handshake("ops:pw", 1) == 1);
    }
}

TEST_CASE("admin: a user without the admin role is closed in the handshake, counted") {
    config cfg = admin_config(true);
    cfg.users.push_back({"alice", user_entry::hash::plain, "pw", false});
    admin_server server;
    std::string error;
    REQUIRE(server.start(cfg, fake_stats, error));
    {
        client c(server.port());
        CHECK(c.handshake("alice:pw", 3) == -1);  // right password, no role: no byte
    }
    CHECK(server.counters().auth_fail.load() == 1);
    client c(server.port());
    CHECK(c.handshake("ops:pw", 3) == 3);
    check_stats(c.call(value::string(".qgate.stats[]")));
}

TEST_CASE("admin: a hostile frame closes that client only") {
    admin_server server;
    std::string error;
    REQUIRE(server.start(admin_config(false), fake_stats, error));
    client bad(server.port());
    client good(server.port());
    REQUIRE(bad.handshake("", 3) == 3);
    REQUIRE(good.handshake("", 3) == 3);
    REQUIRE(bad.send_bytes({7, 1, 0, 0, 10, 0, 0, 0, 0, 0}));  // byte order 7
    CHECK(bad.closed());
    check_stats(good.call(value::string(".qgate.stats[]")));
}

TEST_CASE("admin: at clients_max idle connections, an admin still gets in; the oldest goes") {
    config cfg = admin_config(true);
    cfg.admin_limits.clients_max = 4;
    cfg.admin_limits.handshake_timeout_ms = 60000;  // far beyond the test: eviction, not timeout
    admin_server server;
    std::string error;
    REQUIRE(server.start(cfg, fake_stats, error));
    std::vector<std::unique_ptr<client>> idle;
    for (int i = 0; i < 4; ++i) {
        idle.push_back(std::make_unique<client>(server.port()));
        REQUIRE(idle.back()->connected());  // accepted in connect order (the listen queue)
    }
    {
        client admin(server.port());
        REQUIRE(admin.handshake("ops:pw", 3) == 3);
        check_stats(admin.call(value::string(".qgate.stats[]")));
    }
    CHECK(idle[0]->closed());  // the oldest in its handshake made room
    CHECK(server.counters().evicted.load() == 1);
    CHECK(server.counters().handshake_timeouts.load() == 0);
}

TEST_CASE("admin: a handshake not done within handshake_timeout_ms is closed and counted") {
    config cfg = admin_config(true);
    cfg.admin_limits.handshake_timeout_ms = 300;
    admin_server server;
    std::string error;
    REQUIRE(server.start(cfg, fake_stats, error));
    const auto t0 = std::chrono::steady_clock::now();
    client slow(server.port());
    REQUIRE(slow.send_bytes({'o', 'p', 's'}));  // no NUL: never finishes
    CHECK(slow.closed());  // EOF, within the client's 5 s receive timeout
    // The server keeps time in whole milliseconds (accepted at 10.9 ms reads 10 ms), so its
    // 300 ms can be 299.x ms of ours.
    CHECK(since(t0) >= ms(299));
    CHECK(server.counters().handshake_timeouts.load() == 1);
    CHECK(server.counters().clients.load() == 0);
}

TEST_CASE("admin: an authenticated client silent for idle_timeout_ms is closed and counted") {
    config cfg = admin_config(true);
    cfg.admin_limits.idle_timeout_ms = 300;
    admin_server server;
    std::string error;
    REQUIRE(server.start(cfg, fake_stats, error));
    client c(server.port());
    REQUIRE(c.handshake("ops:pw", 3) == 3);
    const auto t0 = std::chrono::steady_clock::now();
    check_stats(c.call(value::string(".qgate.stats[]")));  // activity restarts the idle clock
    CHECK(c.closed());
    CHECK(since(t0) >= ms(299));  // whole milliseconds on the server's side, as above
    CHECK(server.counters().idle_closed.load() == 1);
    CHECK(server.counters().handshake_timeouts.load() == 0);
}

TEST_CASE("admin: start fails with a reason") {
    admin_server first;
    std::string error;
    REQUIRE(first.start(admin_config(false), fake_stats, error));
    config taken = admin_config(false);
    taken.admin.port = first.port();
    admin_server second;
    CHECK_FALSE(second.start(taken, fake_stats, error));
    CHECK(error.find("admin: cannot listen on 127.0.0.1:") == 0);
    CHECK_FALSE(first.start(admin_config(false), fake_stats, error));
    CHECK(error == "admin: already started");
}

TEST_CASE("admin: stop closes the port and every client; a second stop closes nothing") {
    admin_server server;
    std::string error;
    REQUIRE(server.start(admin_config(false), fake_stats, error));
    const uint16_t port = server.port();
    client c(port);
    REQUIRE(c.handshake("", 3) == 3);
    server.stop();  // returns only once the thread has closed its sockets and been joined
    CHECK(c.closed());
    client late(port);
    CHECK_FALSE(late.connected());  // the listener is gone: refused
    // The fds the first stop freed are handed out again at once (lowest free number first).
    // Pipes take all of them; a second stop that closed its old fds again would close these.
    int pipes[8][2];
    for (auto& p : pipes) REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    server.stop();  // the thread is not joined twice either: that would throw
    int still_open = 0;
    for (auto& p : pipes) {
        still_open += ::fcntl(p[0], F_GETFD) != -1;
        still_open += ::fcntl(p[1], F_GETFD) != -1;
        ::close(p[0]);
        ::close(p[1]);
    }
    CHECK(still_open == 16);
}

TEST_CASE("admin_reply: malformed body") {
    const uint8_t body[] = {0x63, 0x00};  // type 99 (dict) with nothing after it
    const std::vector<uint8_t> reply = admin_reply(body, true, fake_stats);
    qipc::frame_header h;
    REQUIRE(qipc::parse_header(reply, h));
    CHECK(h.type == qipc::msg_type::response);
    value v;
    REQUIRE(qipc::decode(std::span(reply).subspan(qipc::kHeaderSize), true, v));
    CHECK(error_text(v).rfind("qgate: malformed admin query: ", 0) == 0);
}

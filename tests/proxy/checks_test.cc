// Checked invariants (include/qgate/check.h): QGATE_CHECK counts `bugs`, logs once per call
// site and lets the caller close only the connection concerned; QGATE_ASSERT stops a debug
// build. The engine's checks are driven through real paths of the fault-injection rig (the
// fake io backend, fabricated completions): a completion for a freed socket, duplicate and
// oversized completions, a slot handed back twice, a torn reply, a broken order list. Each
// test asserts that `bugs` went up by exactly one per occurrence, that only the connection
// concerned was closed, that the others go on, and that a site logs its first failure only.

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include "../pubsub/pubsub_test_util.h"
#include "engine_rig.h"
#include "io/buf_pool.h"
#include "qgate/check.h"

using namespace qgate;
using namespace qgate::io;
using namespace qgate::testing;

namespace {

/// Everything written to stderr (the log) while it lives.
class stderr_capture {
  public:
    stderr_capture() : tmp_(std::tmpfile()), saved_(::dup(2)) {
        REQUIRE(tmp_ != nullptr);
        std::fflush(stderr);
        ::dup2(::fileno(tmp_), 2);
    }
    ~stderr_capture() {
        std::fflush(stderr);
        ::dup2(saved_, 2);
        ::close(saved_);
        std::fclose(tmp_);
    }
    std::string text() {
        std::fflush(stderr);
        std::string s;
        std::rewind(tmp_);
        char buf[512];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, tmp_)) > 0) s.append(buf, n);
        return s;
    }
    /// Lines that report a failed check at a site of `file`.
    int check_lines(const std::string& file) {
        const std::string s = text();
        int n = 0;
        for (size_t from = 0; from < s.size();) {
            size_t end = s.find('\n', from);
            if (end == std::string::npos) end = s.size();
            const std::string line = s.substr(from, end - from);
            n += line.find("check failed") != std::string::npos &&
                 line.find(file + ":") != std::string::npos;
            from = end + 1;
        }
        return n;
    }

  private:
    FILE* tmp_;
    int saved_;
};

struct bug_block {
    std::atomic<uint64_t> bugs{0};
};

bool site_a(bug_block& b, bool ok) { return QGATE_CHECK(b, ok); }
bool site_b(bug_block& b, int& evaluated) { return QGATE_CHECK(b, ++evaluated < 0); }

}  // namespace

TEST_CASE("QGATE_CHECK: true while it holds; broken: false, bugs + 1, logged once per site") {
    bug_block b;
    stderr_capture log;
    CHECK(site_a(b, true));
    CHECK(b.bugs.load() == 0);
    CHECK(log.text().empty());
    CHECK_FALSE(site_a(b, false));
    CHECK(b.bugs.load() == 1);
    const std::string first = log.text();
    CHECK(first.find("checks_test.cc:") != std::string::npos);
    CHECK(first.find("check failed: ok") != std::string::npos);
    CHECK_FALSE(site_a(b, false));  // the same site again: counted, not logged
    CHECK(b.bugs.load() == 2);
    CHECK(log.text() == first);
    int evaluated = 0;
    CHECK_FALSE(site_b(b, evaluated));  // another site logs its own first failure
    CHECK(evaluated == 1);              // the condition is evaluated once
    CHECK(b.bugs.load() == 3);
    CHECK(log.text().size() > first.size());
    CHECK(log.text().find("++evaluated < 0") != std::string::npos);
    CHECK(log.check_lines("checks_test.cc") == 2);
}

TEST_CASE("QGATE_ASSERT: a debug build aborts with the condition; a release build skips it") {
#ifdef NDEBUG
    int evaluated = 0;
    QGATE_ASSERT(++evaluated < 0);
    CHECK(evaluated == 0);  // compiled out: not even evaluated
#else
    QGATE_ASSERT(1 + 1 == 2);  // holds: nothing happens
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        std::signal(SIGABRT, SIG_DFL);  // the child dies of it, without doctest's report
        ::dup2(fds[1], 2);
        QGATE_ASSERT(1 + 1 == 3);
        ::_exit(0);  // not reached
    }
    ::close(fds[1]);
    std::string out;
    char buf[256];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, n);
    ::close(fds[0]);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGABRT);
    CHECK(out.find("assertion failed: 1 + 1 == 3") != std::string::npos);
#endif
}

TEST_CASE("buf_pool: a buffer released twice is refused, never handed out twice") {
    buf_pool p;
    REQUIRE(p.init(4, 64));
    const int a = p.acquire();
    const int b = p.acquire();
    REQUIRE(a >= 0);
    REQUIRE(b >= 0);
    CHECK(p.release(static_cast<uint16_t>(a)));
    CHECK(p.held() == 1);
    CHECK_FALSE(p.release(static_cast<uint16_t>(a)));  // again: refused, nothing changes
    CHECK_FALSE(p.release(3));                        // never taken
    CHECK(p.held() == 1);
    CHECK(p.available() == 3);
    int got[3];
    for (int& g : got) g = p.acquire();
    CHECK(p.acquire() == -1);
    CHECK(got[0] != got[1]);  // a twice-released id would come out twice here
    CHECK(got[1] != got[2]);
    CHECK(got[0] != got[2]);
}

namespace {

// One backend with one pooled connection (slot 0) and two request clients, A (slot 1) and B
// (slot 2).
struct checks_fixture : engine_rig {
    static constexpr uint32_t kPool = proxy::sock_id(0, role::upstream);
    static constexpr uint32_t kA = proxy::sock_id(1, role::client);
    static constexpr uint32_t kB = proxy::sock_id(2, role::client);

    explicit checks_fixture(bool pool_ready = true) {
        auto c = request_config();
        c->backends.push_back({"b1", "g", {"127.0.0.1", 1}, "", 1, pipeline_mode::off});
        c->limits.reconnect_min_ms = 100;
        start(c);
        if (pool_ready) pool_up();
        REQUIRE(accept_client(kA, '\x03') == "\x03");
        REQUIRE(accept_client(kB, '\x03') == "\x03");
    }
    void pool_up() {
        pool_connect(kPool);
        read(kPool, "\x03");
    }
    /// After the pool link failed: its reconnect timer fires, the link comes back, and both
    /// clients are served again (nothing else was closed).
    void relink_and_serve_both() {
        g_now += 1000;
        turn();
        pool_up();
        round_trip(kA, 'a');
        round_trip(kB, 'b');
    }
    int fd(uint32_t sid) { return eng->session_at(sid / 2)->s[sid & 1].fd; }
    uint64_t bugs() const { return ctr.bugs.load(); }
    /// `sid` sends a call; the backend answers; the answer is written to it in full.
    void round_trip(uint32_t sid, char tag) {
        std::string call = sync_frame(), rep = response_frame();
        call.back() = tag;
        rep.back() = tag;
        recv(sid, call);
        CHECK(sent(kPool) == call);
        read(kPool, rep);
        CHECK(sent(sid) == rep);
    }
    /// The slot of this shard's pool whose generation is `gen` (a slot freed gen - 1 times).
    proxy::request* slot_with_gen(uint32_t gen) {
        for (uint32_t i = 0; i < plane.slots_per_shard(); ++i) {
            if (plane.slots(0)[i].gen == gen) return &plane.slots(0)[i];
        }
        return nullptr;
    }
};

}  // namespace

TEST_CASE("checks: a completion for a freed socket (stale generation) is dropped; the slot's "
          "new connection and the others go on") {
    checks_fixture f;
    stderr_capture log;
    const uint64_t old_ud = f.be.last(op::recv, checks_fixture::kA)->ud;
    const int old_fd = f.fd(checks_fixture::kA);
    f.complete(old_ud, 0);  // A leaves: its socket is freed, its generation moves on
    REQUIRE(f.be.was_closed(old_fd));
    REQUIRE(f.accept_client(checks_fixture::kA, '\x03') == "\x03");  // C takes A's slot
    const size_t closed = f.be.closed.size();
    const size_t pool_sends = f.be.count(op::send, checks_fixture::kPool);
    const uint32_t held = f.be.pool().held();
    auto stale = [&] {  // a call's bytes, in a buffer, for the socket that is gone
        const int bid = f.be.pool().acquire();
        REQUIRE(bid >= 0);
        std::memcpy(f.be.pool().data(static_cast<uint16_t>(bid)), sync_frame().data(), 16);
        f.complete(old_ud, 16,
                   kFlagMore | kFlagBuffer | static_cast<uint32_t>(bid) << kBufferShift);
    };
    stale();
    CHECK(f.bugs() == 1);
    CHECK(f.be.pool().held() == held);       // its buffer went back to the pool
    CHECK(f.be.closed.size() == closed);     // nobody was closed
    f.turn();
    CHECK(f.be.count(op::send, checks_fixture::kPool) == pool_sends);  // not taken as C's call
    f.round_trip(checks_fixture::kA, 'c');  // C, in the reused slot, goes on
    f.round_trip(checks_fixture::kB, 'b');
    stale();
    CHECK(f.bugs() == 2);
    CHECK(f.be.pool().held() == held);
    CHECK(log.check_lines("engine.cc") == 1);  // the second one is not logged
}

TEST_CASE("checks: a duplicate send completion closes only that client") {
    checks_fixture f;
    stderr_capture log;
    const int a_fd = f.fd(checks_fixture::kA);
    const int pool_fd = f.fd(checks_fixture::kPool);
    f.round_trip(checks_fixture::kA, 'a');
    const uint64_t send_ud = f.be.last(op::send, checks_fixture::kA)->ud;
    f.complete(send_ud, 16);  // again: no send is in flight
    CHECK(f.bugs() == 1);
    CHECK(f.be.was_cancelled(a_fd));  // A is being closed (its recv is cancelled)
    f.complete(f.be.last(op::recv, checks_fixture::kA)->ud, -ECANCELED);
    CHECK(f.be.was_closed(a_fd));
    CHECK(f.ctr.conns_open.load() == 1);
    CHECK_FALSE(f.be.was_cancelled(pool_fd));
    CHECK_FALSE(f.be.was_closed(pool_fd));
    f.round_trip(checks_fixture::kB, 'b');  // B goes on
    const int b_fd = f.fd(checks_fixture::kB);
    f.complete(f.be.last(op::send, checks_fixture::kB)->ud, 16);  // the same bug on B
    CHECK(f.bugs() == 2);
    CHECK(f.be.was_cancelled(b_fd));
    CHECK(log.check_lines("engine.cc") == 1);
}

TEST_CASE("checks: a send completion for more bytes than were sent closes only that client") {
    checks_fixture f;
    stderr_capture log;
    const int a_fd = f.fd(checks_fixture::kA);
    f.recv(checks_fixture::kA, sync_frame());
    CHECK(f.sent(checks_fixture::kPool) == sync_frame());
    f.read(checks_fixture::kPool, response_frame());
    f.turn();
    const rec* s = f.be.last(op::send, checks_fixture::kA);
    REQUIRE(s != nullptr);
    REQUIRE(s->bytes == response_frame());
    f.complete(s->ud, 16 + 100);  // the kernel cannot have written bytes it was not given
    CHECK(f.bugs() == 1);
    CHECK(f.be.was_cancelled(a_fd));
    CHECK(f.ctr.bytes_out.load() < 100);  // not counted as sent
    f.round_trip(checks_fixture::kB, 'b');
    CHECK(f.bugs() == 1);
    CHECK(log.check_lines("engine.cc") == 1);
}

TEST_CASE("checks: a read completion with no read armed fails only that pool link, which "
          "reconnects") {
    checks_fixture f(false);  // the pool link is still connecting: nothing is read yet
    stderr_capture log;
    f.recv(checks_fixture::kA, sync_frame());  // waits in the backend's queue
    const uint32_t gen = f.eng->session_at(0)->s[1].gen;
    const int pool_fd = f.fd(checks_fixture::kPool);
    const int a_fd = f.fd(checks_fixture::kA);
    f.complete(pack_ud(op::read, gen, checks_fixture::kPool), 16);
    CHECK(f.bugs() == 1);
    CHECK(f.be.was_cancelled(pool_fd));  // the link is being closed
    CHECK_FALSE(f.be.was_cancelled(a_fd));
    f.complete(f.be.last(op::connect, checks_fixture::kPool)->ud, -ECANCELED);
    CHECK(f.be.was_closed(pool_fd));
    g_now += 1000;
    f.turn();  // reconnect
    const uint32_t gen2 = f.eng->session_at(0)->s[1].gen;
    CHECK(gen2 != gen);
    f.pool_up();
    CHECK(f.sent(checks_fixture::kPool) == sync_frame());  // the queued call goes out
    f.read(checks_fixture::kPool, response_frame());
    CHECK(f.sent(checks_fixture::kA) == response_frame());
    f.round_trip(checks_fixture::kB, 'b');
    CHECK(f.bugs() == 1);
    // The same bug again (a read completion while the link's read is armed for nothing:
    // forged before any read is armed on a new connection) is counted, not logged.
    f.end_read(checks_fixture::kPool, 0);  // the backend goes; the link reconnects
    g_now += 1000;
    f.turn();
    f.complete(pack_ud(op::read, f.eng->session_at(0)->s[1].gen, checks_fixture::kPool), 1);
    CHECK(f.bugs() == 2);
    CHECK(log.check_lines("frame_reader.cc") == 1);
}

TEST_CASE("checks: a recv_into completion longer than the read asked for fails only that pool "
          "link; its call is answered 'disconnected") {
    checks_fixture f;
    stderr_capture log;
    f.recv(checks_fixture::kA, sync_frame());
    CHECK(f.sent(checks_fixture::kPool) == sync_frame());
    const rec& r = f.armed_read(checks_fixture::kPool);
    r.done = true;
    f.complete(r.ud, static_cast<int32_t>(r.len) + 1);  // forged: one byte past its target
    CHECK(f.bugs() == 1);
    CHECK(f.ctr.backend_disconnect.load() == 1);
    const std::string err = f.sent(checks_fixture::kA);  // A is answered, not closed
    CHECK(err.find("qgate: backend b1 disconnected") != std::string::npos);
    f.relink_and_serve_both();
    CHECK(f.bugs() == 1);
    CHECK(log.check_lines("frame_reader.cc") == 1);
}

TEST_CASE("checks: a slot handed back twice is dropped; its client gets exactly one reply") {
    checks_fixture f;
    stderr_capture log;
    f.round_trip(checks_fixture::kA, 'a');  // one slot used and freed
    proxy::request* r = f.slot_with_gen(2);
    REQUIRE(r != nullptr);
    const size_t a_sends = f.be.count(op::send, checks_fixture::kA);
    r->post_kind = proxy::kPostDone;  // handed back again, free
    f.eng->on_message(0, shard::requests_msg{r});
    CHECK(f.bugs() == 1);
    f.turn();
    CHECK(f.be.count(op::send, checks_fixture::kA) == a_sends);  // nothing sent
    // A's next call (the same slot) is handed back a second time while its answer is queued.
    std::string call = sync_frame(), rep = response_frame();
    call.back() = rep.back() = '2';
    f.recv(checks_fixture::kA, call);
    CHECK(f.sent(checks_fixture::kPool) == call);
    f.read(checks_fixture::kPool, rep);
    REQUIRE(r->gen == 2);  // this call's slot
    r->post_kind = proxy::kPostDone;
    f.eng->on_message(0, shard::requests_msg{r});
    CHECK(f.bugs() == 2);
    CHECK(f.sent(checks_fixture::kA) == rep);  // one reply, once
    f.turn();
    CHECK(f.be.count(op::send, checks_fixture::kA) == a_sends + 1);
    f.round_trip(checks_fixture::kA, 'x');
    f.round_trip(checks_fixture::kB, 'b');
    CHECK(f.bugs() == 2);
    CHECK(log.check_lines("request_clients.cc") == 1);
}

TEST_CASE("checks: a reply not whole is not handed to its slot; the link fails, the call gets "
          "'disconnected") {
    checks_fixture f;
    stderr_capture log;
    f.recv(checks_fixture::kA, sync_frame());
    CHECK(f.sent(checks_fixture::kPool) == sync_frame());
    const std::string rep = response_frame();
    f.read(checks_fixture::kPool, rep.substr(0, 10));  // header in: 6 bytes to go
    // A broken skip count: the rest of the frame is taken as bytes to drop, and the frame is
    // then "done" with 10 of its 16 bytes.
    f.eng->session_at(0)->pc.skip = 6;
    f.read(checks_fixture::kPool, rep.substr(10));
    CHECK(f.bugs() == 1);
    CHECK(f.ctr.backend_disconnect.load() == 1);
    CHECK(f.sent(checks_fixture::kA).find("qgate: backend b1 disconnected") != std::string::npos);
    f.relink_and_serve_both();
    CHECK(f.bugs() == 1);
    CHECK(log.check_lines("pool_rx.cc") == 1);
}

TEST_CASE("checks: an order list whose head is not counted closes only that client") {
    checks_fixture f;
    stderr_capture log;
    const int a_fd = f.fd(checks_fixture::kA);
    f.recv(checks_fixture::kA, sync_frame());
    CHECK(f.sent(checks_fixture::kPool) == sync_frame());
    const size_t a_sends = f.be.count(op::send, checks_fixture::kA);
    f.eng->session_at(1)->rq.pending = 0;  // broken: the call at the head is not counted
    f.read(checks_fixture::kPool, response_frame());
    CHECK(f.bugs() == 1);
    CHECK(f.be.was_cancelled(a_fd));
    f.turn();
    CHECK(f.be.count(op::send, checks_fixture::kA) == a_sends);  // not answered
    f.round_trip(checks_fixture::kB, 'b');
    CHECK(f.bugs() == 1);
    CHECK(log.check_lines("request_clients.cc") == 1);
}

TEST_CASE("checks: a duplicate final recv completion closes only that client") {
    checks_fixture f;
    stderr_capture log;
    const int a_fd = f.fd(checks_fixture::kA);
    const uint64_t ud = f.be.last(op::recv, checks_fixture::kA)->ud;
    f.complete(ud, -ENOBUFS);  // the multishot ends: A waits for buffers, nothing armed
    CHECK(f.bugs() == 0);
    f.complete(ud, -ENOBUFS);  // again: no recv is armed
    CHECK(f.bugs() == 1);
    CHECK(f.be.was_closed(a_fd));  // nothing in flight: closed at once
    CHECK(f.ctr.conns_open.load() == 1);
    f.round_trip(checks_fixture::kB, 'b');
    CHECK(f.bugs() == 1);
    CHECK(log.check_lines("engine.cc") == 1);
}

TEST_CASE("checks: a duplicate connect completion fails only that pool link") {
    checks_fixture f(false);
    stderr_capture log;
    const int pool_fd = f.fd(checks_fixture::kPool);
    const uint64_t ud = f.be.last(op::connect, checks_fixture::kPool)->ud;
    f.complete(ud, 0);  // connected: the handshake is queued
    CHECK(f.bugs() == 0);
    f.complete(ud, 0);  // again: no connect is in flight (the handshake's read is)
    CHECK(f.bugs() == 1);
    CHECK(f.be.was_cancelled(pool_fd));
    f.end_read(checks_fixture::kPool, -ECANCELED);  // its one operation ends: freed
    CHECK(f.be.was_closed(pool_fd));
    CHECK_FALSE(f.be.was_closed(f.fd(checks_fixture::kA)));
    f.relink_and_serve_both();
    CHECK(f.bugs() == 1);
    CHECK(log.check_lines("engine.cc") == 1);
}

namespace {

// One pubsub listener; publishers read by recv_into (ps_reader.cc).
struct ps_checks : engine_rig {
    ps_checks() {
        auto c = std::make_shared<config>();
        c->listeners.push_back({{"127.0.0.1", 0}, conn_mode::pubsub, "g", {}});
        c->backends.push_back({"tp", "g", {"127.0.0.1", 1}, ""});
        c->limits.buf_ring_entries = 8;
        c->limits.conns_per_shard_max = 8;
        start(c);
    }
    /// Accept + handshake on slot `s`; its multishot recv is replaced by the first read.
    void publisher(uint32_t s) {
        complete(be.last(op::accept, 0)->ud, ::socket(AF_INET, SOCK_STREAM, 0), kFlagMore);
        const uint32_t sid = proxy::sock_id(s, role::client);
        recv_buffer(sid, std::string("u:p\x03", 4) + std::string(1, '\0'));
        complete(be.last(op::recv, sid)->ud, -ECANCELED);
        CHECK(sent(sid) == std::string(1, '\x03'));
    }
    /// Completes the read armed on `sid` with `data` (no more than it asked for).
    void feed(uint32_t sid, const std::string& data) {
        const rec r = *be.last(op::read, sid);
        REQUIRE(data.size() <= r.len);
        std::memcpy(r.buf, data.data(), data.size());
        complete(r.ud, static_cast<int32_t>(data.size()));
    }
};

std::string upd(int64_t first) {
    const std::vector<uint8_t> m = qipc::encode_message(
        qipc::value::list({qipc::value::symbol(".u.upd"), qipc::value::symbol("trade"),
                           qgate::pubsub::test::trades({"A", "B"}, first)}),
        qipc::msg_type::async);
    return {m.begin(), m.end()};
}

}  // namespace

TEST_CASE("checks: a publisher's read longer than its frame cut asked for closes only that "
          "publisher") {
    ps_checks t;
    stderr_capture log;
    constexpr uint32_t kP1 = proxy::sock_id(0, role::client);
    constexpr uint32_t kP2 = proxy::sock_id(1, role::client);
    t.publisher(0);
    t.publisher(1);
    const int p1_fd = t.be.last(op::read, kP1)->fd;
    const std::string u = upd(0);
    t.feed(kP1, u.substr(0, 5));  // 5 header bytes in: the next read asks for 3
    const rec r = *t.be.last(op::read, kP1);
    REQUIRE(r.len == 3);
    t.complete(r.ud, 8);  // forged: 5 bytes past the header's end
    CHECK(t.ctr.bugs.load() == 1);
    CHECK(t.be.was_closed(p1_fd));
    t.feed(kP2, u.substr(0, 8));  // the other publisher's update goes in whole
    t.feed(kP2, u.substr(8));
    CHECK(t.ctr.pubsub_updates_in.load() == 1);
    CHECK(t.ctr.pubsub_bad_msgs.load() == 0);
    CHECK(t.ctr.bugs.load() == 1);
    // The pool link's case above is the same site: logged there, if it ran first.
    CHECK(log.check_lines("frame_reader.cc") <= 1);
}

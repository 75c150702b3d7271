// Pipelining on pooled upstream connections (src/proxy/pool_links.cc), driven through the fake
// io backend: calls share a connection up to limits.pipeline_depth and leave in one send, the
// fullest connection with room is filled first, replies read together go back to each client
// in its order, backend.pipeline = auto asks the order query first, a failed connection
// answers each of its calls once, and a connection waiting for an abandoned call's reply takes
// no more calls.

#include <doctest/doctest.h>

#include <cerrno>
#include <memory>
#include <string>

#include "engine_rig.h"

using namespace qgate;
using namespace qgate::io;
using namespace qgate::testing;

namespace {

// A frame of `type` whose body is the 2-char vector `text`: 16 bytes.
std::string frame(char type, const std::string& text) {
    REQUIRE(text.size() == 2);
    const std::string rest("\x00\x00\x10\x00\x00\x00\x0a\x00\x02\x00\x00\x00", 12);
    return std::string("\x01", 1) + type + rest + text;
}
std::string call(const std::string& t) { return frame('\x01', t); }
std::string reply(const std::string& t) { return frame('\x02', t); }
const std::string kTrue("\x01\x02\x00\x00\x0a\x00\x00\x00\xff\x01", 10);
const std::string kFalse("\x01\x02\x00\x00\x0a\x00\x00\x00\xff\x00", 10);

// One shard, one backend with `conns` pooled connections (slots 0..conns-1), two clients.
struct pipe_fixture : engine_rig {
    uint32_t conns;
    explicit pipe_fixture(uint32_t n, pipeline_mode m, uint32_t depth, uint32_t timeout_ms = 0,
                          uint32_t hold_ms = 2)
        : conns(n) {
        auto c = request_config();
        c->limits.conns_per_shard_max = n + 2;
        c->limits.pipeline_depth = depth;
        c->limits.pipeline_hold_ms = hold_ms;
        c->backends.push_back({"b1", "g", {"127.0.0.1", 1}, "", n, m});
        if (timeout_ms != 0) {
            route_conf r;
            r.group = "g";
            r.timeout_ms = timeout_ms;
            c->routes.push_back(r);
        }
        start(c);
    }
    static uint32_t pool(uint32_t i) { return proxy::sock_id(i, role::upstream); }
    uint32_t cli(uint32_t i) const { return proxy::sock_id(conns + i, role::client); }
    void link_up(uint32_t i) {
        CHECK(pool_connect(pool(i)) == std::string("qgate\x03", 7));
        read(pool(i), "\x03");
    }
    void clients_up() {
        CHECK(accept_client(cli(0), '\x03') == "\x03");
        CHECK(accept_client(cli(1), '\x03') == "\x03");
    }
    /// Every pooled connection ready (no order query: pipeline on or off), both clients in.
    void all_up() {
        for (uint32_t i = 0; i < conns; ++i) link_up(i);
        clients_up();
    }
    size_t sends(uint32_t slot) const { return be.count(op::send, slot); }
};

}  // namespace

TEST_CASE("pipeline: calls of two clients leave in one send on one connection; the replies, "
          "read together, go back to each client in its order") {
    pipe_fixture f(2, pipeline_mode::on, 4);
    f.all_up();
    f.recv(f.cli(0), call("a1") + call("a2"));
    f.recv(f.cli(1), call("b1") + call("b2"));
    CHECK(f.sent(pipe_fixture::pool(0)) == call("a1") + call("a2") + call("b1") + call("b2"));
    CHECK(f.sends(pipe_fixture::pool(0)) == 2);  // the handshake, then all four calls at once
    CHECK(f.sends(pipe_fixture::pool(1)) == 1);  // the handshake only: the fullest is filled
    f.read(pipe_fixture::pool(0), reply("a1") + reply("a2") + reply("b1") + reply("b2"));
    CHECK(f.sent(f.cli(0)) == reply("a1") + reply("a2"));
    CHECK(f.sent(f.cli(1)) == reply("b1") + reply("b2"));
    CHECK(f.ctr.disconnect_errors.load() == 0);
}

TEST_CASE("pipeline: the depth bounds a connection; the next call takes the other one, then "
          "waits for room; answers keep the client's order whichever connection answers") {
    pipe_fixture f(2, pipeline_mode::on, 2);
    f.all_up();
    const uint32_t a = f.cli(0);
    f.recv(a, call("c1") + call("c2") + call("c3") + call("c4") + call("c5"));
    CHECK(f.sent(pipe_fixture::pool(0)) == call("c1") + call("c2"));
    CHECK(f.sent(pipe_fixture::pool(1)) == call("c3") + call("c4"));
    f.read(pipe_fixture::pool(0), reply("c1"));
    CHECK(f.sent(a) == reply("c1"));
    CHECK(f.sent(pipe_fixture::pool(0)) == call("c5"));  // c1's room
    const size_t a_sends = f.sends(a);
    f.read(pipe_fixture::pool(1), reply("c3") + reply("c4"));
    f.turn();
    CHECK(f.sends(a) == a_sends);  // c2 first
    f.read(pipe_fixture::pool(0), reply("c2") + reply("c5"));
    CHECK(f.sent(a) == reply("c2") + reply("c3") + reply("c4") + reply("c5"));
}

TEST_CASE("pipeline auto: the order query goes first; 1b pipelines the connection") {
    pipe_fixture f(1, pipeline_mode::automatic, 4);
    f.link_up(0);
    const std::string q = f.sent(pipe_fixture::pool(0));
    CHECK(q.find("@[get;`.z.pg;`]~`") == 14);  // a sync char vector
    CHECK(q[1] == 1);
    f.clients_up();
    f.recv(f.cli(0), call("c1") + call("c2"));
    f.turn();
    CHECK(f.sends(pipe_fixture::pool(0)) == 2);  // no call while the query is outstanding
    f.read(pipe_fixture::pool(0), kTrue);
    CHECK(f.sent(pipe_fixture::pool(0)) == call("c1") + call("c2"));
    f.read(pipe_fixture::pool(0), reply("c1") + reply("c2"));
    CHECK(f.sent(f.cli(0)) == reply("c1") + reply("c2"));
    // The order query's timeout is over once it is answered: with no health query
    // configured, nothing more goes to the backend on its own.
    g_now += 60'000;
    f.turn();
    CHECK(f.sends(pipe_fixture::pool(0)) == 3);
    CHECK(f.ctr.backend_health_queries.load() == 0);
}

TEST_CASE("pipeline auto: any other answer (0b: .z.pg defined) keeps one call at a time") {
    pipe_fixture f(1, pipeline_mode::automatic, 4);
    f.link_up(0);
    (void)f.sent(pipe_fixture::pool(0));
    f.read(pipe_fixture::pool(0), kFalse);
    f.clients_up();
    f.recv(f.cli(0), call("c1") + call("c2"));
    CHECK(f.sent(pipe_fixture::pool(0)) == call("c1"));
    f.read(pipe_fixture::pool(0), reply("c1"));
    CHECK(f.sent(pipe_fixture::pool(0)) == call("c2"));
    f.read(pipe_fixture::pool(0), reply("c2"));
    f.turn();
    CHECK(f.ctr.backend_unsolicited.load() == 0);
}

TEST_CASE("pipeline: a connection lost with calls in flight answers each once: 'disconnected "
          "for those with no reply, its reply for one answered before the loss") {
    pipe_fixture f(1, pipeline_mode::on, 4);
    f.link_up(0);
    f.clients_up();
    const uint32_t a = f.cli(0);
    f.recv(a, call("c1") + call("c2") + call("c3"));
    f.turn();  // the three calls' send is in flight, not completed
    const rec* s = f.be.last(op::send, pipe_fixture::pool(0));
    REQUIRE(s != nullptr);
    CHECK(s->bytes == call("c1") + call("c2") + call("c3"));
    f.read(pipe_fixture::pool(0), reply("c1"));  // answered, but its send is not yet done
    f.turn();
    CHECK(f.sends(a) == 1);  // the handshake only
    f.end_read(pipe_fixture::pool(0), 0);  // EOF
    f.complete(s->ud, -ECONNRESET);  // the send ends: every call may be answered now
    f.turn();
    const std::string got = f.sent(a);
    CHECK(got.substr(0, 16) == reply("c1"));
    size_t lost = 0;
    for (size_t at = got.find("qgate: backend b1 disconnected"); at != std::string::npos;
         at = got.find("qgate: backend b1 disconnected", at + 1)) {
        ++lost;
    }
    CHECK(lost == 2);
    CHECK(f.ctr.disconnect_errors.load() == 2);
}

TEST_CASE("pipeline: a connection whose next reply is an abandoned call's takes no new call "
          "while another has room; the late reply is dropped") {
    pipe_fixture f(2, pipeline_mode::on, 4, 100, 0);  // no hold: the abandoned call alone
    f.all_up();
    const uint32_t a = f.cli(0);
    f.recv(a, call("c1"));
    CHECK(f.sent(pipe_fixture::pool(0)) == call("c1"));
    g_now += 200;
    f.turn();  // c1 times out: answered at once, abandoned at its backend
    CHECK(f.sent(a).find("qgate: timeout after 100ms") != std::string::npos);
    f.recv(a, call("c2"));
    CHECK(f.sent(pipe_fixture::pool(1)) == call("c2"));  // not behind c1, though that is fuller
    f.read(pipe_fixture::pool(0), reply("c1"));
    CHECK(f.ctr.request_late_replies.load() == 1);
    f.read(pipe_fixture::pool(1), reply("c2"));
    CHECK(f.sent(a) == reply("c2"));
}

TEST_CASE("pipeline: a backend whose oldest call has run pipeline_hold_ms takes no more; the "
          "calls wait in its queue (skipped if their client leaves) until it answers") {
    pipe_fixture f(2, pipeline_mode::on, 4);
    f.all_up();
    const uint32_t a = f.cli(0);
    f.recv(a, call("c1") + call("c2"));
    CHECK(f.sent(pipe_fixture::pool(0)) == call("c1") + call("c2"));  // within the hold
    g_now += 2;
    f.turn();
    f.recv(a, call("c3"));
    f.recv(f.cli(1), call("b1"));
    f.turn();
    CHECK(f.sends(pipe_fixture::pool(0)) == 2);  // not behind c1 on its connection
    CHECK(f.sends(pipe_fixture::pool(1)) == 1);  // nor on the idle one: the backend is serial
    f.complete(f.be.last(op::recv, f.cli(1))->ud, -ECONNRESET);  // b1's client is reset: b1 skipped
    f.read(pipe_fixture::pool(0), reply("c1"));  // answered: the queue moves again
    CHECK(f.sent(a) == reply("c1"));
    CHECK(f.sent(pipe_fixture::pool(0)) == call("c3"));
    CHECK(f.ctr.requests_skipped.load() == 1);
    f.read(pipe_fixture::pool(0), reply("c2") + reply("c3"));
    CHECK(f.sent(a) == reply("c2") + reply("c3"));
}

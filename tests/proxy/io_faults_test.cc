// Faults at the io layer (issue 16): the real engine, over real loopback sockets and a real
// io_uring or epoll backend wrapped in a fault_backend (fault_backend.h), serves the core
// flows while short sends, early ends of multishot recvs (-ENOBUFS, -ECANCELED, data without
// F_MORE), -EAGAIN and -ECONNRESET are injected from a seed:
//  * session mode: clients pipelining echo calls through their own backend connection;
//  * request mode: several clients pipelining calls over the shared pool connections;
//  * fan-out: .gw.syncexec to one backend of each of two groups, replies razed;
//  * pub/sub: a publisher's .u.upd updates, each numbered, to two subscribers.
// Every call is tagged, so a reply that reached the wrong caller is seen. What must hold:
// every sync call gets exactly one answer (its own value or a q error) unless its connection
// is closed; closes and errors only where a reset was injected, and none at all with the
// transient faults only (the engine reads again after a recv_into's -EAGAIN); updates in
// order, none twice, all of them where nothing was reset; every buffer back in both pools;
// the wrapper never saw the backend contract broken. The seed is printed with every failure
// (FAULT_SEED=n replays one seed; the io schedule itself is the kernel's; FAULT_SEEDS=n runs
// n seeds per case, for a longer hunt).

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fault_stack.h"
#include "qgate/qipc/value.h"

using namespace qgate;
using namespace qgate::testing;
using qipc::msg_type;
using qipc::value;

namespace {

constexpr int kReplyWaitMs = 4000;  // a call unanswered this long on an open connection: hung
constexpr int kPubUpdates = 60;
constexpr int kSubscribers = 2;

// ---- what the clients saw ----

struct tally {
    int ok = 0, qerr = 0, crossed = 0, hung = 0, unanswered = 0, closed = 0;
    std::vector<uint16_t> closed_ports;  ///< clients whose connection qgate closed
    std::vector<uint16_t> error_ports;   ///< clients that got a q error
    std::vector<std::string> notes;      ///< what went wrong, for the failure message
    void add(const tally& o) {
        ok += o.ok;
        qerr += o.qerr;
        crossed += o.crossed;
        hung += o.hung;
        unanswered += o.unanswered;
        closed += o.closed;
        closed_ports.insert(closed_ports.end(), o.closed_ports.begin(), o.closed_ports.end());
        error_ports.insert(error_ports.end(), o.error_ports.begin(), o.error_ports.end());
        notes.insert(notes.end(), o.notes.begin(), o.notes.end());
    }
};

std::string text_of(const value& v) { return std::string(v.raw.begin(), v.raw.end()); }

value echo_call(const std::string& tag) {
    return value::list({value::symbol("echo"), value::string(tag)});
}
value fanout_call(const std::string& tag) {
    return value::list({value::symbol(".gw.syncexec"), echo_call(tag), value::symbols({"a", "b"})});
}

/// Checks one reply against what the call `tag` must get back (`want`).
void judge(q_client& c, msg_type t, const value& v, const std::string& want, tally& out) {
    if (t == msg_type::response && v.type == qipc::qtype::kError) {
        ++out.qerr;
        out.error_ports.push_back(c.local_port());
        out.notes.push_back("q error '" + (v.syms.empty() ? "" : v.syms[0]));
    } else if (t == msg_type::response && v.type == qipc::qtype::kChar && text_of(v) == want) {
        ++out.ok;
    } else {
        ++out.crossed;
        out.notes.push_back("crossed: wanted " + want.substr(0, 24) + ", got type " +
                            std::to_string(v.type) + " '" + text_of(v).substr(0, 24) + "'");
    }
}

/// Call i's tag: the caller's name and i, padded to a size that varies from call to call (up
/// to three receive buffers), so replies are cut across buffers and sends.
std::string tag_of(const std::string& name, int i) {
    std::string t = name + "-" + std::to_string(i) + ":";
    t.append(static_cast<size_t>(i) * 2654435761u % 12000, static_cast<char>('a' + i % 26));
    return t;
}

/// `calls` sync calls, `depth` at a time, on a new connection to `port`.
tally caller(uint16_t port, const std::string& name, int calls, int depth, bool fanout) {
    tally out;
    q_client c;
    if (!c.open(port, kReplyWaitMs)) {
        ++out.closed;
        out.closed_ports.push_back(c.local_port());
        out.notes.push_back(name + ": handshake failed");
        return out;
    }
    for (int i = 0; i < calls; i += depth) {
        const int n = calls - i < depth ? calls - i : depth;
        int sent = 0;
        for (; sent < n; ++sent) {
            const std::string tag = tag_of(name, i + sent);
            if (!c.send(fanout ? fanout_call(tag) : echo_call(tag), msg_type::sync)) break;
        }
        for (int k = 0; k < sent; ++k) {
            const std::string tag = tag_of(name, i + k);
            msg_type t{};
            value v;
            const q_client::got g = c.read(t, v);
            if (g == q_client::got::msg) {
                judge(c, t, v, fanout ? tag + tag : tag, out);
                continue;
            }
            if (g == q_client::got::timeout) {
                ++out.hung;
                out.notes.push_back(name + ": no reply to call " + std::to_string(i + k));
            } else {
                ++out.closed;
                out.closed_ports.push_back(c.local_port());
            }
            out.unanswered += calls - i - k;
            return out;
        }
        if (sent < n) {  // the send failed: qgate closed the connection
            ++out.closed;
            out.closed_ports.push_back(c.local_port());
            out.unanswered += calls - i;
            return out;
        }
    }
    return out;
}

// ---- pub/sub ----

struct pubsub_run {
    std::atomic<bool> first_sent{false};
    std::atomic<int> subscribed{0};
    std::atomic<int> finished{0};
    uint16_t publisher_port = 0;
    bool publisher_closed = false;
};

value upd(int64_t seq) {
    const int64_t s[] = {seq};
    return value::list({value::symbol(".u.upd"), value::symbol("trade"),
                        value::table({"sym", "seq"}, {value::symbols({"A"}), value::longs(s)})});
}

/// The seq column of an update `(`upd;`trade;table)`; false when it is not one.
bool seqs_of(const value& v, std::vector<int64_t>& out) {
    if (v.type != qipc::qtype::kList || v.items.size() != 3 || v.items[2].type != 98) {
        return false;
    }
    const value& dict = v.items[2].items.at(0);
    const std::vector<std::string>& names = dict.items.at(0).syms;
    for (size_t i = 0; i < names.size(); ++i) {
        if (names[i] != "seq") continue;
        const value& col = dict.items.at(1).items.at(i);
        for (size_t k = 0; k + 8 <= col.raw.size(); k += 8) {
            int64_t x = 0;
            std::memcpy(&x, col.raw.data() + k, 8);
            out.push_back(x);
        }
        return true;
    }
    return false;
}

bool wait_until(const std::atomic<int>& a, int want, int ms) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (a.load() < want) {
        if (std::chrono::steady_clock::now() > end) return false;
        std::this_thread::yield();
    }
    return true;
}

void publisher(uint16_t port, pubsub_run& run) {
    q_client c;
    const bool up = c.open(port, kReplyWaitMs);
    run.publisher_port = c.local_port();
    bool ok = up && c.send(upd(0), msg_type::async);
    run.first_sent.store(true);
    wait_until(run.subscribed, kSubscribers, 8000);
    for (int64_t s = 1; ok && s < kPubUpdates; ++s) ok = c.send(upd(s), msg_type::async);
    run.publisher_closed = !ok;
    wait_until(run.finished, kSubscribers, 10000);  // stay connected until they are done
}

/// Subscribes (retrying 't until the publisher's first update made the table), then reads
/// updates until the last one, a close or a silence.
tally subscriber(uint16_t port, int id, pubsub_run& run) {
    tally out;
    const std::string name = "sub" + std::to_string(id);
    q_client c;
    bool subbed = false;
    std::vector<int64_t> got;
    if (!c.open(port, kReplyWaitMs)) {
        out.notes.push_back(name + ": handshake failed");
        ++out.closed;
        out.closed_ports.push_back(c.local_port());
    } else {
        while (!run.first_sent.load()) std::this_thread::yield();
        for (int attempt = 0; attempt < 200 && !subbed; ++attempt) {
            msg_type t{};
            value v;
            value sub = value::list({value::symbol(".u.sub"), value::symbol("trade"),
                                     value::symbol("")});
            const bool sent = c.send(sub, msg_type::sync);
            const q_client::got g = sent ? c.read(t, v) : q_client::got::closed;
            if (g != q_client::got::msg) {
                const bool closed = g == q_client::got::closed;
                out.notes.push_back(name + ": .u.sub " + (closed ? "closed" : "unanswered"));
                out.hung += g == q_client::got::timeout;
                out.closed += g == q_client::got::closed;
                if (g == q_client::got::closed) out.closed_ports.push_back(c.local_port());
                break;
            }
            subbed = v.type != qipc::qtype::kError;
            if (!subbed && attempt == 199) out.notes.push_back(name + ": .u.sub '" + v.syms[0]);
            if (!subbed) std::this_thread::sleep_for(std::chrono::milliseconds(5));  // poll 't
        }
    }
    run.subscribed.fetch_add(1);
    for (int i = 0; subbed && i < kPubUpdates * 4; ++i) {
        if (!got.empty() && got.back() == kPubUpdates - 1) break;
        msg_type t{};
        value v;
        const q_client::got g = c.read(t, v);
        if (g != q_client::got::msg) {
            out.notes.push_back(name + (g == q_client::got::closed ? ": closed" : ": silence") +
                                " after " + std::to_string(got.size()) + " updates");
            if (g == q_client::got::closed) out.closed_ports.push_back(c.local_port());
            out.closed += g == q_client::got::closed;
            break;
        }
        if (!seqs_of(v, got)) out.notes.push_back(name + ": not an update");
    }
    run.finished.fetch_add(1);
    for (size_t i = 1; i < got.size(); ++i) {
        if (got[i] <= got[i - 1]) {
            ++out.crossed;
            out.notes.push_back(name + ": update " + std::to_string(got[i]) + " after " +
                                std::to_string(got[i - 1]));
        }
    }
    out.ok += static_cast<int>(got.size());
    out.unanswered += subbed ? kPubUpdates - 1 - static_cast<int>(got.size()) : kPubUpdates;
    return out;
}

// ---- one run ----

struct mocks {
    qmock_proc a1, a2, b1;
    bool start(std::string& err) {
        return a1.start("a1", err) && a2.start("a2", err) && b1.start("b1", err);
    }
};

/// `buffers`: receive buffers (small, so the pool runs dry now and then).
config_ptr make_config(const mocks& m, uint32_t buffers) {
    auto c = std::make_shared<config>();
    c->listeners.push_back({{"127.0.0.1", 0}, conn_mode::session, "a", {}});
    c->listeners.push_back({{"127.0.0.1", 0}, conn_mode::request, "a", {}});
    c->listeners.push_back({{"127.0.0.1", 0}, conn_mode::pubsub, "a", {}});
    c->backends.push_back({"a1", "a", {"127.0.0.1", m.a1.port()}, ""});
    c->backends.push_back({"a2", "a", {"127.0.0.1", m.a2.port()}, ""});
    c->backends.push_back({"b1", "b", {"127.0.0.1", m.b1.port()}, ""});
    for (backend_conf& b : c->backends) b.conns = 2;
    c->limits.buf_ring_entries = buffers;
    c->limits.buf_size = 4096;
    c->limits.drain_timeout_ms = 1500;
    c->limits.conns_per_shard_max = 256;
    c->limits.requests_per_shard_max = 1024;
    return c;
}

struct run_result {
    tally calls;  ///< session, request and fan-out calls
    tally subs;   ///< pub/sub updates
    gw_outcome gw;
    bool publisher_closed = false;
    uint16_t publisher_port = 0;
};

run_result run_once(const mocks& m, io::backend_kind kind, const fault_plan& plan,
                    uint32_t buffers) {
    run_result r;
    fault_gateway gw(make_config(m, buffers), kind, plan);
    std::string err;
    REQUIRE_MESSAGE(gw.start(err), err);
    std::vector<tally> parts(8);
    pubsub_run ps;
    std::vector<std::thread> th;
    th.reserve(8);
    for (int i = 0; i < 2; ++i) {
        th.emplace_back([&, i] { parts[i] = caller(gw.port(0), "s" + std::to_string(i), 24, 4,
                                                   false); });
    }
    for (int i = 0; i < 3; ++i) {
        th.emplace_back([&, i] { parts[2 + i] = caller(gw.port(1), "r" + std::to_string(i), 40,
                                                       8, false); });
    }
    th.emplace_back([&] { parts[5] = caller(gw.port(1), "f", 10, 2, true); });
    th.emplace_back([&] { publisher(gw.port(2), ps); });
    std::vector<tally> subs(kSubscribers);
    for (int i = 0; i < kSubscribers; ++i) {
        th.emplace_back([&, i] { subs[i] = subscriber(gw.port(2), i, ps); });
    }
    for (std::thread& t : th) t.join();
    for (const tally& t : parts) r.calls.add(t);
    for (const tally& t : subs) r.subs.add(t);
    r.publisher_closed = ps.publisher_closed;
    r.publisher_port = ps.publisher_port;
    r.gw = gw.stop();
    return r;
}

std::string describe(const run_result& r) {
    const fault_log& l = r.gw.log;
    std::string s = "calls ok " + std::to_string(r.calls.ok) + " qerr " +
                    std::to_string(r.calls.qerr) + " closed " + std::to_string(r.calls.closed) +
                    " unanswered " + std::to_string(r.calls.unanswered) + "; updates " +
                    std::to_string(r.subs.ok) + "; faults: short " +
                    std::to_string(l.short_sends) + " enobufs " + std::to_string(l.enobufs) +
                    " ecanceled " + std::to_string(l.ecanceled) + " data-end " +
                    std::to_string(l.ended_with_data) + " eagain " + std::to_string(l.eagain) +
                    " eagain-into " + std::to_string(l.eagain_into) + " resets " +
                    std::to_string(l.resets) + " pool-empty " + std::to_string(l.pool_empty);
    for (const std::string& n : r.calls.notes) s += "\n  " + n;
    for (const std::string& n : r.subs.notes) s += "\n  " + n;
    return s;
}

bool in(const std::set<uint16_t>& s, uint16_t p) { return s.contains(p); }

/// The invariants of one run (see the top of the file).
void check_run(const run_result& r, const mocks& m) {
    const fault_log& l = r.gw.log;
    INFO(describe(r));
    CHECK(l.contract == 0);
    CHECK(r.calls.crossed == 0);
    CHECK(r.subs.crossed == 0);
    CHECK(r.calls.hung == 0);
    CHECK(r.subs.hung == 0);
    CHECK(r.gw.bufs_held == 0);
    CHECK(r.gw.inner_bufs_held == 0);
    CHECK(r.gw.inner_ops == 0);
    const bool fatal = l.resets != 0;
    const bool backend_reset = in(l.reset_ports, m.a1.port()) || in(l.reset_ports, m.a2.port()) ||
                               in(l.reset_ports, m.b1.port());
    if (!fatal) {  // transient faults must be invisible to every client
        CHECK(r.calls.qerr == 0);
        CHECK(r.calls.closed == 0);
        CHECK(r.calls.unanswered == 0);
        CHECK(r.subs.closed == 0);
        CHECK(r.subs.unanswered == 0);
        return;
    }
    for (uint16_t p : r.calls.closed_ports) {  // closed: its own socket, or its backend's
        CHECK_MESSAGE((in(l.reset_ports, p) || backend_reset), p);
    }
    // A subscriber misses updates only when it or the publisher was cut off.
    if (!r.publisher_closed && !in(l.reset_ports, r.publisher_port)) {
        for (uint16_t p : r.subs.closed_ports) CHECK_MESSAGE(in(l.reset_ports, p), p);
        if (r.subs.closed == 0) CHECK(r.subs.unanswered == 0);
    }
}

uint64_t replay_seed() {
    const char* s = std::getenv("FAULT_SEED");
    return s != nullptr ? std::strtoull(s, nullptr, 10) : 0;
}

void run_seeds(io::backend_kind kind, const fault_plan& base, int seeds, uint32_t buffers = 64) {
    mocks m;
    std::string err;
    REQUIRE_MESSAGE(m.start(err), err);
    const uint64_t only = replay_seed();
    if (const char* n = std::getenv("FAULT_SEEDS")) seeds = std::atoi(n);  // a longer hunt
    for (int i = 1; i <= seeds; ++i) {
        fault_plan p = base;
        p.seed = only != 0 ? only : static_cast<uint64_t>(i) * 7919 + base.seed;
        CAPTURE(p.seed);
        const run_result r = run_once(m, kind, p, buffers);
        MESSAGE("seed " << p.seed << ": " << describe(r));
        check_run(r, m);
        if (only != 0) break;
    }
}

std::string kind_name(io::backend_kind k) {
    return k == io::backend_kind::uring ? "uring" : "epoll";
}

}  // namespace

TEST_CASE("io faults: no fault, every flow answered in full (control run)") {
    for (io::backend_kind k : {io::backend_kind::uring, io::backend_kind::epoll}) {
        CAPTURE(kind_name(k));
        run_seeds(k, fault_plan{}, 1);
    }
}

TEST_CASE("io faults: transient faults are invisible to clients") {
    fault_plan p;
    p.short_send = 150;
    p.end_recv = 100;
    p.eagain = 100;
    p.eagain_into = 100;
    for (io::backend_kind k : {io::backend_kind::uring, io::backend_kind::epoll}) {
        CAPTURE(kind_name(k));
        run_seeds(k, p, 3);
    }
}

TEST_CASE("io faults: resets close only the connection concerned") {
    fault_plan p;
    p.seed = 1000;
    p.short_send = 50;
    p.end_recv = 50;
    p.eagain = 50;
    p.reset = 10;
    p.resets_max = 3;
    for (io::backend_kind k : {io::backend_kind::uring, io::backend_kind::epoll}) {
        CAPTURE(kind_name(k));
        run_seeds(k, p, 3);
    }
}

TEST_CASE("io faults: heavy transient faults and a pool that runs dry") {
    fault_plan p;
    p.seed = 5000;
    p.short_send = 500;
    p.end_recv = 300;
    p.eagain = 300;
    p.eagain_into = 300;
    for (io::backend_kind k : {io::backend_kind::uring, io::backend_kind::epoll}) {
        CAPTURE(kind_name(k));
        run_seeds(k, p, 2, 16);
    }
}

// Pub/sub ingest (src/proxy/ps_reader.cc) driven by a fake io backend: every frame of a
// pub/sub connection is read by recv_into straight into its update buffer (short reads of the
// header and of the body resumed where they stopped), bytes that came with the handshake or in
// the cancelled multishot recv are copied and counted as such, a malformed header closes,
// EOF and close wait for the read in flight, a paused feed arms no read until resumed, and the
// upstream link reads its reply byte and frames the same way. At the end: the lanes out of the
// hub when the peer shard lags (pubsub_lane_full, pubsub_lane_drops, pubsub_feed_pauses).
// The fake backend and clock are engine_rig.h's.

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../pubsub/pubsub_test_util.h"
#include "engine_rig.h"
#include "proxy/engine.h"

using namespace qgate;
using namespace qgate::io;
using qgate::proxy::role;
using namespace qgate::testing;
using qgate::pubsub::test::trades;
using qgate::qipc::value;

namespace {

std::string msg(const value& v, qipc::msg_type t = qipc::msg_type::async) {
    const std::vector<uint8_t> m = qipc::encode_message(v, t);
    return {m.begin(), m.end()};
}
std::string upd_msg(size_t rows, int64_t first = 0) {
    std::vector<std::string> syms;
    for (size_t i = 0; i < rows; ++i) syms.push_back("S" + std::to_string(i % 7));
    return msg(value::list({value::symbol(".u.upd"), value::symbol("trade"),
                            trades(syms, first)}));
}
std::string sub_msg() {
    return msg(value::list({value::symbol(".u.sub"), value::symbol("trade"), value::symbol("")}),
               qipc::msg_type::sync);
}

/// One shard (the hub) with one pubsub listener; optionally an upstream tickerplant.
struct ps_rig : engine_rig {
    explicit ps_rig(bool upstream = false, uint32_t shards = 1) {
        auto c = std::make_shared<config>();
        c->listeners.push_back({{"127.0.0.1", 0}, conn_mode::pubsub, "g", {}});
        c->backends.push_back({"tp", "g", {"127.0.0.1", 1}, ""});
        if (upstream) c->pubsub.upstream = "tp";
        c->limits.buf_ring_entries = 8;
        c->limits.conns_per_shard_max = 8;
        c->limits.message_bytes_max = 1 << 20;
        start(c, shards);
    }
    /// Multishot recv completion carrying `data` in a pool buffer.
    void recv(uint32_t sid, const std::string& data, bool more = true) {
        recv_buffer(sid, data, more);
    }
    /// The read in flight on `sid` (exactly one must be outstanding).
    const rec& reading(uint32_t sid) {
        const rec* r = be.last(op::read, sid);
        REQUIRE(r != nullptr);
        return *r;
    }
    /// "Receives" `data` where the last recv_into of `sid` aimed and completes it (a short
    /// read when data is shorter than asked).
    void read(uint32_t sid, const std::string& data) {
        const rec r = reading(sid);
        REQUIRE(data.size() <= r.len);
        std::memcpy(r.buf, data.data(), data.size());
        complete(r.ud, static_cast<int32_t>(data.size()));
    }
    /// Feeds `data` through successive reads, at most `chunk` bytes each; checks each read
    /// asks for exactly what is left of the header or body it is in.
    void stream(uint32_t sid, const std::string& data, size_t chunk) {
        size_t at = 0;
        while (at < data.size()) {
            const rec& r = reading(sid);
            const size_t n = std::min<size_t>({chunk, r.len, data.size() - at});
            REQUIRE(n > 0);  // a read armed for 0 bytes would loop here for ever
            read(sid, data.substr(at, n));
            at += n;
        }
    }
    /// Accept + handshake (+ `extra` bytes in the same receive) on session `s`; the cancel of
    /// the multishot recv is completed, which arms the first read.
    void client(uint32_t s, const std::string& extra = {}) {
        const rec* a = be.last(op::accept, 0);
        REQUIRE(a != nullptr);
        complete(a->ud, ::socket(AF_INET, SOCK_STREAM, 0), kFlagMore);
        const uint32_t sid = proxy::sock_id(s, role::client);
        recv(sid, std::string("u:p\x03", 4) + std::string(1, '\0') + extra);
        const rec* c = be.last(op::cancel, sid);
        REQUIRE(c != nullptr);  // the multishot recv that read the handshake goes
        CHECK(ud_op(c->ud) == op::recv);
        CHECK(be.count(op::read, sid) == 0);  // not before its final completion
        complete(be.last(op::recv, sid)->ud, -ECANCELED);
        turn();
        const rec* s1 = be.last(op::send, sid);
        REQUIRE(s1 != nullptr);
        CHECK(s1->bytes == std::string(1, '\x03'));
        complete(s1->ud, 1);
    }
    /// The upstream link on `up` (its sock id) connects and sends its handshake; the reply
    /// byte is read alone, by a 1-byte read.
    void upstream_handshake(uint32_t up) {
        const rec* c = be.last(op::connect, up);
        REQUIRE(c != nullptr);
        complete(c->ud, 0);
        turn();
        const rec* hs = be.last(op::send, up);
        REQUIRE(hs != nullptr);
        complete(hs->ud, static_cast<int32_t>(hs->bytes.size()));
        CHECK(reading(up).len == 1);  // the handshake reply byte
        read(up, "\x03");
        turn();
    }
};

constexpr uint32_t kPub = proxy::sock_id(0, role::client);
constexpr uint32_t kSub = proxy::sock_id(1, role::client);

}  // namespace

TEST_CASE("pubsub ingest: header and body by recv_into, short reads resumed, zero copies") {
    ps_rig t;
    t.client(0);
    const rec h = t.reading(kPub);
    CHECK(h.len == 8);
    CHECK(h.all);  // a header is read whole (MSG_WAITALL)
    const std::string u = upd_msg(3);
    t.read(kPub, u.substr(0, 3));  // a header split across TCP segments
    CHECK(t.reading(kPub).len == 5);
    CHECK(t.reading(kPub).buf == h.buf + 3);
    t.read(kPub, u.substr(3, 5));
    // the body, into the frame's own buffer, with room for the next header (read-ahead)
    CHECK(t.reading(kPub).len == u.size() - 8 + 8);
    CHECK(!t.reading(kPub).all);
    t.read(kPub, u.substr(8, 10));
    CHECK(t.reading(kPub).len == u.size() - 18 + 8);
    CHECK(t.ctr.pubsub_updates_in.load() == 0);
    t.read(kPub, u.substr(18));  // the body's end, nothing after it yet
    t.turn();
    CHECK(t.ctr.pubsub_updates_in.load() == 1);
    CHECK(t.ctr.pubsub_bad_msgs.load() == 0);
    CHECK(t.ctr.pubsub_ingest_bytes_direct.load() == u.size() - 8);
    CHECK(t.ctr.pubsub_ingest_bytes_copied.load() == 0);
    CHECK(t.reading(kPub).len == 8);  // the next header
    CHECK(t.be.count(op::recv, kPub) == 1);  // no multishot recv after the handshake
}

TEST_CASE("pubsub ingest: back-to-back frames cost one read each (the next header read ahead)") {
    ps_rig t;
    t.client(0);
    std::vector<std::string> us;
    for (int i = 0; i < 5; ++i) us.push_back(upd_msg(1 + i, i));
    t.read(kPub, us[0].substr(0, 8));
    const size_t reads = t.be.count(op::read, kPub);
    for (size_t i = 0; i < us.size(); ++i) {
        const std::string next = i + 1 < us.size() ? us[i + 1].substr(0, 8) : std::string();
        REQUIRE(t.reading(kPub).len == us[i].size());  // body + 8
        t.read(kPub, us[i].substr(8) + next);  // the body and the next header, in one read
    }
    t.turn();
    CHECK(t.ctr.pubsub_updates_in.load() == 5);
    CHECK(t.be.count(op::read, kPub) - reads == 5);  // no header read in between
    size_t payload = 0;
    for (const std::string& u : us) payload += u.size() - 8;
    CHECK(t.ctr.pubsub_ingest_bytes_direct.load() == payload);
    CHECK(t.ctr.pubsub_ingest_bytes_copied.load() == 0);
    // Read ahead, part of a header only: the next read completes it.
    const std::string a = upd_msg(2, 10);
    const std::string b = upd_msg(2, 11);
    t.read(kPub, a.substr(0, 8));
    t.read(kPub, a.substr(8) + b.substr(0, 3));
    CHECK(t.reading(kPub).len == 5);
    CHECK(t.reading(kPub).all);
    t.stream(kPub, b.substr(3), 1 << 20);
    t.turn();
    CHECK(t.ctr.pubsub_updates_in.load() == 7);
    CHECK(t.ctr.pubsub_bad_msgs.load() == 0);
}

TEST_CASE("pubsub ingest: a subscriber gets the update read straight in; large frames") {
    ps_rig t;
    t.client(0);
    t.client(1);
    const std::string first = upd_msg(1, 5);  // the hub learns the table from it
    t.stream(kPub, first, 1 << 20);
    t.stream(kSub, sub_msg(), 1000);
    t.turn();
    const rec* reply = t.be.last(op::send, kSub);
    REQUIRE(reply != nullptr);
    t.complete(reply->ud, static_cast<int32_t>(reply->bytes.size()));
    CHECK(t.ctr.pubsub_subscribers.load() == 1);

    const std::string big = upd_msg(4000, 7);  // > 64 KiB: several reads, each resumed
    REQUIRE(big.size() > 65536);
    const std::string small = upd_msg(1, 9);
    t.read(kPub, big.substr(0, 8));
    CHECK(t.reading(kPub).all);  // a body over 64 KiB: exactly, MSG_WAITALL, no read-ahead
    CHECK(t.reading(kPub).len == big.size() - 8);
    t.stream(kPub, big.substr(8), 40000);
    t.stream(kPub, small, 1 << 20);
    t.turn();
    CHECK(t.ctr.pubsub_updates_in.load() == 3);
    CHECK(t.ctr.pubsub_ingest_bytes_direct.load() ==
          first.size() - 8 + sub_msg().size() - 8 + big.size() - 8 + small.size() - 8);
    CHECK(t.ctr.pubsub_ingest_bytes_copied.load() == 0);
    const rec* d = t.be.last(op::send, kSub);
    REQUIRE(d != nullptr);
    // What the subscriber is sent decodes to both updates, rows intact.
    std::span<const uint8_t> rest(reinterpret_cast<const uint8_t*>(d->bytes.data()),
                                  d->bytes.size());
    std::vector<int64_t> firsts;
    while (!rest.empty()) {
        qipc::frame_header fh;
        REQUIRE(qipc::parse_header(rest.first(8), fh, qipc::header_limits{}));
        const value v = pubsub::test::decode_msg(rest.first(fh.length));
        REQUIRE(v.items.size() == 3);
        REQUIRE(v.items[0].syms.size() == 1);
        CHECK(v.items[0].syms[0] == "upd");
        const value& seq = v.items[2].items[0].items[1].items[4];  // table -> dict -> column
        REQUIRE(seq.raw.size() >= 8);
        int64_t first = 0;
        std::memcpy(&first, seq.raw.data(), 8);
        firsts.push_back(first);
        rest = rest.subspan(fh.length);
    }
    CHECK(firsts == std::vector<int64_t>{7, 9});
}

TEST_CASE("pubsub ingest: bytes with the handshake and in the cancelled recv are copied") {
    ps_rig t;
    const std::string u1 = upd_msg(2, 1);
    const std::string u2 = upd_msg(2, 2);
    const std::string u3 = upd_msg(2, 3);
    // handshake + u1 + 5 header bytes of u2 in the first receive buffer
    const rec* a = t.be.last(op::accept, 0);
    t.complete(a->ud, ::socket(AF_INET, SOCK_STREAM, 0), kFlagMore);
    t.recv(kPub, std::string("u:p\x03", 4) + std::string(1, '\0') + u1 + u2.substr(0, 5));
    CHECK(t.ctr.pubsub_updates_in.load() == 1);
    CHECK(t.ctr.pubsub_ingest_bytes_copied.load() == u1.size() - 8);
    // the kernel had read more before the cancel: the rest of u2's header and 20 body bytes
    t.recv(kPub, u2.substr(5, 23));
    CHECK(t.ctr.pubsub_ingest_bytes_copied.load() == u1.size() - 8 + 20);
    CHECK(t.be.count(op::read, kPub) == 0);
    t.complete(t.be.last(op::recv, kPub)->ud, -ECANCELED);
    // the first read resumes u2's body where the copies stopped
    CHECK(t.reading(kPub).len == u2.size() - 28 + 8);
    t.stream(kPub, u2.substr(28) + u3, 1 << 20);
    t.turn();
    CHECK(t.ctr.pubsub_updates_in.load() == 3);
    CHECK(t.ctr.pubsub_ingest_bytes_direct.load() == u2.size() - 28 + u3.size() - 8);
    CHECK(t.ctr.pubsub_ingest_bytes_copied.load() == u1.size() - 8 + 20);
}

TEST_CASE("pubsub ingest: a malformed header closes; EOF and close wait for the read") {
    ps_rig t;
    t.client(0);
    const int fd = t.be.last(op::read, kPub)->fd;
    SUBCASE("malformed") {
        std::string bad = upd_msg(1).substr(0, 8);
        bad[4] = bad[5] = bad[6] = bad[7] = '\x7f';  // longer than message_bytes_max
        t.read(kPub, bad);
        CHECK(t.ctr.pubsub_bad_msgs.load() == 1);
        CHECK(t.be.was_closed(fd));
        CHECK(t.eng->sessions_open() == 0);
    }
    SUBCASE("EOF") {
        t.read(kPub, "");
        CHECK(t.be.was_closed(fd));
        CHECK(t.eng->sessions_open() == 0);
    }
    SUBCASE("close mid-body: fd and buffer wait for the read in flight") {
        const std::string u = upd_msg(2);
        t.read(kPub, u.substr(0, 8));
        t.read(kPub, u.substr(8, 4));
        const rec r = t.reading(kPub);
        t.eng->start_drain();  // closes the idle session (nothing queued for it)
        CHECK(!t.be.was_closed(fd));
        CHECK(t.eng->sessions_open() == 1);
        std::memset(r.buf, 0, r.len);  // the kernel may still write there until it completes
        t.complete(r.ud, -ECANCELED);
        CHECK(t.be.was_closed(fd));
        CHECK(t.eng->sessions_open() == 0);
        CHECK(t.ctr.pubsub_updates_in.load() == 0);
    }
}

TEST_CASE("pubsub ingest: the upstream link reads its reply byte and frames by recv_into") {
    ps_rig t(true);
    constexpr uint32_t kUp = proxy::sock_id(0, role::upstream);  // ps_up_start took slot 0
    for (int round = 0; round < 2; ++round) {  // the second round is the re-subscribe
        t.upstream_handshake(kUp);
        const rec* sub = t.be.last(op::send, kUp);
        REQUIRE(sub != nullptr);
        CHECK(sub->bytes.find(".u.sub[`;`]") != std::string::npos);
        t.complete(sub->ud, static_cast<int32_t>(sub->bytes.size()));
        // The reply (one (name; empty schema) pair) split in the header, then an update.
        const std::string reply =
            msg(value::list({value::list({value::symbol("trade"), trades({})})}),
                qipc::msg_type::response);
        const std::string u = msg(value::list({value::symbol("upd"), value::symbol("trade"),
                                               trades({"A", "B"}, round)}));
        t.stream(kUp, reply + u, 5);
        t.turn();
        CHECK(t.ctr.pubsub_upstream_connects.load() == uint64_t(round + 1));
        CHECK(t.ctr.pubsub_updates_in.load() == uint64_t(round + 1));
        CHECK(t.ctr.pubsub_ingest_bytes_copied.load() == 0);
        // The tickerplant goes away: EOF on the read in flight, then a reconnect.
        const int fd = t.reading(kUp).fd;
        t.read(kUp, "");
        CHECK(t.be.was_closed(fd));
        g_now += 60 * 1000;
        t.turn();
    }
    CHECK(t.be.count(op::recv, kUp) == 0);  // never a multishot recv on the link
}

TEST_CASE("pubsub ingest: a burst already queued is read on in the same turn, bounded") {
    ps_rig t;
    t.client(0);
    std::string burst;
    size_t payload = 0;
    for (int i = 0; i < 40; ++i) {
        const std::string u = upd_msg(1 + i % 3, i);
        burst += u;
        payload += u.size() - 8;
    }
    // The async read brings the first header; the rest sits in the socket.
    t.be.queued = burst.substr(8);
    const size_t reads = t.be.count(op::read, kPub);
    t.read(kPub, burst.substr(0, 8));
    // 16 synchronous reads (body + next header each): 16 frames, then a recv_into is armed
    CHECK(t.be.reads_now == 16);
    CHECK(t.ctr.pubsub_ingest_reads_now.load() == 16);
    CHECK(t.be.count(op::read, kPub) == reads + 1);
    t.turn();
    CHECK(t.ctr.pubsub_updates_in.load() == 16);
    // The armed read gets the next bytes, the rest again synchronously, until none is left.
    auto async_read = [&] {
        const std::string next = t.be.queued.substr(0, t.reading(kPub).len);
        t.be.queued.erase(0, next.size());
        t.read(kPub, next);
    };
    async_read();
    CHECK(t.be.reads_now == 32);
    for (int i = 0; i < 4 && !t.be.queued.empty(); ++i) async_read();
    CHECK(t.be.queued.empty());
    t.turn();
    CHECK(t.ctr.pubsub_updates_in.load() == 40);
    CHECK(t.ctr.pubsub_ingest_bytes_direct.load() == payload);
    CHECK(t.ctr.pubsub_ingest_bytes_copied.load() == 0);
    CHECK(t.ctr.pubsub_bad_msgs.load() == 0);
    CHECK(t.reading(kPub).len == 8);  // all in: waiting for a header again
}

TEST_CASE("pubsub ingest: a paused feed gets no next read (nothing cancelled); resume re-arms") {
    ps_rig t(false, 2);  // this engine is shard 0 (the hub); shard 1 exists only as a lane
    t.client(0);
    // Shard 1 is not draining its lane: fill it past the high mark, as a busy peer would.
    proxy::ps_lane& lane = t.ps_plane->lane(0, 1);
    for (uint32_t i = 0; i <= proxy::kPsLaneHigh; ++i) REQUIRE(lane.push(proxy::ps_msg{}));
    lane.publish();
    const std::string u = upd_msg(2);
    t.read(kPub, u.substr(0, 8));
    const size_t reads = t.be.count(op::read, kPub);
    const size_t cancels = t.be.count(op::cancel, kPub);
    t.read(kPub, u.substr(8));  // the .u.upd: handed to the hub, then the feed is throttled
    CHECK(t.ctr.pubsub_updates_in.load() == 1);
    CHECK(t.ctr.pubsub_feed_pauses.load() == 1);
    CHECK(t.be.count(op::read, kPub) == reads);  // no next read
    CHECK(t.be.count(op::cancel, kPub) == cancels);  // and nothing to cancel
    t.turn();
    CHECK(t.be.count(op::read, kPub) == reads);  // still busy: still paused
    lane.drain([](proxy::ps_msg&) {});  // shard 1 catches up
    t.turn();
    REQUIRE(t.be.count(op::read, kPub) == reads + 1);  // resumed: the next header
    CHECK(t.reading(kPub).len == 8);
    t.stream(kPub, upd_msg(1, 1), 1 << 20);
    t.turn();
    CHECK(t.ctr.pubsub_updates_in.load() == 2);
}

TEST_CASE("pubsub ingest: the handshake's multishot ending in ENOBUFS does not wait for buffers") {
    ps_rig t;
    const rec* a = t.be.last(op::accept, 0);
    t.complete(a->ud, ::socket(AF_INET, SOCK_STREAM, 0), kFlagMore);
    t.recv(kPub, std::string("u:p\x03", 4) + std::string(1, '\0'));
    for (int i = 0; i < 7; ++i) REQUIRE(t.be.pool().acquire() >= 0);  // 1 of 8 left
    t.complete(t.be.last(op::recv, kPub)->ud, -ENOBUFS);  // instead of -ECANCELED
    REQUIRE(t.be.count(op::read, kPub) == 1);  // armed at once: a read needs no pool buffer
    CHECK(t.reading(kPub).len == 8);
    t.stream(kPub, upd_msg(1), 1 << 20);
    t.turn();
    CHECK(t.ctr.pubsub_updates_in.load() == 1);
}

// ---- The lanes out of the hub (pubsub_hub.cc): pubsub_lane_full, pubsub_lane_drops and
// pubsub_feed_pauses, each driven and checked against what the peer shard receives. Shard 1
// is played by the test: it sends the hub `.u.sub`s on lane 1->0 and drains lane 0->1 only
// when the test says so, as a busy peer would.

namespace {

/// Marks the messages the test itself puts on lane 0->1 to fill it.
constexpr uint32_t kFiller = UINT32_MAX;

struct shard1 {
    ps_rig& t;
    proxy::ps_lane& to_hub() { return t.ps_plane->lane(1, 0); }
    proxy::ps_lane& from_hub() { return t.ps_plane->lane(0, 1); }
    /// Queues `.u.sub[`trade;`]` from this shard's session `session` (false: lane full).
    bool sub(uint32_t session) {
        if (!to_hub().has_room()) return false;
        auto* o = new proxy::ps_sub_order;
        o->shard = 1;
        o->session = session;
        o->gen = 1;
        const std::string s = sub_msg();
        o->body.assign(s.begin() + 8, s.end());
        proxy::ps_msg m;
        m.kind = proxy::ps_kind::sub;
        m.order = o;
        return to_hub().push(std::move(m));
    }
    /// Everything the hub has published on lane 0->1 so far, moved out.
    std::vector<proxy::ps_msg> take() {
        std::vector<proxy::ps_msg> out;
        from_hub().drain([&](proxy::ps_msg& m) { out.push_back(std::move(m)); });
        return out;
    }
    /// Puts filler messages on lane 0->1 until it holds `n` (or is full); returns how many.
    uint32_t fill(uint32_t n = proxy::kPsLaneSlots) {
        uint32_t added = 0;
        for (; added < proxy::kPsLaneSlots && from_hub().used() < n; ++added) {
            proxy::ps_msg m;
            m.kind = proxy::ps_kind::deliver;
            m.n = 0;
            m.table = kFiller;
            if (!from_hub().push(std::move(m))) break;
        }
        from_hub().publish();
        return added;
    }
};

/// Feeds update `u` on `sid`, header then body; true when the connection is read on after it
/// (false: the feed was paused).
bool feed(ps_rig& t, uint32_t sid, const std::string& u) {
    t.read(sid, u.substr(0, 8));
    const size_t reads = t.be.count(op::read, sid);
    t.read(sid, u.substr(8));
    return t.be.count(op::read, sid) > reads;
}

/// The seq of the first row of a delivered update.
int64_t first_seq(const pubsub::update_ref& u) {
    const value v = pubsub::test::decode_msg(u.bytes());
    REQUIRE(v.items.size() == 3);
    const value& seq = v.items[2].items[0].items[1].items[4];  // table -> dict -> column
    REQUIRE(seq.raw.size() >= 8);
    int64_t s = 0;
    std::memcpy(&s, seq.raw.data(), 8);
    return s;
}

}  // namespace

TEST_CASE("pubsub lanes: messages for a full lane wait in order (pubsub_lane_full)") {
    ps_rig t(false, 2);
    t.client(0);
    t.client(1);  // a second publisher
    constexpr uint32_t kPub2 = kSub;
    shard1 s1{t};
    CHECK(feed(t, kPub, upd_msg(1, 0)));  // the hub learns `trade`; nobody subscribed yet
    REQUIRE(s1.sub(7));
    s1.to_hub().publish();
    t.turn();
    std::vector<proxy::ps_msg> got = s1.take();
    REQUIRE(got.size() == 1);
    REQUIRE(got[0].kind == proxy::ps_kind::sub_done);
    CHECK(got[0].order->subs.size() == 1);
    delete got[0].order;

    CHECK(s1.fill() == proxy::kPsLaneSlots);  // shard 1 stops draining: the lane is full
    const uint64_t mailbox = t.ctr.pubsub_mailbox_msgs.load();
    CHECK_FALSE(feed(t, kPub, upd_msg(1, 1)));  // its deliver waits; the feed is paused
    CHECK(t.ctr.pubsub_lane_full.load() == 1);
    CHECK(t.ctr.pubsub_feed_pauses.load() == 1);
    // Shard 1 catches up before this shard's next turn: the lane has room, but a message is
    // still waiting, so the second publisher's update must queue behind it, not overtake it.
    CHECK(s1.take().size() == proxy::kPsLaneSlots);
    CHECK_FALSE(feed(t, kPub2, upd_msg(1, 2)));  // paused too: a message is waiting
    CHECK(t.ctr.pubsub_lane_full.load() == 2);
    CHECK(t.ctr.pubsub_feed_pauses.load() == 2);
    CHECK(s1.from_hub().used() == 0);  // nothing went straight into the lane
    CHECK(t.ctr.pubsub_mailbox_msgs.load() == mailbox);
    const size_t reads = t.be.count(op::read, kPub);
    const size_t reads2 = t.be.count(op::read, kPub2);
    t.turn();  // the waiting messages move into the lane, then the feeds are read again
    CHECK(t.ctr.pubsub_mailbox_msgs.load() == mailbox + 2);
    CHECK(t.be.count(op::read, kPub) == reads + 1);
    CHECK(t.be.count(op::read, kPub2) == reads2 + 1);
    got = s1.take();
    REQUIRE(got.size() == 2);
    std::vector<int64_t> seqs;
    for (const proxy::ps_msg& m : got) {
        REQUIRE(m.kind == proxy::ps_kind::deliver);
        REQUIRE(m.n == 1);
        seqs.push_back(first_seq(m.bufs[0]));
    }
    CHECK(seqs == std::vector<int64_t>{1, 2});
    CHECK(t.ctr.pubsub_lane_drops.load() == 0);
    CHECK(t.ctr.pubsub_updates_in.load() == 3);
}

TEST_CASE("pubsub lanes: beyond kPsOverflowMax waiting, messages are dropped and counted") {
    ps_rig t(false, 2);
    t.client(0);
    shard1 s1{t};
    CHECK(feed(t, kPub, upd_msg(1, 0)));  // the hub learns `trade`
    // Shard 1 sends .u.sub after .u.sub and drains nothing: the hub's answers fill the lane,
    // then the overflow queue, and the last kExtra are dropped.
    constexpr uint32_t kExtra = 3;
    constexpr uint32_t kTotal = proxy::kPsLaneSlots + proxy::kPsOverflowMax + kExtra;
    uint32_t sent = 0;
    for (uint32_t round = 0; sent < kTotal; ++round) {
        REQUIRE(round <= kTotal / proxy::kPsLaneSlots + 1);
        while (sent < kTotal && s1.sub(sent)) ++sent;
        s1.to_hub().publish();
        t.turn();
    }
    CHECK(t.ctr.pubsub_lane_full.load() == proxy::kPsOverflowMax);
    CHECK(t.ctr.pubsub_lane_drops.load() == kExtra);
    // Shard 1 drains again: every kept answer arrives, in order, as the lane frees.
    std::vector<uint32_t> sessions;
    size_t not_answers = 0;
    for (uint32_t round = 0; round <= kTotal / proxy::kPsLaneSlots + 1; ++round) {
        for (proxy::ps_msg& m : s1.take()) {
            if (m.kind != proxy::ps_kind::sub_done) {
                ++not_answers;
                continue;
            }
            sessions.push_back(m.order->session);
            delete m.order;
        }
        t.turn();
    }
    CHECK(not_answers == 0);
    CHECK(s1.take().empty());
    REQUIRE(sessions.size() == proxy::kPsLaneSlots + proxy::kPsOverflowMax);
    size_t out_of_order = 0;
    for (uint32_t i = 0; i < sessions.size(); ++i) out_of_order += sessions[i] != i;
    CHECK(out_of_order == 0);  // so the dropped ones are the last kExtra
    CHECK(t.ctr.pubsub_lane_drops.load() == kExtra);
    CHECK(t.ctr.pubsub_mailbox_msgs.load() == proxy::kPsLaneSlots + proxy::kPsOverflowMax);
}

TEST_CASE("pubsub lanes: a feed is paused only while a lane is over half full") {
    ps_rig t(false, 2);
    t.client(0);
    shard1 s1{t};
    CHECK(s1.fill(proxy::kPsLaneHigh) == proxy::kPsLaneHigh);
    CHECK(feed(t, kPub, upd_msg(1, 0)));  // exactly half full: read on
    CHECK(t.ctr.pubsub_feed_pauses.load() == 0);
    CHECK(s1.fill(proxy::kPsLaneHigh + 1) == 1);
    CHECK_FALSE(feed(t, kPub, upd_msg(1, 1)));  // over half: paused
    CHECK(t.ctr.pubsub_feed_pauses.load() == 1);
    const size_t reads = t.be.count(op::read, kPub);
    t.turn();
    CHECK(t.be.count(op::read, kPub) == reads);  // still over: still paused
    CHECK(s1.take().size() == proxy::kPsLaneHigh + 1);
    CHECK(s1.fill(proxy::kPsLaneHigh) == proxy::kPsLaneHigh);  // half full again, not over
    t.turn();
    CHECK(t.be.count(op::read, kPub) == reads + 1);  // resumed
    CHECK(feed(t, kPub, upd_msg(1, 2)));
    CHECK(t.ctr.pubsub_feed_pauses.load() == 1);
    CHECK(t.ctr.pubsub_updates_in.load() == 3);
    CHECK(s1.take().size() == proxy::kPsLaneHigh);  // nobody subscribed: only the filler
}

TEST_CASE("pubsub lanes: the upstream link is not read while a lane is over half full") {
    ps_rig t(true, 2);
    constexpr uint32_t kUp = proxy::sock_id(0, role::upstream);  // ps_up_start took slot 0
    shard1 s1{t};
    t.upstream_handshake(kUp);
    const rec* sub = t.be.last(op::send, kUp);
    REQUIRE(sub != nullptr);
    t.complete(sub->ud, static_cast<int32_t>(sub->bytes.size()));
    t.stream(kUp, msg(value::list({value::list({value::symbol("trade"), trades({})})}),
                      qipc::msg_type::response), 1 << 20);
    REQUIRE(t.ctr.pubsub_upstream_connects.load() == 1);
    auto upd = [](int64_t first) {
        return msg(value::list({value::symbol("upd"), value::symbol("trade"),
                                trades({"A", "B"}, first)}));
    };
    CHECK(feed(t, kUp, upd(0)));
    CHECK(t.ctr.pubsub_feed_pauses.load() == 0);
    CHECK(s1.fill(proxy::kPsLaneHigh + 1) == proxy::kPsLaneHigh + 1);
    CHECK_FALSE(feed(t, kUp, upd(2)));  // the link's update is taken, then it is not read
    CHECK(t.ctr.pubsub_feed_pauses.load() == 1);
    CHECK(t.ctr.pubsub_updates_in.load() == 2);
    const size_t reads = t.be.count(op::read, kUp);
    t.turn();
    CHECK(t.be.count(op::read, kUp) == reads);
    CHECK(s1.take().size() == proxy::kPsLaneHigh + 1);
    t.turn();
    REQUIRE(t.be.count(op::read, kUp) == reads + 1);  // resumed: the next header
    CHECK(t.reading(kUp).len == 8);
    CHECK(feed(t, kUp, upd(4)));
    CHECK(t.ctr.pubsub_updates_in.load() == 3);
    CHECK(t.ctr.pubsub_upstream_connects.load() == 1);  // the same link throughout
}

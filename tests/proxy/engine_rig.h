// The engine test rig shared by the engine's unit tests (tests/proxy/*_test.cc): a fake io
// backend that records what the engine submits, and helpers that fabricate the completions a
// kernel would deliver, including those it produces only under stress (-ENOBUFS, short sends
// and reads, a multishot recv ending without F_MORE, -ECANCELED). No sockets carry data;
// fds are real (socket()) only so that close() is harmless.
#pragma once

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "proxy/engine.h"
#include "proxy/request.h"

namespace qgate::testing {

using namespace qgate::io;
using qgate::proxy::role;

struct rec {
    op o;
    int fd;
    uint64_t ud;
    std::string bytes;       // sends: the gathered payload
    const void* base = nullptr;  // sends: where the first iovec points (zero-copy checks)
    uint8_t* buf = nullptr;  // recv_into: where the bytes go, how many at most, MSG_WAITALL
    uint32_t len = 0;
    bool all = false;
    mutable bool done = false;  // recv_into: completed by the test
};

class fake_backend final : public io_backend {
  public:
    fake_backend() { REQUIRE(pool_.init(8, 4096)); }
    backend_kind kind() const override { return backend_kind::epoll; }
    const char* name() const override { return "fake"; }
    void accept_multishot(int fd, uint64_t ud) override { ops.push_back({op::accept, fd, ud, {}}); }
    void recv_multishot(int fd, uint64_t ud) override { ops.push_back({op::recv, fd, ud, {}}); }
    void recv_into(int fd, uint64_t ud, uint8_t* buf, uint32_t len, bool all) override {
        ops.push_back({op::read, fd, ud, {}, nullptr, buf, len, all});
        into_buf = buf;
        into_len = len;
    }
    uint8_t* into_buf = nullptr;  ///< the last recv_into target (tests write "received" bytes)
    uint32_t into_len = 0;
    void send_msg(int fd, uint64_t ud, const msghdr* m) override {
        std::string b;
        for (size_t i = 0; i < m->msg_iovlen; ++i) {
            b.append(static_cast<const char*>(m->msg_iov[i].iov_base), m->msg_iov[i].iov_len);
        }
        ops.push_back({op::send, fd, ud, b, m->msg_iovlen > 0 ? m->msg_iov[0].iov_base : nullptr});
    }
    void connect(int fd, uint64_t ud, const sockaddr*, socklen_t) override {
        ops.push_back({op::connect, fd, ud, {}});
    }
    void cancel(int fd, uint64_t ud) override { ops.push_back({op::cancel, fd, ud, {}}); }
    void cancel_fd(int fd) override { ops.push_back({op::cancel, fd, 0, {}}); }
    void close_fd(int fd) override {
        closed.push_back(fd);
        ::close(fd);
    }
    int wait(completion*, int, int) override { return 0; }
    void wake_peer(io_backend&) override {}
    void notify() override {}
    /// Scripted synchronous reads: served from `queued` (what the socket holds now), -EAGAIN
    /// when it is empty.
    int32_t recv_now(int, uint8_t* buf, uint32_t len) override {
        if (queued.empty()) return -EAGAIN;
        const size_t n = len < queued.size() ? len : queued.size();
        std::memcpy(buf, queued.data(), n);
        queued.erase(0, n);
        ++reads_now;
        return static_cast<int32_t>(n);
    }
    std::string queued;
    uint32_t reads_now = 0;

    /// The most recent submission of kind `o` on slot `slot` (sock id), or nullptr.
    const rec* last(op o, uint32_t slot) const {
        for (auto it = ops.rbegin(); it != ops.rend(); ++it) {
            if (it->o == o && ud_slot(it->ud) == slot) return &*it;
        }
        return nullptr;
    }
    size_t count(op o, uint32_t slot) const {
        size_t n = 0;
        for (const rec& r : ops) n += r.o == o && ud_slot(r.ud) == slot;
        return n;
    }

    /// A cancel was submitted for `fd` (the engine shut that socket down).
    bool was_cancelled(int fd) const {
        for (const rec& r : ops) {
            if (r.o == op::cancel && r.fd == fd) return true;
        }
        return false;
    }

    bool was_closed(int fd) const {
        for (int c : closed) {
            if (c == fd) return true;
        }
        return false;
    }

    std::vector<rec> ops;
    std::vector<int> closed;
};

inline uint64_t g_now = 1000;
inline uint64_t fake_clock() { return g_now; }

/// What every fixture shares: the fake backend, the engine under test and the helpers that
/// fabricate completions. A fixture fills `cfg` and calls start().
struct engine_rig {
    fake_backend be;
    shard::counters ctr;
    config_ptr cfg;
    proxy::upstream_table ups;
    proxy::route_plane plane;
    proxy::gen_holder gens{1};
    std::unique_ptr<proxy::pubsub_plane> ps_plane;
    std::unique_ptr<proxy::engine> eng;

    /// Builds the engine for `c`; request-mode configs also get a route plane, pub/sub ones a
    /// pub/sub plane of `shards` shards.
    void start(std::shared_ptr<config> c, uint32_t shards = 1) {
        cfg = c;
        std::string err;
        ups.build(*cfg);
        REQUIRE_MESSAGE(proxy::start_generation(cfg, ups, gens, err), err);
        proxy::engine_options o;
        o.gens = &gens;
        o.cfg = cfg;
        o.upstreams = &ups;
        if (c->listeners[0].mode == conn_mode::request) {
            plane.build(*cfg, 1);
            o.plane = &plane;
        }
        if (c->listeners[0].mode == conn_mode::pubsub) {
            ps_plane = std::make_unique<proxy::pubsub_plane>(shards, *cfg);
            o.pubsub = ps_plane.get();
        }
        o.listener_fds = {::socket(AF_INET, SOCK_STREAM, 0)};
        o.clock_ms = &fake_clock;
        eng = std::make_unique<proxy::engine>(be, ctr, o);
    }
    /// The request-mode config the request fixtures start from: one listener for group "g",
    /// 8 receive buffers, 4 sessions and 16 request slots per shard; fixtures add backends.
    static std::shared_ptr<config> request_config() {
        auto c = std::make_shared<config>();
        c->listeners.push_back({{"127.0.0.1", 0}, conn_mode::request, "g", {}});
        c->limits.buf_ring_entries = 8;
        c->limits.conns_per_shard_max = 4;
        c->limits.requests_per_shard_max = 16;
        return c;
    }
    /// Completes the connect of pool connection `slot` and its handshake send; returns the
    /// credentials sent. The caller delivers the backend's reply byte.
    std::string pool_connect(uint32_t slot) {
        const rec* c = be.last(op::connect, slot);
        REQUIRE(c != nullptr);
        complete(c->ud, 0);
        return sent(slot);
    }
    /// Accepts a client into `slot` whose handshake asks for capability `cap`, with `early`
    /// bytes in the same segment; returns qgate's handshake reply.
    std::string accept_client(uint32_t slot, char cap, const std::string& early = "") {
        const rec* a = be.last(op::accept, 0);
        REQUIRE(a != nullptr);
        complete(a->ud, ::socket(AF_INET, SOCK_STREAM, 0), kFlagMore);
        recv(slot, std::string("user:pw") + cap + std::string(1, '\0') + early);
        return sent(slot);
    }
    void turn() { eng->on_turn(g_now); }
    void complete(uint64_t ud, int32_t res, uint32_t flags = 0) {
        eng->on_completion({ud, res, flags});
    }
    /// Delivers `data` as a recv completion into a fresh pool buffer; to a socket that reads
    /// with recv_into (a pool connection), as the reads it asks for (read()).
    void recv(uint32_t slot, const std::string& data, bool more = true) {
        const rec* r = be.last(op::recv, slot);
        const rec* rd = be.last(op::read, slot);
        if (rd != nullptr && (r == nullptr || rd > r)) {
            read(slot, data);
            return;
        }
        recv_buffer(slot, data, more);
    }
    /// Delivers `data` as a completion of `slot`'s multishot recv, in a fresh pool buffer.
    void recv_buffer(uint32_t slot, const std::string& data, bool more = true) {
        const rec* r = be.last(op::recv, slot);
        REQUIRE(r != nullptr);
        int bid = be.pool().acquire();
        REQUIRE(bid >= 0);
        REQUIRE(data.size() <= be.pool().size());
        std::memcpy(be.pool().data(static_cast<uint16_t>(bid)), data.data(), data.size());
        complete(r->ud, static_cast<int32_t>(data.size()),
                 (more ? kFlagMore : 0) | kFlagBuffer | static_cast<uint32_t>(bid) << kBufferShift);
    }
    /// The recv_into armed on `slot`: there must be exactly one, not yet completed.
    const rec& armed_read(uint32_t slot) {
        const rec* r = be.last(op::read, slot);
        REQUIRE(r != nullptr);
        REQUIRE_FALSE(r->done);
        return *r;
    }
    /// Completes `slot`'s recv_into with the first bytes of `data`: as many as it asked for,
    /// at most `chunk` (a short read); again and again until all of `data` is delivered (the
    /// engine must arm the next read each time). Returns the number of reads.
    int read(uint32_t slot, const std::string& data, size_t chunk = SIZE_MAX) {
        size_t off = 0;
        int reads = 0;
        while (off < data.size()) {
            REQUIRE(reads < 100000);
            const rec& r = armed_read(slot);
            size_t n = data.size() - off < r.len ? data.size() - off : r.len;
            n = n < chunk ? n : chunk;
            std::memcpy(r.buf, data.data() + off, n);
            r.done = true;
            off += n;
            ++reads;
            complete(r.ud, static_cast<int32_t>(n));  // may submit: `r` is not used after this
        }
        return reads;
    }
    /// Ends `slot`'s armed recv_into with `res` (0: EOF, -errno).
    void end_read(uint32_t slot, int32_t res) {
        const rec& r = armed_read(slot);
        r.done = true;
        complete(r.ud, res);
    }
    /// Flushes sends and completes the last one on `slot` with `take` bytes (-1: in full);
    /// returns its bytes.
    std::string sent(uint32_t slot, int32_t take = -1) {
        turn();
        const rec* s = be.last(op::send, slot);
        REQUIRE(s != nullptr);
        std::string b = s->bytes;
        complete(s->ud, take < 0 ? static_cast<int32_t>(b.size()) : take);
        return b;
    }
};

// A sync request: header (little-endian, type 1, 16 bytes total) + char vector "hi".
inline std::string sync_frame() {
    return std::string("\x01\x01\x00\x00\x10\x00\x00\x00\x0a\x00\x02\x00\x00\x00hi", 16);
}
inline std::string response_frame() {
    return std::string("\x01\x02\x00\x00\x10\x00\x00\x00\x0a\x00\x02\x00\x00\x00ok", 16);
}

}  // namespace qgate::testing

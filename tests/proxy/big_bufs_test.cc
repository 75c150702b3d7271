// A shard's cache of big buffers (src/proxy/big_bufs.h): what it keeps (only buffers past
// kKeepBytesMax), what a take gets (the smallest that fits, at most 4x), its bounds (count and
// bytes, oldest evicted first, parked buffers included), and its counters. Then request mode
// through the fault-injection rig: a large copied call and a large reply reuse the buffers of
// the previous ones instead of allocating.

#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "engine_rig.h"
#include "proxy/big_bufs.h"

using namespace qgate;
using namespace qgate::io;
using qgate::proxy::big_bufs;
using qgate::proxy::frame_buf;
using qgate::proxy::kKeepBytesMax;
using namespace qgate::testing;

namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

frame_buf buf_of(uint64_t n) {
    frame_buf b;
    b.reserve(n);
    b.resize(n);
    return b;
}

struct cache_fixture {
    shard::counters ctr;
    big_bufs c;
    explicit cache_fixture(uint32_t count_max = 4, uint64_t bytes_max = 64 * kMiB)
        : c(ctr, count_max, bytes_max) {}
    /// Gives a new buffer of `n` bytes; returns its address (to recognise it when taken).
    const uint8_t* give_new(uint64_t n) {
        frame_buf b = buf_of(n);
        const uint8_t* p = b.data();
        c.give(b);
        return p;
    }
    uint64_t hits() const { return ctr.big_buf_hits.load(); }
    uint64_t misses() const { return ctr.big_buf_misses.load(); }
    uint64_t evictions() const { return ctr.big_buf_evictions.load(); }
    uint64_t gauge() const { return ctr.big_buf_bytes.load(); }
};

}  // namespace

TEST_CASE("big bufs: a big buffer given is reused by the next take that fits; counted") {
    cache_fixture f;
    const uint8_t* p = f.give_new(2 * kMiB);
    CHECK(f.c.cached() == 1);
    CHECK(f.c.bytes() == 2 * kMiB);
    CHECK(f.gauge() == 2 * kMiB);
    frame_buf a = f.c.take(2 * kMiB - 100);
    CHECK(a.data() == p);  // the very buffer: no allocation
    CHECK(a.size() == 2 * kMiB - 100);
    CHECK(f.hits() == 1);
    CHECK(f.misses() == 0);
    CHECK(f.c.cached() == 0);
    CHECK(f.gauge() == 0);
    frame_buf b = f.c.take(2 * kMiB);  // nothing cached: a new one
    CHECK(b.capacity() == 2 * kMiB);
    CHECK(f.misses() == 1);
}

TEST_CASE("big bufs: new buffers leave room for a slightly longer message (at most 12.5%)") {
    CHECK(big_bufs::capacity_for(1) == 4096);
    CHECK(big_bufs::capacity_for(5000) == 8192);
    CHECK(big_bufs::capacity_for(kKeepBytesMax) == kKeepBytesMax);
    CHECK(big_bufs::capacity_for(kKeepBytesMax + 1) == kKeepBytesMax + kKeepBytesMax / 8);
    CHECK(big_bufs::capacity_for(2 * kMiB) == 2 * kMiB);
    CHECK(big_bufs::capacity_for(3 * kMiB + 5) == 3 * kMiB + kMiB / 4);
    CHECK(big_bufs::capacity_for(4 * kMiB - 1) == 4 * kMiB);
    CHECK(big_bufs::capacity_for(100 * kMiB + 1) == 104 * kMiB);
    cache_fixture f;
    frame_buf a = f.c.take(3 * kMiB + 5);
    const uint8_t* p = a.data();
    f.c.give(a);
    CHECK(f.c.take(3 * kMiB + 1000).data() == p);  // the next, longer call reuses it
    CHECK(f.misses() == 1);
    CHECK(f.hits() == 1);
}

TEST_CASE("big bufs: buffers up to kKeepBytesMax stay with their holder and are never cached") {
    cache_fixture f;
    frame_buf small = buf_of(kKeepBytesMax);
    const uint8_t* p = small.data();
    f.c.give(small);
    CHECK(small.data() == p);  // kept, capacity and all
    CHECK(f.c.cached() == 0);
    f.give_new(2 * kMiB);
    frame_buf t = f.c.take(kKeepBytesMax);  // a small take does not look in the cache
    CHECK(t.capacity() == kKeepBytesMax);   // a power of two: big_bufs::capacity_for
    CHECK(f.c.take(100).capacity() == 4096);
    CHECK(f.c.cached() == 1);
    CHECK(f.hits() + f.misses() == 0);  // only takes past kKeepBytesMax are counted
}

TEST_CASE("big bufs: a take gets the smallest cached buffer that fits, never one over 4x") {
    cache_fixture f;
    const uint8_t* p16 = f.give_new(16 * kMiB);
    const uint8_t* p3 = f.give_new(3 * kMiB);
    const uint8_t* p8 = f.give_new(8 * kMiB);
    frame_buf a = f.c.take(3 * kMiB / 2);  // 16 MiB is too big for it, 8 and 3 would do
    CHECK(a.data() == p3);
    frame_buf b = f.c.take(2 * kMiB);  // 8 MiB is 4x: still fits; 16 MiB does not
    CHECK(b.data() == p8);
    frame_buf c = f.c.take(3 * kMiB);  // 16 MiB is over 4x: a new one
    CHECK(c.data() != p16);
    CHECK(f.hits() == 2);
    CHECK(f.misses() == 1);
    frame_buf d = f.c.take(4 * kMiB);
    CHECK(d.data() == p16);
}

TEST_CASE("big bufs: bounded by count and by bytes, the oldest evicted first") {
    SUBCASE("count") {
        cache_fixture f(2);
        const uint8_t* a = f.give_new(2 * kMiB);
        const uint8_t* b = f.give_new(2 * kMiB);
        const uint8_t* c = f.give_new(2 * kMiB);  // the third: `a` goes
        CHECK(f.c.cached() == 2);
        CHECK(f.evictions() == 1);
        CHECK(f.gauge() == 4 * kMiB);
        frame_buf x = f.c.take(2 * kMiB);
        frame_buf y = f.c.take(2 * kMiB);
        CHECK(((x.data() == b && y.data() == c) || (x.data() == c && y.data() == b)));
        CHECK(x.data() != a);
        CHECK(y.data() != a);
    }
    SUBCASE("bytes") {
        cache_fixture f(8, 5 * kMiB);
        const uint8_t* a = f.give_new(2 * kMiB);
        f.give_new(2 * kMiB);
        f.give_new(2 * kMiB);  // 6 MiB would pass 5: `a` goes
        CHECK(f.c.cached() == 2);
        CHECK(f.c.bytes() == 4 * kMiB);
        CHECK(f.evictions() == 1);
        f.give_new(6 * kMiB);  // longer than the bound alone: freed, the cache untouched
        CHECK(f.c.cached() == 2);
        CHECK(f.evictions() == 2);
        CHECK(f.c.take(2 * kMiB).data() != a);
    }
    SUBCASE("off") {
        cache_fixture f(0);
        frame_buf b = buf_of(2 * kMiB);
        f.c.give(b);
        CHECK(b.capacity() == 0);  // freed
        CHECK(f.c.cached() == 0);
        CHECK(f.evictions() == 1);
        CHECK(f.gauge() == 0);
    }
}

TEST_CASE("big bufs: parked buffers count in the bounds until unparked") {
    cache_fixture f(2, 64 * kMiB);
    frame_buf p1 = buf_of(3 * kMiB);
    const uint8_t* p = p1.data();
    f.c.park(p1);
    CHECK(p1.data() == p);  // stays with its slot
    CHECK(f.c.parked() == 1);
    CHECK(f.gauge() == 3 * kMiB);
    f.give_new(2 * kMiB);
    f.give_new(2 * kMiB);  // 2 buffers at most, one of them parked: the first given goes
    CHECK(f.c.cached() == 1);
    CHECK(f.evictions() == 1);
    frame_buf p2 = buf_of(3 * kMiB);
    f.c.park(p2);  // no room left: given instead, which evicts the cached one
    CHECK(f.c.parked() == 1);
    CHECK(f.c.cached() == 1);
    CHECK(p2.capacity() == 0);
    CHECK(f.evictions() == 2);
    f.c.unpark(p1);
    CHECK(f.c.parked() == 0);
    CHECK(f.c.bytes() == 3 * kMiB);  // the one cached (p2's buffer)
    CHECK(f.gauge() == 3 * kMiB);
    f.give_new(2 * kMiB);  // room again, nothing evicted
    CHECK(f.evictions() == 2);
    frame_buf small = buf_of(4096);
    f.c.park(small);  // small: nothing to count
    CHECK(f.c.parked() == 0);
    f.c.unpark(small);
}

TEST_CASE("big bufs: fit resizes in place when it can, else swaps in a cached buffer") {
    cache_fixture f;
    frame_buf b = buf_of(3 * kMiB);
    const uint8_t* own = b.data();
    f.c.fit(b, 2 * kMiB);
    CHECK(b.data() == own);
    CHECK(b.size() == 2 * kMiB);
    const uint8_t* cached = f.give_new(8 * kMiB);
    f.c.fit(b, 5 * kMiB);  // own too small: the cached one, and own goes to the cache
    CHECK(b.data() == cached);
    CHECK(b.size() == 5 * kMiB);
    CHECK(f.c.cached() == 1);
    CHECK(f.c.take(3 * kMiB).data() == own);
    CHECK(f.hits() == 2);
    CHECK(f.misses() == 0);
}

// ---- request mode: the cache on the call and reply paths (one shard, fake io backend)

namespace {

struct big_fixture : engine_rig {
    static constexpr uint32_t kPool = proxy::sock_id(0, role::upstream);
    static constexpr uint32_t kCli = proxy::sock_id(1, role::client);
    big_fixture() {
        auto c = request_config();
        c->backends.push_back({"b1", "g", {"127.0.0.1", 1}, "", 1, pipeline_mode::off});
        start(c);
        pool_connect(kPool);
        read(kPool, "\x03");
        REQUIRE(accept_client(kCli, '\x03') == "\x03");
    }
    /// Sends `frame` from the client in receive-buffer-sized pieces (copied: it straddles).
    void send_call(const std::string& frame) {
        const size_t piece = be.pool().size();
        for (size_t off = 0; off < frame.size(); off += piece) recv(kCli, frame.substr(off, piece));
    }
    /// Flushes and completes the pool connection's send; returns where its bytes were.
    const void* call_sent(const std::string& frame) {
        turn();
        const rec* s = be.last(op::send, kPool);
        REQUIRE(s != nullptr);
        CHECK(s->bytes == frame);
        const void* base = s->base;
        complete(s->ud, static_cast<int32_t>(frame.size()));
        return base;
    }
    /// The backend answers; the answer reaches the client in full. Returns where it was sent
    /// from (the buffer it was received in).
    const void* answer(const std::string& frame) {
        read(kPool, frame);
        turn();
        const rec* s = be.last(op::send, kCli);
        REQUIRE(s != nullptr);
        CHECK(s->bytes == frame);
        const void* base = s->base;
        complete(s->ud, static_cast<int32_t>(frame.size()));
        return base;
    }
    uint64_t hits() const { return ctr.big_buf_hits.load(); }
    uint64_t misses() const { return ctr.big_buf_misses.load(); }
};

// A frame of `type` and `n` bytes in all (a byte vector of n - 14 bytes, a recognisable
// pattern that differs with `seed`).
std::string frame_of(uint8_t type, size_t n, int seed) {
    std::string f("\x01", 1);
    f.push_back(static_cast<char>(type));
    f.append("\x00\x00", 2);
    const uint32_t len = static_cast<uint32_t>(n);
    f.append(reinterpret_cast<const char*>(&len), 4);
    f.append("\x04\x00", 2);
    const uint32_t count = static_cast<uint32_t>(n - 14);
    f.append(reinterpret_cast<const char*>(&count), 4);
    for (size_t i = 0; i < count; ++i) f.push_back(static_cast<char>(i * 13 + i / 251 + seed));
    return f;
}

}  // namespace

TEST_CASE("big bufs: a large copied call grows with its bytes, not to its header's length at "
          "once, and its buffer is reused by the next large call") {
    big_fixture f;
    const std::string c1 = frame_of(1, 2 * kMiB + 5, 1);
    f.send_call(c1);
    const void* first = f.call_sent(c1);
    // Two allocations: about 1 MiB first, then the whole call (request_budget.cc); the first,
    // a step of this call's growth, is freed, not cached.
    CHECK(f.misses() == 2);
    CHECK(f.hits() == 0);
    CHECK(f.ctr.request_bytes_copied.load() == c1.size());
    f.answer(response_frame());  // the slot is freed: its call buffer goes to the cache
    const uint64_t cap = big_bufs::capacity_for(c1.size());
    CHECK(f.ctr.big_buf_bytes.load() == cap);
    const std::string c2 = frame_of(1, 2 * kMiB - 1000, 2);
    f.send_call(c2);
    CHECK(f.call_sent(c2) == first);  // the same buffer, the new call's bytes
    CHECK(f.hits() == 1);
    CHECK(f.misses() == 2);
    f.answer(response_frame());
    CHECK(f.ctr.big_buf_bytes.load() == cap);  // one buffer served both calls
}

TEST_CASE("big bufs: a large reply's buffer comes back to the home shard with the slot's next "
          "call and receives the next large reply") {
    big_fixture f;
    const std::string r1 = frame_of(2, 3 * kMiB + 10, 1);
    const uint64_t cap = big_bufs::capacity_for(r1.size());
    f.recv(big_fixture::kCli, sync_frame());
    f.call_sent(sync_frame());
    const void* first = f.answer(r1);
    // Grown with the bytes (pool_rx.cc step 5): about 1 MiB, 2.25 MiB, then the whole reply;
    // the steps are freed, not cached.
    CHECK(f.misses() == 3);
    // The freed slot keeps the reply buffer, parked (counted in the cache's bytes).
    CHECK(f.ctr.big_buf_bytes.load() == cap);
    const std::string r2 = frame_of(2, 3 * kMiB + 5000, 2);  // a little longer: still fits
    f.recv(big_fixture::kCli, sync_frame());
    f.call_sent(sync_frame());
    CHECK(f.answer(r2) == first);  // received into the same buffer, no allocation
    CHECK(f.hits() == 1);
    CHECK(f.misses() == 3);
    CHECK(f.ctr.big_buf_evictions.load() == 0);
    CHECK(f.ctr.big_buf_bytes.load() == cap);  // parked again, counted once
}

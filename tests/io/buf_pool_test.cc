// Buffer pool accounting (stack mode and provided-buffer ring mode) and the send queue:
// gathering, short-send resume, the iovec limit and solo items.

#include <doctest/doctest.h>

#include <cstring>
#include <set>
#include <vector>

#include "io/buf_pool.h"
#include "io/send_queue.h"
#include "io/uring_compat.h"

using namespace qgate::io;

TEST_CASE("buf_pool: stack mode acquire/release accounting") {
    buf_pool p;
    REQUIRE(p.init(8, 64));
    CHECK_FALSE(buf_pool().init(6, 64));  // not a power of two
    CHECK(p.available() == 8);
    std::vector<int> got;
    for (int i = 0; i < 8; ++i) got.push_back(p.acquire());
    CHECK(p.acquire() == -1);  // empty: the epoll backend turns this into -ENOBUFS
    CHECK(p.available() == 0);
    CHECK(p.held() == 8);
    for (int b : got) CHECK(b >= 0);
    CHECK(std::set<int>(got.begin(), got.end()).size() == 8);  // no buffer handed out twice
    p.release(static_cast<uint16_t>(got[3]));
    CHECK(p.available() == 1);
    CHECK(p.acquire() == got[3]);
    CHECK(p.data(1) - p.data(0) == 64);
}

TEST_CASE("buf_pool: ring mode publishes releases in one batch") {
    buf_pool p;
    REQUIRE(p.init(4, 32));
    // A ring that is not registered with a kernel ring: only its memory layout matters here.
    alignas(4096) static io_uring_buf bufs[4];
    auto* br = reinterpret_cast<io_uring_buf_ring*>(bufs);
    io_uring_buf_ring_init(br);
    p.attach_ring(br);
    CHECK(p.ring_mode());
    CHECK(br->tail == 4);  // every buffer handed to the "kernel"
    CHECK(p.available() == 4);
    p.note_taken(2);
    p.note_taken(0);
    CHECK(p.available() == 2);
    p.release(2);
    p.release(0);
    CHECK(br->tail == 4);  // not visible until publish
    p.publish();
    CHECK(br->tail == 6);
    CHECK(p.available() == 4);
    CHECK(bufs[(4) & 3].bid == 2);  // re-added in release order at the old tail
}

TEST_CASE("buf_pool: ring mode keeps entries/32 buffers back for acquire (TLS plaintext)") {
    buf_pool p;
    REQUIRE(p.init(64, 32));
    alignas(4096) static io_uring_buf bufs[64];
    auto* br = reinterpret_cast<io_uring_buf_ring*>(bufs);
    io_uring_buf_ring_init(br);
    p.attach_ring(br);
    CHECK(br->tail == 62);  // two of 64 kept on the free stack
    const int a = p.acquire();
    const int b = p.acquire();
    CHECK(a >= 0);
    CHECK(b >= 0);
    CHECK(p.acquire() == -1);  // the reserve is empty; the kernel's buffers are not taken
    CHECK(p.held() == 2);
    p.release(static_cast<uint16_t>(a));  // refills the reserve before the ring
    p.publish();
    CHECK(br->tail == 62);
    CHECK(p.acquire() == a);
    p.note_taken(5);
    p.release(static_cast<uint16_t>(b));
    p.release(static_cast<uint16_t>(a));
    p.release(5);  // the reserve is full again: this one goes to the ring
    p.publish();
    CHECK(br->tail == 63);
    CHECK(p.held() == 0);
}

TEST_CASE("send_queue: gathers items, resumes short sends at the exact byte") {
    item_pool items(16);
    send_queue q;
    const uint8_t a[] = "abcdef", b[] = "ghij", c[] = "kl";
    std::vector<uint16_t> released;
    auto rel = [&](uint16_t bid) { released.push_back(bid); };
    REQUIRE(q.push(items, a, 6, 7));
    REQUIRE(q.push(items, b, 4, -1));
    REQUIRE(q.push(items, c, 2, 9));
    CHECK(q.bytes() == 12);
    iovec iov[kIovMax];
    uint64_t total = 0;
    CHECK(q.gather(items, iov, kIovMax, total) == 3);
    CHECK(total == 12);
    q.consume(items, 4, rel);  // short send inside the first item
    CHECK(released.empty());
    CHECK(q.gather(items, iov, kIovMax, total) == 3);
    CHECK(total == 8);
    CHECK(std::memcmp(iov[0].iov_base, "ef", 2) == 0);
    q.consume(items, 3, rel);  // finishes item 1 (bid 7) and one byte of item 2
    CHECK(released == std::vector<uint16_t>{7});
    CHECK(q.gather(items, iov, kIovMax, total) == 2);
    CHECK(std::memcmp(iov[0].iov_base, "hij", 3) == 0);
    q.consume(items, 5, rel);
    CHECK(q.empty());
    CHECK(released == std::vector<uint16_t>{7, 9});
    CHECK(items.used() == 0);
}

TEST_CASE("send_queue: iovec limit, solo items, pool exhaustion, clear") {
    item_pool items(100);
    send_queue q;
    static uint8_t byte = 'x';
    for (int i = 0; i < 70; ++i) REQUIRE(q.push(items, &byte, 1, -1));
    iovec iov[kIovMax];
    uint64_t total = 0;
    CHECK(q.gather(items, iov, kIovMax, total) == kIovMax);
    CHECK(total == kIovMax);

    send_queue s;
    static const uint8_t reply = 3;
    REQUIRE(s.push(items, &reply, 1, -1, true));
    REQUIRE(s.push(items, &byte, 1, -1));
    CHECK(s.gather(items, iov, kIovMax, total) == 1);  // the handshake byte goes alone
    s.consume(items, 1, [](uint16_t) {});
    CHECK(s.gather(items, iov, kIovMax, total) == 1);
    REQUIRE(s.push(items, &reply, 1, -1, true));
    CHECK(s.gather(items, iov, kIovMax, total) == 1);  // stops before a solo item

    item_pool tiny(2);
    send_queue t;
    CHECK(t.push(tiny, &byte, 1, 1));
    CHECK(t.push(tiny, &byte, 1, 2));
    CHECK_FALSE(t.push(tiny, &byte, 1, 3));
    int n = 0;
    t.clear(tiny, [&](uint16_t) { ++n; });
    CHECK(n == 2);
    CHECK(tiny.used() == 0);
    CHECK(t.bytes() == 0);
}

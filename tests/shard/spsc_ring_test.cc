// spsc_ring<T> (src/shard/spsc_ring.h) over a T that owns memory (a string and a shared
// reference): order across wraparound, a full ring refuses without taking the message,
// publication (by publish(), or by itself every publish_every pushes) and the wake check, the
// slot-reuse contract, and a two-thread run. The mailbox and the pub/sub lanes are this ring
// (mailbox_test.cc, pubsub_lane_test.cc test them with their own messages).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "shard/spsc_ring.h"
#include "spin_bound.h"

using qgate::shard::spsc_ring;
using qgate::test::kSpinBudget;
using qgate::test::spin_bound;

namespace {

struct item {
    uint64_t seq = 0;
    std::string text;          ///< long enough not to fit the small-string buffer
    std::shared_ptr<int> ref;  ///< counts who still holds the message
};

item make(uint64_t seq, const std::shared_ptr<int>& ref = nullptr) {
    return item{seq, "message number " + std::to_string(seq) + " with a heap-allocated text", ref};
}

bool intact(const item& m, uint64_t seq) { return m.seq == seq && m.text == make(seq).text; }

}  // namespace

TEST_CASE("spsc_ring: order across wraparound") {
    spsc_ring<item> r(4, 0);
    CHECK(r.capacity() == 4);
    uint64_t next_in = 0;
    uint64_t next_out = 0;
    uint32_t bad = 0;
    // 3 in, 3 out, 50 times: the indices go round the 4 slots many times, at every offset.
    for (int round = 0; round < 50; ++round) {
        for (int i = 0; i < 3; ++i) REQUIRE(r.push(make(next_in++)));
        r.publish();
        CHECK(r.drain([&](item& m) { bad += intact(m, next_out++) ? 0 : 1; }) == 3);
    }
    CHECK(next_out == 150);
    CHECK(bad == 0);
    CHECK(r.used() == 0);
}

TEST_CASE("spsc_ring: a full ring refuses and leaves the message with the caller") {
    auto ref = std::make_shared<int>(0);
    spsc_ring<item> r(8, 0);
    for (uint64_t i = 0; i < 8; ++i) REQUIRE(r.push(make(i, ref)));
    CHECK(r.used() == 8);
    CHECK_FALSE(r.has_room());
    item extra = make(99, ref);
    CHECK_FALSE(r.push(std::move(extra)));
    CHECK(intact(extra, 99));  // not moved from: the caller still owns it
    CHECK(extra.ref == ref);
    const item copy = make(100);
    CHECK_FALSE(r.push(copy));
    CHECK(ref.use_count() == 1 + 8 + 1);  // ours, the ring's 8, `extra`
    r.publish();
    // Full counts unpublished slots too, and a drain frees every slot it read.
    CHECK(r.drain([](item& m) { item gone = std::move(m); }) == 8);
    CHECK(ref.use_count() == 2);  // moved out and dropped by the consumer
    CHECK(r.has_room());
    REQUIRE(r.push(std::move(extra)));
    CHECK(r.used() == 1);
}

TEST_CASE("spsc_ring: publication, by publish() or every publish_every pushes; the wake check") {
    SUBCASE("publish_every 0: only publish() publishes") {
        spsc_ring<item> r(64, 0);
        for (uint64_t i = 0; i < 40; ++i) REQUIRE(r.push(make(i)));
        CHECK_FALSE(r.has_published());
        CHECK(r.drain([](item&) {}) == 0);
        CHECK_FALSE(r.take_unsignalled());
        CHECK(r.publish());
        CHECK_FALSE(r.publish());  // nothing new
        CHECK(r.has_published());
        CHECK(r.take_unsignalled());
        CHECK_FALSE(r.take_unsignalled());  // once per publication
        CHECK(r.drain([](item&) {}) == 40);
        CHECK_FALSE(r.has_published());
    }
    SUBCASE("publish_every 4: the 4th push publishes the batch by itself") {
        spsc_ring<item> r(64, 4);
        for (uint64_t i = 0; i < 3; ++i) REQUIRE(r.push(make(i)));
        CHECK_FALSE(r.has_published());
        REQUIRE(r.push(make(3)));
        CHECK(r.has_published());
        // The wake check sees that publication although publish() has nothing new to add.
        CHECK_FALSE(r.publish());
        CHECK(r.take_unsignalled());
        uint64_t next = 0;
        uint32_t bad = 0;
        CHECK(r.drain([&](item& m) { bad += intact(m, next++) ? 0 : 1; }) == 4);
        CHECK(bad == 0);
        REQUIRE(r.push(make(4)));  // the next batch has begun: invisible again
        CHECK_FALSE(r.has_published());
    }
}

TEST_CASE("spsc_ring: a slot keeps what the consumer leaves until it is pushed over") {
    auto ref = std::make_shared<int>(0);
    spsc_ring<item> r(2, 0);
    REQUIRE(r.push(make(0, ref)));
    r.publish();
    CHECK(r.drain([](item&) {}) == 1);  // read, not moved out
    CHECK(ref.use_count() == 2);        // the slot still holds its reference
    REQUIRE(r.push(make(1)));
    REQUIRE(r.push(make(2)));  // the second push reuses slot 0
    CHECK(ref.use_count() == 1);
}

TEST_CASE("spsc_ring: two threads, every message once, intact and in order") {
    constexpr uint32_t kCount = 200000;
    auto ref = std::make_shared<int>(0);
    auto r = std::make_unique<spsc_ring<item>>(64, 16);
    const auto deadline = std::chrono::steady_clock::now() + kSpinBudget;
    std::atomic<bool> give_up{false};  // either side timed out: the other stops too
    // Written by the consumer, checked after join: doctest assertions stay on this thread.
    uint32_t received = 0;
    uint32_t bad = 0;
    std::thread consumer([&] {
        spin_bound bound{deadline};
        while (received < kCount && !give_up.load()) {
            const uint32_t n = r->drain([&](item& m) {
                const item got = std::move(m);
                bad += intact(got, received) && got.ref == ref ? 0 : 1;
                ++received;
            });
            if (received == kCount) break;
            if (!bound.go_on()) give_up = true;
            // Empty: let the producer run (on a loaded 2-core box it may be descheduled, and
            // a tight spin would use up the bound's rounds waiting for it).
            if (n == 0) std::this_thread::yield();
        }
    });
    spin_bound bound{deadline};
    uint32_t sent = 0;
    while (sent < kCount && !give_up.load()) {
        item m = make(sent, ref);
        if (r->push(std::move(m))) {
            ++sent;
            continue;
        }
        r->publish();  // full: make the partial batch visible, then wait for room
        if (!bound.go_on()) give_up = true;
        std::this_thread::yield();
    }
    r->publish();
    consumer.join();
    CHECK_MESSAGE(!give_up.load(), "gave up after " << received << " of " << kCount
                                                    << " messages: lost, or the ring stalled");
    CHECK(sent == kCount);
    CHECK(received == kCount);
    CHECK(bad == 0);
    CHECK(ref.use_count() == 1);  // every message was moved out and dropped by the consumer
}

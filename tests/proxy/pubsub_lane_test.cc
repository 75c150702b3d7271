// The pub/sub lanes between shards (src/proxy/pubsub_state.h, an spsc_ring<ps_msg>): SPSC
// order, capacity, and update references handed across threads without copies or leaks.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "proxy/pubsub_state.h"
#include "../shard/spin_bound.h"

using qgate::proxy::kPsLaneSlots;
using qgate::proxy::ps_kind;
using qgate::proxy::ps_lane;
using qgate::proxy::ps_msg;
using qgate::pubsub::update_ref;
using qgate::test::kSpinBudget;
using qgate::test::spin_bound;

TEST_CASE("ps_lane: capacity, order, publish makes messages visible") {
    auto lane = std::make_unique<ps_lane>(kPsLaneSlots, 0);
    for (uint32_t i = 0; i < kPsLaneSlots; ++i) {
        ps_msg m;
        m.table = i;
        REQUIRE(lane->push(std::move(m)));
    }
    CHECK_FALSE(lane->has_room());  // full
    const uint8_t bytes[16] = {1, 0, 0, 0, 16};
    ps_msg extra;
    extra.bufs[0] = update_ref::copy_of(bytes);
    CHECK_FALSE(lane->push(std::move(extra)));
    CHECK(extra.bufs[0]);  // a refused message stays the caller's (for the overflow queue)
    CHECK(lane->used() == kPsLaneSlots);
    uint32_t seen = 0;
    lane->drain([&](ps_msg&) { ++seen; });
    CHECK(seen == 0);  // nothing published yet
    CHECK(lane->publish());
    uint32_t next = 0;
    lane->drain([&](ps_msg& m) { CHECK(m.table == next++); });
    CHECK(next == kPsLaneSlots);
    CHECK(lane->used() == 0);
    CHECK(lane->has_room());
}

TEST_CASE("ps_lane: references cross threads in order; the last drop frees") {
    auto lane = std::make_unique<ps_lane>(kPsLaneSlots, 0);
    const uint8_t bytes[16] = {1, 0, 0, 0, 16};
    const update_ref shared = update_ref::copy_of(bytes);
    constexpr uint32_t kCount = 200000;
    const auto deadline = std::chrono::steady_clock::now() + kSpinBudget;
    std::atomic<bool> give_up{false};  // either side timed out: the other stops too
    // Written by the consumer, checked after join: doctest assertions stay on this thread.
    uint32_t bad = 0;
    uint32_t received = 0;
    std::thread consumer([&] {
        spin_bound bound{deadline};
        while (received < kCount && !give_up.load()) {
            lane->drain([&](ps_msg& m) {
                const bool ok =
                    m.kind == ps_kind::deliver && m.table == received && m.bufs[0].same_as(shared);
                bad += ok ? 0 : 1;
                m.bufs[0].reset();
                ++received;
            });
            if (received < kCount && !bound.go_on()) give_up = true;
        }
    });
    spin_bound bound{deadline};
    uint32_t sent = 0;
    while (sent < kCount && !give_up.load()) {
        ps_msg m;
        m.kind = ps_kind::deliver;
        m.table = sent;
        m.n = 1;
        m.bufs[0] = shared;
        if (!lane->push(std::move(m))) {
            lane->publish();
            if (!bound.go_on()) give_up = true;  // the lane stayed full: the consumer stopped
            continue;
        }
        ++sent;
        if (sent % 64 == 0) lane->publish();
    }
    lane->publish();
    consumer.join();
    CHECK_MESSAGE(!give_up.load(), "gave up after " << received << " of " << kCount
                                                    << " messages: lost, or the lane stalled");
    CHECK(sent == kCount);
    CHECK(received == kCount);
    CHECK(bad == 0);
    CHECK(shared.use_count() == 1);  // the consumer dropped every reference it was handed
}

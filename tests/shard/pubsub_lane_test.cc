// The pub/sub lanes between shards (src/proxy/pubsub_state.h): SPSC order, capacity, and
// update references handed across threads without copies or leaks.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "proxy/pubsub_state.h"

using qgate::proxy::kPsLaneSlots;
using qgate::proxy::ps_kind;
using qgate::proxy::ps_lane;
using qgate::proxy::ps_msg;
using qgate::pubsub::update_ref;

TEST_CASE("ps_lane: capacity, order, publish makes messages visible") {
    auto lane = std::make_unique<ps_lane>();
    for (uint32_t i = 0; i < kPsLaneSlots; ++i) {
        ps_msg* m = lane->claim();
        REQUIRE(m != nullptr);
        m->table = i;
        lane->commit();
    }
    CHECK(lane->claim() == nullptr);  // full
    CHECK(lane->used() == kPsLaneSlots);
    uint32_t seen = 0;
    lane->drain([&](ps_msg&) { ++seen; });
    CHECK(seen == 0);  // nothing published yet
    CHECK(lane->publish());
    uint32_t next = 0;
    lane->drain([&](ps_msg& m) { CHECK(m.table == next++); });
    CHECK(next == kPsLaneSlots);
    CHECK(lane->used() == 0);
    CHECK(lane->claim() != nullptr);
}

namespace {

// A lost message must fail the test, not hang the suite: both loops below stop after
// kRoundsMax rounds or at the deadline (the run takes well under a second; 10 s leaves room
// for a loaded 2-core box). The clock is read every 1024 rounds only.
constexpr uint64_t kRoundsMax = uint64_t{1} << 28;
constexpr auto kBudget = std::chrono::seconds(10);

struct round_bound {
    std::chrono::steady_clock::time_point deadline;
    uint64_t rounds = 0;
    bool go_on() {
        ++rounds;
        if (rounds >= kRoundsMax) return false;
        return rounds % 1024 != 0 || std::chrono::steady_clock::now() < deadline;
    }
};

}  // namespace

TEST_CASE("ps_lane: references cross threads in order; the last drop frees") {
    auto lane = std::make_unique<ps_lane>();
    const uint8_t bytes[16] = {1, 0, 0, 0, 16};
    const update_ref shared = update_ref::copy_of(bytes);
    constexpr uint32_t kCount = 200000;
    const auto deadline = std::chrono::steady_clock::now() + kBudget;
    std::atomic<bool> give_up{false};  // either side timed out: the other stops too
    // Written by the consumer, checked after join: doctest assertions stay on this thread.
    uint32_t bad = 0;
    uint32_t received = 0;
    std::thread consumer([&] {
        round_bound bound{deadline};
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
    round_bound bound{deadline};
    uint32_t sent = 0;
    while (sent < kCount && !give_up.load()) {
        ps_msg* m = lane->claim();
        if (m == nullptr) {
            lane->publish();
            if (!bound.go_on()) give_up = true;  // the lane stayed full: the consumer stopped
            continue;
        }
        m->kind = ps_kind::deliver;
        m->table = sent++;
        m->n = 1;
        m->bufs[0] = shared;
        lane->commit();
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

// The pub/sub lanes between shards (src/proxy/pubsub_state.h): SPSC order, capacity, and
// update references handed across threads without copies or leaks.
#include <doctest/doctest.h>

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

TEST_CASE("ps_lane: references cross threads in order; the last drop frees") {
    auto lane = std::make_unique<ps_lane>();
    const uint8_t bytes[16] = {1, 0, 0, 0, 16};
    const update_ref shared = update_ref::copy_of(bytes);
    constexpr uint32_t kCount = 200000;
    uint32_t bad = 0;  // checked after join: doctest assertions stay on this thread
    std::thread consumer([&] {
        uint32_t next = 0;
        while (next < kCount) {
            lane->drain([&](ps_msg& m) {
                const bool ok = m.kind == ps_kind::deliver && m.table == next &&
                                m.bufs[0].same_as(shared);
                bad += ok ? 0 : 1;
                m.bufs[0].reset();
                ++next;
            });
        }
    });
    for (uint32_t i = 0; i < kCount;) {
        ps_msg* m = lane->claim();
        if (m == nullptr) {
            lane->publish();
            continue;
        }
        m->kind = ps_kind::deliver;
        m->table = i++;
        m->n = 1;
        m->bufs[0] = shared;
        lane->commit();
        if (i % 64 == 0) lane->publish();
    }
    lane->publish();
    consumer.join();
    CHECK(bad == 0);
    CHECK(shared.use_count() == 1);  // every handed-over reference was dropped
}

// Picking policies over a group: least-busy (avoids load, round-robins ties), round-robin,
// first-available (failover order), and pick_for_call's key handling for consistent hash;
// the skip mask (session mode's tried backends) under every policy.

#include <doctest/doctest.h>

#include <algorithm>

#include "route_test_util.h"

namespace qgate::route {
namespace {

using qipc::msg_type;
using test::body;
using test::value;

struct world {
    group_set groups;
    std::vector<backend_state> state;
    pick_cursor cursor;

    explicit world(uint32_t n) : state(test::live_states(n)) {
        std::string err;
        const std::vector<group_spec> g = {test::make_group("rdb", n)};
        REQUIRE(group_set::build(g, groups, err));
    }
    const backend_group& g() const { return groups[0]; }
    void set(uint32_t id, uint32_t load, bool live = true) {
        state[id].load.store(load, std::memory_order_relaxed);
        state[id].live.store(live, std::memory_order_relaxed);
    }
    std::vector<int32_t> run(policy p, int n) {
        std::vector<int32_t> out;
        for (int i = 0; i < n; ++i) out.push_back(pick(p, g(), state, cursor, 0));
        return out;
    }
};

TEST_CASE("least-busy round-robins ties") {
    world w(3);
    CHECK(w.run(policy::least_busy, 6) == std::vector<int32_t>{0, 1, 2, 0, 1, 2});
}

TEST_CASE("least-busy avoids a loaded backend") {
    world w(3);
    w.set(0, 5);
    CHECK(w.run(policy::least_busy, 4) == std::vector<int32_t>{1, 2, 1, 2});
    w.set(1, 2);
    w.set(2, 1);
    CHECK(w.run(policy::least_busy, 3) == std::vector<int32_t>{2, 2, 2});
    w.set(2, 2);  // 1 and 2 tie at 2: they take turns, 0 (load 5) is never picked
    const std::vector<int32_t> picks = w.run(policy::least_busy, 4);
    CHECK(std::count(picks.begin(), picks.end(), 1) == 2);
    CHECK(std::count(picks.begin(), picks.end(), 2) == 2);
}

TEST_CASE("least-busy skips down backends; none live is kNoBackend") {
    world w(3);
    w.set(1, 0, false);
    CHECK(w.run(policy::least_busy, 4) == std::vector<int32_t>{0, 2, 0, 2});
    w.set(0, 9);
    w.set(2, 9, false);
    CHECK(w.run(policy::least_busy, 2) == std::vector<int32_t>{0, 0});  // busy beats down
    w.set(0, 9, false);
    CHECK(w.run(policy::least_busy, 1) == std::vector<int32_t>{kNoBackend});
}

TEST_CASE("round-robin rotates over live backends, ignoring load") {
    world w(3);
    w.set(0, 100);
    CHECK(w.run(policy::round_robin, 6) == std::vector<int32_t>{0, 1, 2, 0, 1, 2});
    w.set(1, 0, false);
    CHECK(w.run(policy::round_robin, 4) == std::vector<int32_t>{0, 2, 0, 2});
    for (uint32_t i = 0; i < 3; ++i) w.set(i, 0, false);
    CHECK(w.run(policy::round_robin, 1) == std::vector<int32_t>{kNoBackend});
}

TEST_CASE("first-available follows config order and fails over") {
    world w(3);
    w.set(0, 50);
    CHECK(w.run(policy::first_available, 3) == std::vector<int32_t>{0, 0, 0});
    w.set(0, 0, false);
    CHECK(w.run(policy::first_available, 2) == std::vector<int32_t>{1, 1});
    w.set(1, 0, false);
    CHECK(w.run(policy::first_available, 1) == std::vector<int32_t>{2});
    w.set(0, 0, true);  // the primary recovers: traffic goes back
    CHECK(w.run(policy::first_available, 1) == std::vector<int32_t>{0});
}

TEST_CASE("a cursor from a larger group or a stale state span is harmless") {
    world w(2);
    w.cursor.next = 17;
    CHECK(w.run(policy::round_robin, 2) == std::vector<int32_t>{0, 1});
    // Backend ids beyond the state array count as down.
    CHECK(pick_first_available(w.g(), std::span<const backend_state>(w.state).first(1)) == 0);
    CHECK(pick_round_robin(w.g(), std::span<const backend_state>(), w.cursor) == kNoBackend);
}

TEST_CASE("skip: every policy passes over skipped members as if they were down") {
    world w(4);
    const uint64_t skip = member_bit(0) | member_bit(2);  // members b0 and b2
    for (policy p : {policy::least_busy, policy::round_robin, policy::first_available,
                     policy::consistent_hash}) {
        INFO(static_cast<int>(p));
        for (int i = 0; i < 8; ++i) {
            const int32_t b = pick(p, w.g(), w.state, w.cursor, key_hash(std::to_string(i)),
                                   skip);
            CHECK((b == 1 || b == 3));
        }
        // Skipping every member leaves nothing, as all down does.
        CHECK(pick(p, w.g(), w.state, w.cursor, 7, 0xf) == kNoBackend);
        // Skipped and down together: only b3 is left.
        w.set(1, 0, false);
        CHECK(pick(p, w.g(), w.state, w.cursor, 7, skip) == 3);
        w.set(1, 0, true);
    }
    // Least-busy prefers a busier member to a skipped idle one; first-available fails over.
    w.set(1, 5);
    w.set(3, 9);
    CHECK(pick(policy::least_busy, w.g(), w.state, w.cursor, 0, skip) == 1);
    CHECK(pick(policy::first_available, w.g(), w.state, w.cursor, 0, member_bit(0)) == 1);
}

TEST_CASE("drained (admin): every policy passes over a drained member; enable brings it back") {
    world w(3);
    w.state[1].drained.store(true, std::memory_order_relaxed);
    for (policy p : {policy::least_busy, policy::round_robin, policy::first_available,
                     policy::consistent_hash}) {
        INFO(static_cast<int>(p));
        for (int i = 0; i < 12; ++i) {
            const int32_t b = pick(p, w.g(), w.state, w.cursor, key_hash(std::to_string(i)), 0);
            CHECK((b == 0 || b == 2));
        }
    }
    w.set(1, 0);  // idle, and the others busy: least-busy would take it were it not drained
    w.set(0, 5);
    w.set(2, 5);
    CHECK(pick(policy::least_busy, w.g(), w.state, w.cursor, 0, 0) != 1);
    w.state[0].drained.store(true, std::memory_order_relaxed);
    w.state[2].drained.store(true, std::memory_order_relaxed);
    CHECK(pick(policy::round_robin, w.g(), w.state, w.cursor, 0, 0) == kNoBackend);
    for (uint32_t i = 0; i < 3; ++i) w.state[i].drained.store(false, std::memory_order_relaxed);
    CHECK(pick(policy::least_busy, w.g(), w.state, w.cursor, 0, 0) == 1);
}

TEST_CASE("skip: a consistent-hash key goes where it would go with its owner down") {
    world w(5);
    for (int k = 0; k < 200; ++k) {
        const uint64_t h = key_hash("user" + std::to_string(k));
        const int32_t owner = pick_consistent(w.g(), w.state, h);
        REQUIRE(owner >= 0);
        const int32_t skipped = pick_consistent(w.g(), w.state, h,
                                                member_bit(static_cast<uint32_t>(owner)));
        w.set(static_cast<uint32_t>(owner), 0, false);
        CHECK(skipped == pick_consistent(w.g(), w.state, h));
        CHECK(skipped != owner);
        w.set(static_cast<uint32_t>(owner), 0, true);
        // Skipping another member moves nothing: the owner is still eligible.
        const auto other = static_cast<uint32_t>((owner + 1) % 5);
        CHECK(pick_consistent(w.g(), w.state, h, member_bit(other)) == owner);
    }
}

TEST_CASE("member_bit: one bit per position; position 63 on share the last bit") {
    CHECK(member_bit(0) == 1);
    CHECK(member_bit(5) == uint64_t{1} << 5);
    CHECK(member_bit(63) == uint64_t{1} << 63);
    CHECK(member_bit(64) == uint64_t{1} << 63);
    CHECK(member_bit(1000) == uint64_t{1} << 63);
    // So a 70-member group skipped member by member runs out within 64 picks.
    world w(70);
    uint64_t skip = 0;
    int picks = 0;
    for (int32_t b; (b = pick(policy::round_robin, w.g(), w.state, w.cursor, 0, skip)) >= 0;) {
        skip |= member_bit(static_cast<uint32_t>(b));
        REQUIRE(++picks <= 64);
    }
    CHECK(picks == 64);  // members 0..62, then 63 whose bit also covers 64..69
}

TEST_CASE("pick_for_call: consistent hash on argument k, same backend for all call forms") {
    world w(5);
    route_rule rule;
    rule.pol = policy::consistent_hash;
    rule.hash_arg = 1;
    const auto q = body(value::list({value::symbol("getTrades"), value::symbol("AAPL")}));
    const auto node = body(value::list({value::string("getTrades"), value::symbol("AAPL")}));
    const auto str = body(value::string("getTrades[`AAPL]"));
    const int32_t want = pick_consistent(w.g(), w.state, key_hash("AAPL"));
    for (const auto* b : {&q, &node, &str}) {
        const call_info c = classify(*b, true, msg_type::sync);
        for (int i = 0; i < 3; ++i) CHECK(pick_for_call(rule, w.g(), w.state, w.cursor, c) == want);
    }
    // Without argument k there is nothing to be sticky on: least-busy.
    rule.hash_arg = 2;
    w.set(0, 3);
    w.set(1, 3);
    w.set(3, 3);
    w.set(4, 3);
    const call_info c = classify(q, true, msg_type::sync);
    CHECK(pick_for_call(rule, w.g(), w.state, w.cursor, c) == 2);
    // Other policies ignore the key.
    rule.pol = policy::first_available;
    CHECK(pick_for_call(rule, w.g(), w.state, w.cursor, c) == 0);
}

}  // namespace
}  // namespace qgate::route

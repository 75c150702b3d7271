// user_conns (src/proxy/user_conns.h): per-user counts, the limit, release, the rule lookup,
// the table bound, and exact counts under concurrent logins from several threads (shards).

#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "proxy/user_conns.h"

using qgate::proxy::user_conns;

TEST_CASE("user_conns: each user counted on its own; the limit refuses; a release frees") {
    auto t = std::make_unique<user_conns>();
    const int32_t a1 = t->acquire("alice", 2);
    const int32_t a2 = t->acquire("alice", 2);
    CHECK(a1 >= 0);
    CHECK(a2 == a1);
    CHECK(t->acquire("alice", 2) == user_conns::kOverLimit);
    CHECK(t->acquire("bob", 2) >= 0);  // bob has his own count
    CHECK(t->open_of("alice") == 2);
    CHECK(t->open_of("bob") == 1);
    t->release(a1);
    CHECK(t->open_of("alice") == 1);
    CHECK(t->acquire("alice", 2) == a1);
    CHECK(t->acquire("carol", 0) == user_conns::kUnlimited);  // not limited, not counted
    CHECK(t->open_of("carol") == 0);
}

TEST_CASE("user_conns: calls in flight per user; the limit refuses; never below 0") {
    auto t = std::make_unique<user_conns>();
    const int32_t a = t->acquire("alice", 0, true);  // counted without a conns limit
    REQUIRE(a >= 0);
    CHECK(t->open_of("alice") == 1);
    uint32_t seen = 0;
    CHECK(t->call_begin(a, 2, seen));
    CHECK(t->call_begin(a, 2, seen));
    CHECK_FALSE(t->call_begin(a, 2, seen));
    CHECK(seen == 2);
    CHECK(t->calls_of("alice") == 2);
    CHECK(t->call_end(a));
    CHECK(t->call_end(a));
    CHECK_FALSE(t->call_end(a));  // one end too many: refused, the count stays 0
    CHECK(t->calls_of("alice") == 0);
    CHECK(t->call_begin(a, 0, seen));  // 0: not limited, still counted
    CHECK(t->calls_of("alice") == 1);
    CHECK_FALSE(t->call_end(-1));
    std::vector<user_conns::row> rows;
    t->rows(rows);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].user == "alice");
    CHECK(rows[0].open == 1);
    CHECK(rows[0].calls == 1);
    const std::string longname(100, 'x');
    CHECK(t->acquire(longname, 0, true) >= 0);
    rows.clear();
    t->rows(rows);
    CHECK(rows.size() == 2);  // the long name is kept cut to kNameMax bytes
    for (const user_conns::row& r : rows) CHECK(r.user.size() <= user_conns::kNameMax);
}

TEST_CASE("user_conns: rule_of takes the first [[user_limits]] whose patterns match") {
    qgate::config c;
    c.user_limits.push_back({{"al*", "bob"}, 3, 0});
    c.user_limits.push_back({{"*"}, 1, 0});
    CHECK(user_conns::rule_of(c, "alice") == &c.user_limits[0]);
    CHECK(user_conns::rule_of(c, "bob") == &c.user_limits[0]);
    CHECK(user_conns::rule_of(c, "carol") == &c.user_limits[1]);
    c.user_limits.clear();
    CHECK(user_conns::rule_of(c, "alice") == nullptr);
}

TEST_CASE("user_conns: bounded; a user with no slot left is refused, not let through") {
    auto t = std::make_unique<user_conns>();
    uint32_t taken = 0;
    uint32_t full = 0;
    for (uint32_t i = 0; i < 2 * user_conns::kSlots; ++i) {
        const int32_t s = t->acquire("u" + std::to_string(i), 1);
        if (s >= 0) ++taken;
        if (s == user_conns::kTableFull) ++full;
    }
    CHECK(taken <= user_conns::kSlots);
    CHECK(taken + full == 2 * user_conns::kSlots);
    CHECK(full >= user_conns::kSlots);
}

TEST_CASE("user_conns: concurrent logins of one user from 4 threads never pass the limit") {
    auto t = std::make_unique<user_conns>();
    constexpr uint32_t kMax = 5;
    std::atomic<uint32_t> in{0};
    std::atomic<uint32_t> peak{0};
    std::atomic<bool> over{false};
    std::vector<std::thread> th;
    for (int k = 0; k < 4; ++k) {
        th.emplace_back([&] {
            for (int i = 0; i < 20000; ++i) {
                const int32_t s = t->acquire("alice", kMax);
                if (s < 0) continue;
                const uint32_t now = in.fetch_add(1) + 1;
                if (now > kMax) over = true;
                uint32_t p = peak.load();
                while (now > p && !peak.compare_exchange_weak(p, now)) {}
                in.fetch_sub(1);
                t->release(s);
            }
        });
    }
    for (std::thread& x : th) x.join();
    CHECK_FALSE(over.load());
    CHECK(peak.load() >= 1);
    CHECK(t->open_of("alice") == 0);
}

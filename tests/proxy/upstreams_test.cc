// Session mode's backend picking (upstream_table over src/route's groups, load cells and
// policies): each policy, `tried` (a backend this session failed on is passed over and the
// policy picks again, until none is left), consistent-hash stickiness on the user name, and
// the open-session counts least-busy reads.

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "proxy/generation.h"
#include "proxy/upstreams.h"
#include "qgate/route/policy.h"

using namespace qgate;
using qgate::proxy::gen_holder;
using qgate::proxy::upstream_table;

namespace {

/// Listener 0 serves group "g" (backends b0..b{n-1}, ids 0..n-1) by `pol`; listener 1 serves
/// group "h" (backend h0, id n) by least-busy; listener 2 a group no backend serves.
struct table {
    config cfg;
    upstream_table ups;
    gen_holder gens{1};

    explicit table(route_policy pol, uint32_t n = 3) {
        cfg.listeners.push_back({{"127.0.0.1", 0}, conn_mode::session, "g", pol});
        cfg.listeners.push_back({{"127.0.0.1", 0}, conn_mode::session, "h", {}});
        cfg.listeners.push_back({{"127.0.0.1", 0}, conn_mode::pubsub, "none", {}});
        for (uint32_t i = 0; i < n; ++i) {
            cfg.backends.push_back({"b" + std::to_string(i), "g",
                                    {"127.0.0.1", static_cast<uint16_t>(5000 + i)}, ""});
        }
        cfg.backends.push_back({"h0", "h", {"127.0.0.1", 6000}, ""});
        std::string err;
        ups.build(cfg);
        REQUIRE_MESSAGE(
            proxy::start_generation(std::make_shared<const config>(cfg), ups, gens, err), err);
    }
    /// Ids as the first generation hands them out: 0..n in config order.
    std::vector<uint32_t> ids() const {
        std::vector<uint32_t> v(cfg.backends.size());
        for (uint32_t i = 0; i < v.size(); ++i) v[i] = i;
        return v;
    }
    /// A new session's first pick (its tried mask starts empty); the session stays open.
    int open(std::string_view user = "u") {
        uint64_t tried = 0;
        return ups.pick(*gens.current(), 0, tried, user);
    }
    /// Every backend a session tries when each connect fails, in order, until -1.
    std::vector<int> fail_all(std::string_view user) {
        std::vector<int> order;
        uint64_t tried = 0;
        for (int b; (b = ups.pick(*gens.current(), 0, tried, user)) >= 0;) {
            order.push_back(b);
            ups.release(b);  // the failed connect gives its count back, as the engine does
            REQUIRE(order.size() <= 64);
        }
        return order;
    }
};

const route_policy kAll[] = {route_policy::least_busy, route_policy::round_robin,
                             route_policy::first_available, route_policy::consistent_hash};

}  // namespace

TEST_CASE("session pick, least-busy: fewest open sessions, ties take turns, release counts") {
    table t(route_policy::least_busy);
    std::vector<int> picks;
    for (int i = 0; i < 6; ++i) picks.push_back(t.open());
    for (int b = 0; b < 3; ++b) {
        CHECK(std::count(picks.begin(), picks.end(), b) == 2);
        CHECK(t.ups.sessions(b) == 2);
    }
    t.ups.release(1);
    t.ups.release(1);
    CHECK(t.ups.sessions(1) == 0);
    CHECK(t.open() == 1);  // the emptier backend, whichever the rotation's turn
    CHECK(t.open() == 1);
    CHECK(t.ups.sessions(1) == 2);
    CHECK(t.ups.sessions(3) == 0);  // another group's backend is not counted
}

TEST_CASE("session pick, round-robin: rotates whatever the load") {
    table t(route_policy::round_robin);
    std::vector<int> picks;
    for (int i = 0; i < 6; ++i) picks.push_back(t.open());
    CHECK(picks == std::vector<int>{0, 1, 2, 0, 1, 2});
    CHECK(t.ups.sessions(0) == 2);
}

TEST_CASE("session pick, first-available: config order while the first is up") {
    table t(route_policy::first_available);
    for (int i = 0; i < 4; ++i) CHECK(t.open() == 0);
    CHECK(t.ups.sessions(0) == 4);
    // b0 refuses this session: the next in config order, then the last.
    CHECK(t.fail_all("u") == std::vector<int>{0, 1, 2});
}

TEST_CASE("session pick, consistent-hash: one backend per user, across sessions and load") {
    table t(route_policy::consistent_hash, 4);
    std::map<std::string, int> home;
    std::set<int> used;
    for (int k = 0; k < 40; ++k) {
        const std::string user = "user" + std::to_string(k);
        home[user] = t.open(user);
        used.insert(home[user]);
    }
    CHECK(used.size() == 4);  // 40 users spread over every backend
    // Reconnects land on the same backend, however loaded it is now.
    for (int round = 0; round < 3; ++round) {
        for (const auto& [user, b] : home) CHECK(t.open(user) == b);
    }
    // The owner is the ring's owner of the user name, as request mode hashes a key.
    route::group_set gs;
    std::string err;
    REQUIRE(route::group_set::build(proxy::group_specs(t.cfg, t.ids()), gs, err));
    std::vector<route::backend_state> live(5);
    for (auto& s : live) s.live.store(true);
    for (const auto& [user, b] : home) {
        CHECK(route::pick_consistent(gs[0], live, route::key_hash(user)) == b);
    }
}

TEST_CASE("session pick, consistent-hash: a failed owner gives the next on the ring, sticky") {
    table t(route_policy::consistent_hash, 4);
    route::group_set gs;
    std::string err;
    REQUIRE(route::group_set::build(proxy::group_specs(t.cfg, t.ids()), gs, err));
    std::vector<route::backend_state> live(5);
    for (auto& s : live) s.live.store(true);
    for (int k = 0; k < 20; ++k) {
        const std::string user = "user" + std::to_string(k);
        const std::vector<int> order = t.fail_all(user);
        REQUIRE(order.size() == 4);  // every member once
        CHECK(std::set<int>(order.begin(), order.end()).size() == 4);
        // The second choice is where request mode sends the key with the owner down...
        live[static_cast<size_t>(order[0])].live.store(false);
        CHECK(route::pick_consistent(gs[0], live, route::key_hash(user)) == order[1]);
        live[static_cast<size_t>(order[0])].live.store(true);
        // ...and the same for every session of the user (the failover is sticky too).
        CHECK(t.fail_all(user) == order);
    }
}

TEST_CASE("session pick, consistent-hash: no user name, nothing to stick on: least-busy") {
    table t(route_policy::consistent_hash);
    std::vector<int> picks;
    for (int i = 0; i < 6; ++i) picks.push_back(t.open(""));
    for (int b = 0; b < 3; ++b) CHECK(std::count(picks.begin(), picks.end(), b) == 2);
}

TEST_CASE("session pick, every policy: each failed backend is tried once, then none is left") {
    for (route_policy p : kAll) {
        INFO(static_cast<int>(p));
        table t(p);
        for (const char* user : {"alice", "bob", ""}) {
            const std::vector<int> order = t.fail_all(user);
            CHECK(order.size() == 3);
            CHECK(std::set<int>(order.begin(), order.end()) == std::set<int>{0, 1, 2});
        }
        // The skip mask is the session's own: a new session starts from every member.
        uint64_t tried = 0;
        CHECK(t.ups.pick(*t.gens.current(), 0, tried, "alice") >= 0);
        CHECK(tried != 0);
        // Counts went back to zero for every failed attempt; one session is open now.
        CHECK(t.ups.sessions(0) + t.ups.sessions(1) + t.ups.sessions(2) == 1);
    }
}

TEST_CASE("session pick: listeners keep to their own group; an unserved group has none") {
    table t(route_policy::round_robin);
    uint64_t tried = 0;
    CHECK(t.ups.pick(*t.gens.current(), 1, tried, "u") == 3);
    CHECK(t.ups.pick(*t.gens.current(), 1, tried, "u") == -1);  // its only backend is tried
    tried = 0;
    CHECK(t.ups.pick(*t.gens.current(), 2, tried, "u") == -1);
    CHECK(t.ups.group_of(0) == "g");
    CHECK(t.ups.group_of(2) == "none");
}

// Glob matching and the route table: first match wins, name / user / type conditions, fan-out
// targets, compile-time validation, and the candidate index agreeing with a plain linear scan.

#include <doctest/doctest.h>

#include <random>

#include "route_test_util.h"

namespace qgate::route {
namespace {

using qipc::msg_type;

TEST_CASE("glob edge cases") {
    CHECK(glob_match("", ""));
    CHECK_FALSE(glob_match("", "a"));
    CHECK(glob_match("*", ""));
    CHECK(glob_match("*", "anything"));
    CHECK(glob_match("**", ""));
    CHECK(glob_match("**", "ab"));
    CHECK_FALSE(glob_match("?", ""));
    CHECK(glob_match("?", "a"));
    CHECK_FALSE(glob_match("?", "ab"));
    CHECK(glob_match("get*", "get"));
    CHECK(glob_match("get*", "getTrades"));
    CHECK_FALSE(glob_match("get*", "Get"));  // case-sensitive, as q names are
    CHECK(glob_match("*Trades", "getTrades"));
    CHECK_FALSE(glob_match("*Trades", "getTradesX"));
    CHECK(glob_match("get*s", "getTrades"));
    CHECK(glob_match("a*b*c", "abc"));
    CHECK(glob_match("a*b*c", "aXbYbZc"));
    CHECK_FALSE(glob_match("a*b*c", "aXbYbZ"));
    CHECK(glob_match("*a*", "banana"));
    CHECK(glob_match("a?c", "abc"));
    CHECK_FALSE(glob_match("a?c", "ac"));
    CHECK(glob_match(".gw.*", ".gw.syncexec"));
    CHECK(glob_match(".api.get?", ".api.getQ"));
    CHECK(glob_match("*?", "x"));
    CHECK_FALSE(glob_match("*?", ""));
    CHECK(glob_match("exact", "exact"));
    CHECK_FALSE(glob_match("exact", "exac"));
    CHECK(glob_match("*", "<string query>"));
    // A pattern's star also matches literal '*' and '?' in the text.
    CHECK(glob_match("a*", "a*?"));
    CHECK_FALSE(glob_match("a?", "a"));
    // Pathological backtracking stays fast (quadratic at worst, no recursion).
    CHECK_FALSE(glob_match("*a*a*a*a*a*a*a*b", std::string(200, 'a')));
    CHECK(is_glob("a*"));
    CHECK(is_glob("?"));
    CHECK_FALSE(is_glob("getTrades"));
}

struct fixture {
    group_set groups;
    route_table table;
    std::string err;

    explicit fixture(const std::vector<route_spec>& routes) {
        const std::vector<group_spec> g = {test::make_group("rdb", 2),
                                           test::make_group("hdb", 2, 2),
                                           test::make_group("other", 1, 4)};
        REQUIRE(group_set::build(g, groups, err));
        REQUIRE_MESSAGE(route_table::compile(routes, groups, table, err), err);
    }
    int32_t rule(std::string_view name, std::string_view user = "u",
                 msg_type t = msg_type::sync) const {
        const route_rule* r = table.match(name, user, t);
        return r == nullptr ? -1 : static_cast<int32_t>(r->index);
    }
};

route_spec spec(std::vector<std::string> match, std::vector<std::string> groups) {
    route_spec s;
    s.match = std::move(match);
    s.groups = std::move(groups);
    return s;
}

TEST_CASE("first match wins") {
    std::vector<route_spec> r = {spec({"getTrades", "getQuotes"}, {"rdb"}),
                                 spec({"get*"}, {"hdb"}),
                                 spec({"getTrades"}, {"other"}),  // shadowed by rule 0
                                 spec({"*"}, {"hdb"})};
    fixture f(r);
    CHECK(f.rule("getTrades") == 0);
    CHECK(f.rule("getQuotes") == 0);
    CHECK(f.rule("getOrders") == 1);
    CHECK(f.rule("get") == 1);
    CHECK(f.rule("status") == 3);
    CHECK(f.rule(kStringQueryName) == 3);
    const route_rule* m = f.table.match("getTrades", "u", msg_type::sync);
    REQUIRE(m != nullptr);
    REQUIRE(m->groups.size() == 1);
    CHECK(f.groups[m->groups[0]].name() == "rdb");
    CHECK_FALSE(m->fan_out());
}

TEST_CASE("a glob rule before an exact one still wins") {
    fixture f({spec({"*Trades"}, {"hdb"}), spec({"getTrades"}, {"rdb"})});
    CHECK(f.rule("getTrades") == 0);
}

TEST_CASE("no route is representable") {
    fixture f({spec({"getTrades"}, {"rdb"})});
    CHECK(f.table.match("foo", "u", msg_type::sync) == nullptr);
    char buf[64];
    CHECK(no_route_text(".foo.bar", buf) == "qgate: no route for .foo.bar");
    char small[10];
    CHECK(no_route_text(".foo.bar", small) == "qgate: no ");  // cut to fit
    route_table empty;
    CHECK(empty.match("x", "u", msg_type::sync) == nullptr);
}

TEST_CASE("user and message-type conditions") {
    route_spec admin = spec({"*"}, {"other"});
    admin.users = {"admin", "ops_*"};
    route_spec async_only = spec({"upd"}, {"rdb"});
    async_only.type = type_match::async;
    route_spec sync_only = spec({"upd", "q?"}, {"hdb"});
    sync_only.type = type_match::sync;
    fixture f({admin, async_only, sync_only, spec({"*"}, {"rdb"})});
    CHECK(f.rule("anything", "admin") == 0);
    CHECK(f.rule("anything", "ops_alice") == 0);
    CHECK(f.rule("anything", "ops") == 3);
    CHECK(f.rule("anything", "") == 3);
    CHECK(f.rule("upd", "u", msg_type::async) == 1);
    CHECK(f.rule("upd", "u", msg_type::sync) == 2);
    CHECK(f.rule("q1", "u", msg_type::sync) == 2);
    CHECK(f.rule("q1", "u", msg_type::async) == 3);
    // A response frame is neither sync nor async: only `any` rules take it.
    CHECK(f.rule("upd", "u", msg_type::response) == 3);
}

TEST_CASE("fan-out targets and per-rule settings") {
    route_spec fan = spec({"getAll"}, {"rdb", "hdb"});
    route_spec fan_first = spec({"getOne"}, {"rdb", "hdb"});
    fan_first.join = "first";
    route_spec hashed = spec({"getTrades"}, {"rdb"});
    hashed.pol = policy::consistent_hash;
    hashed.hash_arg = 2;
    hashed.timeout_ms = 5000;
    hashed.queue_max = 100;
    hashed.priority = 7;
    fixture f({fan, fan_first, hashed});
    const route_rule* a = f.table.match("getAll", "u", msg_type::sync);
    REQUIRE(a != nullptr);
    CHECK(a->fan_out());
    CHECK(a->join == "raze");  // the default join
    REQUIRE(a->groups.size() == 2);
    CHECK(f.groups[a->groups[0]].name() == "rdb");
    CHECK(f.groups[a->groups[1]].name() == "hdb");
    CHECK(f.table.match("getOne", "u", msg_type::sync)->join == "first");
    const route_rule* h = f.table.match("getTrades", "u", msg_type::sync);
    REQUIRE(h != nullptr);
    CHECK(h->pol == policy::consistent_hash);
    CHECK(h->hash_arg == 2);
    CHECK(h->timeout_ms == 5000);
    CHECK(h->queue_max == 100);
    CHECK(h->priority == 7);
    // The table can move (snapshot publication) without invalidating its views.
    route_table moved = std::move(f.table);
    const route_rule* m = moved.match("getAll", "u", msg_type::sync);
    REQUIRE(m != nullptr);
    CHECK(m->join == "raze");
    CHECK(m->groups.size() == 2);
}

TEST_CASE("compile rejects bad rules with the rule's number") {
    group_set g;
    std::string err;
    const std::vector<group_spec> gs = {test::make_group("rdb", 1)};
    REQUIRE(group_set::build(gs, g, err));
    route_table t;
    auto fails = [&](route_spec s, std::string_view what) {
        std::vector<route_spec> v = {spec({"ok"}, {"rdb"}), std::move(s)};
        CHECK_FALSE(route_table::compile(v, g, t, err));
        CHECK(err.find("route 2:") == 0);
        CHECK(err.find(what) != std::string::npos);
    };
    fails(spec({"f"}, {}), "no group");
    fails(spec({"f"}, {"hdb"}), "unknown group 'hdb'");
    fails(spec({""}, {"rdb"}), "empty match pattern");
    route_spec u = spec({"f"}, {"rdb"});
    u.users = {""};
    fails(u, "empty user pattern");
    route_spec h = spec({"f"}, {"rdb"});
    h.pol = policy::consistent_hash;
    h.hash_arg = 0;
    fails(h, "hash_arg");
    // An empty match list means "*".
    std::vector<route_spec> any = {spec({}, {"rdb"})};
    REQUIRE(route_table::compile(any, g, t, err));
    CHECK(t.match("whatever", "", msg_type::async) != nullptr);
}

TEST_CASE("group set validation") {
    group_set g;
    std::string err;
    std::vector<group_spec> dup = {test::make_group("rdb", 1), test::make_group("rdb", 1, 1)};
    CHECK_FALSE(group_set::build(dup, g, err));
    CHECK(err == "duplicate group 'rdb'");
    std::vector<group_spec> none = {group_spec{"rdb", {}}};
    CHECK_FALSE(group_set::build(none, g, err));
    std::vector<group_spec> ok = {test::make_group("rdb", 3)};
    REQUIRE(group_set::build(ok, g, err));
    CHECK(g.find("rdb") == 0);
    CHECK(g.find("hdb") == -1);
    CHECK(g[0].members().size() == 3);
    CHECK(g[0].ring_size() == 3 * kVirtualNodes);
}

// The candidate index must give exactly the answer of "first rule that matches", checked here
// against a direct scan over a random table of exact and glob rules.
TEST_CASE("indexed match agrees with a linear scan") {
    std::mt19937 rng(12345);
    const std::vector<std::string> names = {"a", "ab", "abc", "b", "ba", "getTrades", "getX", ""};
    const std::vector<std::string> pats = {"a", "ab", "a*", "*b", "?", "??", "get*", "*",
                                           "getTrades", "b?", "*c"};
    const std::vector<std::string> users = {"u1", "u2", "admin"};
    for (int round = 0; round < 50; ++round) {
        std::vector<route_spec> specs;
        const int n = 1 + static_cast<int>(rng() % 8);
        for (int i = 0; i < n; ++i) {
            route_spec s = spec({pats[rng() % pats.size()]}, {"rdb"});
            if (rng() % 2) s.match.push_back(pats[rng() % pats.size()]);
            if (rng() % 3 == 0) s.users = {users[rng() % users.size()]};
            s.type = static_cast<type_match>(rng() % 3);
            specs.push_back(s);
        }
        fixture f(specs);
        for (const std::string& name : names) {
            for (const std::string& user : users) {
                for (msg_type t : {msg_type::sync, msg_type::async}) {
                    int32_t want = -1;
                    for (int i = 0; i < n && want < 0; ++i) {
                        const route_spec& s = specs[i];
                        const bool type_ok = s.type == type_match::any ||
                                             (s.type == type_match::sync) == (t == msg_type::sync);
                        bool name_ok = false;
                        for (const auto& p : s.match) name_ok = name_ok || glob_match(p, name);
                        const bool user_ok = s.users.empty() || s.users[0] == user;
                        if (type_ok && name_ok && user_ok) want = i;
                    }
                    CAPTURE(round);
                    CAPTURE(name);
                    CHECK(f.rule(name, user, t) == want);
                }
            }
        }
    }
}

}  // namespace
}  // namespace qgate::route

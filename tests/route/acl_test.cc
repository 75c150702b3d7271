// Entitlements: compiling [[acl]] / [[user_group]] and matching users, listeners, groups,
// functions and message kinds (include/qgate/route/acl.h).

#include <doctest/doctest.h>

#include "qgate/route/acl.h"
#include "route_test_util.h"

namespace qgate::route {
namespace {

using qipc::msg_type;
using test::body;
using test::value;

acl_conf rule(std::vector<std::string> users) {
    acl_conf a;
    a.users = std::move(users);
    return a;
}

config two_listeners() {
    config c;
    c.listeners.resize(2);
    return c;
}

constexpr uint8_t kSync = kAclSync;

TEST_CASE("acl: no rule at all allows everything") {
    acl_table t;
    std::string err;
    REQUIRE(t.compile(two_listeners(), err));
    CHECK_FALSE(t.enabled());
    CHECK(t.listener_ok(0, 1));
    CHECK(t.group_ok(0, 0, "hdb"));
    CHECK(t.call_ok(0, 0, kSync | kAclString, "anything", "hdb"));
}

TEST_CASE("acl: a user no rule names is denied; others keep their own rights") {
    config c = two_listeners();
    acl_conf a = rule({"alice"});
    a.groups = {"rdb"};
    a.functions = {"get*"};
    c.acls = {a};
    acl_table t;
    std::string err;
    REQUIRE(t.compile(c, err));
    const uint64_t alice = t.rules_for("alice");
    const uint64_t bob = t.rules_for("bob");
    CHECK(alice == 1);
    CHECK(bob == 0);
    CHECK(t.call_ok(alice, 0, kSync, "getTrades", "rdb"));
    CHECK_FALSE(t.call_ok(alice, 0, kSync, "deleteAll", "rdb"));  // outside the glob
    CHECK_FALSE(t.call_ok(alice, 0, kSync, "getTrades", "hdb"));  // group not allowed
    CHECK_FALSE(t.call_ok(bob, 0, kSync, "getTrades", "rdb"));
    CHECK_FALSE(t.listener_ok(bob, 0));
    CHECK(t.listener_ok(alice, 1));  // no listeners listed: every one
}

TEST_CASE("acl: kinds: a string query needs the string kind as well as its message type") {
    config c = two_listeners();
    acl_conf a = rule({"*"});
    a.kinds = {"sync"};
    c.acls = {a};
    acl_table t;
    std::string err;
    REQUIRE(t.compile(c, err));
    const uint64_t u = t.rules_for("anyone");
    CHECK(t.call_ok(u, 0, kAclSync, "f", "rdb"));
    CHECK_FALSE(t.call_ok(u, 0, kAclAsync, "f", "rdb"));
    CHECK_FALSE(t.call_ok(u, 0, kAclSync | kAclString, "f", "rdb"));
}

TEST_CASE("acl: listeners, session groups, and several rules adding up") {
    config c = two_listeners();
    acl_conf a = rule({"ops-*"});
    a.listeners = {"1"};
    a.groups = {"hdb"};
    acl_conf b = rule({"ops-1"});
    b.listeners = {"0"};
    b.groups = {"rdb"};
    c.acls = {a, b};
    acl_table t;
    std::string err;
    REQUIRE(t.compile(c, err));
    const uint64_t o1 = t.rules_for("ops-1");
    const uint64_t o2 = t.rules_for("ops-2");
    CHECK(o1 == 3);
    CHECK(o2 == 1);
    CHECK(t.listener_ok(o1, 0));
    CHECK_FALSE(t.listener_ok(o2, 0));
    CHECK(t.group_ok(o2, 1, "hdb"));
    CHECK_FALSE(t.group_ok(o2, 1, "rdb"));
    CHECK(t.group_ok(o1, 0, "rdb"));
    CHECK_FALSE(t.group_ok(o1, 0, "hdb"));  // hdb only through listener 1
}

TEST_CASE("acl: @group users are the [[user_group]]'s members") {
    config c = two_listeners();
    c.user_groups = {{"traders", {"alice", "t-*"}}};
    c.acls = {rule({"@traders"})};
    acl_table t;
    std::string err;
    REQUIRE(t.compile(c, err));
    CHECK(t.rules_for("alice") == 1);
    CHECK(t.rules_for("t-9") == 1);
    CHECK(t.rules_for("bob") == 0);
    CHECK(t.rules_for("@traders") == 0);
}

TEST_CASE("acl: compile refuses unknown groups, kinds, listeners and too many rules") {
    std::string err;
    acl_table t;
    config c = two_listeners();
    c.acls = {rule({"@nobody"})};
    CHECK_FALSE(t.compile(c, err));
    CHECK(err.find("nobody") != std::string::npos);
    c.acls = {rule({"a"})};
    c.acls[0].kinds = {"exec"};
    CHECK_FALSE(t.compile(c, err));
    c.acls[0].kinds = {"sync"};
    c.acls[0].listeners = {"x"};
    CHECK_FALSE(t.compile(c, err));
    c.acls.assign(kAclRulesMax + 1, rule({"a"}));
    CHECK_FALSE(t.compile(c, err));
    c.acls.resize(kAclRulesMax);
    CHECK(t.compile(c, err));
}

TEST_CASE("acl_describe: function, kind, and the query inside a .gw.* call") {
    const auto f = body(value::list({value::symbol("getTrades"), value::long_(2)}));
    acl_call d = acl_describe(classify(f, true, msg_type::sync), true);
    CHECK(d.kinds == kAclSync);
    CHECK(d.function == "getTrades");
    const auto s = body(value::string("delete from `trade"));
    d = acl_describe(classify(s, true, msg_type::async), false);
    CHECK(d.kinds == (kAclAsync | kAclString));
    const auto gw = body(value::list({value::symbol(".gw.syncexec"),
                                      value::list({value::symbol("getTrades"), value::long_(2)}),
                                      value::symbols({"hdb"})}));
    d = acl_describe(classify(gw, true, msg_type::sync), true);
    CHECK(d.kinds == kAclSync);
    CHECK(d.function == "getTrades");
    const auto gws = body(value::list({value::symbol(".gw.syncexec"),
                                       value::string("select from trade"),
                                       value::symbols({"hdb"})}));
    d = acl_describe(classify(gws, true, msg_type::sync), true);
    CHECK(d.kinds == (kAclSync | kAclString));
    CHECK(d.function == "select");
}

}  // namespace
}  // namespace qgate::route

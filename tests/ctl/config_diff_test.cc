// What a reload changes (src/ctl/config_diff.cc): added, changed and removed backends, groups,
// routes and users, reloadable settings, and the restart-only ones kept at their running value.
#include <doctest/doctest.h>

#include "qgate/ctl.h"
#include "qgate/reload.h"

namespace qgate::ctl {
namespace {

config base() {
    config c;
    std::string err;
    REQUIRE_MESSAGE(load_config_string(R"(
[server]
shards = 2
[[listener]]
listen = "127.0.0.1:0"
mode = "request"
group = "rdb"
[[backend]]
name = "r1"
group = "rdb"
address = "127.0.0.1:5001"
[[backend]]
name = "r2"
group = "rdb"
address = "127.0.0.1:5002"
[[route]]
match = ["*"]
group = "rdb"
)", "base.toml", c, err), err);
    return c;
}

}  // namespace

TEST_CASE("diff: nothing changed") {
    const config a = base();
    CHECK(diff_config(a, a).empty());
    CHECK(describe(diff_config(a, a)).empty());
}

TEST_CASE("diff: backends added, removed, changed; groups; routes; users") {
    const config a = base();
    config b = base();
    b.backends[1].addr.port = 5012;               // r2 changed
    b.backends.push_back(b.backends[0]);          // h1 added in a new group
    b.backends.back().name = "h1";
    b.backends.back().group = "hdb";
    b.backends.erase(b.backends.begin());         // r1 removed
    b.routes[0].timeout_ms = 100;
    b.users.push_back({"alice", user_entry::hash::plain, "pw"});
    const config_diff d = diff_config(a, b);
    CHECK(d.backends_added == std::vector<std::string>{"h1"});
    CHECK(d.backends_removed == std::vector<std::string>{"r1"});
    CHECK(d.backends_changed == std::vector<std::string>{"r2"});
    CHECK(d.groups_added == std::vector<std::string>{"hdb"});
    CHECK(d.groups_removed.empty());
    CHECK(d.routes_changed);
    CHECK(d.users_changed);
    CHECK(d.restart_needed.empty());
    const std::vector<std::string> lines = describe(d);
    CHECK(lines.front() == "backends added: h1");
}

TEST_CASE("diff: restart-only settings are named and keep their running value") {
    const config a = base();
    config b = base();
    b.shards = 4;                           // restart only
    b.limits.buf_size = 4096;               // restart only
    b.limits.connect_timeout_ms = 777;      // reloadable
    b.listeners[0].group = "other";         // restart only
    const config_diff d = diff_config(a, b);
    CHECK(d.restart_needed ==
          std::vector<std::string>{"server.shards", "limits.buf_size", "listener[0].group"});
    CHECK(d.settings_changed == std::vector<std::string>{"limits.connect_timeout_ms"});
    keep_restart_only(a, b);
    CHECK(b.shards == 2);
    CHECK(b.limits.buf_size == a.limits.buf_size);
    CHECK(b.listeners[0].group == "rdb");
    CHECK(b.limits.connect_timeout_ms == 777);
    CHECK(diff_config(a, b).restart_needed.empty());
}

TEST_CASE("diff: a listener added or removed needs a restart; the running ones stay") {
    const config a = base();
    config b = base();
    b.listeners.push_back(b.listeners[0]);
    const config_diff d = diff_config(a, b);
    CHECK(d.restart_needed == std::vector<std::string>{"listener"});
    keep_restart_only(a, b);
    CHECK(b.listeners.size() == 1);
}

TEST_CASE("config_toml: the running config reads back as the same snapshot") {
    const config a = base();
    config b;
    std::string err;
    REQUIRE_MESSAGE(load_config_string(config_toml(a), "back.toml", b, err), err);
    CHECK(diff_config(a, b).empty());
}

TEST_CASE("diff: [[acl]] and [[user_group]] changes are named, reloadable, and read back") {
    const config a = base();
    config b = base();
    b.user_groups.push_back({"traders", {"alice", "t-*"}});
    acl_conf r;
    r.users = {"@traders"};
    r.functions = {"get*"};
    r.kinds = {"sync"};
    b.acls.push_back(r);
    const config_diff d = diff_config(a, b);
    CHECK(d.acl_changed);
    CHECK_FALSE(d.routes_changed);
    CHECK(d.settings_changed.empty());
    CHECK(d.restart_needed.empty());
    const std::vector<std::string> lines = describe(d);
    CHECK(lines == std::vector<std::string>{"acl changed (each client's next call)"});
    config back;
    std::string err;
    REQUIRE_MESSAGE(load_config_string(config_toml(b), "back.toml", back, err), err);
    CHECK(diff_config(b, back).empty());
    REQUIRE(back.acls.size() == 1);
    CHECK(back.acls[0].kinds == std::vector<std::string>{"sync"});
}

}  // namespace qgate::ctl

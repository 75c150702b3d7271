// load_config: values land in the snapshot, and every way a file can be wrong gives its
// exact message with file:line.
#include <doctest/doctest.h>

#include <string>

#include "qgate/ctl.h"
#include "temp_dir.h"

using namespace qgate;
using namespace qgate::ctl;

namespace {

// Lines 1..7: a minimal valid farm.
constexpr std::string_view kFarm =
    "[[listener]]\n"
    "listen = \"127.0.0.1:5010\"\n"
    "group = \"rdb\"\n"
    "[[backend]]\n"
    "name = \"rdb1\"\n"
    "group = \"rdb\"\n"
    "address = \"127.0.0.1:5011\"\n";

std::string error_of(std::string_view text) {
    config cfg;
    std::string error;
    if (load_config_string(text, "t.toml", cfg, error)) return "(loaded)";
    return error;
}

std::string with_farm(std::string_view head) { return std::string(head) + std::string(kFarm); }

}  // namespace

TEST_CASE("a full file lands in the snapshot") {
    const std::string text = std::string(kFarm) +
                             "[server]\nshards = 4\nio = \"epoll\"\nlog_level = \"debug\"\n"
                             "port_file = \"/tmp/p\"\n"
                             "[limits]\nbuf_ring_entries = 4096\nout_bytes_low = 1024\n"
                             "message_bytes_max = 1099511627775\n"
                             "[admin]\nlisten = \"[::1]:5019\"\n"
                             "[[listener]]\nlisten = \"0.0.0.0:0\"\nmode = \"request\"\n"
                             "group = \"rdb\"\npolicy = \"round-robin\"\n"
                             "[[backend]]\nname = \"rdb2\"\ngroup = \"rdb\"\n"
                             "address = \"localhost:5012\"\ncredentials = \"gw:secret\"\n";
    config cfg;
    std::string error;
    REQUIRE_MESSAGE(load_config_string(text, "t.toml", cfg, error), error);
    CHECK(cfg.shards == 4);
    CHECK(cfg.io == io_mode::epoll);
    CHECK(cfg.log_level == "debug");
    CHECK(cfg.port_file == "/tmp/p");
    CHECK(cfg.limits.buf_ring_entries == 4096);
    CHECK(cfg.limits.out_bytes_low == 1024);
    CHECK(cfg.limits.message_bytes_max == (uint64_t{1} << 40) - 1);
    CHECK(cfg.limits.buf_size == 65536);  // untouched: default
    CHECK(cfg.admin_enabled);
    CHECK(cfg.admin.host == "::1");
    CHECK(cfg.admin.port == 5019);
    REQUIRE(cfg.listeners.size() == 2);
    CHECK(cfg.listeners[0].mode == conn_mode::session);
    CHECK(cfg.listeners[0].policy == route_policy::least_busy);
    CHECK(cfg.listeners[1].mode == conn_mode::request);
    CHECK(cfg.listeners[1].policy == route_policy::round_robin);
    CHECK(cfg.listeners[1].addr.host == "0.0.0.0");
    REQUIRE(cfg.backends.size() == 2);
    CHECK(cfg.backends[0].credentials.empty());
    CHECK(cfg.backends[1].credentials == "gw:secret");
    CHECK(cfg.backends[1].addr.host == "localhost");
    CHECK(cfg.users.empty());
}

TEST_CASE("defaults: no [admin] section = admin off; an empty one = 127.0.0.1:0") {
    config cfg;
    std::string error;
    REQUIRE(load_config_string(kFarm, "t.toml", cfg, error));
    CHECK_FALSE(cfg.admin_enabled);
    CHECK(cfg.shards == 0);
    CHECK(cfg.io == io_mode::auto_);
    REQUIRE(load_config_string(with_farm("[admin]\n"), "t.toml", cfg, error));
    CHECK(cfg.admin_enabled);
    CHECK(cfg.admin.host == "127.0.0.1");
    CHECK(cfg.admin.port == 0);
}

TEST_CASE("unknown keys are errors with file:line") {
    CHECK(error_of(with_farm("foo = 1\n")) ==
          "t.toml:1: unknown key 'foo' (sections are server, limits, admin, listener, backend, "
          "fanout, route, acl, user_group, user_limits, pubsub, access_log, register, discovery, "
          "process_csv, fleet)");
    CHECK(error_of(with_farm("[server]\nshards = 1\nshardz = 2\n")) ==
          "t.toml:3: unknown key 'server.shardz'");
    CHECK(error_of(with_farm("[server.extra]\nx = 1\n")) ==
          "t.toml:1: unknown key 'server.extra'");
    CHECK(error_of(with_farm("[limits]\nlisten = 1\n")) == "t.toml:2: unknown key 'limits.listen'");
    CHECK(error_of(std::string(kFarm) + "[[backend]]\nname = \"b\"\nadress = \"x\"\n") ==
          "t.toml:10: unknown key 'adress' in backend[1]");
    CHECK(error_of(std::string(kFarm) + "[[listener]]\nlisten = \"127.0.0.1:1\"\nname = \"x\"\n") ==
          "t.toml:10: unknown key 'name' in listener[1]");
}

TEST_CASE("wrong types name the expected type") {
    CHECK(error_of(with_farm("[server]\nshards = \"4\"\n")) ==
          "t.toml:2: server.shards must be an integer, got string");
    CHECK(error_of(with_farm("[server]\nshards = 1.5\n")) ==
          "t.toml:2: server.shards must be an integer, got float");
    CHECK(error_of(with_farm("[server]\nio = 1\n")) ==
          "t.toml:2: server.io must be a string, got integer");
    CHECK(error_of(with_farm("[admin]\nlisten = true\n")) ==
          "t.toml:2: admin.listen must be a string, got boolean");
    CHECK(error_of("[[listener]]\nlisten = [1]\n") ==
          "t.toml:2: listener[0].listen must be a string, got array");
    CHECK(error_of(with_farm("server = 1\n")) ==
          "t.toml:1: server must be a table ([server]), got integer");
    CHECK(error_of("[listener]\nlisten = \"127.0.0.1:1\"\n") ==
          "t.toml:1: listener must be an array of tables ([[listener]]), got table");
    CHECK(error_of("listener = [1]\n") == "t.toml:1: listener[0] must be a table, got integer");
}

TEST_CASE("out-of-bounds values name the bound") {
    CHECK(error_of(with_farm("[server]\nshards = 5000\n")) ==
          "t.toml:2: server.shards = 5000 is above the maximum 1024");
    CHECK(error_of(with_farm("[limits]\nbuf_size = 100\n")) ==
          "t.toml:2: limits.buf_size = 100 is below the minimum 512");
    CHECK(error_of(with_farm("[limits]\nmessage_bytes_max = 1099511627776\n")) ==
          "t.toml:2: limits.message_bytes_max = 1099511627776 is above the maximum 1099511627775");
    CHECK(error_of(with_farm("[limits]\nbuf_ring_entries = 1000\n")) ==
          "t.toml:2: limits.buf_ring_entries = 1000 is not a power of two");
    CHECK(error_of(with_farm("[limits]\ndrain_timeout_ms = -1\n")) ==
          "t.toml:2: limits.drain_timeout_ms = -1 is below the minimum 0");
}

TEST_CASE("choices and addresses") {
    CHECK(error_of(with_farm("[server]\nio = \"fast\"\n")) ==
          "t.toml:2: server.io = \"fast\" is not one of auto | uring | epoll");
    CHECK(error_of(with_farm("[server]\nlog_level = \"trace\"\n")) ==
          "t.toml:2: server.log_level = \"trace\" is not one of debug | info | warn | error");
    CHECK(error_of("[[listener]]\nlisten = \"127.0.0.1:1\"\ngroup = \"g\"\nmode = \"pool\"\n") ==
          "t.toml:4: listener[0].mode = \"pool\" is not one of session | request | pubsub");
    CHECK(error_of("[[listener]]\nlisten = \"localhost\"\n") ==
          "t.toml:2: listener[0].listen = \"localhost\": expected \"host:port\" (IPv6 as "
          "\"[::1]:port\")");
    CHECK(error_of(with_farm("[admin]\nlisten = \"db.example.com:5019\"\n")) ==
          "t.toml:2: admin.listen = \"db.example.com:5019\": host \"db.example.com\" is not a "
          "numeric IPv4 address or localhost");
    CHECK(error_of(std::string(kFarm) +
                   "[[backend]]\nname = \"b\"\ngroup = \"rdb\"\naddress = \"[::1]:70000\"\n") ==
          "t.toml:11: backend[1].address = \"[::1]:70000\": port \"70000\" is not a number in "
          "0..65535");
}

TEST_CASE("array entries: required keys") {
    CHECK(error_of("[[listener]]\ngroup = \"rdb\"\n") ==
          "t.toml:1: listener[0]: missing required key 'listen'");
    CHECK(error_of(std::string(kFarm) + "\n[[backend]]\nname = \"rdb2\"\ngroup = \"rdb\"\n") ==
          "t.toml:9: backend[1]: missing required key 'address'");
    CHECK(error_of("listener = [{listen = \"127.0.0.1:1\"}]\n") ==
          "t.toml:1: listener[0]: missing required key 'group'");
}

TEST_CASE("cross-field rules") {
    CHECK(error_of("[server]\nshards = 1\n") == "t.toml: at least one [[listener]] is required");
    CHECK(error_of(std::string(kFarm) + "[[listener]]\nlisten = \"127.0.0.1:5020\"\n"
                                        "group = \"hdb\"\n") ==
          "t.toml:8: listener[1]: group \"hdb\" has no [[backend]]");
    CHECK(error_of(std::string(kFarm) + "[[listener]]\nlisten = \"127.0.0.1:5010\"\n"
                                        "group = \"rdb\"\n") ==
          "t.toml:8: listener[1]: 127.0.0.1:5010 is already used by listener[0]");
    CHECK(error_of(std::string(kFarm) + "[[backend]]\nname = \"rdb1\"\ngroup = \"rdb\"\n"
                                        "address = \"127.0.0.1:5012\"\n") ==
          "t.toml:8: backend[1]: name \"rdb1\" is already used by backend[0]");
    CHECK(error_of(std::string(kFarm) + "[[backend]]\nname = \"rdb2\"\ngroup = \"rdb\"\n"
                                        "address = \"127.0.0.1:0\"\n") ==
          "t.toml:8: backend[1]: address 127.0.0.1:0 needs a non-zero port");
    CHECK(error_of(std::string(kFarm) + "[[backend]]\nname = \"\"\ngroup = \"rdb\"\n"
                                        "address = \"127.0.0.1:1\"\n") ==
          "t.toml:8: backend[1]: name and group must not be empty");
    CHECK(error_of(with_farm("[limits]\nout_bytes_low = 9000\nout_bytes_high = 9000\n")) ==
          "t.toml:2: limits.out_bytes_low (9000) must be below limits.out_bytes_high (9000)");
    CHECK(error_of(with_farm("[limits]\nout_bytes_high = 4096\n")) ==
          "t.toml:2: limits.out_bytes_low (2097152) must be below limits.out_bytes_high (4096)");
    // Two listeners on port 0 are fine: each gets its own port.
    const std::string any_port = "[[listener]]\nlisten = \"127.0.0.1:0\"\ngroup = \"rdb\"\n";
    CHECK(error_of(std::string(kFarm) + any_port + any_port) == "(loaded)");
}

TEST_CASE("validate_config on snapshots built in code") {
    config cfg;
    std::string error;
    CHECK_FALSE(validate_config(cfg, error));
    CHECK(error == "at least one [[listener]] is required");
    cfg.listeners.push_back({{"127.0.0.1", 0}, conn_mode::session, "rdb", {}});
    cfg.backends.push_back({"rdb1", "rdb", {"127.0.0.1", 5011}, ""});
    CHECK(validate_config(cfg, error));
    cfg.limits.out_bytes_low = cfg.limits.out_bytes_high;
    CHECK_FALSE(validate_config(cfg, error));
    CHECK(error == "limits.out_bytes_low (8388608) must be below limits.out_bytes_high (8388608)");
}

TEST_CASE("TOML syntax errors and unreadable files") {
    const std::string e = error_of("[server\nshards = 1\n");
    CHECK(e.rfind("t.toml:1: ", 0) == 0);
    CHECK(error_of(with_farm("[server]\nshards = 1\nshards = 2\n")).rfind("t.toml:3: ", 0) == 0);
    config cfg;
    std::string error;
    CHECK_FALSE(load_config("/nonexistent/qgate.toml", cfg, error));
    CHECK(error == "/nonexistent/qgate.toml: cannot open: No such file or directory");
}

TEST_CASE("users_file is relative to the config file and is loaded") {
    test::temp_dir dir;
    dir.write("users.txt", "alice:secret\n");
    const std::string path = dir.write("q.toml", "[server]\nusers_file = \"users.txt\"\n" +
                                                     std::string(kFarm));
    config cfg;
    std::string error;
    REQUIRE_MESSAGE(load_config(path, cfg, error), error);
    CHECK(cfg.users_file == dir.path() + "/users.txt");
    REQUIRE(cfg.users.size() == 1);
    CHECK(cfg.users[0].user == "alice");

    const std::string bad = dir.write("bad.toml", "[server]\nusers_file = \"nope.txt\"\n" +
                                                      std::string(kFarm));
    CHECK_FALSE(load_config(bad, cfg, error));
    CHECK(error == bad + ":2: server.users_file: " + dir.path() +
                       "/nope.txt: cannot open: No such file or directory");

    dir.write("broken.txt", "alice:secret\nbob\n");
    const std::string broken = dir.write("broken.toml", "[server]\nusers_file = \"" + dir.path() +
                                                            "/broken.txt\"\n" + std::string(kFarm));
    CHECK_FALSE(load_config(broken, cfg, error));
    CHECK(error == broken + ":2: server.users_file: " + dir.path() +
                       "/broken.txt:2: expected user:password");
}

TEST_CASE("[[route]] entries land in the snapshot with their defaults") {
    config cfg;
    std::string error;
    const std::string text = std::string(kFarm) +
                             "[[route]]\n"
                             "match = [\"getTrades\", \"get*\"]\n"
                             "users = \"alice\"\n"
                             "type = \"sync\"\n"
                             "group = \"rdb\"\n"
                             "policy = \"consistent-hash\"\n"
                             "hash_arg = 2\n"
                             "timeout_ms = 250\n"
                             "queue_max = 7\n"
                             "[[route]]\n"
                             "group = \"rdb\"\n";
    REQUIRE_MESSAGE(load_config_string(text, "t.toml", cfg, error), error);
    REQUIRE(cfg.routes.size() == 2);
    const route_conf& r = cfg.routes[0];
    CHECK(r.match == std::vector<std::string>{"getTrades", "get*"});
    CHECK(r.users == std::vector<std::string>{"alice"});
    CHECK(r.type == route_type::sync);
    CHECK(r.group == "rdb");
    CHECK(r.policy == route_policy::consistent_hash);
    CHECK(r.hash_arg == 2);
    CHECK(r.timeout_ms == 250);
    CHECK(r.queue_max == 7);
    const route_conf& d = cfg.routes[1];
    CHECK(d.match == std::vector<std::string>{"*"});
    CHECK(d.users.empty());
    CHECK(d.policy == route_policy::least_busy);
    CHECK(d.timeout_ms == 0);
    CHECK(cfg.backends[0].conns == 4);
    CHECK(cfg.backends[0].pipeline == pipeline_mode::automatic);
}

TEST_CASE("[[route]] errors name the line") {
    CHECK(error_of(std::string(kFarm) + "[[route]]\ngroup = \"hdb\"\n") ==
          "t.toml:8: route[0]: group \"hdb\" has no [[backend]]");
    CHECK(error_of(std::string(kFarm) + "[[route]]\nmatch = [1]\ngroup = \"rdb\"\n") ==
          "t.toml:9: route[0].match must be a list of strings, got array");
    CHECK(error_of(std::string(kFarm) + "[[route]]\nmatch = [\"\"]\ngroup = \"rdb\"\n") ==
          "t.toml:9: route[0].match: empty pattern");
    CHECK(error_of(std::string(kFarm) + "[[route]]\nmatch = [\"f\"]\n") ==
          "t.toml:8: route[0]: missing required key 'group'");
    CHECK(error_of(std::string(kFarm) + "[[route]]\ngroup = \"rdb\"\npolicy = \"random\"\n") ==
          "t.toml:10: route[0].policy = \"random\" is not one of least-busy | round-robin | "
          "first-available | consistent-hash");
}

TEST_CASE("listener.policy: request mode's four policies, and least-connections as least-busy") {
    const auto policy_of = [](std::string_view value) {
        const std::string text = "[[listener]]\nlisten = \"127.0.0.1:0\"\ngroup = \"rdb\"\n"
                                 "policy = \"" + std::string(value) + "\"\n" +
                                 std::string(kFarm.substr(kFarm.find("[[backend]]")));
        config cfg;
        std::string error;
        REQUIRE_MESSAGE(load_config_string(text, "t.toml", cfg, error), error);
        return cfg.listeners.at(0).policy;
    };
    CHECK(policy_of("least-busy") == route_policy::least_busy);
    CHECK(policy_of("least-connections") == route_policy::least_busy);  // existing files
    CHECK(policy_of("round-robin") == route_policy::round_robin);
    CHECK(policy_of("first-available") == route_policy::first_available);
    CHECK(policy_of("consistent-hash") == route_policy::consistent_hash);
    CHECK(error_of(std::string(kFarm) + "[[listener]]\nlisten = \"127.0.0.1:0\"\n" +
                   "group = \"rdb\"\npolicy = \"random\"\n") ==
          "t.toml:11: listener[1].policy = \"random\" is not one of least-busy | round-robin | "
          "first-available | consistent-hash");
    // The alias belongs to the listener's knob only: a route keeps its own spelling.
    CHECK(error_of(std::string(kFarm) +
                   "[[route]]\ngroup = \"rdb\"\npolicy = \"least-connections\"\n") ==
          "t.toml:10: route[0].policy = \"least-connections\" is not one of least-busy | "
          "round-robin | first-available | consistent-hash");
}

TEST_CASE("[[acl]] and [[user_group]] land in the snapshot with their defaults") {
    config cfg;
    std::string error;
    const std::string text = std::string(kFarm) +
                             "[[user_group]]\nname = \"traders\"\nusers = [\"alice\", \"t-*\"]\n"
                             "[[acl]]\nusers = [\"@traders\"]\ngroups = [\"rdb\"]\n"
                             "functions = [\"get*\"]\nkinds = [\"sync\"]\n"
                             "[[acl]]\nusers = [\"ops\"]\nlisteners = [\"0\"]\n";
    REQUIRE_MESSAGE(load_config_string(text, "t.toml", cfg, error), error);
    REQUIRE(cfg.acls.size() == 2);
    REQUIRE(cfg.user_groups.size() == 1);
    CHECK(cfg.user_groups[0].users == std::vector<std::string>{"alice", "t-*"});
    CHECK(cfg.acls[0].functions == std::vector<std::string>{"get*"});
    CHECK(cfg.acls[0].kinds == std::vector<std::string>{"sync"});
    CHECK(cfg.acls[1].functions == std::vector<std::string>{"*"});
    CHECK(cfg.acls[1].kinds == std::vector<std::string>{"sync", "async", "string"});
    CHECK(cfg.acls[1].groups.empty());
}

TEST_CASE("[[acl]] errors name the line") {
    CHECK(error_of(std::string(kFarm) + "[[acl]]\nusers = [\"@nobody\"]\n") ==
          "t.toml:8: acl[0].users: no [[user_group]] named \"nobody\"");
    CHECK(error_of(std::string(kFarm) + "[[acl]]\nusers = [\"*\"]\nkinds = [\"exec\"]\n") ==
          "t.toml:8: acl[0].kinds: \"exec\" is not one of sync, async, string");
    CHECK(error_of(std::string(kFarm) + "[[acl]]\nusers = [\"*\"]\nlisteners = [\"1\"]\n") ==
          "t.toml:8: acl[0].listeners: \"1\" is not the index of a [[listener]] (0..0)");
    CHECK(error_of(std::string(kFarm) +
                   "[[user_group]]\nname = \"a\"\n[[user_group]]\nname = \"a\"\n") ==
          "t.toml:10: user_group[1]: name \"a\" is already used by user_group[0]");
    CHECK(error_of(std::string(kFarm) + "[[acl]]\ngroups = [\"rdb\"]\n") ==
          "t.toml:8: acl[0]: missing required key 'users'");
}

// The knob table: complete, self-consistent, in agreement with qgate::config's defaults, and
// the generated texts (--help, conf/qgate.example.toml) in sync with it.
#include <doctest/doctest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "ctl/knobs.h"
#include "qgate/ctl.h"

using namespace qgate;
using namespace qgate::ctl;

namespace {

// The schema other engineers and the integration tests rely on, by exact name.
const char* const kSchema[] = {
    "server.shards",
    "server.io",
    "server.log_level",
    "server.users_file",
    "server.port_file",
    "limits.message_bytes_max",
    "limits.handshake_bytes_max",
    "limits.conns_per_shard_max",
    "limits.out_bytes_high",
    "limits.out_bytes_low",
    "limits.buf_ring_entries",
    "limits.buf_size",
    "limits.session_buf_share_pct",
    "limits.connect_timeout_ms",
    "limits.handshake_timeout_ms",
    "limits.drain_timeout_ms",
    "limits.session_reply_timeout_ms",
    "admin.listen",
    "admin.handshake_timeout_ms",
    "admin.idle_timeout_ms",
    "admin.clients_max",
    "admin.http",
    "listener.listen",
    "listener.mode",
    "listener.group",
    "listener.policy",
    "listener.tls_cert",
    "listener.tls_key",
    "listener.tls_ca",
    "listener.tls_verify_client",
    "backend.name",
    "backend.group",
    "backend.address",
    "backend.credentials",
    "backend.conns",
    "backend.pipeline",
    "backend.user_links_max",
    "backend.user_pools_max",
    "backend.user_idle_ms",
    "backend.tls",
    "backend.tls_ca",
    "backend.tls_server_name",
    "backend.tls_cert",
    "backend.tls_key",
    "limits.queue_max",
    "limits.requests_per_shard_max",
    "limits.request_bytes_max",
    "limits.inflate_bytes_max",
    "limits.inflate_ratio_max",
    "limits.health_interval_ms",
    "limits.requests_per_client_max",
    "limits.reconnect_min_ms",
    "limits.reconnect_max_ms",
    "limits.eject_after_failures",
    "limits.pipeline_depth",
    "limits.pipeline_hold_ms",
    "limits.big_bufs_max",
    "limits.big_bufs_bytes_max",
    "limits.client_bytes_max",
    "limits.request_bytes_held_max",
    "fanout.reducer",
    "fanout.contexts_max",
    "route.match",
    "route.users",
    "route.type",
    "route.group",
    "route.groups",
    "route.join",
    "route.policy",
    "route.hash_arg",
    "route.timeout_ms",
    "route.queue_max",
    "route.priority",
    "acl.users",
    "acl.listeners",
    "acl.groups",
    "acl.functions",
    "acl.kinds",
    "user_group.name",
    "user_group.users",
    "pubsub.upstream",
    "pubsub.tables",
    "pubsub.backlog_updates_max",
    "pubsub.backlog_bytes_max",
    "pubsub.slow_subscriber",
    "pubsub.pubinterval_ms",
    "access_log.path",
    "access_log.slow_ms",
    "access_log.ring_entries",
    "register.listen",
    "register.groups",
    "register.credentials",
    "register.conns",
    "register.backends_max",
    "discovery.addresses",
    "discovery.proctypes",
    "discovery.credentials",
    "discovery.conns",
    "discovery.refresh_ms",
    "discovery.tls_ca",
    "discovery.tls_cert",
    "discovery.tls_key",
    "process_csv.path",
    "process_csv.proctypes",
    "process_csv.credentials",
    "process_csv.conns",
    "user_limits.users",
    "user_limits.conns_max",
    "user_limits.message_bytes_max",
    "user_limits.calls_max",
    "fleet.etcd",
    "fleet.prefix",
    "fleet.instance",
    "fleet.advertise",
    "fleet.groups",
    "fleet.lease_ttl_ms",
    "fleet.eject_quorum",
    "fleet.timeout_ms",
    "fleet.credentials",
    "fleet.conns",
};

// A snapshot with one default entry per array section, for the getters.
config with_entries() {
    config c;
    c.listeners.resize(1);
    c.backends.resize(1);
    c.routes.resize(1);
    c.acls.resize(1);
    c.user_groups.resize(1);
    c.user_limits.resize(1);
    return c;
}

bool same(const knob& k, const knob_value& a, const knob_value& b) {
    switch (k.type) {
    case knob_type::integer:
    case knob_type::boolean:
    case knob_type::choice: return a.integer == b.integer;
    case knob_type::string: return a.text == b.text;
    case knob_type::address: return a.addr.host == b.addr.host && a.addr.port == b.addr.port;
    case knob_type::list: return a.list == b.list;
    }
    return false;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

TEST_CASE("knob table: every schema name is a knob, and nothing else is") {
    std::set<std::string_view> names;
    for (const knob& k : knob_table()) {
        CHECK_MESSAGE(names.insert(k.name).second, "duplicate knob ", k.name);
    }
    for (const char* name : kSchema) CHECK_MESSAGE(find_knob(name) != nullptr, name);
    CHECK(names.size() == std::size(kSchema));
}

TEST_CASE("knob table: entries are well formed") {
    std::set<std::string_view> cli;
    for (const knob& k : knob_table()) {
        INFO(k.name);
        const section_info* s = find_section(k.section());
        REQUIRE(s != nullptr);
        CHECK(s->scope == k.scope);
        CHECK(!k.help.empty());
        CHECK(!k.def.empty());
        CHECK(bool(k.set));
        CHECK(bool(k.get));
        if (k.type == knob_type::integer) CHECK(k.min <= k.max);
        if (k.type == knob_type::choice) CHECK(k.choices.find('|') != std::string_view::npos);
        if (k.has(knob_flag::kRequired)) CHECK(k.scope == knob_scope::array);
        if (!k.cli.empty()) {
            CHECK(k.scope == knob_scope::table);
            CHECK(cli.insert(k.cli).second);
        }
        // The default (or example) literal passes the knob's own checks.
        knob_value v;
        std::string error;
        CHECK_MESSAGE(parse_knob_text(k, k.def, k.name, v, error), error);
    }
    for (const section_info& s : section_table()) CHECK(!s.help.empty());
}

TEST_CASE("knob table: defaults agree with qgate::config's member initialisers") {
    const config c = with_entries();
    for (const knob& k : knob_table()) {
        if (k.has(knob_flag::kRequired) || k.has(knob_flag::kIfSection)) continue;
        INFO(k.name);
        knob_value def;
        std::string error;
        REQUIRE(parse_knob_text(k, k.def, k.name, def, error));
        CHECK(same(k, k.get(c, 0), def));
    }
}

TEST_CASE("knob table: each setter writes the field its getter reads") {
    for (const knob& k : knob_table()) {
        INFO(k.name);
        config c = with_entries();
        knob_value v;
        std::string error;
        switch (k.type) {
        case knob_type::integer: v.integer = k.max; break;
        case knob_type::string: v.text = "x-" + std::string(k.key()); break;
        case knob_type::choice: v.text = std::string(k.choices.substr(k.choices.rfind('|') + 1));
            break;
        case knob_type::address: v.text = "[::1]:4242"; break;
        case knob_type::list: v.list = {"x-" + std::string(k.key()), "y*"}; break;
        case knob_type::boolean: v.integer = k.def == "true" ? 0 : 1; break;
        }
        REQUIRE_MESSAGE(check_knob(k, v, k.name, error), error);
        k.set(c, 0, v);
        CHECK(same(k, k.get(c, 0), v));
    }
}

TEST_CASE("knob table: admin.listen enables the admin endpoint only when present") {
    config c;
    apply_table_defaults(c);
    CHECK_FALSE(c.admin_enabled);
    apply_section_defaults(c, "admin", 0);
    CHECK(c.admin_enabled);
    CHECK(c.admin.host == "127.0.0.1");
    CHECK(c.admin.port == 0);
}

TEST_CASE("check_knob: messages name the bound, the choices, the reason") {
    std::string error;
    knob_value v;
    const knob& shards = *find_knob("server.shards");
    v.integer = 1025;
    CHECK_FALSE(check_knob(shards, v, "server.shards", error));
    CHECK(error == "server.shards = 1025 is above the maximum 1024");
    v.integer = -1;
    CHECK_FALSE(check_knob(shards, v, "server.shards", error));
    CHECK(error == "server.shards = -1 is below the minimum 0");
    v.integer = 48;
    CHECK(check_knob(*find_knob("limits.buf_ring_entries"), v, "x", error) == false);
    CHECK(error == "x = 48 is not a power of two");
    CHECK_FALSE(parse_knob_text(*find_knob("server.io"), "fast", "--io", v, error));
    CHECK(error == "--io = \"fast\" is not one of auto | uring | epoll");
    CHECK_FALSE(parse_knob_text(shards, "4x", "--shards", v, error));
    CHECK(error == "--shards: \"4x\" is not an integer");
    CHECK(parse_knob_text(*find_knob("server.log_level"), "\"warn\"", "x", v, error));
    CHECK(v.integer == 2);
    CHECK(v.text == "warn");
}

TEST_CASE("--help lists every option and knob with its default and bounds") {
    const std::string help = help_text();
    for (const char* opt : {"-c, --config=FILE", "--check-config", "--print-example-config",
                            "--list-stats", "--help", "--io=auto|uring|epoll", "--shards=N",
                            "--port-file=PATH", "--log-level=debug|info|warn|error"}) {
        CHECK_MESSAGE(help.find(opt) != std::string::npos, opt);
    }
    for (const knob& k : knob_table()) {
        INFO(k.name);
        CHECK(help.find("  " + std::string(k.name)) != std::string::npos);
        CHECK(help.find(std::string(k.def)) != std::string::npos);
        CHECK(help.find(describe_knob_domain(k)) != std::string::npos);
    }
    CHECK(help.find("integer 0..1024") != std::string::npos);
}

TEST_CASE("the generated example config documents every knob and is itself valid") {
    const std::string text = example_config();
    for (const knob& k : knob_table()) {
        CHECK_MESSAGE(text.find("\n" + std::string(k.key()) + " = " + std::string(k.def) +
                                "\n") != std::string::npos,
                      k.name);
    }
    config cfg;
    std::string error;
    REQUIRE_MESSAGE(load_config_string(text, "example.toml", cfg, error), error);
    CHECK(cfg.listeners.size() == 1);
    CHECK(cfg.backends.size() == 1);
    CHECK(cfg.admin_enabled);
    for (const std::string& line : {std::string("[server]"), std::string("[[backend]]")}) {
        CHECK(text.find("\n" + line + "\n") != std::string::npos);
    }
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) CHECK(line.size() <= 100);
}

TEST_CASE("conf/qgate.example.toml is the generated text (regenerate: qgate "
          "--print-example-config > conf/qgate.example.toml)") {
    const std::string committed = read_file(QGATE_SOURCE_ROOT "/conf/qgate.example.toml");
    REQUIRE_MESSAGE(!committed.empty(), "conf/qgate.example.toml is missing");
    CHECK(committed == example_config());
}

TEST_CASE("conf/demo.toml loads") {
    config cfg;
    std::string error;
    REQUIRE_MESSAGE(load_config(QGATE_SOURCE_ROOT "/conf/demo.toml", cfg, error), error);
    CHECK(cfg.shards == 2);
    REQUIRE(cfg.listeners.size() == 1);
    CHECK(cfg.listeners[0].addr.port == 5010);
    CHECK(cfg.listeners[0].mode == conn_mode::session);
    REQUIRE(cfg.backends.size() == 2);
    CHECK(cfg.backends[1].addr.port == 5012);
    CHECK(cfg.admin_enabled);
    CHECK(cfg.admin.port == 5019);
}

// The qgate command line: actions, knob overrides from the table, and their errors.
#include <doctest/doctest.h>

#include <vector>

#include "qgate/ctl.h"

using namespace qgate;
using namespace qgate::ctl;

namespace {

bool parse(std::vector<const char*> args, cli_options& out, std::string& error) {
    args.insert(args.begin(), "qgate");
    return parse_cli(static_cast<int>(args.size()), args.data(), out, error);
}

config farm() {
    config cfg;
    cfg.listeners.push_back({{"127.0.0.1", 0}, conn_mode::session, "rdb", {}});
    cfg.backends.push_back({"rdb1", "rdb", {"127.0.0.1", 5011}, ""});
    return cfg;
}

}  // namespace

TEST_CASE("parse_cli: actions and the config path") {
    cli_options o;
    std::string error;
    REQUIRE(parse({"-c", "conf/demo.toml", "--check-config"}, o, error));
    CHECK(o.config_path == "conf/demo.toml");
    CHECK(o.check_config);
    CHECK_FALSE(o.help);
    cli_options o2;
    REQUIRE(parse({"--config=x.toml", "--help", "--print-example-config"}, o2, error));
    CHECK(o2.config_path == "x.toml");
    CHECK(o2.help);
    CHECK(o2.print_example);
    CHECK_FALSE(o2.list_stats);
    cli_options o4;
    REQUIRE(parse({"--list-stats"}, o4, error));
    CHECK(o4.list_stats);
    CHECK(o4.config_path.empty());
    cli_options o3;
    REQUIRE(parse({"--config", "y.toml", "-h"}, o3, error));
    CHECK(o3.config_path == "y.toml");
    CHECK(o3.help);
}

TEST_CASE("parse_cli: knob overrides in both spellings, in order") {
    cli_options o;
    std::string error;
    REQUIRE(parse({"-c", "f", "--io=epoll", "--shards", "3", "--port-file=/tmp/p",
                   "--log-level=debug", "--shards=4"},
                  o, error));
    REQUIRE(o.overrides.size() == 5);
    CHECK(o.overrides[0] == std::pair<std::string, std::string>("server.io", "epoll"));
    CHECK(o.overrides[1] == std::pair<std::string, std::string>("server.shards", "3"));
    CHECK(o.overrides[2] == std::pair<std::string, std::string>("server.port_file", "/tmp/p"));
    CHECK(o.overrides[3] == std::pair<std::string, std::string>("server.log_level", "debug"));
    config cfg = farm();
    REQUIRE_MESSAGE(apply_overrides(o, cfg, error), error);
    CHECK(cfg.io == io_mode::epoll);
    CHECK(cfg.shards == 4);  // the last one wins
    CHECK(cfg.port_file == "/tmp/p");
    CHECK(cfg.log_level == "debug");
}

TEST_CASE("parse_cli: errors") {
    cli_options o;
    std::string error;
    CHECK_FALSE(parse({"--bogus"}, o, error));
    CHECK(error == "unknown option '--bogus' (see --help)");
    CHECK_FALSE(parse({"conf.toml"}, o, error));
    CHECK(error == "unknown option 'conf.toml' (see --help)");
    CHECK_FALSE(parse({"-c"}, o, error));
    CHECK(error == "-c needs a value (see --help)");
    CHECK_FALSE(parse({"--shards"}, o, error));
    CHECK(error == "--shards needs a value (see --help)");
    CHECK_FALSE(parse({"--users-file=x"}, o, error));  // not a command-line knob
}

TEST_CASE("apply_overrides checks values like the file does") {
    std::string error;
    config cfg = farm();
    cli_options o;
    o.overrides = {{"server.shards", "2000"}};
    CHECK_FALSE(apply_overrides(o, cfg, error));
    CHECK(error == "--shards = 2000 is above the maximum 1024");
    o.overrides = {{"server.io", "kqueue"}};
    CHECK_FALSE(apply_overrides(o, cfg, error));
    CHECK(error == "--io = \"kqueue\" is not one of auto | uring | epoll");
    o.overrides = {{"server.shards", "two"}};
    CHECK_FALSE(apply_overrides(o, cfg, error));
    CHECK(error == "--shards: \"two\" is not an integer");
    o.overrides = {{"listener.group", "x"}};
    CHECK_FALSE(apply_overrides(o, cfg, error));
    CHECK(error == "unknown knob 'listener.group'");
    o.overrides = {};
    config empty;
    CHECK_FALSE(apply_overrides(o, empty, error));  // cross-field rules run too
    CHECK(error == "at least one [[listener]] is required");
}

// DESIGN: the `qgate` program. Parses the command line and the TOML file into an immutable
// qgate::config (src/ctl), applies command-line overrides, and either reports on the config
// (--check-config, like `haproxy -c`) or hands the snapshot to the data plane (run_gateway),
// whose return value is the exit code. --help, --print-example-config and --list-stats print a
// text generated from a table and exit before any config is read. Runs on the main thread
// before any other exists.
// Exit codes: 0 OK, 1 configuration error, 2 usage error.
#include <cstdio>
#include <memory>
#include <string>

#include "qgate/config.h"
#include "qgate/ctl.h"
#include "qgate/gateway.h"
#include "qgate/log.h"
#include "net/socket_util.h"
#include "shard/counters.h"

namespace {

constexpr int kExitConfig = 1;
constexpr int kExitUsage = 2;

qgate::log::level level_of(const std::string& name) {
    using qgate::log::level;
    if (name == "debug") return level::debug;
    if (name == "warn") return level::warn;
    if (name == "error") return level::error;
    return level::info;  // the knob table only lets debug|info|warn|error through
}

int usage_error(const std::string& error) {
    std::fprintf(stderr, "qgate: %s\n", error.c_str());
    return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
    qgate::ctl::cli_options opts;
    std::string error;
    if (!qgate::ctl::parse_cli(argc, argv, opts, error)) return usage_error(error);
    if (opts.help) {
        std::fputs(qgate::ctl::help_text().c_str(), stdout);
        return 0;
    }
    if (opts.print_example) {
        std::fputs(qgate::ctl::example_config().c_str(), stdout);
        return 0;
    }
    if (opts.list_stats) {
        std::fputs(qgate::ctl::stats_markdown(qgate::shard::kStatTable).c_str(), stdout);
        return 0;
    }
    if (opts.config_path.empty()) return usage_error("-c FILE is required (see --help)");

    qgate::config cfg;
    if (!qgate::ctl::load_config(opts.config_path, cfg, error) ||
        !qgate::ctl::apply_overrides(opts, cfg, error)) {
        std::fprintf(stderr, "qgate: config error: %s\n", error.c_str());
        return kExitConfig;
    }
    if (opts.check_config) {
        std::printf("config OK: %zu listeners, %zu backends, %zu routes\n", cfg.listeners.size(),
                    cfg.backends.size(), cfg.routes.size());
        return 0;
    }
    qgate::log::threshold() = level_of(cfg.log_level);
    QGATE_LOG_INFO("config %s: %zu listeners, %zu backends, %zu routes, %zu users",
                   opts.config_path.c_str(), cfg.listeners.size(), cfg.backends.size(),
                   cfg.routes.size(), cfg.users.size());
    qgate::net::raise_fd_limit();  // every client holds a socket, plus one per upstream
    // A reload reads the file again exactly as at start: the same checks, the same overrides.
    auto reload_source = [opts](qgate::config& next, std::string& err) {
        return qgate::ctl::load_config(opts.config_path, next, err) &&
               qgate::ctl::apply_overrides(opts, next, err);
    };
    return qgate::run_gateway(std::make_shared<const qgate::config>(std::move(cfg)),
                              reload_source);
}

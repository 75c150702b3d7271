// The control plane's public entry points: load and validate the TOML configuration into the
// immutable qgate::config snapshot, the `qgate` command line, and endpoint helpers shared with
// the data plane. Everything here runs at start-up or reload, never on the data plane: it may
// allocate and (internally) throw.
#pragma once

#include <sys/socket.h>

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qgate/config.h"
#include "qgate/stats.h"

namespace qgate::ctl {

/// Loads `path` (TOML) into `out`: every knob of the knob table (src/ctl/knobs.cc) starts at its
/// default, file values are type-, bound- and choice-checked, unknown keys are refused, the
/// cross-field rules of validate_config hold, and `users_file` (resolved relative to the
/// config file's directory) is loaded into out.users. On failure returns false and sets
/// `error` to "file:line: reason" (or "file: reason" when no line applies).
bool load_config(const std::string& path, config& out, std::string& error);

/// As load_config, from TOML text. `source_name` names the text in errors and is the base
/// for a relative users_file (its directory; the current directory when it has none).
bool load_config_string(std::string_view text, const std::string& source_name, config& out,
                        std::string& error);

/// Cross-field rules, for snapshots built in code or changed by CLI overrides: at least one
/// listener; every listener's group has a backend; backend names unique; backend ports
/// non-zero; no two listeners on the same non-zero port and host; out_bytes_low <
/// out_bytes_high. Returns false with `error` set on the first violation.
bool validate_config(const config& cfg, std::string& error);
/// Groups the runtime backend sources may fill ([register] groups, [discovery] and
/// [process_csv] proctypes): they exist, possibly empty, in every generation.
std::vector<std::string> runtime_groups(const config& cfg);

/// getenv, or a stand-in in tests.
using env_lookup = std::function<const char*(const char*)>;
/// A TorQ process.csv's rows as backends (src/ctl/process_csv.cc): `source` names it in errors
/// ("file:line: why"). read_process_csv reads pc.path with the process environment.
bool parse_process_csv(std::string_view text, const std::string& source,
                       const process_csv_conf& pc, const env_lookup& env,
                       std::vector<backend_conf>& out, std::string& error);
bool read_process_csv(const process_csv_conf& pc, std::vector<backend_conf>& out,
                      std::string& error);

/// Parses "host:port" or "[v6]:port". The host must be numeric IPv4, numeric IPv6 (in
/// brackets) or "localhost"; the port 0..65535. IPv6 hosts are stored without brackets.
bool parse_endpoint(std::string_view text, endpoint& out, std::string& error);
/// The same, also taking a host name ("host:port"; resolved later, by whoever connects): the
/// addresses services register themselves with (register.cc).
bool parse_host_port(std::string_view text, endpoint& out, std::string& error);
/// The inverse of parse_endpoint ("[::1]:5010" for IPv6 hosts).
std::string format_endpoint(const endpoint& ep);
/// Fills a sockaddr for `ep` ("localhost" = 127.0.0.1). False when the host is not numeric.
bool endpoint_to_sockaddr(const endpoint& ep, sockaddr_storage& out, socklen_t& len);

/// The `qgate` command line. Knob overrides (--shards=N, ...) come from the knob table.
struct cli_options {
    std::string config_path;      ///< -c FILE / --config=FILE
    bool check_config = false;    ///< --check-config: validate and exit
    bool help = false;            ///< -h / --help
    bool print_example = false;   ///< --print-example-config
    bool list_stats = false;      ///< --list-stats
    /// Knob overrides in command-line order: (knob name, value text), e.g. ("server.shards", "4").
    std::vector<std::pair<std::string, std::string>> overrides;
};

/// Parses argv. Returns false with `error` set on an unknown option or a missing value.
bool parse_cli(int argc, const char* const* argv, cli_options& out, std::string& error);

/// Applies out.overrides to `cfg` with the same checks as the file, then validate_config.
bool apply_overrides(const cli_options& opts, config& cfg, std::string& error);

/// `qgate --help`: the options and every knob with its type, default, bounds and reload
/// behaviour, generated from the knob table.
std::string help_text();

/// The annotated example configuration (conf/qgate.example.toml), generated from the knob
/// table; `qgate --print-example-config` prints it.
std::string example_config();

/// STATS.md: a markdown table of `table` (name, kind, unit, labels, help) with how to read
/// .qgate.stats[]; `qgate --list-stats` prints it for the stats table (src/shard/counters.h).
std::string stats_markdown(std::span<const stat_desc> table);

}  // namespace qgate::ctl

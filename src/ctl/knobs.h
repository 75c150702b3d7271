// The knob table: every configuration setting qgate has, declared once (STYLE.md rule 8).
// The TOML loader, the CLI overrides, `--help` and conf/qgate.example.toml are all generated
// from it. Control plane only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qgate/config.h"

namespace qgate::ctl {

enum class knob_type : uint8_t {
    integer,  ///< TOML integer, checked against [min, max]
    string,   ///< free text
    choice,   ///< one of `choices` ("a|b|c"); the value's integer is the index
    address,  ///< "host:port" / "[v6]:port", parsed into an endpoint
    list,     ///< TOML array of strings (a lone string is a one-item list)
    boolean,  ///< TOML true / false; the value's integer is 1 / 0
};

/// Where a knob lives: `[section] key` once, or `key` inside every `[[section]]` entry.
enum class knob_scope : uint8_t { table, array };

namespace knob_flag {
inline constexpr uint8_t kReloadable = 1 << 0;   ///< applied on SIGHUP; else restart required
inline constexpr uint8_t kRequired = 1 << 1;     ///< array entry key that must be present
inline constexpr uint8_t kPowerOfTwo = 1 << 2;   ///< integer must be a power of two
inline constexpr uint8_t kRelativePath = 1 << 3; ///< relative to the config file's directory
inline constexpr uint8_t kIfSection = 1 << 4;    ///< default applies only if the section exists
inline constexpr uint8_t kPath = 1 << 5;         ///< a file path, relative to the cwd
}  // namespace knob_flag

/// A checked knob value. integer: the number (choice: index of the choice); text: the string
/// (choice: the choice's name); addr: the parsed address.
struct knob_value {
    int64_t integer = 0;
    std::string text;
    endpoint addr;
    std::vector<std::string> list;
};

struct knob {
    std::string_view name;     ///< TOML dotted path: "server.shards", "backend.address"
    knob_type type;
    knob_scope scope;
    std::string_view def;      ///< default as a TOML literal; for kRequired: the example value
    int64_t min;               ///< integer bounds, inclusive
    int64_t max;
    std::string_view choices;  ///< choice: "auto|uring|epoll"
    uint8_t flags;
    std::string_view cli;      ///< command-line override ("shards" = --shards=V), or empty
    std::string_view help;
    /// Stores `v` into `cfg` (array knobs: into entry `entry` of the section's vector).
    void (*set)(config& cfg, std::size_t entry, const knob_value& v);
    /// Reads the knob back from `cfg` (used to prove struct defaults equal `def`).
    knob_value (*get)(const config& cfg, std::size_t entry);

    bool has(uint8_t f) const { return (flags & f) != 0; }
    std::string_view section() const { return name.substr(0, name.find('.')); }
    std::string_view key() const { return name.substr(name.find('.') + 1); }
};

/// A `[section]` or `[[section]]` of the file, in the order the example file shows them.
struct section_info {
    std::string_view name;
    knob_scope scope;
    std::string_view help;
};

std::span<const knob> knob_table();
/// The [fleet] section's knobs (knobs_fleet.cc), the last rows of knob_table().
std::span<const knob> fleet_knobs();
std::span<const section_info> section_table();
const knob* find_knob(std::string_view name);
const section_info* find_section(std::string_view name);

/// Bounds, power-of-two, choice and address checks; fills v.integer (choice index) and v.addr.
/// `what` names the value in errors ("server.shards", "backend[1].address", "--shards").
bool check_knob(const knob& k, knob_value& v, std::string_view what, std::string& error);

/// Parses text (the CLI, or a `def` literal) into a checked value. Strings may be bare or in
/// double quotes.
bool parse_knob_text(const knob& k, std::string_view text, std::string_view what,
                     knob_value& v, std::string& error);

/// Sets every table knob to its default (kIfSection knobs excluded), i.e. the snapshot before
/// the file is read.
void apply_table_defaults(config& cfg);
/// Sets the defaults of the knobs of `section` (array sections: of entry `entry`).
void apply_section_defaults(config& cfg, std::string_view section, std::size_t entry);

/// "integer 0..1024", "auto | uring | epoll", "string", "host:port".
std::string describe_knob_domain(const knob& k);

}  // namespace qgate::ctl

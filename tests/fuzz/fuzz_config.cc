// Fuzz target: the config loader (src/ctl/config.cc: toml++ parse of arbitrary text, the knob
// table's checks in knobs.cc, the cross-field rules in validate.cc).
//
// Input: the TOML text itself. The users file and a process.csv are not read while fuzzing (a
// fuzzed path could name /dev/zero): load_users and read_process_csv below stand in for
// src/ctl/users.cc and process_csv.cc, which are not linked, and refuse every path.
// Invariants checked beyond "no crash, no sanitizer report":
//   * no exception leaves load_config_string;
//   * it returns a config, or false with an error "fuzz.toml:LINE: reason" (LINE within the
//     text) or "fuzz.toml: reason" (a rule no single line holds, e.g. no listener);
//   * a config it returns passes validate_config again.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "qgate/auth.h"
#include "qgate/ctl.h"

namespace qgate::ctl {

bool load_users(const std::string& path, std::vector<user_entry>&, std::string& error) {
    error = path + ": not read while fuzzing";
    return false;
}

// The same for [process_csv] (src/ctl/process_csv.cc is not linked): its parser has unit tests.
bool read_process_csv(const process_csv_conf& pc, std::vector<backend_conf>&,
                      std::string& error) {
    error = "fuzz.toml: " + pc.path + ": not read while fuzzing";
    return false;
}

}  // namespace qgate::ctl

namespace {

constexpr std::string_view kSource = "fuzz.toml";

void check_error(std::string_view error, std::string_view text) {
    FUZZ_CHECK(error.size() > kSource.size() + 2 && error.substr(0, kSource.size()) == kSource);
    std::string_view rest = error.substr(kSource.size());
    FUZZ_CHECK(rest[0] == ':');
    rest.remove_prefix(1);
    if (rest[0] == ' ') return;  // no line applies
    uint64_t line = 0;
    std::size_t digits = 0;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9' && digits < 12) {
        line = line * 10 + static_cast<uint64_t>(rest[digits++] - '0');
    }
    FUZZ_CHECK(digits > 0 && digits < rest.size() && rest[digits] == ':');
    uint64_t lines = 1;
    for (char c : text) lines += c == '\n' ? 1 : 0;
    FUZZ_CHECK(line >= 1 && line <= lines);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    qgate::config cfg;
    std::string error;
    bool ok = false;
    try {
        ok = qgate::ctl::load_config_string(text, std::string(kSource), cfg, error);
    } catch (...) {
        FUZZ_CHECK(!"an exception left load_config_string");
    }
    if (!ok) {
        check_error(error, text);
        return 0;
    }
    std::string again;
    FUZZ_CHECK(qgate::ctl::validate_config(cfg, again));
    return 0;
}

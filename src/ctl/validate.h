// Cross-field rules of a configuration snapshot (the per-value rules live in the knob table).
// Control plane only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "qgate/config.h"

namespace qgate::ctl {

/// Where things were in the file, so cross-field errors can name a line.
struct source_lines {
    std::string source;                      ///< file name used in errors
    std::vector<uint32_t> listeners;         ///< line of each [[listener]] header
    std::vector<uint32_t> backends;          ///< line of each [[backend]] header
    std::vector<uint32_t> routes;            ///< line of each [[route]] header
    std::vector<uint32_t> acls;              ///< line of each [[acl]] header
    std::vector<uint32_t> user_groups;       ///< line of each [[user_group]] header
    std::vector<uint32_t> user_limits;       ///< line of each [[user_limits]] header
    std::vector<uint32_t>& of(std::string_view array_section) {
        if (array_section == "listener") return listeners;
        if (array_section == "backend") return backends;
        if (array_section == "acl") return acls;
        if (array_section == "user_limits") return user_limits;
        return array_section == "user_group" ? user_groups : routes;
    }
    std::map<std::string, uint32_t> keys;    ///< line of each [section] knob set in the file
};

/// The rules of validate_config; with `lines`, errors start "file:line: ".
bool check_cross(const config& cfg, const source_lines* lines, std::string& error);
/// [[acl]] and [[user_group]]: known kinds, listeners and user groups (validate_acl.cc).
bool check_acls(const config& cfg, const source_lines* lines, std::string& error);

}  // namespace qgate::ctl

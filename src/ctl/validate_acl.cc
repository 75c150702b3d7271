// DESIGN: the cross-field rules of [[acl]] and [[user_group]] (entitlements), with file:line
// errors: a rule names known kinds, existing listeners and declared user groups, and there are
// at most 64 rules (a user's rules are a 64-bit mask on the shards, src/route/acl.cc). Control
// plane only.
#include <charconv>

#include "ctl/validate.h"

namespace qgate::ctl {
namespace {

constexpr std::size_t kRulesMax = 64;

std::string at(const source_lines* lines, const std::vector<uint32_t>* entries,
               std::size_t i) {
    if (lines == nullptr) return {};
    if (entries != nullptr && i < entries->size()) {
        return lines->source + ":" + std::to_string((*entries)[i]) + ": ";
    }
    return lines->source + ": ";
}

bool known_group(const config& cfg, std::string_view name) {
    for (const user_group_conf& g : cfg.user_groups) {
        if (g.name == name) return true;
    }
    return false;
}

// The first thing wrong with rule `a`, or "".
std::string rule_problem(const config& cfg, const acl_conf& a) {
    for (const std::string& u : a.users) {
        if (u.front() == '@' && !known_group(cfg, std::string_view(u).substr(1))) {
            return "users: no [[user_group]] named \"" + u.substr(1) + "\"";
        }
    }
    for (const std::string& l : a.listeners) {
        std::size_t i = 0;
        const auto [end, ec] = std::from_chars(l.data(), l.data() + l.size(), i);
        if (ec != std::errc{} || end != l.data() + l.size() || i >= cfg.listeners.size() ||
            i >= kRulesMax) {
            return "listeners: \"" + l + "\" is not the index of a [[listener]] (0.." +
                   std::to_string(cfg.listeners.size() - 1) + ")";
        }
    }
    for (const std::string& k : a.kinds) {
        if (k != "sync" && k != "async" && k != "string") {
            return "kinds: \"" + k + "\" is not one of sync, async, string";
        }
    }
    return {};
}

}  // namespace

bool check_acls(const config& cfg, const source_lines* lines, std::string& error) {
    const auto* groups_at = lines != nullptr ? &lines->user_groups : nullptr;
    for (std::size_t i = 0; i < cfg.user_groups.size(); ++i) {
        for (std::size_t j = 0; j < i; ++j) {
            if (cfg.user_groups[j].name != cfg.user_groups[i].name) continue;
            error = at(lines, groups_at, i) + "user_group[" + std::to_string(i) + "]: name \"" +
                    cfg.user_groups[i].name + "\" is already used by user_group[" +
                    std::to_string(j) + "]";
            return false;
        }
    }
    const auto* acls_at = lines != nullptr ? &lines->acls : nullptr;
    if (cfg.acls.size() > kRulesMax) {
        error = at(lines, acls_at, kRulesMax) + "at most " + std::to_string(kRulesMax) +
                " [[acl]] rules";
        return false;
    }
    for (std::size_t i = 0; i < cfg.acls.size(); ++i) {
        const std::string why = rule_problem(cfg, cfg.acls[i]);
        if (why.empty()) continue;
        error = at(lines, acls_at, i) + "acl[" + std::to_string(i) + "]." + why;
        return false;
    }
    return true;
}

}  // namespace qgate::ctl

// Route table compilation (control plane) and matching (data plane).
//
// First match wins, but a linear scan with glob tests per rule would cost O(rules) per request.
// So compile() builds, for every name some rule lists exactly, the ordered list of rules that
// can match it: the rules listing it (marked kExactHit: name already matched) merged in config
// order with every rule that has a glob pattern. A name no rule lists exactly gets the glob
// rules only. match() is then one hash lookup and a scan of a short candidate list, checking
// type, glob name and user, and returns the first that accepts: the same answer as the linear
// scan. Strings viewed by the index and by route_rule::join live in this table's vectors,
// which are filled completely before any view is taken (so no reallocation can dangle them).

#include <algorithm>
#include <cstring>
#include <map>
#include <utility>

#include "qgate/route/glob.h"
#include "qgate/route/table.h"

namespace qgate::route {
namespace {

constexpr std::string_view kDefaultJoin = "raze";

std::string rule_name(size_t i) { return "route " + std::to_string(i + 1) + ": "; }

bool type_ok(type_match m, qipc::msg_type t) {
    return m == type_match::any || (m == type_match::sync && t == qipc::msg_type::sync) ||
           (m == type_match::async && t == qipc::msg_type::async);
}

bool any_glob(const std::vector<std::string>& patterns, std::string_view s) {
    return std::any_of(patterns.begin(), patterns.end(),
                       [s](const std::string& p) { return glob_match(p, s); });
}

}  // namespace

bool route_table::add_rule(size_t i, const route_spec& s, const group_set& groups,
                           std::vector<std::string>& exact, std::string& error) {
    compiled c;
    c.rule = route_rule{static_cast<uint32_t>(i), {}, {}, s.pol, s.hash_arg,
                        s.timeout_ms, s.queue_max, s.priority};
    c.type = s.type;
    c.users = s.users;
    c.join = s.join.empty() && s.groups.size() > 1 ? std::string(kDefaultJoin) : s.join;
    if (s.groups.empty()) {
        error = rule_name(i) + "no group";
        return false;
    }
    c.group_begin = static_cast<uint32_t>(group_ids_.size());
    c.group_count = static_cast<uint32_t>(s.groups.size());
    for (const std::string& g : s.groups) {
        const int32_t id = groups.find(g);
        if (id < 0) {
            error = rule_name(i) + "unknown group '" + g + "'";
            return false;
        }
        group_ids_.push_back(static_cast<uint16_t>(id));
    }
    if (s.pol == policy::consistent_hash && s.hash_arg == 0) {
        error = rule_name(i) + "consistent-hash needs hash_arg >= 1";
        return false;
    }
    static const std::vector<std::string> kAny{"*"};
    for (const std::string& p : s.match.empty() ? kAny : s.match) {
        if (p.empty()) {
            error = rule_name(i) + "empty match pattern";
            return false;
        }
        (is_glob(p) ? c.globs : exact).push_back(p);
    }
    if (std::any_of(s.users.begin(), s.users.end(), [](const auto& u) { return u.empty(); })) {
        error = rule_name(i) + "empty user pattern";
        return false;
    }
    rules_.push_back(std::move(c));
    return true;
}

bool route_table::compile(std::span<const route_spec> specs, const group_set& groups,
                          route_table& out, std::string& error) {
    if (specs.size() > 0xffff) {
        error = "too many routes (65535 at most)";
        return false;
    }
    route_table t;
    std::vector<std::vector<std::string>> exact(specs.size());
    for (size_t i = 0; i < specs.size(); ++i) {
        if (!t.add_rule(i, specs[i], groups, exact[i], error)) return false;
    }
    for (compiled& c : t.rules_) {  // views, now that the vectors are final
        c.rule.groups = std::span<const uint16_t>(t.group_ids_).subspan(c.group_begin,
                                                                         c.group_count);
        c.rule.join = c.join;
    }
    t.build_index(exact);
    out = std::move(t);
    return true;
}

void route_table::build_index(const std::vector<std::vector<std::string>>& exact) {
    std::map<std::string, std::vector<uint32_t>> by_name;  // name → rules listing it, in order
    for (uint32_t i = 0; i < exact.size(); ++i) {
        for (const std::string& n : exact[i]) {
            std::vector<uint32_t>& ids = by_name[n];
            if (ids.empty() || ids.back() != i) ids.push_back(i);
        }
    }
    std::vector<uint32_t> glob_rules;
    for (uint32_t i = 0; i < rules_.size(); ++i) {
        if (!rules_[i].globs.empty()) glob_rules.push_back(i);
    }
    glob_only_ = {0, static_cast<uint32_t>(glob_rules.size())};
    candidates_ = glob_rules;
    names_.reserve(by_name.size());
    std::vector<span32> spans;
    for (const auto& [name, ids] : by_name) {
        const auto begin = static_cast<uint32_t>(candidates_.size());
        size_t a = 0;
        size_t b = 0;
        while (a < ids.size() || b < glob_rules.size()) {  // merge, keeping config order
            if (b == glob_rules.size() || (a < ids.size() && ids[a] <= glob_rules[b])) {
                if (b < glob_rules.size() && ids[a] == glob_rules[b]) ++b;
                candidates_.push_back(ids[a++] | kExactHit);
            } else {
                candidates_.push_back(glob_rules[b++]);
            }
        }
        names_.push_back(name);
        spans.push_back({begin, static_cast<uint32_t>(candidates_.size())});
    }
    for (size_t i = 0; i < names_.size(); ++i) index_.emplace(names_[i], spans[i]);
}

bool route_table::accepts(const compiled& c, bool exact_hit, std::string_view name,
                          std::string_view user, qipc::msg_type type) {
    if (!type_ok(c.type, type)) return false;
    if (!exact_hit && !any_glob(c.globs, name)) return false;
    return c.users.empty() || any_glob(c.users, user);
}

const route_rule* route_table::match(std::string_view name, std::string_view user,
                                     qipc::msg_type type) const {
    span32 s = glob_only_;
    if (const auto it = index_.find(name); it != index_.end()) s = it->second;
    for (uint32_t i = s.begin; i < s.end; ++i) {
        const uint32_t c = candidates_[i];
        const compiled& r = rules_[c & ~kExactHit];
        if (accepts(r, (c & kExactHit) != 0, name, user, type)) return &r.rule;
    }
    return nullptr;
}

std::string_view no_route_text(std::string_view name, std::span<char> out) {
    constexpr std::string_view kPrefix = "qgate: no route for ";
    const size_t n = std::min(kPrefix.size(), out.size());
    const size_t m = std::min(name.size(), out.size() - n);
    if (n > 0) std::memcpy(out.data(), kPrefix.data(), n);
    if (m > 0) std::memcpy(out.data() + n, name.data(), m);
    return {out.data(), n + m};
}

}  // namespace qgate::route

// DESIGN: the entitlement rules (include/qgate/route/acl.h). compile() runs on the control
// thread and allocates; every other function runs on a shard per login or per call and only
// walks the compiled vectors (glob_match is linear, no recursion, no allocation).
#include "qgate/route/acl.h"

#include <charconv>

#include "qgate/route/glob.h"
#include "route/text_scan.h"

namespace qgate::route {
namespace {

bool any_match(const std::vector<std::string>& patterns, std::string_view text) {
    for (const std::string& p : patterns) {
        if (glob_match(p, text)) return true;
    }
    return false;
}

bool has_listener(uint64_t mask, uint32_t listener) {
    if (mask == ~uint64_t{0}) return true;
    return listener < kAclListenersMax && ((mask >> listener) & 1) != 0;
}

const user_group_conf* find_group(const config& cfg, std::string_view name) {
    for (const user_group_conf& g : cfg.user_groups) {
        if (g.name == name) return &g;
    }
    return nullptr;
}

bool compile_rule(const config& cfg, const acl_conf& a, acl_rule& r, std::string& error) {
    for (const std::string& u : a.users) {
        if (u.empty() || u.front() != '@') {
            r.users.push_back(u);
            continue;
        }
        const user_group_conf* g = find_group(cfg, std::string_view(u).substr(1));
        if (g == nullptr) {
            error = "no [[user_group]] named \"" + u.substr(1) + "\"";
            return false;
        }
        r.users.insert(r.users.end(), g->users.begin(), g->users.end());
    }
    if (!a.listeners.empty()) r.listeners = 0;
    for (const std::string& l : a.listeners) {
        uint32_t i = 0;
        const auto [end, ec] = std::from_chars(l.data(), l.data() + l.size(), i);
        if (ec != std::errc{} || end != l.data() + l.size() || i >= kAclListenersMax) {
            error = "listener \"" + l + "\" is not an index below " +
                    std::to_string(kAclListenersMax);
            return false;
        }
        r.listeners |= uint64_t{1} << i;
    }
    r.groups = a.groups;
    r.functions = a.functions;
    r.kinds = 0;
    for (const std::string& k : a.kinds) {
        const uint8_t bit = acl_kind_bit(k);
        if (bit == 0) {
            error = "kind \"" + k + "\" is not sync, async or string";
            return false;
        }
        r.kinds |= bit;
    }
    return true;
}

}  // namespace

acl_call acl_describe(const call_info& call, bool sync) {
    acl_call out;
    out.kinds = sync ? kAclSync : kAclAsync;
    out.function = call.name;
    if (call.form == call_form::string) out.kinds |= kAclString;
    gw_call g;
    if (call.gw == gw_kind::none || !parse_gw(call, g)) return out;  // a bad .gw.* gets 'rank
    if (g.query.is_text) {  // ".gw.syncexec[\"f[`a]\";`rdb]": the query is q source text
        out.kinds |= kAclString;
        const std::string_view t = text::trim(g.query.text);
        const size_t n = text::leading_ident(t);
        out.function = n != 0 ? t.substr(0, n) : kStringQueryName;
        return out;
    }
    const qipc::walker w(call.body, call.little_endian);
    const call_info inner = classify_object(w, g.query.object, call.type);
    out.kinds = static_cast<uint8_t>(out.kinds & ~kAclString);
    if (inner.form == call_form::string) out.kinds |= kAclString;
    out.function = inner.name;
    return out;
}

uint8_t acl_kind_bit(std::string_view name) {
    if (name == "sync") return kAclSync;
    if (name == "async") return kAclAsync;
    return name == "string" ? kAclString : 0;
}

bool acl_table::compile(const config& cfg, std::string& error) {
    rules_.clear();
    if (cfg.acls.size() > kAclRulesMax) {
        error = "more than " + std::to_string(kAclRulesMax) + " [[acl]] rules";
        return false;
    }
    for (std::size_t i = 0; i < cfg.acls.size(); ++i) {
        acl_rule r;
        if (!compile_rule(cfg, cfg.acls[i], r, error)) {
            error.insert(0, "acl[" + std::to_string(i) + "]: ");
            return false;
        }
        rules_.push_back(std::move(r));
    }
    return true;
}

uint64_t acl_table::rules_for(std::string_view user) const {
    uint64_t mask = 0;
    for (std::size_t i = 0; i < rules_.size(); ++i) {
        if (any_match(rules_[i].users, user)) mask |= uint64_t{1} << i;
    }
    return mask;
}

bool acl_table::listener_ok(uint64_t rules, uint32_t listener) const {
    if (!enabled()) return true;
    for (std::size_t i = 0; i < rules_.size(); ++i) {
        if (((rules >> i) & 1) != 0 && has_listener(rules_[i].listeners, listener)) return true;
    }
    return false;
}

bool acl_table::group_ok(uint64_t rules, uint32_t listener, std::string_view group) const {
    if (!enabled()) return true;
    for (std::size_t i = 0; i < rules_.size(); ++i) {
        const acl_rule& r = rules_[i];
        if (((rules >> i) & 1) == 0 || !has_listener(r.listeners, listener)) continue;
        if (r.groups.empty() || any_match(r.groups, group)) return true;
    }
    return false;
}

bool acl_table::call_ok(uint64_t rules, uint32_t listener, uint8_t kinds,
                        std::string_view function, std::string_view group) const {
    if (!enabled()) return true;
    for (std::size_t i = 0; i < rules_.size(); ++i) {
        const acl_rule& r = rules_[i];
        if (((rules >> i) & 1) == 0 || !has_listener(r.listeners, listener)) continue;
        if ((r.kinds & kinds) != kinds || !any_match(r.functions, function)) continue;
        if (group.empty() || r.groups.empty() || any_match(r.groups, group)) return true;
    }
    return false;
}

}  // namespace qgate::route

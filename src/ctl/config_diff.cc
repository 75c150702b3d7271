// DESIGN: what a reload changes (include/qgate/reload.h). Everything is read through the knob
// table's get() (src/ctl/knobs.cc), so a knob added there is compared, kept or shown here
// without any change: a table knob whose value differs is either applied (kReloadable) or
// named as needing a restart and given back its running value. Backends are compared by name
// (the id a name keeps is the data plane's business, src/proxy/generation.h), groups by the
// set of names, routes and users as wholes. Pure; control plane only.
#include <algorithm>
#include <set>

#include "ctl/knobs.h"
#include "qgate/ctl.h"
#include "qgate/reload.h"

namespace qgate::ctl {
namespace {

bool same_value(const knob_value& a, const knob_value& b) {
    return a.integer == b.integer && a.text == b.text && a.addr.host == b.addr.host &&
           a.addr.port == b.addr.port && a.list == b.list;
}

std::size_t entries(const config& c, std::string_view section) {
    if (section == "listener") return c.listeners.size();
    if (section == "backend") return c.backends.size();
    if (section == "route") return c.routes.size();
    if (section == "acl") return c.acls.size();
    if (section == "user_group") return c.user_groups.size();
    if (section == "user_limits") return c.user_limits.size();
    return 1;
}

std::set<std::string> group_names(const config& c) {
    std::set<std::string> out;
    for (const backend_conf& b : c.backends) out.insert(b.group);
    return out;
}

const backend_conf* find_backend(const config& c, const std::string& name) {
    for (const backend_conf& b : c.backends) {
        if (b.name == name) return &b;
    }
    return nullptr;
}

bool same_users(const config& a, const config& b) {
    if (a.users_file != b.users_file || a.users.size() != b.users.size()) return false;
    for (std::size_t i = 0; i < a.users.size(); ++i) {
        const user_entry& x = a.users[i];
        const user_entry& y = b.users[i];
        if (x.user != y.user || x.kind != y.kind || x.secret != y.secret) return false;
    }
    return true;
}

bool same_section(const config& a, const config& b, std::string_view section) {
    const std::size_t n = entries(a, section);
    if (n != entries(b, section)) return false;
    for (const knob& k : knob_table()) {
        if (k.section() != section) continue;
        for (std::size_t i = 0; i < n; ++i) {
            if (!same_value(k.get(a, i), k.get(b, i))) return false;
        }
    }
    return true;
}

void diff_backends(const config& a, const config& b, config_diff& d) {
    for (const backend_conf& x : b.backends) {
        const backend_conf* old = find_backend(a, x.name);
        if (old == nullptr) {
            d.backends_added.push_back(x.name);
        } else if (!same_backend(*old, x)) {
            d.backends_changed.push_back(x.name);
        }
    }
    for (const backend_conf& x : a.backends) {
        if (find_backend(b, x.name) == nullptr) d.backends_removed.push_back(x.name);
    }
    const std::set<std::string> ga = group_names(a);
    const std::set<std::string> gb = group_names(b);
    std::set_difference(gb.begin(), gb.end(), ga.begin(), ga.end(),
                        std::back_inserter(d.groups_added));
    std::set_difference(ga.begin(), ga.end(), gb.begin(), gb.end(),
                        std::back_inserter(d.groups_removed));
}

bool whole_section(std::string_view sec) {
    return sec == "backend" || sec == "route" || sec == "acl" || sec == "user_group";
}

// Table knobs and listener entries: applied when reloadable, else named.
void diff_settings(const config& a, const config& b, config_diff& d) {
    for (const knob& k : knob_table()) {
        const std::string_view sec = k.section();
        if (whole_section(sec)) continue;  // compared as wholes
        if (k.scope == knob_scope::array && entries(a, sec) != entries(b, sec)) continue;
        if (k.name == "server.users_file") continue;  // with the users
        for (std::size_t i = 0; i < entries(a, sec); ++i) {
            if (same_value(k.get(a, i), k.get(b, i))) continue;
            const std::string name =
                k.scope == knob_scope::array
                    ? std::string(sec) + "[" + std::to_string(i) + "]." + std::string(k.key())
                    : std::string(k.name);
            (k.has(knob_flag::kReloadable) ? d.settings_changed : d.restart_needed)
                .push_back(name);
        }
    }
    if (a.listeners.size() != b.listeners.size()) d.restart_needed.emplace_back("listener");
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
}

std::string quoted(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

std::string toml_value(const knob& k, const knob_value& v) {
    switch (k.type) {
    case knob_type::integer: return std::to_string(v.integer);
    case knob_type::boolean: return v.integer != 0 ? "true" : "false";
    case knob_type::choice:
    case knob_type::string: return quoted(v.text);
    case knob_type::address: return quoted(format_endpoint(v.addr));
    case knob_type::list: break;
    }
    std::string out = "[";
    for (const std::string& s : v.list) out += (out.size() > 1 ? ", " : "") + quoted(s);
    return out + "]";
}

}  // namespace

bool same_backend(const backend_conf& a, const backend_conf& b) {
    config ca;
    config cb;
    ca.backends = {a};
    cb.backends = {b};
    for (const knob& k : knob_table()) {
        if (k.section() == "backend" && !same_value(k.get(ca, 0), k.get(cb, 0))) return false;
    }
    return true;
}

config_diff diff_config(const config& running, const config& next) {
    config_diff d;
    diff_backends(running, next, d);
    d.routes_changed = !same_section(running, next, "route");
    d.users_changed = !same_users(running, next);
    d.acl_changed = !same_section(running, next, "acl") ||
                    !same_section(running, next, "user_group");
    diff_settings(running, next, d);
    return d;
}

void keep_restart_only(const config& running, config& next) {
    if (running.listeners.size() != next.listeners.size()) next.listeners = running.listeners;
    for (const knob& k : knob_table()) {
        if (k.has(knob_flag::kReloadable)) continue;
        const std::string_view sec = k.section();
        if (whole_section(sec)) continue;
        for (std::size_t i = 0; i < entries(running, sec); ++i) k.set(next, i, k.get(running, i));
    }
}

std::vector<std::string> describe(const config_diff& d) {
    std::vector<std::string> out;
    const auto line = [&out](const char* what, const std::vector<std::string>& v) {
        if (!v.empty()) out.push_back(std::string(what) + ": " + join(v));
    };
    line("backends added", d.backends_added);
    line("backends removed", d.backends_removed);
    line("backends changed", d.backends_changed);
    line("groups added", d.groups_added);
    line("groups removed", d.groups_removed);
    if (d.routes_changed) out.emplace_back("routes changed");
    if (d.users_changed) out.emplace_back("users changed (new logins)");
    if (d.acl_changed) out.emplace_back("acl changed (each client's next call)");
    line("settings changed", d.settings_changed);
    line("restart needed for", d.restart_needed);
    return out;
}

std::string config_toml(const config& cfg) {
    std::string out;
    for (const section_info& s : section_table()) {
        if (s.name == "admin" && !cfg.admin_enabled) continue;  // no [admin]: no endpoint
        if (s.name == "register" && !cfg.registration.enabled) continue;
        const std::size_t n = entries(cfg, s.name);
        for (std::size_t i = 0; i < n; ++i) {
            // process.csv rows are the file's, not [[backend]]s: [process_csv] names it
            if (s.name == "backend" && cfg.backends[i].source != backend_source::config) continue;
            out += s.scope == knob_scope::array ? "\n[[" + std::string(s.name) + "]]\n"
                                                : "\n[" + std::string(s.name) + "]\n";
            for (const knob& k : knob_table()) {
                if (k.section() != s.name) continue;
                out += std::string(k.key()) + " = " + toml_value(k, k.get(cfg, i)) + "\n";
            }
        }
    }
    return out;
}

}  // namespace qgate::ctl

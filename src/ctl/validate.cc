// DESIGN: the cross-field rules of a snapshot: things no single knob can check (a listener's
// group needs a backend, names are unique, watermarks are ordered). Run by the TOML loader
// (with line numbers) and again after command-line overrides. Pure; control plane only.
#include "ctl/validate.h"

#include <algorithm>

#include "qgate/ctl.h"

namespace qgate::ctl {
namespace {

// "file:line: " when the line is known, "file: " with only a file, "" for snapshots from code.
std::string where(const source_lines* lines, const std::vector<uint32_t>* entry_lines,
                  std::size_t index) {
    if (lines == nullptr) return {};
    if (entry_lines != nullptr && index < entry_lines->size()) {
        return lines->source + ":" + std::to_string((*entry_lines)[index]) + ": ";
    }
    return lines->source + ": ";
}

std::string where_key(const source_lines* lines, const char* key) {
    if (lines == nullptr) return {};
    auto it = lines->keys.find(key);
    if (it == lines->keys.end()) return lines->source + ": ";
    return lines->source + ":" + std::to_string(it->second) + ": ";
}

// A group a listener, route or reducer may name: one a [[backend]] (or a process.csv row)
// is in, or one a runtime source declares (it may be empty until a service appears).
bool group_served(const config& cfg, const std::string& g) {
    for (const backend_conf& b : cfg.backends) {
        if (b.group == g) return true;
    }
    for (const std::string& d : runtime_groups(cfg)) {
        if (d == g) return true;
    }
    return false;
}

// [discovery] addresses are endpoints; a source with no groups to fill is a typo.
bool check_sources(const config& cfg, const source_lines* lines, std::string& error) {
    for (const std::string& a : cfg.discovery.addresses) {
        endpoint ep;
        std::string why;
        if (!parse_endpoint(a, ep, why) || ep.port == 0) {
            error = where_key(lines, "discovery.addresses") + "discovery.addresses: \"" + a +
                    "\" is not host:port" + (why.empty() ? "" : " (" + why + ")");
            return false;
        }
    }
    if (cfg.discovery.tls_cert.empty() != cfg.discovery.tls_key.empty()) {
        error = where_key(lines, "discovery.tls_cert") +
                "discovery: tls_cert and tls_key go together";
        return false;
    }
    if (!cfg.discovery.addresses.empty() && cfg.discovery.proctypes.empty()) {
        error = where_key(lines, "discovery.proctypes") +
                "discovery.proctypes: name the process types (groups) to ask for";
        return false;
    }
    for (const std::string& a : cfg.fleet.etcd) {
        endpoint ep;
        std::string why;
        if (!parse_endpoint(a, ep, why) || ep.port == 0) {
            error = where_key(lines, "fleet.etcd") + "fleet.etcd: \"" + a +
                    "\" is not host:port" + (why.empty() ? "" : " (" + why + ")");
            return false;
        }
    }
    if (!cfg.fleet.etcd.empty() && cfg.fleet.prefix.empty()) {
        error = where_key(lines, "fleet.prefix") + "fleet.prefix: must not be empty";
        return false;
    }
    return true;
}

// TLS keys of one listener: all or nothing, and not on a pub/sub listener (whose publishers
// read straight into their update buffers, past the TLS record layer).
bool check_listener_tls(const listener_conf& l, std::string& error) {
    const bool any = !l.tls_cert.empty() || !l.tls_key.empty() || !l.tls_ca.empty() ||
                     l.tls_verify_client;
    if (!any) return true;
    if (l.tls_cert.empty() || l.tls_key.empty()) {
        error = "tls_cert and tls_key go together";
    } else if (l.mode == conn_mode::pubsub) {
        error = "TLS is not supported on a pubsub listener";
    } else if (l.tls_verify_client && l.tls_ca.empty()) {
        error = "tls_verify_client needs tls_ca";
    } else {
        return true;
    }
    return false;
}

bool check_listeners(const config& cfg, const source_lines* lines, std::string& error) {
    const auto* at = lines != nullptr ? &lines->listeners : nullptr;
    if (cfg.listeners.empty()) {
        error = where(lines, nullptr, 0) + "at least one [[listener]] is required";
        return false;
    }
    for (std::size_t i = 0; i < cfg.listeners.size(); ++i) {
        const listener_conf& l = cfg.listeners[i];
        const std::string label = "listener[" + std::to_string(i) + "]";
        const bool served = l.mode == conn_mode::pubsub || group_served(cfg, l.group);
        if (!served) {
            error = where(lines, at, i) + label + ": group \"" + l.group +
                    "\" has no [[backend]]";
            return false;
        }
        std::string why;
        if (!check_listener_tls(l, why)) {
            error = where(lines, at, i);
            error += label;
            error += ": ";
            error += why;
            return false;
        }
        for (std::size_t j = 0; j < i && l.addr.port != 0; ++j) {
            const endpoint& other = cfg.listeners[j].addr;
            if (other.port == l.addr.port && other.host == l.addr.host) {
                error = where(lines, at, i) + label + ": " + format_endpoint(l.addr) +
                        " is already used by listener[" + std::to_string(j) + "]";
                return false;
            }
        }
    }
    return true;
}

// TLS keys of one backend: a client certificate is both files or neither, and the TLS files
// mean nothing without tls = true. The files themselves are read when the backend's context
// is built (upstream_table::add: at start, and on a reload that adds or changes the backend),
// which names the file that cannot be read.
bool check_backend_tls(const backend_conf& b, std::string& error) {
    if (b.tls_cert.empty() != b.tls_key.empty()) {
        error = "tls_cert and tls_key go together";
    } else if (!b.tls && (!b.tls_cert.empty() || !b.tls_ca.empty() ||
                          !b.tls_server_name.empty())) {
        error = "tls_ca, tls_server_name, tls_cert and tls_key need tls = true";
    } else {
        return true;
    }
    return false;
}

bool check_backends(const config& cfg, const source_lines* lines, std::string& error) {
    const auto* at = lines != nullptr ? &lines->backends : nullptr;
    for (std::size_t i = 0; i < cfg.backends.size(); ++i) {
        const backend_conf& b = cfg.backends[i];
        const std::string label = "backend[" + std::to_string(i) + "]";
        if (b.name.empty() || b.group.empty()) {
            error = where(lines, at, i) + label + ": name and group must not be empty";
            return false;
        }
        if (b.addr.port == 0) {
            error = where(lines, at, i) + label + ": address " + format_endpoint(b.addr) +
                    " needs a non-zero port";
            return false;
        }
        std::string why;
        if (!check_backend_tls(b, why)) {
            error = where(lines, at, i);
            error += label;
            error += ": ";
            error += why;
            return false;
        }
        for (std::size_t j = 0; j < i; ++j) {
            if (cfg.backends[j].name == b.name) {
                error = where(lines, at, i) + label + ": name \"" + b.name +
                        "\" is already used by backend[" + std::to_string(j) + "]";
                return false;
            }
        }
    }
    return true;
}

// A route must name a group some backend serves (the engine compiles the table again with the
// routing core at start; this gives the admin a file:line error first).
bool check_routes(const config& cfg, const source_lines* lines, std::string& error) {
    const auto* at = lines != nullptr ? &lines->routes : nullptr;
    for (std::size_t i = 0; i < cfg.routes.size(); ++i) {
        const route_conf& r = cfg.routes[i];
        if (r.group.empty() == r.groups.empty()) {
            error = where(lines, at, i) + "route[" + std::to_string(i) +
                    "]: set exactly one of group and groups";
            return false;
        }
        std::vector<std::string> names = r.groups;
        if (!r.group.empty()) names.push_back(r.group);
        for (const std::string& g : names) {
            if (!group_served(cfg, g)) {
                error = where(lines, at, i) + "route[" + std::to_string(i) + "]: group \"" + g +
                        "\" has no [[backend]]";
                return false;
            }
        }
    }
    return true;
}

}  // namespace

// [pubsub]: the upstream must name a backend.
bool check_pubsub(const config& cfg, const source_lines* lines, std::string& error) {
    if (cfg.pubsub.upstream.empty()) return true;
    for (const backend_conf& b : cfg.backends) {
        if (b.name == cfg.pubsub.upstream) return true;
    }
    error = where_key(lines, "pubsub.upstream") + "pubsub.upstream: no [[backend]] named \"" +
            cfg.pubsub.upstream + "\"";
    return false;
}

// credentials = "passthrough" needs a client's own handshake: a session has one, request mode
// keeps a pool per user (pool_users.cc), but the pub/sub upstream is one link with no client
// behind it and would silently use the gateway's account, so that config is refused.
bool check_passthrough(const config& cfg, const source_lines* lines, std::string& error) {
    const auto* at = lines != nullptr ? &lines->backends : nullptr;
    for (std::size_t i = 0; i < cfg.backends.size(); ++i) {
        const backend_conf& b = cfg.backends[i];
        if (b.credentials != kPassthrough || cfg.pubsub.upstream != b.name) continue;
        error = where(lines, at, i) + "backend[" + std::to_string(i) + "]: credentials = " +
                "\"passthrough\" needs a client's handshake, but pubsub.upstream is this " +
                "backend (its feed link has no client: set \"user:password\" for it)";
        return false;
    }
    return true;
}

bool check_cross(const config& cfg, const source_lines* lines, std::string& error) {
    if (!check_backends(cfg, lines, error) || !check_listeners(cfg, lines, error) ||
        !check_routes(cfg, lines, error) || !check_pubsub(cfg, lines, error) ||
        !check_sources(cfg, lines, error) || !check_acls(cfg, lines, error) ||
        !check_passthrough(cfg, lines, error)) {
        return false;
    }
    if (!cfg.fanout.reducer.empty()) {
        if (!group_served(cfg, cfg.fanout.reducer)) {
            error = where_key(lines, "fanout.reducer") + "fanout.reducer: group \"" +
                    cfg.fanout.reducer + "\" has no [[backend]]";
            return false;
        }
    }
    if (cfg.limits.out_bytes_low >= cfg.limits.out_bytes_high) {
        const char* key = lines != nullptr && lines->keys.contains("limits.out_bytes_low")
                              ? "limits.out_bytes_low"
                              : "limits.out_bytes_high";
        error = where_key(lines, key) + "limits.out_bytes_low (" +
                std::to_string(cfg.limits.out_bytes_low) +
                ") must be below limits.out_bytes_high (" +
                std::to_string(cfg.limits.out_bytes_high) + ")";
        return false;
    }
    return true;
}

std::vector<std::string> runtime_groups(const config& cfg) {
    std::vector<std::string> out;
    const auto add = [&out](const std::vector<std::string>& names) {
        for (const std::string& n : names) {
            if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
        }
    };
    if (cfg.registration.enabled) add(cfg.registration.groups);
    if (!cfg.discovery.addresses.empty()) add(cfg.discovery.proctypes);
    if (!cfg.process_csv.path.empty()) add(cfg.process_csv.proctypes);
    if (!cfg.fleet.etcd.empty()) add(cfg.fleet.groups);
    return out;
}

bool validate_config(const config& cfg, std::string& error) {
    return check_cross(cfg, nullptr, error);
}

}  // namespace qgate::ctl

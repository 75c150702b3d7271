// DESIGN: see admin_model.h. Each table is one question to the shards (a snapshot: clients and
// their per-backend view, ~the cost of walking each shard's slot table once) merged with what
// is shared: the config, the meters (relaxed sums) and the drained flags. The actions write the
// drained flags of both modes' backend_state cells (request mode's plane and session mode's
// table: a backend may serve both) or post a kick to the shard in the client id's low bits.
#include "proxy/admin_model.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <ctime>

#include "qgate/ctl.h"
#include "qgate/latency.h"
#include "qgate/log.h"

namespace qgate::proxy {
namespace {

constexpr uint32_t kAllShards = UINT32_MAX;

uint64_t mono_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

void pause_briefly() {
    const timespec ts{0, 200L * 1000};  // 0.2 ms: an idle shard answers within a wake-up
    nanosleep(&ts, nullptr);
}

std::string peer_text(const sockaddr_storage& sa) {
    char host[INET6_ADDRSTRLEN] = {};
    uint16_t port = 0;
    if (sa.ss_family == AF_INET) {
        const auto& in = reinterpret_cast<const sockaddr_in&>(sa);
        inet_ntop(AF_INET, &in.sin_addr, host, sizeof host);
        port = ntohs(in.sin_port);
        return std::string(host) + ":" + std::to_string(port);
    }
    if (sa.ss_family == AF_INET6) {
        const auto& in6 = reinterpret_cast<const sockaddr_in6&>(sa);
        inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof host);
        port = ntohs(in6.sin6_port);
        return "[" + std::string(host) + "]:" + std::to_string(port);
    }
    return "";
}

const char* policy_name(route_policy p) {
    switch (p) {
    case route_policy::least_busy: return "least-busy";
    case route_policy::round_robin: return "round-robin";
    case route_policy::first_available: return "first-available";
    case route_policy::consistent_hash: return "consistent-hash";
    }
    return "?";
}

const char* mode_name(conn_mode m) {
    switch (m) {
    case conn_mode::session: return "session";
    case conn_mode::request: return "request";
    case conn_mode::pubsub: return "pubsub";
    }
    return "?";
}

ctl::client_row client_of(const client_snap& c, uint32_t shard) {
    ctl::client_row r;
    r.id = static_cast<int64_t>(c.id);
    r.user.assign(c.user, c.user_len);
    r.address = peer_text(c.peer);
    r.listener = c.listener;
    r.shard = shard;
    r.since_ns = c.since_ns;
    r.calls = static_cast<int64_t>(c.calls);
    r.bytes_in = static_cast<int64_t>(c.bytes_in);
    r.bytes_out = static_cast<int64_t>(c.bytes_out);
    r.inflight = static_cast<int64_t>(c.inflight);
    return r;
}

// Backend rows a question needs: one past the highest id asked about.
uint32_t rows_for(const std::vector<uint32_t>& ids) {
    uint32_t n = 0;
    for (const uint32_t id : ids) n = std::max(n, id + 1);
    return n;
}

}  // namespace

void route_hits::restart() {
    const std::lock_guard<std::mutex> lock(mu_);
    base_.clear();
    const size_t rows = shards_.empty() ? 0 : shards_.front()->stats().lat.route_rows();
    for (size_t r = 0; r < rows; ++r) base_.push_back(total(r));
}

uint64_t route_hits::hits(size_t r) const {
    const std::lock_guard<std::mutex> lock(mu_);
    const uint64_t t = total(r);
    const uint64_t b = r < base_.size() ? base_[r] : 0;
    return t > b ? t - b : 0;
}

uint64_t route_hits::total(size_t r) const {
    uint64_t n = 0;
    for (const auto& sh : shards_) n += sh->stats().lat.route_hits(r);
    return n;
}

void gateway_model::fill_latency(uint32_t b, ctl::backend_row& row) const {
    latency_summary h;
    for (const auto& sh : *p_.shards) sh->stats().lat.add_backend(b, h);
    if (h.count() == 0) {
        row.p50_us = row.p99_us = ctl::kLongNull;
        return;
    }
    row.p50_us = static_cast<int64_t>(latency_percentile_us(h, 0.5));
    row.p99_us = static_cast<int64_t>(latency_percentile_us(h, 0.99));
}

bool gateway_model::ask(shard_command::kind what, uint64_t id, uint32_t only,
                        std::string& error, uint32_t nb) {
    const uint32_t n = static_cast<uint32_t>(p_.links->size());
    for (uint32_t s = 0; s < n; ++s) {
        if (only != kAllShards && s != only) continue;
        shard_command* cmd = (*p_.links)[s]->prepare();
        if (cmd == nullptr) {  // still busy with a question we gave up on
            error = "qgate: shard " + std::to_string(s) + " busy";
            return false;
        }
        cmd->what = what;
        cmd->id = id;
        cmd->found = false;
        cmd->clients.reserve(what == shard_command::kind::snapshot
                                 ? p_.cfg->limits.conns_per_shard_max
                                 : 1);
        cmd->backends.resize(nb);
        (*p_.links)[s]->post();
        (*p_.shards)[s]->notify();
    }
    const uint64_t deadline = mono_ms() + kAdminWaitMs;
    for (uint32_t s = 0; s < n; ++s) {
        if (only != kAllShards && s != only) continue;
        admin_link& l = *(*p_.links)[s];
        while (!l.done() && mono_ms() < deadline) pause_briefly();
        if (l.done()) continue;
        (void)l.withdraw();  // not taken yet: never will be; taken: prepare() waits for it
        error = "qgate: shard " + std::to_string(s) + " busy";
        for (uint32_t t = s + 1; t < n; ++t) {
            if (only == kAllShards || t == only) (void)(*p_.links)[t]->withdraw();
        }
        return false;
    }
    return true;
}

ctl::backend_row gateway_model::backend_of(const backend_conf& bc, uint32_t id) const {
    ctl::backend_row r;
    r.name = bc.name;
    r.group = bc.group;
    r.address = ctl::format_endpoint(bc.addr);
    r.source = source_name(bc.source);
    bool home = false;
    bool ejected = false;
    uint64_t fail_ms = 0;
    uint64_t ok_ms = 0;
    for (uint32_t s = 0; s < p_.links->size(); ++s) {
        const backend_snap& v = answer(s).backends[id];
        r.conns += v.conns;
        r.inflight += v.inflight;
        r.queued += v.queued;
        home = home || v.home;
        ejected = ejected || v.ejected;
        ok_ms = std::max(ok_ms, v.ok_ms);
        if (v.fail_ms > fail_ms) {
            fail_ms = v.fail_ms;
            r.lasterror = v.error;
        }
    }
    r.calls = static_cast<int64_t>(p_.meters->sum(id, &backend_meter::calls));
    r.errors = static_cast<int64_t>(p_.meters->sum(id, &backend_meter::errors));
    const bool drained = p_.ups->drained(static_cast<int>(id));
    if (drained) {
        r.state = "draining";
    } else if (home && (r.conns > 0 || ejected || bc.credentials != kPassthrough)) {
        r.state = ejected ? "ejected" : (r.conns > 0 ? "up" : "down");  // its pool says
    } else {  // session mode, or per-user pools with no link now: the latest connect outcome
        r.state = fail_ms > ok_ms ? "down" : "up";
    }
    return r;
}

bool gateway_model::backends(std::vector<ctl::backend_row>& out, std::string& error) {
    const gen_holder::view v = p_.gens->current_view();
    if (!ask(shard_command::kind::backends, 0, kAllShards, error, rows_for(v.ids))) return false;
    out.clear();
    for (size_t i = 0; i < v.ids.size(); ++i) {
        out.push_back(backend_of(v.cfg->backends[i], v.ids[i]));
        fill_latency(v.ids[i], out.back());
    }
    return true;
}

bool gateway_model::clients(std::vector<ctl::client_row>& out, std::string& error) {
    if (!ask(shard_command::kind::snapshot, 0, kAllShards, error)) return false;
    out.clear();
    for (uint32_t s = 0; s < p_.links->size(); ++s) {
        const shard_command& a = answer(s);
        for (const client_snap& c : a.clients) out.push_back(client_of(c, s));
        if (a.truncated) QGATE_LOG_WARN("admin: shard %u has more clients than listed", s);
    }
    std::sort(out.begin(), out.end(),
              [](const ctl::client_row& x, const ctl::client_row& y) { return x.id < y.id; });
    return true;
}

bool gateway_model::routes(std::vector<ctl::route_row>& out, std::string&) {
    out.clear();
    const gen_holder::view v = p_.gens->current_view();
    const std::vector<route_conf>& rs = v.cfg->routes;
    for (uint32_t i = 0; i < rs.size(); ++i) {
        ctl::route_row r;
        r.order = i;
        r.match = rs[i].match;
        r.users = rs[i].users;
        r.target = rs[i].groups.empty() ? std::vector<std::string>{rs[i].group} : rs[i].groups;
        r.policy = policy_name(rs[i].policy);
        r.hits = static_cast<int64_t>(p_.hits->hits(i));  // since the table last changed
        out.push_back(std::move(r));
    }
    return true;
}

// Read straight from the shared table (user_conns.h: atomics); the limits from the running
// config, which a login or a call uses from its next generation on.
bool gateway_model::users(std::vector<ctl::user_row>& out, std::string&) {
    out.clear();
    if (p_.users == nullptr) return true;
    std::vector<user_conns::row> rows;
    p_.users->rows(rows);
    const gen_holder::view v = p_.gens->current_view();
    for (const user_conns::row& u : rows) {
        const user_limits_conf* rule = user_conns::rule_of(*v.cfg, u.user);
        out.push_back({u.user, u.open, u.calls, rule != nullptr ? rule->conns_max : 0,
                       rule != nullptr ? rule->calls_max : 0});
    }
    std::sort(out.begin(), out.end(),
              [](const ctl::user_row& x, const ctl::user_row& y) { return x.user < y.user; });
    return true;
}

bool gateway_model::listeners(std::vector<ctl::listener_row>& out, std::string& error) {
    if (!ask(shard_command::kind::snapshot, 0, kAllShards, error)) return false;
    out.clear();
    const std::vector<listener_conf>& ls = p_.cfg->listeners;
    for (uint32_t l = 0; l < ls.size(); ++l) {
        ctl::listener_row r;
        r.index = l;
        r.address = ls[l].addr.host;
        r.port = l < p_.ports.size() ? p_.ports[l] : 0;
        r.mode = mode_name(ls[l].mode);
        r.group = ls[l].group;
        r.shards = static_cast<int64_t>(p_.links->size());
        out.push_back(std::move(r));
    }
    for (uint32_t s = 0; s < p_.links->size(); ++s) {
        for (const client_snap& c : answer(s).clients) {
            if (c.listener < out.size()) ++out[c.listener].conns;
        }
    }
    return true;
}

// By name in the current generation: the flag sits on the backend's id, so it stays across a
// reload that keeps the backend, and a backend re-added with new settings starts enabled.
bool gateway_model::set_drain(std::string_view name, bool drain, ctl::backend_row& out,
                              std::string& error) {
    const gen_holder::view v = p_.gens->current_view();
    const std::vector<backend_conf>& bs = v.cfg->backends;
    uint32_t i = 0;
    while (i < bs.size() && bs[i].name != name) ++i;
    if (i == bs.size()) {
        error = "qgate: no backend " + std::string(name);
        return false;
    }
    const uint32_t b = v.ids[i];
    p_.ups->set_drained(static_cast<int>(b), drain);
    if (p_.plane != nullptr) p_.plane->state(b).drained.store(drain, std::memory_order_relaxed);
    QGATE_LOG_INFO("admin: backend %s %s", bs[i].name.c_str(),
                   drain ? "draining (no new calls or sessions)" : "enabled");
    if (!ask(shard_command::kind::backends, 0, kAllShards, error, b + 1)) return false;
    out = backend_of(bs[i], b);
    fill_latency(b, out);
    return true;
}

bool gateway_model::kick(int64_t id, ctl::client_row& out, std::string& error) {
    const uint64_t u = static_cast<uint64_t>(id);
    const uint32_t s = static_cast<uint32_t>(u & ((uint64_t{1} << kShardBits) - 1));
    if (id <= 0 || s >= p_.links->size()) {
        error = "qgate: no client " + std::to_string(id);
        return false;
    }
    if (!ask(shard_command::kind::kick, u, s, error)) return false;
    const shard_command& a = answer(s);
    if (!a.found || a.clients.empty()) {
        error = "qgate: no client " + std::to_string(id);
        return false;
    }
    out = client_of(a.clients.front(), s);
    QGATE_LOG_INFO("admin: client %lld (user '%s') kicked", static_cast<long long>(id),
                   out.user.c_str());
    return true;
}

}  // namespace qgate::proxy

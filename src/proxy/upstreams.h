// The backends of the process, shared read-mostly by every shard: resolved addresses and the
// upstream handshake text (both modes and the pub/sub feed connect through these), and session
// mode's picking. Session mode uses request mode's backend model and policy family
// (src/route): the same backend_group per config group (members in config order, the
// consistent-hash ring) and backend_state load cells, here counting each backend's open
// sessions, picked by the same route::pick functions.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/socket_util.h"
#include "proxy/tls.h"
#include "qgate/config.h"
#include "qgate/route/group.h"
#include "qgate/route/route_types.h"

namespace qgate::proxy {

struct upstream {
    std::string name;
    std::string group;
    net::sock_addr addr;
    std::string credentials;  ///< sent upstream ("qgate" when the config leaves it empty)
    /// credentials = "passthrough": a session sends its client's own "user:password" upstream,
    /// and request mode sends each user's calls over links of that user (pool_users.cc); the
    /// feed would send "qgate" (config validation keeps such a backend out of pub/sub mode).
    bool passthrough = false;
    uint32_t conns = 4;       ///< request mode: pooled connections
    uint32_t user_links_max = 2;  ///< passthrough, request mode: links per user
    uint32_t user_pools_max = 64;  ///< passthrough, request mode: users with links at once
    uint32_t user_idle_ms = 60000;  ///< passthrough, request mode: an unused link's life
    pipeline_mode pipeline = pipeline_mode::automatic;
    /// backend.tls: its client context (tls.h: why it lives here); null = plain q-IPC.
    std::shared_ptr<tls_client> tls;
    std::string where;  ///< "host:port" as configured, for logs
};

struct generation;

/// The groups of `cfg` as the routing core takes them: one per distinct backend.group, in
/// order of first appearance, members in config order, each with its stable id `ids[i]`.
std::vector<route::group_spec> group_specs(const config& cfg, const std::vector<uint32_t>& ids);
/// The config's policy as the routing core's enum.
route::policy to_route_policy(route_policy p);

class upstream_table {
  public:
    /// Sizes the tables (kBackendsMax ids) and names each listener's group. Startup only.
    void build(const config& cfg);
    /// Resolves and stores the backends of `cfg` whose ids are in `added` (fresh ids, or quiet
    /// ones handed out again: no shard reads them until a generation naming them is published).
    /// Control thread (start, reload). False with `error` when an address does not resolve
    /// or a TLS backend's context cannot be built (the file named).
    bool add(const config& cfg, const std::vector<uint32_t>& ids,
             const std::vector<uint32_t>& added, std::string& error);

    /// The backend for a session of listener `l` by the listener's policy in generation `g`,
    /// passing over the members whose route::member_bit is set in `tried` (the backends this
    /// session already failed on), and sets the pick's bit. `user` is the consistent-hash key
    /// (an empty user has no key: least-busy). -1 when every member is tried. Counts a
    /// session on the pick.
    int pick(const generation& g, uint32_t l, uint64_t& tried, std::string_view user);
    void release(int b) {
        state_[static_cast<size_t>(b)].load.fetch_sub(1, std::memory_order_relaxed);
    }
    /// Sessions open on backend `b` (all shards).
    uint32_t sessions(int b) const { return state_[static_cast<size_t>(b)].load_now(); }
    /// The admin's drain (.qgate.drain / .enable): new sessions pass it over (admin thread).
    void set_drained(int b, bool on) {
        state_[static_cast<size_t>(b)].drained.store(on, std::memory_order_relaxed);
    }
    bool drained(int b) const { return state_[static_cast<size_t>(b)].is_drained(); }
    const upstream& at(int b) const { return all_[static_cast<size_t>(b)]; }
    const std::string& group_of(uint32_t l) const { return group_names_[l]; }

  private:
    std::unique_ptr<upstream[]> all_;  ///< per id (kBackendsMax)
    /// Per backend: load = open sessions, written by whichever shard opens or closes one
    /// (relaxed RMWs: an approximate global count is all balancing needs); live stays true.
    std::unique_ptr<route::backend_state[]> state_;
    std::vector<std::string> group_names_;  ///< per listener
    /// Per listener: a ticket per pick, the start of the rotation (round-robin, least-busy ties).
    std::unique_ptr<std::atomic<uint32_t>[]> tickets_;
};

}  // namespace qgate::proxy

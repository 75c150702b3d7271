// The gateway as the admin API sees it (qgate/admin_api.h): run_gateway builds one over its
// shards, backends, routing plane and meters, and the admin thread calls it. What the shards
// own (clients, their per-backend view) is asked through each shard's command slot
// (admin_link.h), waited on for at most kAdminWaitMs; what is shared read-mostly (config,
// meters, backend state cells) is read directly. Admin thread only.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "proxy/admin_link.h"
#include "proxy/backend_meters.h"
#include "proxy/generation.h"
#include "proxy/request.h"
#include "proxy/upstreams.h"
#include "proxy/user_conns.h"
#include "qgate/admin_api.h"
#include "qgate/config.h"
#include "shard/shard.h"

namespace qgate::proxy {

/// .qgate.routes[] hits and the route_hits stats: the shards count per route position for the
/// process's life (shard/latency.h); a reload that changes the route table calls restart(),
/// which records the counts then, and hits are shown from there (README "Behaviour
/// decisions"). Control threads only (the admin's, the signal thread's), under a mutex.
class route_hits {
  public:
    explicit route_hits(const std::vector<std::unique_ptr<shard::shard>>& shards)
        : shards_(shards) {}
    void restart();
    /// Calls routed by route position `r` since the table last changed.
    uint64_t hits(size_t r) const;

  private:
    uint64_t total(size_t r) const;
    const std::vector<std::unique_ptr<shard::shard>>& shards_;
    mutable std::mutex mu_;
    std::vector<uint64_t> base_;  ///< per position: the total at the last restart()
};

struct gateway_parts {
    config_ptr cfg;  ///< the start-up config (listeners, limits: restart-only)
    gen_holder* gens = nullptr;  ///< the current generation: backends, routes
    route_hits* hits = nullptr;
    std::vector<std::unique_ptr<shard::shard>>* shards = nullptr;
    std::vector<std::unique_ptr<admin_link>>* links = nullptr;  ///< one per shard
    upstream_table* ups = nullptr;
    route_plane* plane = nullptr;  ///< null without request listeners
    backend_meters* meters = nullptr;
    const user_conns* users = nullptr;  ///< [[user_limits]]' per-user counts (read directly)
    std::vector<uint16_t> ports;  ///< bound port per listener
    std::function<qgate::stat_list()> stats;
};

class gateway_model final : public ctl::admin_model {
  public:
    explicit gateway_model(gateway_parts p) : p_(std::move(p)) {}

    qgate::stat_list stats() override { return p_.stats ? p_.stats() : qgate::stat_list{}; }
    bool backends(std::vector<ctl::backend_row>& out, std::string& error) override;
    bool clients(std::vector<ctl::client_row>& out, std::string& error) override;
    bool routes(std::vector<ctl::route_row>& out, std::string& error) override;
    bool listeners(std::vector<ctl::listener_row>& out, std::string& error) override;
    bool users(std::vector<ctl::user_row>& out, std::string& error) override;
    bool set_drain(std::string_view name, bool drain, ctl::backend_row& out,
                   std::string& error) override;
    bool kick(int64_t id, ctl::client_row& out, std::string& error) override;

  private:
    /// Posts `what` to shard `only` (or every shard when UINT32_MAX) and waits for the answers.
    /// `nb`: backend rows to size (one past the highest id asked about).
    bool ask(shard_command::kind what, uint64_t id, uint32_t only, std::string& error,
             uint32_t nb = 0);
    /// Backend `id`'s row (its settings `bc`) from the shards' answers to the last ask().
    ctl::backend_row backend_of(const backend_conf& bc, uint32_t id) const;
    /// p50_us / p99_us of backend b's row from its backend_latency histogram summed over the
    /// shards; 0N before its first timed call.
    void fill_latency(uint32_t b, ctl::backend_row& row) const;
    /// Shard s's answer: valid after ask() succeeded, until the next ask().
    const shard_command& answer(uint32_t s) const { return (*p_.links)[s]->command(); }

    gateway_parts p_;
};

}  // namespace qgate::proxy

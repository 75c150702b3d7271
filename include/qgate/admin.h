// The admin endpoint: a control-plane thread that answers q-IPC queries about the running
// gateway (h".qgate.stats[]") and, on the same port, HTTP GETs (/metrics for Prometheus). It
// never touches the data plane; its sockets are non-blocking so no client can stall it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "qgate/config.h"
#include "qgate/fleet.h"
#include "qgate/stats.h"

namespace qgate::ctl {

class admin_model;  // qgate/admin_api.h

/// A snapshot of the stats table (qgate/stats.h): what .qgate.stats[] reports.
using stat_list = qgate::stat_list;

/// What the admin thread counts about its own clients (written by that thread only; relaxed
/// atomics so that any thread may read them). Reported as the admin_* stats.
struct admin_counters {
    std::atomic<uint64_t> clients{0};             ///< open now
    std::atomic<uint64_t> handshake_timeouts{0};  ///< not authenticated in time
    std::atomic<uint64_t> idle_closed{0};         ///< authenticated, silent too long
    std::atomic<uint64_t> evicted{0};             ///< closed to admit a newcomer at the cap
    std::atomic<uint64_t> auth_fail{0};           ///< bad credentials or handshake
    std::atomic<uint64_t> http_requests{0};       ///< HTTP requests answered (any status)
    std::atomic<uint64_t> out_overflow{0};        ///< closed: unread replies past the bound
};

/// What a reload answered (src/proxy/reloader.h), as .qgate.reload[] shows it.
struct reload_reply {
    bool ok = false;
    uint64_t generation = 0;           ///< running after the call (unchanged when !ok)
    std::vector<std::string> changes;  ///< one line per change
    std::vector<std::string> restart;  ///< settings that keep their running value until restart
    std::string error;                 ///< "file:line: reason" when !ok
};

/// The admin port's control actions (hot reload), set before start(). Empty = not offered.
struct admin_control {
    std::function<reload_reply()> reload;      ///< .qgate.reload[]
    std::function<std::string()> config_text;  ///< .qgate.config[]: the running config (TOML)
    /// [fleet] (qgate/fleet.h): .qgate.fleet[] rows; .qgate.fleet.add / .remove; and the
    /// drain every .qgate.drain / .qgate.enable also writes for the other instances.
    std::function<std::vector<fleet_row>()> fleet_rows;
    std::function<bool(const backend_conf&, std::string&)> fleet_add;
    std::function<bool(const std::string&, std::string&)> fleet_remove;
    std::function<bool(const std::string&, bool, std::string&)> fleet_drain;
};

class admin_server {
  public:
    admin_server();
    ~admin_server();
    admin_server(const admin_server&) = delete;
    admin_server& operator=(const admin_server&) = delete;

    /// Binds `addr` (port 0 = any), then serves in its own thread. `stats` is called from that
    /// thread for every .qgate.stats[] query and must be safe to call concurrently with the
    /// shards (it reads their relaxed-atomic counters). Returns false with `error` set on failure.
    bool start(const config& cfg, std::function<stat_list()> stats, std::string& error);
    /// The same, serving the whole admin API (qgate/admin_api.h) from `model`, which must
    /// outlive stop() and is called from the admin thread only.
    bool start(const config& cfg, admin_model& model, std::string& error);
    /// The reload actions; call before start().
    void set_control(admin_control c);
    /// The users a login is checked against from now on (a reload changed the users file; the
    /// admin role as at start). Any thread; connections already logged in stay.
    void set_users(const std::vector<user_entry>& users);
    uint16_t port() const;
    /// The endpoint's own counters (valid for the server's lifetime, before and after start).
    const admin_counters& counters() const;
    void stop();

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace qgate::ctl

// The fleet (issue 19): several qgate instances share one view of backends, drains and health
// through etcd ([fleet] etcd = [...]). Two control threads: the watcher reads the prefix whole,
// then watches it, and applies every change as the backends of sink owner "fleet" (a new
// routing generation, as a reload), the drains (the flags .qgate.drain sets), and the
// health quorum's verdict; the keeper keeps this instance's lease, writes its instance key and
// its health observations. etcd gone: the instance serves its last view (fleet_etcd_up 0),
// retries with backoff, and catches up with a full read when etcd answers again. Never on a
// shard: the data plane reads only the flags the hooks write.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "qgate/backend_sink.h"
#include "qgate/config.h"

namespace qgate {

/// Written by the fleet's threads, read by the admin thread (relaxed).
struct fleet_counters {
    std::atomic<uint64_t> etcd_up{0};  ///< gauge
    std::atomic<uint64_t> etcd_errors{0};
    std::atomic<uint64_t> resyncs{0};
    std::atomic<uint64_t> events{0};
    std::atomic<uint64_t> applies{0};
    std::atomic<uint64_t> lease_lost{0};
    std::atomic<uint64_t> instances{0};  ///< gauge
    std::atomic<uint64_t> ejected{0};    ///< gauge
};

/// One row of .qgate.fleet[]: an instance as etcd lists it, and this instance's etcd state.
struct fleet_row {
    std::string instance;
    std::string address;
    int64_t generation = 0;  ///< the routing generation it last said it runs
    int64_t seen_ns = 0;     ///< Unix ns of its last write
    bool self = false;
    std::string etcd;  ///< this instance's view: "up", or "down: <why>" (same in every row)
};

/// What the fleet acts on in the gateway (src/proxy/gateway.cc). Called from the fleet's
/// threads.
struct fleet_hooks {
    std::function<uint64_t()> generation;  ///< the routing generation running
    /// .qgate.drain / .qgate.enable on this instance; false when it has no such backend.
    std::function<bool(const std::string& name, bool drain)> set_drain;
    /// Request mode: each backend this instance routes to, and whether its own health checks
    /// have ejected it.
    std::function<std::vector<std::pair<std::string, bool>>()> local_health;
    /// Request mode: the backends the quorum ejects (every other one is in service whatever
    /// this instance's checks say). Called every tick and after each change.
    std::function<void(const std::set<std::string>& down)> set_fleet_down;
};

class fleet_sources;

class fleet_client {
  public:
    /// `sink` (the reloader) applies what the fleet lists, as owner "fleet".
    fleet_client(const config& cfg, backend_sink& sink, const std::atomic<bool>& draining);
    ~fleet_client();
    fleet_client(const fleet_client&) = delete;
    fleet_client& operator=(const fleet_client&) = delete;

    bool enabled() const;
    /// What the fleet acts on in the gateway; set once, before start().
    void set_hooks(fleet_hooks hooks);
    /// The sink registerResource and TorQ discovery hand their backends to: with a fleet, one
    /// that writes them to etcd under this instance's lease (every instance, this one
    /// included, then serves them through its watch; this instance gone, its lease takes
    /// them away); without, the reloader itself.
    backend_sink& sources_sink();
    /// Starts the threads (no-op without [fleet] etcd). `admin_port` names the instance when
    /// fleet.instance is empty. Never fails for etcd being away: it retries.
    bool start(int admin_port, std::string& error);
    /// Stops the threads and revokes the lease (bounded by fleet.timeout_ms).
    void stop();
    const fleet_counters& counters() const;
    std::string instance() const;

    /// .qgate.fleet[]: the instances etcd lists (this one first if listed).
    std::vector<fleet_row> rows() const;
    /// .qgate.fleet.add / .qgate.fleet.remove: a backend for every instance (no lease: it
    /// stays until removed). Admin thread; bounded by fleet.timeout_ms.
    bool add(const backend_conf& b, std::string& error);
    bool remove(const std::string& name, std::string& error);
    /// .qgate.drain / .qgate.enable reach every instance through drain/<name>.
    bool drain(const std::string& name, bool on, std::string& error);

  private:
    friend class fleet_sources;
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace qgate

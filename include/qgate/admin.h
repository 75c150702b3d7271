// The admin endpoint: a control-plane thread that answers q-IPC queries about the running
// gateway (h".qgate.stats[]"). Blocking sockets are fine here: it never touches the data plane.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "qgate/config.h"
#include "qgate/stats.h"

namespace qgate::ctl {

/// A snapshot of the stats table (qgate/stats.h): what .qgate.stats[] reports.
using stat_list = qgate::stat_list;

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
    uint16_t port() const;
    void stop();

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace qgate::ctl

// The TorQ discovery client (issue 17, src/ctl/discovery.cc): one control thread connects to
// every [discovery] address, asks getservices[proctypes;1b], applies the procupdate messages
// pushed to it, asks again every refresh_ms, and hands each discovery process's view to a
// backend_sink (the reloader) as the backends of the owner "discovery host:port".
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "qgate/backend_sink.h"
#include "qgate/config.h"

namespace qgate {

/// Read by the admin thread (relaxed), written by the discovery thread.
struct discovery_counters {
    std::atomic<uint64_t> connects{0};   ///< handshakes completed with a discovery process
    std::atomic<uint64_t> failures{0};   ///< failed connects, logins, getservices; links lost
    std::atomic<uint64_t> updates{0};    ///< .servers.procupdate messages applied
    std::atomic<uint64_t> refreshes{0};  ///< getservices answers applied
    std::atomic<uint64_t> skipped{0};    ///< rows received that give no backend
};

class discovery_client {
  public:
    /// `draining`: once true, views are no longer handed to the sink (the gateway is shutting
    /// down; a new generation would only wait for shards that are leaving).
    discovery_client(const config& cfg, backend_sink& sink, const std::atomic<bool>& draining);
    ~discovery_client();
    discovery_client(const discovery_client&) = delete;
    discovery_client& operator=(const discovery_client&) = delete;

    /// Starts the thread (nothing to do when cfg.discovery.addresses is empty). False: `error`.
    bool start(std::string& error);
    /// Stops and joins the thread (bounded: it waits in poll() on a wake-up fd, and a sink call
    /// in progress ends within the sink's own bound). The views handed over stay applied.
    void stop();
    const discovery_counters& counters() const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace qgate

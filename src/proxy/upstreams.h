// The backends of the process, shared read-mostly by every shard: resolved addresses, the
// upstream handshake text, and one atomic connection count per backend for the
// least-connections policy (written by whichever shard opens or closes a session on it,
// with relaxed RMWs: an approximate global count is all load balancing needs).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "net/socket_util.h"
#include "qgate/config.h"

namespace qgate::proxy {

struct upstream {
    std::string name;
    std::string group;
    net::sock_addr addr;
    std::string credentials;  ///< sent upstream ("qgate" when the config leaves it empty)
    std::atomic<uint32_t> conns{0};
};

class upstream_table {
  public:
    /// Resolves every backend and maps each listener to its group. Startup only.
    bool build(const config& cfg, std::string& error);

    /// Next backend for a session of listener `l`, skipping those in `tried` (bit = position in
    /// the listener's group, first 64 only). -1 when none is left. Increments its count.
    int pick(uint32_t l, uint64_t& tried);
    void release(int b) {
        all_[static_cast<size_t>(b)].conns.fetch_sub(1, std::memory_order_relaxed);
    }
    const upstream& at(int b) const { return all_[static_cast<size_t>(b)]; }
    size_t size() const { return count_; }
    const std::string& group_of(uint32_t l) const { return groups_[l]; }

  private:
    std::unique_ptr<upstream[]> all_;
    size_t count_ = 0;
    std::vector<std::vector<int>> members_;  ///< per listener
    std::vector<std::string> groups_;        ///< per listener
    std::vector<session_policy> policy_;     ///< per listener
    std::unique_ptr<std::atomic<uint32_t>[]> rr_;
};

}  // namespace qgate::proxy

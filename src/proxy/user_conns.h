// Connections open per user, process-wide ([[user_limits]] conns_max): one fixed table of
// atomic slots shared by every shard, keyed by a 64-bit hash of the user name. A slot is
// claimed by the first login of its user and then kept for the process's life (so a count
// never moves between slots: exact under concurrent logins on several shards); its count
// goes up at login and down when the connection's slot is freed, relaxed RMWs, no lock, no
// allocation. Bounded: kSlots distinct limited users since start (with a users file, the
// file's users); a login that finds no slot is refused like one over its limit.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

#include "qgate/config.h"

namespace qgate::proxy {

class user_conns {
  public:
    static constexpr uint32_t kSlots = 4096;  ///< a power of two
    static constexpr uint32_t kProbe = 64;    ///< slots looked at for one user (linear probing)
    static constexpr int32_t kUnlimited = -1;
    static constexpr int32_t kOverLimit = -2;
    static constexpr int32_t kTableFull = -3;

    /// The first [[user_limits]] matching `user`; nullptr = none (not limited).
    static const user_limits_conf* rule_of(const config& cfg, std::string_view user);

    /// Counts a login of `user` against `max` (0: not limited, not counted). Returns the slot
    /// to release at close (>= 0), kUnlimited, kOverLimit or kTableFull.
    int32_t acquire(std::string_view user, uint32_t max);
    void release(int32_t slot);
    /// Open connections counted for `user` (tests, admin).
    uint32_t open_of(std::string_view user) const;

  private:
    struct alignas(64) slot {  // own cache line: shards' logins of different users never share
        std::atomic<uint64_t> key{0};
        std::atomic<uint32_t> open{0};
    };
    static uint64_t key_of(std::string_view user);
    std::array<slot, kSlots> slots_{};
};

}  // namespace qgate::proxy

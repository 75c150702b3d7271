// Per-user counts, process-wide ([[user_limits]] conns_max and calls_max): one fixed table of
// atomic slots shared by every shard, keyed by a 64-bit hash of the user name. A slot is
// claimed by the first login of its user and then kept for the process's life (so a count
// never moves between slots: exact under concurrent logins on several shards). Its `open`
// count goes up at login and down when the connection's slot is freed; its `calls` count
// (request mode's sync calls in flight) goes up when a call is routed and down when its answer
// is handed back or its client goes. Relaxed RMWs, no lock, no allocation. Bounded: kSlots
// distinct counted users since start (with a users file, the file's users); a login that finds
// no slot is refused like one over its limit.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "qgate/config.h"

namespace qgate::proxy {

class user_conns {
  public:
    static constexpr uint32_t kSlots = 4096;  ///< a power of two
    static constexpr uint32_t kProbe = 64;    ///< slots looked at for one user (linear probing)
    static constexpr uint32_t kNameMax = 46;  ///< bytes of a user name kept for the admin
    static constexpr int32_t kUnlimited = -1;
    static constexpr int32_t kOverLimit = -2;
    static constexpr int32_t kTableFull = -3;

    /// A counted user as .qgate.users[] shows it (admin thread).
    struct row {
        std::string user;  ///< at most kNameMax bytes of its name
        uint32_t open = 0;
        uint32_t calls = 0;
    };

    /// The first [[user_limits]] matching `user`; nullptr = none (not limited).
    static const user_limits_conf* rule_of(const config& cfg, std::string_view user);
    /// Whether a rule needs `user`'s slot (it limits connections or calls).
    static bool counted(const user_limits_conf* rule) {
        return rule != nullptr && (rule->conns_max != 0 || rule->calls_max != 0);
    }

    /// Counts a login of `user` against `max` (0: not limited, and not counted unless `always`).
    /// Returns the slot to release at close (>= 0), kUnlimited, kOverLimit or kTableFull.
    int32_t acquire(std::string_view user, uint32_t max, bool always = false);
    void release(int32_t slot);
    /// One more call in flight for `slot`'s user, unless it has `max` already (0: no limit);
    /// `seen` is the count found. False: at its limit, not counted.
    bool call_begin(int32_t slot, uint32_t max, uint32_t& seen);
    /// One call less. False (and nothing changed) when the count is already 0: a call ended
    /// twice, or one never begun (the caller counts a bug).
    bool call_end(int32_t slot);
    /// Open connections counted for `user` (tests, admin).
    uint32_t open_of(std::string_view user) const;
    /// Calls in flight counted for `user`.
    uint32_t calls_of(std::string_view user) const;
    /// Every claimed slot (admin thread; allocates).
    void rows(std::vector<row>& out) const;

  private:
    struct alignas(64) slot {  // own cache line: shards' logins of different users never share
        std::atomic<uint64_t> key{0};
        std::atomic<uint32_t> open{0};
        std::atomic<uint32_t> calls{0};
        std::atomic<bool> named{false};  ///< name written (release) by the claiming login
        uint8_t name_len = 0;
        char name[kNameMax]{};
    };
    static_assert(sizeof(slot) == 64);
    static uint64_t key_of(std::string_view user);
    const slot* find(std::string_view user) const;
    std::array<slot, kSlots> slots_{};
};

}  // namespace qgate::proxy

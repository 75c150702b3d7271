// user_conns (user_conns.h): the process-wide per-user connection table. Any shard's thread
// at a client's login and slot free; control threads may read it.

#include "proxy/user_conns.h"

#include "qgate/route/glob.h"

namespace qgate::proxy {

const user_limits_conf* user_conns::rule_of(const config& cfg, std::string_view user) {
    for (const user_limits_conf& l : cfg.user_limits) {
        for (const std::string& p : l.users) {
            if (route::glob_match(p, user)) return &l;
        }
    }
    return nullptr;
}

// FNV-1a, 64 bits; 0 marks a free slot, so a name that hashes to 0 takes 1.
uint64_t user_conns::key_of(std::string_view user) {
    uint64_t h = 14695981039346656037ULL;
    for (const char c : user) {
        h ^= static_cast<uint8_t>(c);
        h *= 1099511628211ULL;
    }
    return h == 0 ? 1 : h;
}

int32_t user_conns::acquire(std::string_view user, uint32_t max) {
    if (max == 0) return kUnlimited;
    const uint64_t k = key_of(user);
    for (uint32_t i = 0; i < kProbe; ++i) {
        const uint32_t at = static_cast<uint32_t>(k + i) & (kSlots - 1);
        slot& s = slots_[at];
        uint64_t seen = s.key.load(std::memory_order_relaxed);
        if (seen == 0 && s.key.compare_exchange_strong(seen, k, std::memory_order_relaxed)) {
            seen = k;  // claimed for this user from now on
        }
        if (seen != k) continue;
        uint32_t n = s.open.load(std::memory_order_relaxed);
        do {
            if (n >= max) return kOverLimit;
        } while (!s.open.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
        return static_cast<int32_t>(at);
    }
    return kTableFull;
}

void user_conns::release(int32_t slot) {
    if (slot >= 0) slots_[static_cast<uint32_t>(slot)].open.fetch_sub(1, std::memory_order_relaxed);
}

uint32_t user_conns::open_of(std::string_view user) const {
    const uint64_t k = key_of(user);
    for (uint32_t i = 0; i < kProbe; ++i) {
        const slot& s = slots_[static_cast<uint32_t>(k + i) & (kSlots - 1)];
        const uint64_t seen = s.key.load(std::memory_order_relaxed);
        if (seen == k) return s.open.load(std::memory_order_relaxed);
        if (seen == 0) return 0;
    }
    return 0;
}

}  // namespace qgate::proxy

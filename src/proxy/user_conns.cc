// user_conns (user_conns.h): the process-wide per-user count table. Any shard's thread at a
// client's login, its calls, and its slot free; control threads may read it.

#include "proxy/user_conns.h"

#include <cstring>

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

int32_t user_conns::acquire(std::string_view user, uint32_t max, bool always) {
    if (max == 0 && !always) return kUnlimited;
    const uint64_t k = key_of(user);
    for (uint32_t i = 0; i < kProbe; ++i) {
        const uint32_t at = static_cast<uint32_t>(k + i) & (kSlots - 1);
        slot& s = slots_[at];
        uint64_t seen = s.key.load(std::memory_order_relaxed);
        if (seen == 0 && s.key.compare_exchange_strong(seen, k, std::memory_order_relaxed)) {
            seen = k;  // claimed for this user from now on: its name, for the admin
            const size_t n = user.size() < kNameMax ? user.size() : kNameMax;
            std::memcpy(s.name, user.data(), n);
            s.name_len = static_cast<uint8_t>(n);
            s.named.store(true, std::memory_order_release);
        }
        if (seen != k) continue;
        uint32_t n = s.open.load(std::memory_order_relaxed);
        do {
            if (max != 0 && n >= max) return kOverLimit;
        } while (!s.open.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
        return static_cast<int32_t>(at);
    }
    return kTableFull;
}

void user_conns::release(int32_t slot) {
    if (slot >= 0) slots_[static_cast<uint32_t>(slot)].open.fetch_sub(1, std::memory_order_relaxed);
}

bool user_conns::call_begin(int32_t slot, uint32_t max, uint32_t& seen) {
    std::atomic<uint32_t>& c = slots_[static_cast<uint32_t>(slot)].calls;
    seen = c.load(std::memory_order_relaxed);
    do {
        if (max != 0 && seen >= max) return false;
    } while (!c.compare_exchange_weak(seen, seen + 1, std::memory_order_relaxed));
    return true;
}

bool user_conns::call_end(int32_t slot) {
    if (slot < 0 || static_cast<uint32_t>(slot) >= kSlots) return false;
    std::atomic<uint32_t>& c = slots_[static_cast<uint32_t>(slot)].calls;
    uint32_t n = c.load(std::memory_order_relaxed);
    do {
        if (n == 0) return false;  // never below 0: the count stays exact for the others
    } while (!c.compare_exchange_weak(n, n - 1, std::memory_order_relaxed));
    return true;
}

const user_conns::slot* user_conns::find(std::string_view user) const {
    const uint64_t k = key_of(user);
    for (uint32_t i = 0; i < kProbe; ++i) {
        const slot& s = slots_[static_cast<uint32_t>(k + i) & (kSlots - 1)];
        const uint64_t seen = s.key.load(std::memory_order_relaxed);
        if (seen == k) return &s;
        if (seen == 0) return nullptr;
    }
    return nullptr;
}

uint32_t user_conns::open_of(std::string_view user) const {
    const slot* s = find(user);
    return s != nullptr ? s->open.load(std::memory_order_relaxed) : 0;
}

uint32_t user_conns::calls_of(std::string_view user) const {
    const slot* s = find(user);
    return s != nullptr ? s->calls.load(std::memory_order_relaxed) : 0;
}

void user_conns::rows(std::vector<row>& out) const {
    for (const slot& s : slots_) {
        if (!s.named.load(std::memory_order_acquire)) continue;
        out.push_back({std::string(s.name, s.name_len), s.open.load(std::memory_order_relaxed),
                       s.calls.load(std::memory_order_relaxed)});
    }
}

}  // namespace qgate::proxy

// Dependency-free types shared by the routing core (src/route) and the engine that calls it:
// policy and message-type enums, the per-backend load/liveness cell and the caller's cursor.
#pragma once

#include <atomic>
#include <cstdint>

namespace qgate::route {

/// How one backend of a group is chosen (DESIGN §5.3).
enum class policy : uint8_t {
    least_busy = 0,   ///< fewest queued + in-flight; ties broken round-robin (the default)
    round_robin,      ///< rotate over live backends
    first_available,  ///< config order, skipping down backends (failover)
    consistent_hash,  ///< xxHash3 of argument `hash_arg` on a ring of virtual nodes
};

/// Which message types a rule accepts.
enum class type_match : uint8_t { any = 0, sync, async };

/// "No backend": every member of the group is down (→ `'qgate: no backend available ...`).
inline constexpr int32_t kNoBackend = -1;
/// Virtual nodes per backend on a consistent-hash ring. 160 (as ketama) keeps each backend's
/// share within ~10% of 1/N, so adding or removing one backend moves close to 1/N of keys.
inline constexpr uint32_t kVirtualNodes = 160;

/// Shared state of one backend, indexed by its global id. Written by the backend's home shard
/// (load on enqueue / reply, live on connect / disconnect), read by every shard with relaxed
/// loads: a slightly stale value only makes a pick a little less balanced, never wrong.
/// One cache line each so two home shards never write the same line.
struct alignas(64) backend_state {
    std::atomic<uint32_t> load{0};  ///< queued + in-flight requests
    std::atomic<bool> live{false};  ///< connected and not ejected

    uint32_t load_now() const { return load.load(std::memory_order_relaxed); }
    bool is_live() const { return live.load(std::memory_order_relaxed); }
};

/// Per-caller (per shard, per group) rotation point for round-robin and least-busy ties.
/// Plain integer: each shard owns its own, so no atomics.
struct pick_cursor {
    uint32_t next = 0;
};

}  // namespace qgate::route

// Dependency-free types shared by the routing core (src/route) and the engine that calls it:
// policy and message-type enums, the per-backend load/liveness cell and the caller's cursor.
#pragma once

#include <atomic>
#include <cstdint>

namespace qgate::route {

/// How one backend of a group is chosen (DESIGN §5.3), in request mode per call and in
/// session mode per session (the same functions, src/route/policy.cc).
enum class policy : uint8_t {
    least_busy = 0,   ///< lowest load (see backend_state); ties broken round-robin (the default)
    round_robin,      ///< rotate over live backends
    first_available,  ///< config order, skipping down backends (failover)
    consistent_hash,  ///< xxHash3 of a key on a ring of virtual nodes: request mode argument
                      ///< `hash_arg`, session mode the handshake user
};

/// Which message types a rule accepts.
enum class type_match : uint8_t { any = 0, sync, async };

/// "No backend": every member of the group is down (→ `'qgate: no backend available ...`).
inline constexpr int32_t kNoBackend = -1;
/// Virtual nodes per backend on a consistent-hash ring. A backend's share of the ring is the
/// sum of its points' arcs, off 1/N by about 1/sqrt(vnodes) of itself: 160 (ketama's count)
/// left shares 0.205-0.271 for 4 backends; 4096 brings it to ~1.6% (worst of 40 name sets of
/// 4: 3.5%). Cost: 8 bytes a point, 32 KiB per backend per ring, and a binary search of
/// 12 + log2(N) steps per pick, ~84 ns against ~23 ns for 160 (tests/route/route_bench,
/// bm_ring_pick; src/route/README.md "Cost").
inline constexpr uint32_t kVirtualNodes = 4096;

/// Shared state of one backend, indexed by its global id, read by every shard with relaxed
/// loads: a slightly stale value only makes a pick a little less balanced, never wrong.
/// One cache line each so two writers never share a line. Each mode keeps its own array:
/// request mode's load counts queued + in-flight requests and is written by the backend's
/// home shard (live on connect / eject); session mode's counts open sessions, written with
/// relaxed RMWs by whichever shard opens or closes one (live stays true: a session skips the
/// backends it failed on through its own skip mask instead).
/// `drained` is the admin's (.qgate.drain / .qgate.enable, written by the admin thread only):
/// a drained backend is passed over by every pick, in both modes, while the calls and sessions
/// it already has finish.
struct alignas(64) backend_state {
    std::atomic<uint32_t> load{0};  ///< requests (request mode) or sessions (session mode)
    std::atomic<bool> live{false};  ///< connected and not ejected (request mode)
    std::atomic<bool> drained{false};  ///< no new calls or sessions (admin)
    /// Request mode, [fleet] with eject_quorum > 0 (written by the fleet's keeper thread):
    /// 0 no verdict (`live` decides), 1 in service, 2 ejected by the quorum. A verdict
    /// overrides `live`: one instance's own ejection no longer takes the backend out of its
    /// picks (src/ctl/fleet.cc; README "Behaviour decisions").
    std::atomic<uint8_t> fleet{0};
    std::atomic<bool> ejected{false};  ///< request mode: the home shard's checks ejected it

    uint32_t load_now() const { return load.load(std::memory_order_relaxed); }
    bool is_live() const {
        const uint8_t f = fleet.load(std::memory_order_relaxed);
        return f == 0 ? live.load(std::memory_order_relaxed) : f == 1;
    }
    bool is_drained() const { return drained.load(std::memory_order_relaxed); }
    /// May a new call or session go to it?
    bool is_open() const { return is_live() && !is_drained(); }
};

/// A member's bit in a caller's `skip` mask (session mode: the backends a session already
/// failed on): bit i for the member at position i of the group (config order). Members from
/// position 63 on share bit 63, so the mask stays one word and a caller that skips each pick
/// after it fails still runs out of members within 64 picks.
inline constexpr uint64_t member_bit(uint32_t pos) { return uint64_t{1} << (pos < 63 ? pos : 63); }

/// Per-caller (per shard, per group) rotation point for round-robin and least-busy ties.
/// Plain integer: each shard owns its own, so no atomics.
struct pick_cursor {
    uint32_t next = 0;
};

}  // namespace qgate::route

// A shard's latency histograms and per-route hit counts: arrays sized once at start-up
// (before the shard threads run), written only by their shard with relaxed load+store (no
// locked instruction, no allocation on the hot path), read by the admin thread with relaxed
// loads, which sums the shards (qgate::latency_summary). An index past the arrays (a backend
// or route added after start) is not counted rather than written out of bounds.
// Capacity: at least kLatencyRowsMin rows, so a reload that adds a few backends or routes is
// still counted without resizing arrays the shards are writing.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>

#include "qgate/latency.h"

namespace qgate::shard {

inline constexpr std::size_t kLatencyRowsMin = 64;

/// Monotonic microseconds (vDSO clock_gettime: tens of ns, no syscall).
inline uint64_t now_us() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

/// One histogram of one shard.
struct latency_cell {
    std::atomic<uint64_t> buckets[kLatencyBuckets] = {};
    std::atomic<uint64_t> sum_us{0};

    void observe(uint64_t us) {
        std::atomic<uint64_t>& b = buckets[latency_bucket(us)];
        b.store(b.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        sum_us.store(sum_us.load(std::memory_order_relaxed) + us, std::memory_order_relaxed);
    }
    void add_to(latency_summary& out) const {
        for (std::size_t i = 0; i < kLatencyBuckets; ++i) {
            out.buckets[i] += buckets[i].load(std::memory_order_relaxed);
        }
        out.sum_us += sum_us.load(std::memory_order_relaxed);
    }
};

/// Backend and listener latency, route hits. Backend rows are indexed by backend id
/// (proxy/generation.h: ids of retired backends are reused, so they stay dense; a backend whose
/// id is past the rows sized at start is not timed), listener and route rows by
/// position in the config (the route table's current one).
class latency_table {
  public:
    /// Start-up only (allocates); the shard threads must not be running.
    void init(std::size_t backends, std::size_t listeners, std::size_t routes) {
        nb_ = backends < kLatencyRowsMin ? kLatencyRowsMin : backends * 2;
        nl_ = listeners;
        nr_ = routes < kLatencyRowsMin ? kLatencyRowsMin : routes * 2;
        backend_ = std::make_unique<latency_cell[]>(nb_);
        listener_ = std::make_unique<latency_cell[]>(nl_);
        route_hits_ = std::make_unique<std::atomic<uint64_t>[]>(nr_);
    }

    /// A sync call to backend `b` answered `us` after it was sent (both modes).
    void backend(std::size_t b, uint64_t us) {
        if (b < nb_) backend_[b].observe(us);
    }
    /// A request-mode sync call on listener `l` answered `us` after it came in.
    void listener(std::size_t l, uint64_t us) {
        if (l < nl_) listener_[l].observe(us);
    }
    /// A request-mode call matched route `r` (its position in the config).
    void route_hit(std::size_t r) {
        if (r >= nr_) return;
        std::atomic<uint64_t>& c = route_hits_[r];
        c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }

    /// Backend id `b` is new in the running generation (a quiet id reused): its row restarts.
    /// This shard's thread only, as for backend().
    void reset_backend(std::size_t b) {
        if (b >= nb_) return;
        for (auto& c : backend_[b].buckets) c.store(0, std::memory_order_relaxed);
        backend_[b].sum_us.store(0, std::memory_order_relaxed);
    }

    // Admin thread: add this shard's values to a sum.
    void add_backend(std::size_t b, latency_summary& out) const {
        if (b < nb_) backend_[b].add_to(out);
    }
    void add_listener(std::size_t l, latency_summary& out) const {
        if (l < nl_) listener_[l].add_to(out);
    }
    /// Route positions counted (the same on every shard).
    std::size_t route_rows() const { return nr_; }
    uint64_t route_hits(std::size_t r) const {
        return r < nr_ ? route_hits_[r].load(std::memory_order_relaxed) : 0;
    }

  private:
    std::unique_ptr<latency_cell[]> backend_;
    std::unique_ptr<latency_cell[]> listener_;
    std::unique_ptr<std::atomic<uint64_t>[]> route_hits_;
    std::size_t nb_ = 0;
    std::size_t nl_ = 0;
    std::size_t nr_ = 0;
};

}  // namespace qgate::shard

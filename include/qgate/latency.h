// Latency histograms: the fixed bucket bounds every latency stat shares (µs, 1-2-5 steps from
// 20 µs to 10 s, then +Inf), the bucket a value falls in (constexpr, no branches taken per
// bound: the data plane calls it per call), and what the control plane computes from the
// buckets summed over the shards: the count, and p50/p99 (latency_percentile_us), which the
// admin tables (.qgate.backends[]) and the Prometheus endpoint read. Fixed bounds on purpose:
// every shard's array has the same shape, so summing is a plain add, and Prometheus can
// aggregate series across qgate processes.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace qgate {

/// Upper bounds (inclusive, µs) of the finite buckets; one more bucket (+Inf) follows.
inline constexpr std::array<uint64_t, 18> kLatencyBoundsUs = {
    20,     50,     100,    200,     500,     1000,    2000,    5000,    10000,
    20000,  50000,  100000, 200000,  500000,  1000000, 2000000, 5000000, 10000000};
inline constexpr std::size_t kLatencyBuckets = kLatencyBoundsUs.size() + 1;

/// Index of the bucket holding `us`: the first bound >= us, or the +Inf bucket.
constexpr std::size_t latency_bucket(uint64_t us) {
    std::size_t i = 0;
    for (const uint64_t b : kLatencyBoundsUs) i += us > b ? 1 : 0;
    return i;
}

/// One histogram as the control plane sees it: per-bucket (not cumulative) counts and the sum
/// of every observed value.
struct latency_summary {
    std::array<uint64_t, kLatencyBuckets> buckets{};
    uint64_t sum_us = 0;

    constexpr uint64_t count() const {
        uint64_t n = 0;
        for (const uint64_t b : buckets) n += b;
        return n;
    }
    constexpr void add(const latency_summary& o) {
        for (std::size_t i = 0; i < kLatencyBuckets; ++i) buckets[i] += o.buckets[i];
        sum_us += o.sum_us;
    }
};

/// The q-quantile (0 < q <= 1; 0.5 = p50, 0.99 = p99) in µs, interpolated linearly inside its
/// bucket as Prometheus' histogram_quantile does (the first bucket from 0). A quantile in the
/// +Inf bucket is the highest finite bound (the histogram knows no more). 0 when empty.
inline uint64_t latency_percentile_us(const latency_summary& h, double q) {
    const uint64_t total = h.count();
    if (total == 0) return 0;
    const double rank = q * static_cast<double>(total);
    uint64_t below = 0;
    for (std::size_t i = 0; i < kLatencyBoundsUs.size(); ++i) {
        const uint64_t in = h.buckets[i];
        if (in != 0 && static_cast<double>(below + in) >= rank) {
            const double lo = i == 0 ? 0.0 : static_cast<double>(kLatencyBoundsUs[i - 1]);
            const double hi = static_cast<double>(kLatencyBoundsUs[i]);
            const double into = (rank - static_cast<double>(below)) / static_cast<double>(in);
            return static_cast<uint64_t>(std::llround(lo + (hi - lo) * (into < 0 ? 0 : into)));
        }
        below += in;
    }
    return kLatencyBoundsUs.back();
}

}  // namespace qgate

// The data-plane cost of latency histograms (issue 17): what one timed call adds on a shard.
// A request-mode call reads the clock twice per histogram (stamp, observe) and does one
// relaxed load+store per bucket and sum; BM_timed_call is that whole cost for one histogram,
// the others its parts. Single-threaded, as the shard that owns the arrays is.
#include <benchmark/benchmark.h>

#include <cstdint>

#include "qgate/latency.h"
#include "shard/latency.h"

namespace {

void BM_now_us(benchmark::State& st) {
    for (auto _ : st) benchmark::DoNotOptimize(qgate::shard::now_us());
}
BENCHMARK(BM_now_us);

void BM_latency_bucket(benchmark::State& st) {
    uint64_t us = 1;
    for (auto _ : st) {
        benchmark::DoNotOptimize(qgate::latency_bucket(us));
        us = us * 7 % 20000003;  // spread over every bucket
    }
}
BENCHMARK(BM_latency_bucket);

void BM_observe(benchmark::State& st) {
    qgate::shard::latency_table t;
    t.init(4, 2, 4);
    uint64_t us = 1;
    for (auto _ : st) {
        t.backend(1, us);
        us = us * 7 % 20000003;
    }
    benchmark::ClobberMemory();
}
BENCHMARK(BM_observe);

// Stamp when sent, observe when answered: what one call to a backend adds.
void BM_timed_call(benchmark::State& st) {
    qgate::shard::latency_table t;
    t.init(4, 2, 4);
    for (auto _ : st) {
        const uint64_t sent = qgate::shard::now_us();
        t.backend(1, qgate::shard::now_us() - sent);
    }
    benchmark::ClobberMemory();
}
BENCHMARK(BM_timed_call);

}  // namespace

BENCHMARK_MAIN();

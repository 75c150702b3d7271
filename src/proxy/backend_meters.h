// Per-shard counters of the admin API: per backend id (.qgate.backends[] calls and errors; a
// route's hits are shard::latency_table's route_hits). A grid of one row per shard and one
// cell per item (run_gateway: kBackendsMax, as ids grow with reloads), each cell written only
// by its shard's thread (relaxed load + store, shard::bump) and read by any thread (the
// admin's sums). Rows are padded apart so two shards never write one cache line. Built by
// run_gateway before the shards start; an engine without one (unit tests) gets its own.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace qgate::proxy {

struct backend_meter {
    std::atomic<uint64_t> calls{0};   ///< calls sent to the backend (messages, sessions included)
    std::atomic<uint64_t> errors{0};  ///< calls answered with an error (README "admin API")
};

template <typename Cell> class shard_grid {
  public:
    shard_grid(uint32_t shards, uint32_t items)
        : shards_(shards == 0 ? 1 : shards), stride_(items + kPad),
          cells_(std::make_unique<Cell[]>(size_t{shards_} * stride_)) {}

    /// Shard `s`'s row: cell i is item i's (only that shard's thread writes it).
    Cell* row(uint32_t s) { return &cells_[size_t{s} * stride_]; }
    /// Item i's member `m`, summed over the shards (any thread).
    uint64_t sum(uint32_t i, std::atomic<uint64_t> Cell::*m) const {
        uint64_t n = 0;
        for (uint32_t s = 0; s < shards_; ++s) {
            n += (cells_[size_t{s} * stride_ + i].*m).load(std::memory_order_relaxed);
        }
        return n;
    }

  private:
    /// Cells between two rows: at least a cache line.
    static constexpr uint32_t kPad = (64 + sizeof(Cell) - 1) / sizeof(Cell);
    uint32_t shards_;
    uint32_t stride_;
    std::unique_ptr<Cell[]> cells_;
};

using backend_meters = shard_grid<backend_meter>;

}  // namespace qgate::proxy

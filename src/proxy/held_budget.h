// Request mode's budget of bytes held: copied calls and backend replies sitting in request
// slots (queued behind a busy or stopped backend, or waiting for a client that reads slowly or
// not at all). limits.request_bytes_held_max bounds them for the whole process; each shard
// takes from and gives back to one process-wide count through a held_budget of its own.
//
// Design note. No locks: the count is a relaxed atomic, and a shard touches it only once per
// kChunk of traffic. A shard keeps a little credit taken from the count (at most 2 x kChunk)
// and serves takes and gives from it, so the count runs ahead of the bytes really held by at
// most 2 x kChunk per shard (2 MiB), never behind: the bound holds. A take that the count
// cannot cover is refused whole (the caller answers 'qgate: busy'), never half-granted.
// Bytes taken on one shard may be given back on another (a reply is taken at its backend's
// home shard and given back at its client's when the slot is freed): the count does not care.
// The per-shard gauge request_bytes_held moves with each take and give, so only its sum over
// the shards is the bytes held (one shard's value alone may wrap below zero).
// Thread: the owning shard's; the count is shared (route_plane::held_bytes).
#pragma once

#include <atomic>
#include <cstdint>

#include "shard/counters.h"

namespace qgate::proxy {

class held_budget {
  public:
    /// Credit a shard takes from the process-wide count at a time.
    static constexpr uint64_t kChunk = uint64_t{1} << 20;

    held_budget(shard::counters& ctr, std::atomic<uint64_t>* count, uint64_t max)
        : ctr_(ctr), count_(count != nullptr ? count : &own_), max_(max) {}

    /// Takes `n` bytes of the budget; false (nothing taken) when that would pass the bound.
    bool take(uint64_t n);
    /// Gives back `n` bytes taken before (by any shard).
    void give(uint64_t n);

    uint64_t max() const { return max_; }
    uint64_t credit() const { return credit_; }

  private:
    bool grab(uint64_t n);

    shard::counters& ctr_;
    std::atomic<uint64_t> own_{0};  ///< the count when no process-wide one is given (tests)
    std::atomic<uint64_t>* count_;
    uint64_t max_;
    uint64_t credit_ = 0;  ///< taken from the count, not yet handed out
};

}  // namespace qgate::proxy

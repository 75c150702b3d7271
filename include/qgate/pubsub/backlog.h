// A subscriber's bounded queue of updates waiting to be sent, with the slow-subscriber policy
// (DESIGN §7): when it is full, either disconnect the subscriber (default) or conflate (keep
// only the newest queued update per table). Other subscribers never wait for a slow one: each
// has its own backlog of shared references, and a push never blocks.
// Data plane: the ring is allocated once at construction; push / pop never allocate.
#pragma once

#include <cstdint>
#include <vector>

#include "qgate/pubsub/pubsub_types.h"
#include "qgate/pubsub/update_buffer.h"

namespace qgate::pubsub {

struct backlog_limits {
    uint32_t updates_max = 4096;             ///< queued updates (≥ 1)
    uint64_t bytes_max = uint64_t{64} << 20; ///< queued bytes; one update is always accepted
    slow_policy policy = slow_policy::disconnect;
};

/// Plain per-subscriber counters (aggregated per shard off the hot path).
struct backlog_counters {
    uint64_t pushed = 0;        ///< updates accepted
    uint64_t popped = 0;        ///< updates handed to the sender
    uint64_t conflated = 0;     ///< queued updates dropped by conflation
    uint64_t overflows = 0;     ///< pushes that found the backlog full
    uint64_t bytes_high = 0;    ///< high-water mark of queued bytes
    uint32_t updates_high = 0;  ///< high-water mark of queued updates
};

enum class push_result : uint8_t {
    queued,      ///< accepted, nothing dropped
    conflated,   ///< accepted after dropping older updates (conflate policy)
    disconnect,  ///< full under the disconnect policy: the engine closes the subscriber; the
                 ///< backlog was cleared (its references released)
};

class backlog {
  public:
    explicit backlog(backlog_limits lim = {});

    /// Queues `u` for table id `table` (the schema store's id; conflation keys on it).
    push_result push(uint32_t table, update_ref u);
    /// Takes the oldest update for sending; false when empty.
    bool pop(update_ref& out);
    /// Releases everything queued (disconnect).
    void clear();

    uint32_t size() const { return count_; }
    uint64_t bytes() const { return bytes_; }
    bool empty() const { return count_ == 0; }
    const backlog_counters& counters() const { return stats_; }
    const backlog_limits& limits() const { return lim_; }

  private:
    struct entry {
        uint32_t table = 0;
        update_ref u;
    };
    bool fits(uint64_t size) const;
    entry& at(uint32_t i) { return ring_[(head_ + i) % ring_.size()]; }
    /// Keeps the entries for which keep(i) is true, in order; counts the others as conflated.
    template <class Keep>
    void compact(Keep keep);
    void conflate(uint32_t table, uint64_t size);
    void append(uint32_t table, update_ref u);

    backlog_limits lim_;
    std::vector<entry> ring_;
    uint32_t head_ = 0;
    uint32_t count_ = 0;
    uint64_t bytes_ = 0;
    backlog_counters stats_;
};

}  // namespace qgate::pubsub

// Cross-shard messaging: a bounded SPSC queue for every ordered pair of shards, plus the
// sleep/wake handshake that lets an idle shard block in the kernel without losing a message.
//
// Queue: an spsc_ring<xmsg> (spsc_ring.h) per ordered pair of shards, publishing by itself
// every kMailboxBatch pushes; the end-of-turn flush publishes the rest (batching: one
// publication, and at most one wake, per batch). The messages are typed (xmsg.h).
//
// Wake protocol (Dekker style, seq_cst on both sides):
//   consumer: sleeping = true; fence; if any inbound queue is non-empty -> sleeping = false,
//             do not block; else block in the kernel.
//   producer: publish tail; fence; if sleeping.exchange(false) -> send one wake.
// Either the consumer sees the message before blocking, or the producer sees `sleeping` and
// wakes it. exchange() makes exactly one of several producers send the wake (no duplicates).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "shard/spsc_ring.h"
#include "shard/xmsg.h"

namespace qgate::shard {

inline constexpr uint32_t kMailboxCapacity = 128;
inline constexpr uint32_t kMailboxBatch = 16;  ///< producer publishes at least every 16 pushes

using mailbox_ring = spsc_ring<xmsg>;

/// The N x N mesh of queues and the per-shard sleeping flags.
class mailbox_mesh {
  public:
    explicit mailbox_mesh(uint32_t shards);
    uint32_t shards() const { return n_; }
    mailbox_ring& queue(uint32_t from, uint32_t to) { return *queues_[from * n_ + to]; }

    /// Producer side of a flush: publishes from->to and returns true when `to` was asleep and
    /// this caller won the right to wake it (send exactly one wake).
    bool flush(uint32_t from, uint32_t to);
    /// Consumer: about to block. False when a message is already waiting (do not block).
    bool prepare_sleep(uint32_t me);
    /// Consumer: back from the kernel.
    void woke(uint32_t me) { flags_[me].sleeping.store(false, std::memory_order_relaxed); }
    bool sleeping(uint32_t me) const { return flags_[me].sleeping.load(std::memory_order_seq_cst); }
    /// Consumer: drains every inbound queue; f(from, msg). Returns messages handled.
    template <typename F> uint32_t drain(uint32_t me, F&& f) {
        uint32_t total = 0;
        for (uint32_t from = 0; from < n_; ++from) {
            if (from == me) continue;
            total += queue(from, me).drain([&](const xmsg& m) { f(from, m); });
        }
        return total;
    }

  private:
    struct alignas(64) flag {
        std::atomic<bool> sleeping{false};
    };
    uint32_t n_;
    std::vector<std::unique_ptr<mailbox_ring>> queues_;
    std::unique_ptr<flag[]> flags_;
};

}  // namespace qgate::shard

// Cross-shard messaging: a bounded SPSC queue for every ordered pair of shards, plus the
// sleep/wake handshake that lets an idle shard block in the kernel without losing a message.
//
// Queue: a power-of-two ring of fixed-size messages. The producer writes slots and advances a
// private tail; flush() publishes it with one release store (batching: one publication, and
// at most one wake, per batch). The consumer reads up to the published tail and publishes its
// head once per drain. Producer and consumer indices live on separate cache lines.
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

namespace qgate::shard {

struct xmsg {
    uint32_t kind = 0;
    uint32_t arg = 0;
    uint64_t data = 0;
};

enum xmsg_kind : uint32_t {
    kXmsgDrain = 1,  ///< stop accepting and drain (broadcast by shard 0 on SIGTERM/SIGINT)
    kXmsgPing = 2,   ///< tests / liveness
};

inline constexpr uint32_t kMailboxCapacity = 128;
inline constexpr uint32_t kMailboxBatch = 16;  ///< producer publishes at least every 16 pushes

class spsc_queue {
  public:
    explicit spsc_queue(uint32_t capacity = kMailboxCapacity)
        : slots_(capacity), mask_(capacity - 1) {}

    /// Producer. False when full (counting unpublished slots); nothing is written then.
    bool push(const xmsg& m) {
        if (tail_local_ - head_cache_ > mask_) {
            head_cache_ = head_.load(std::memory_order_acquire);
            if (tail_local_ - head_cache_ > mask_) return false;
        }
        slots_[tail_local_ & mask_] = m;
        ++tail_local_;
        if (tail_local_ - tail_published_ >= kMailboxBatch) flush();
        return true;
    }
    /// Producer: publishes pushed messages. True when anything new was published.
    bool flush() {
        if (tail_local_ == tail_published_) return false;
        tail_published_ = tail_local_;
        tail_.store(tail_local_, std::memory_order_release);
        unsignalled_ = true;
        return true;
    }
    /// Producer: whether anything was published since the last call (the wake check).
    bool take_unsignalled() {
        const bool u = unsignalled_;
        unsignalled_ = false;
        return u;
    }
    /// Consumer: calls f(msg) for every published message, then frees their slots.
    template <typename F> uint32_t drain(F&& f) {
        const uint32_t tail = tail_.load(std::memory_order_acquire);
        uint32_t head = head_local_;
        for (; head != tail; ++head) f(slots_[head & mask_]);
        const uint32_t n = head - head_local_;
        head_local_ = head;
        if (n != 0) head_.store(head, std::memory_order_release);
        return n;
    }
    /// Either side: whether published messages are waiting.
    bool has_published() const {
        return tail_.load(std::memory_order_seq_cst) != head_.load(std::memory_order_relaxed);
    }
    uint32_t capacity() const { return mask_ + 1; }

  private:
    std::vector<xmsg> slots_;
    const uint32_t mask_;
    alignas(64) std::atomic<uint32_t> tail_{0};  // written by producer
    uint32_t tail_local_ = 0;
    uint32_t tail_published_ = 0;
    uint32_t head_cache_ = 0;
    bool unsignalled_ = false;  ///< published since the last take_unsignalled()
    alignas(64) std::atomic<uint32_t> head_{0};  // written by consumer
    uint32_t head_local_ = 0;
};

/// The N x N mesh of queues and the per-shard sleeping flags.
class mailbox_mesh {
  public:
    explicit mailbox_mesh(uint32_t shards);
    uint32_t shards() const { return n_; }
    spsc_queue& queue(uint32_t from, uint32_t to) { return *queues_[from * n_ + to]; }

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
    std::vector<std::unique_ptr<spsc_queue>> queues_;
    std::unique_ptr<flag[]> flags_;
};

}  // namespace qgate::shard

// spsc_ring<T>: the one single-producer single-consumer ring between two shards. The mailbox
// mesh carries `xmsg`s in it (mailbox.h) and the pub/sub lanes carry `ps_msg`s
// (proxy/pubsub_state.h); nothing else in qgate implements a cross-thread queue.
//
// Threads. Exactly one producer thread calls push / publish / take_unsignalled / used; exactly
// one consumer thread calls drain. has_published may be called from either side.
//
// Layout. A power-of-two array of T, allocated once at construction (control plane). The
// producer writes slots and advances a private tail; publish() makes them visible with one
// release store of `tail_`, so a batch costs one publication however many messages it holds.
// The consumer reads up to the published tail (acquire) and hands the slots back with one
// release store of `head_` per drain. Producer and consumer indices live on separate cache
// lines, so neither side's writes invalidate the other's line except on publication.
//
// Batching. A ring built with publish_every = N > 0 publishes by itself every N pushes (the
// mailbox: a long turn does not hold messages back); with 0 only publish() publishes (the
// pub/sub lanes publish once per turn). take_unsignalled() answers "was anything published
// since the last call", whoever published it: that is the wake check (mailbox.cc).
//
// Slots are reused as they are: drain() hands the consumer a T& and the consumer may move out
// of it; whatever it leaves stays in the slot until the producer assigns over it. So a T that
// owns something (a reference-counted buffer) must be moved out by the consumer to be released
// at once. Indices are uint32_t and wrap; capacity <= 2^31 keeps the differences exact.
#pragma once

#include <atomic>
#include <cassert>
#include <cstdint>
#include <utility>
#include <vector>

namespace qgate::shard {

template <typename T> class spsc_ring {
  public:
    /// `capacity` must be a power of two; `publish_every` = 0: publish() only.
    spsc_ring(uint32_t capacity, uint32_t publish_every)
        : slots_(capacity), mask_(capacity - 1), publish_every_(publish_every) {
        assert(capacity != 0 && (capacity & (capacity - 1)) == 0);
    }
    ~spsc_ring() = default;
    spsc_ring(const spsc_ring&) = delete;
    spsc_ring& operator=(const spsc_ring&) = delete;
    spsc_ring(spsc_ring&&) = delete;
    spsc_ring& operator=(spsc_ring&&) = delete;

    /// Producer: a push would succeed. The consumer's head is re-read only when the cached
    /// one says full, so a producer with room touches only its own cache line.
    bool has_room() {
        if (tail_local_ - head_cache_ <= mask_) return true;
        head_cache_ = head_.load(std::memory_order_acquire);
        return tail_local_ - head_cache_ <= mask_;
    }
    /// Producer. False when full (counting unpublished slots): nothing is written, and `m`
    /// is not moved from.
    bool push(T&& m) {
        if (!has_room()) return false;
        slots_[tail_local_ & mask_] = std::move(m);
        advance();
        return true;
    }
    bool push(const T& m) {
        if (!has_room()) return false;
        slots_[tail_local_ & mask_] = m;
        advance();
        return true;
    }
    /// Producer: publishes pushed messages. True when anything new was published.
    bool publish() {
        if (tail_local_ == tail_published_) return false;
        tail_published_ = tail_local_;
        tail_.store(tail_local_, std::memory_order_release);
        unsignalled_ = true;
        return true;
    }
    /// Producer: whether anything was published since the last call (the wake check).
    bool take_unsignalled() { return std::exchange(unsignalled_, false); }
    /// Producer: messages pushed (published or not) and not yet drained by the consumer.
    uint32_t used() const { return tail_local_ - head_.load(std::memory_order_acquire); }

    /// Consumer: calls f(T&) for every published message, then frees their slots with one
    /// release store. Returns the number handled.
    template <typename F> uint32_t drain(F&& f) {
        const uint32_t tail = tail_.load(std::memory_order_acquire);
        uint32_t head = head_local_;
        for (; head != tail; ++head) f(slots_[head & mask_]);
        const uint32_t n = head - head_local_;
        head_local_ = head;
        if (n != 0) head_.store(head, std::memory_order_release);
        return n;
    }
    /// Either side: whether published messages are waiting. The seq_cst load pairs with the
    /// fences of the sleep/wake handshake (mailbox.h).
    bool has_published() const {
        return tail_.load(std::memory_order_seq_cst) != head_.load(std::memory_order_relaxed);
    }
    uint32_t capacity() const { return mask_ + 1; }

  private:
    void advance() {
        ++tail_local_;
        if (publish_every_ != 0 && tail_local_ - tail_published_ >= publish_every_) publish();
    }

    // Read-only after construction, read by both sides.
    std::vector<T> slots_;
    const uint32_t mask_;
    // Producer's line.
    alignas(64) std::atomic<uint32_t> tail_{0};
    uint32_t tail_local_ = 0;
    uint32_t tail_published_ = 0;
    uint32_t head_cache_ = 0;
    const uint32_t publish_every_;
    bool unsignalled_ = false;  ///< published since the last take_unsignalled()
    // Consumer's line.
    alignas(64) std::atomic<uint32_t> head_{0};
    uint32_t head_local_ = 0;
};

}  // namespace qgate::shard

// Per-socket send queue: an intrusive list of byte ranges (a provided buffer, or bytes owned by
// the connection such as the handshake reply or a q error frame), drawn from a per-shard item
// pool so queuing never allocates. The owner keeps at most one sendmsg in flight per socket
// (io_uring may reorder or split concurrent sends on one socket: PERFORMANCE.md pitfall 4), and
// each sendmsg gathers up to kIovMax queued ranges. A short send is resumed from the exact byte
// where it stopped: consume(n) drops whole items and advances an offset into the first one.
//
// A "solo" item is written in a sendmsg of its own. The handshake reply must be: node-q takes
// the first data event on the socket as the reply and requires it to be exactly one byte.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <vector>

#include "qgate/check.h"

namespace qgate::io {

/// IOV_MAX is 1024 on Linux; 64 keeps the iovec array per socket at 1 KiB and is already far
/// past the point where one more syscall would matter (proxy.c uses the same bound).
inline constexpr int kIovMax = 64;
inline constexpr uint32_t kNil = 0xffffffffu;

struct send_item {
    const uint8_t* data = nullptr;
    uint32_t len = 0;
    int32_t bid = -1;     ///< tag handed to release() when fully sent; -1 = none (>= 0: a
                          ///< provided buffer; the owner may use other negative tags)
    uint32_t next = kNil;
    bool solo = false;
};

/// Fixed-capacity free list of send items shared by all sockets of a shard.
class item_pool {
  public:
    explicit item_pool(uint32_t capacity);
    uint32_t alloc();  ///< kNil when exhausted
    void free(uint32_t i);
    send_item& operator[](uint32_t i) { return items_[i]; }
    const send_item& operator[](uint32_t i) const { return items_[i]; }
    uint32_t used() const { return used_; }
    uint32_t capacity() const { return static_cast<uint32_t>(items_.size()); }

  private:
    std::vector<send_item> items_;
    uint32_t free_head_ = kNil;
    uint32_t used_ = 0;
};

class send_queue {
  public:
    /// Appends a range; false when the item pool is exhausted (caller closes and counts).
    bool push(item_pool& pool, const uint8_t* data, uint32_t len, int32_t bid, bool solo = false);
    /// Fills `iov` (at most `max` entries) from the head; returns the count, `total` = bytes.
    int gather(const item_pool& pool, iovec* iov, int max, uint64_t& total) const;
    /// Drops `n` sent bytes from the head; `release(bid)` for each finished pool buffer. `n` is
    /// at most bytes(): the caller checks a send's count against what it gathered.
    template <typename F> void consume(item_pool& pool, uint64_t n, F&& release);
    /// Drops everything (connection closing).
    template <typename F> void clear(item_pool& pool, F&& release);

    uint64_t bytes() const { return bytes_; }
    uint32_t items() const { return count_; }
    /// Provided (pool) buffers among the queued items: this queue's share of the shard's
    /// receive buffer pool, which the owner bounds separately from bytes (a 64-byte reply pins
    /// a whole buffer).
    uint32_t bufs() const { return bufs_; }
    bool empty() const { return head_ == kNil; }
    /// The tag of the head item (-1 when empty): whose bytes gather() starts with.
    int32_t head_bid(const item_pool& pool) const { return head_ == kNil ? -1 : pool[head_].bid; }

  private:
    template <typename F> void pop_head(item_pool& pool, F& release);

    uint32_t head_ = kNil;
    uint32_t tail_ = kNil;
    uint32_t head_off_ = 0;  ///< bytes of the head item already sent
    uint32_t count_ = 0;
    uint32_t bufs_ = 0;      ///< items with bid >= 0
    uint64_t bytes_ = 0;     ///< unsent bytes queued
};

template <typename F> void send_queue::pop_head(item_pool& pool, F& release) {
    uint32_t i = head_;
    send_item& it = pool[i];
    if (it.bid != -1) release(it.bid);
    if (it.bid >= 0) --bufs_;
    head_ = it.next;
    if (head_ == kNil) tail_ = kNil;
    head_off_ = 0;
    --count_;
    pool.free(i);
}

template <typename F> void send_queue::consume(item_pool& pool, uint64_t n, F&& release) {
    // More than queued would wrap bytes_ (and the watermarks read it); no connection to close
    // here: the engine's on_send refuses such a count first (QGATE_CHECK).
    QGATE_ASSERT(n <= bytes_);
    bytes_ -= n;
    while (n > 0 && head_ != kNil) {
        const uint32_t left = pool[head_].len - head_off_;
        if (n < left) {
            head_off_ += static_cast<uint32_t>(n);
            return;
        }
        n -= left;
        pop_head(pool, release);
    }
}

template <typename F> void send_queue::clear(item_pool& pool, F&& release) {
    while (head_ != kNil) pop_head(pool, release);
    bytes_ = 0;
}

}  // namespace qgate::io

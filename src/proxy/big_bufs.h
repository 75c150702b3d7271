// A shard's cache of big byte buffers: the frame_bufs of calls and replies past kKeepBytesMax,
// which request slots and pool connections do not keep (frame_buf.h), are reused through it
// instead of being allocated and freed (page faults and all) for every large message.
//
// Design note. One per engine (shard thread only: no locks, no atomics). Request mode gives
// its big buffers here when it is done with them (a freed slot's call, `req`; a pool
// connection's receive buffer replaced by a bigger one or reset on reconnect; the stale reply
// buffer a slot brings to its backend's home shard) and takes one when it needs one (a copied
// call, sized once from its header; a reply too long for the receive buffer; a fan-out part or
// reducer call). The cache owns what it holds, whichever shard's thread allocated it.
//
// Parking. A reply is received at the backend's home shard and its slot freed at the client's:
// were the reply buffer given to the client's shard's cache, a home shard serving other
// shards' clients would allocate every big reply and the clients' shards would evict as many.
// So a freed slot keeps its big reply buffer (`park`: counted in this cache's bounds, as if
// cached), the slot's next call takes it (`unpark`) to its home shard, and there it is given to
// that shard's cache, where the next big reply finds it. A free slot holds a big buffer only
// when parked; a park the bounds refuse is a give.
//
// Bounds (limits.big_bufs_max buffers and limits.big_bufs_bytes_max bytes per shard, cached
// and parked together): a give that would pass one evicts the oldest cached buffers first, and
// a buffer that still does not fit (longer than the byte bound, or parked ones fill it) is
// freed; both count in big_buf_evictions. A take of n bytes reuses the smallest cached buffer
// whose capacity is in [n, 4n] (a 2 MiB call does not pin a 60 MiB buffer), else allocates
// n rounded up by at most 12.5% (capacity_for: messages that grow a little reuse it;
// big_buf_hits / big_buf_misses). A take of at most kKeepBytesMax bytes never looks here: it
// gets a new buffer of a power of two (capacity_for), which its holder keeps.
// big_buf_bytes is the level held (cached + parked). Held memory goes only by eviction: the
// cache keeps up to its bounds for good, as every slot keeps its small buffers.
#pragma once

#include <array>
#include <cstdint>

#include "proxy/frame_buf.h"
#include "shard/counters.h"

namespace qgate::proxy {

class big_bufs {
  public:
    /// Most buffers a cache can hold (limits.big_bufs_max is bounded by it).
    static constexpr uint32_t kCountMax = 64;
    /// A cached buffer serves a take of n bytes only up to this many times n.
    static constexpr uint64_t kFitRatio = 4;

    big_bufs(shard::counters& ctr, uint32_t count_max, uint64_t bytes_max);

    /// Makes `b` n bytes long, its old contents dropped (not copied): in place when its
    /// capacity is enough, else in a cached buffer that fits, else in a new one. A buffer `b`
    /// loses on the way is given back (give). No zero fill.
    void fit(frame_buf& b, uint64_t n);
    /// A buffer of size n: past kKeepBytesMax a cached one that fits; else a new one of
    /// capacity_for(n).
    frame_buf take(uint64_t n);
    /// A cached buffer that fits n bytes as take() would pick it, resized to n; or, when none
    /// fits, an empty buffer: never an allocation (memory already held may serve a message
    /// whose length is only declared so far; new memory may not, see grow()).
    frame_buf take_cached(uint64_t n);
    /// Makes `b` n bytes long keeping its first `keep` bytes (a message growing as its bytes
    /// arrive): in place when its capacity is enough, else in take(n) with the kept bytes
    /// copied. The old buffer is given back when nothing was kept; one that held kept bytes is
    /// a smaller step of the same message, of no use to the next one: freed, not cached.
    /// Returns the bytes copied.
    uint64_t grow(frame_buf& b, uint64_t n, uint64_t keep);
    /// `b`'s bytes are done with. A buffer past kKeepBytesMax goes to the cache (`b` is left
    /// empty); a smaller one stays with `b`, capacity kept.
    void give(frame_buf& b);
    /// A free slot's reply buffer: past kKeepBytesMax it stays in `b`, counted here, if the
    /// bounds allow; else given (give).
    void park(frame_buf& b);
    /// The slot holding `b` is taken again: a parked buffer leaves the count.
    void unpark(const frame_buf& b);

    /// Capacity to allocate for n bytes, so that a slightly longer message later fits the
    /// same buffer: a power of two from 4 KiB up to kKeepBytesMax; past it, n rounded up to an
    /// eighth of the power of two below it (at most 12.5% more: 3 MiB + 1 gets 3.25 MiB).
    static uint64_t capacity_for(uint64_t n) {
        uint64_t c = 4096;
        while (c < n && c < kKeepBytesMax) c <<= 1;
        if (c >= n) return c;
        while (c <= n / 2) c <<= 1;  // the power of two at or below n
        const uint64_t step = c / 8;
        return (n + step - 1) / step * step;
    }

    uint32_t cached() const { return n_; }
    uint32_t parked() const { return parked_; }
    uint64_t bytes() const { return bytes_; }

  private:
    uint32_t fitting(uint64_t n) const;
    frame_buf take_at(uint32_t i, uint64_t n);
    bool room(uint64_t c) const;
    void count(uint64_t c);
    void uncount(uint64_t c);
    void remove(uint32_t i);
    void evict_oldest();

    shard::counters& ctr_;
    uint32_t count_max_;
    uint64_t bytes_max_;
    std::array<frame_buf, kCountMax> bufs_;  ///< bufs_[0, n_), oldest first
    uint32_t n_ = 0;
    uint32_t parked_ = 0;
    uint64_t parked_bytes_ = 0;
    uint64_t bytes_ = 0;  ///< capacities of the cached and the parked buffers
};

}  // namespace qgate::proxy

// A shard's cache of big byte buffers (the rule, its bounds, parking: big_bufs.h). Shard
// thread only.

#include "proxy/big_bufs.h"

#include <cstring>
#include <utility>

#include "qgate/check.h"

namespace qgate::proxy {

using shard::bump;
using shard::drop;

big_bufs::big_bufs(shard::counters& ctr, uint32_t count_max, uint64_t bytes_max)
    : ctr_(ctr), count_max_(count_max < kCountMax ? count_max : kCountMax),
      bytes_max_(bytes_max) {}

void big_bufs::fit(frame_buf& b, uint64_t n) {
    if (b.capacity() < n) {
        frame_buf t = take(n);
        give(b);  // a big one to the cache; a small one is freed with `t` below
        b.swap(t);
    }
    b.resize(n);  // default-initialised: no fill
}

frame_buf big_bufs::take(uint64_t n) {
    const uint32_t best = fitting(n);
    if (best < n_) return take_at(best, n);
    if (n > kKeepBytesMax) bump(ctr_.big_buf_misses);
    frame_buf b;
    b.reserve(capacity_for(n));
    b.resize(n);  // default-initialised: no fill
    return b;
}

frame_buf big_bufs::take_cached(uint64_t n) {
    const uint32_t best = fitting(n);
    return best < n_ ? take_at(best, n) : frame_buf();
}

uint64_t big_bufs::grow(frame_buf& b, uint64_t n, uint64_t keep) {
    if (b.capacity() >= n) {
        b.resize(n);  // default-initialised: no fill
        return 0;
    }
    frame_buf t = take(n);
    if (keep > 0) std::memcpy(t.data(), b.data(), keep);
    if (keep == 0) give(b);  // a big one to the cache; else freed with `t` below
    b.swap(t);
    return keep;
}

// The smallest cached buffer whose capacity is in [n, kFitRatio * n]; n_ if none (or n is
// small: those are never cached).
uint32_t big_bufs::fitting(uint64_t n) const {
    uint32_t best = n_;
    for (uint32_t i = 0; i < n_ && n > kKeepBytesMax; ++i) {
        const uint64_t c = bufs_[i].capacity();
        if (c >= n && c / kFitRatio <= n && (best == n_ || c < bufs_[best].capacity())) best = i;
    }
    return best;
}

frame_buf big_bufs::take_at(uint32_t i, uint64_t n) {
    frame_buf b;
    b.swap(bufs_[i]);
    remove(i);
    uncount(b.capacity());
    bump(ctr_.big_buf_hits);
    b.resize(n);
    return b;
}

void big_bufs::give(frame_buf& b) {
    const uint64_t c = b.capacity();
    if (c <= kKeepBytesMax) return;
    // Off, longer than the byte bound, or the parked buffers leave no room: freed.
    if (parked_ >= count_max_ || parked_bytes_ + c > bytes_max_ || c > bytes_max_) {
        frame_buf().swap(b);
        bump(ctr_.big_buf_evictions);
        return;
    }
    while (!room(c)) evict_oldest();  // ends: with nothing cached there is room
    b.clear();
    bufs_[n_].swap(b);
    ++n_;
    count(c);
}

void big_bufs::park(frame_buf& b) {
    const uint64_t c = b.capacity();
    if (c <= kKeepBytesMax) return;
    if (!room(c)) return give(b);
    ++parked_;
    parked_bytes_ += c;
    count(c);
}

void big_bufs::unpark(const frame_buf& b) {
    const uint64_t c = b.capacity();
    if (c <= kKeepBytesMax) return;
    // A free slot holds a big buffer only when it was parked (park gives away the rest).
    QGATE_ASSERT(parked_ > 0 && parked_bytes_ >= c);
    --parked_;
    parked_bytes_ -= c;
    uncount(c);
}

bool big_bufs::room(uint64_t c) const {
    return n_ + parked_ < count_max_ && c <= bytes_max_ && bytes_ + c <= bytes_max_;
}

void big_bufs::count(uint64_t c) {
    bytes_ += c;
    bump(ctr_.big_buf_bytes, c);
}

void big_bufs::uncount(uint64_t c) {
    bytes_ -= c;
    drop(ctr_.big_buf_bytes, c);
}

// Takes bufs_[i] out of the list, keeping the others oldest first (the list is a handful).
void big_bufs::remove(uint32_t i) {
    for (uint32_t j = i + 1; j < n_; ++j) bufs_[j - 1].swap(bufs_[j]);
    --n_;
}

void big_bufs::evict_oldest() {
    const uint64_t c = bufs_[0].capacity();
    frame_buf().swap(bufs_[0]);
    remove(0);
    uncount(c);
    bump(ctr_.big_buf_evictions);
}

}  // namespace qgate::proxy

// Send queue and its item pool; see send_queue.h. Shard thread only, no allocation after the
// pool is built at shard start.

#include "io/send_queue.h"

namespace qgate::io {

item_pool::item_pool(uint32_t capacity) : items_(capacity) {
    for (uint32_t i = capacity; i > 0; --i) {
        items_[i - 1].next = free_head_;
        free_head_ = i - 1;
    }
}

uint32_t item_pool::alloc() {
    uint32_t i = free_head_;
    if (i == kNil) return kNil;
    free_head_ = items_[i].next;
    items_[i].next = kNil;
    ++used_;
    return i;
}

void item_pool::free(uint32_t i) {
    items_[i].next = free_head_;
    free_head_ = i;
    --used_;
}

bool send_queue::push(item_pool& pool, const uint8_t* data, uint32_t len, int32_t bid, bool solo) {
    if (len == 0) return true;
    uint32_t i = pool.alloc();
    if (i == kNil) return false;
    send_item& it = pool[i];
    it.data = data;
    it.len = len;
    it.bid = bid;
    it.solo = solo;
    if (tail_ == kNil) {
        head_ = i;
    } else {
        pool[tail_].next = i;
    }
    tail_ = i;
    ++count_;
    if (bid >= 0) ++bufs_;
    bytes_ += len;
    return true;
}

int send_queue::gather(const item_pool& pool, iovec* iov, int max, uint64_t& total) const {
    int n = 0;
    total = 0;
    uint32_t off = head_off_;
    for (uint32_t i = head_; i != kNil && n < max; i = pool[i].next) {
        const send_item& it = pool[i];
        // A solo item goes alone: stop before it, or stop right after it when it is first.
        if (it.solo && n > 0) break;
        iov[n].iov_base = const_cast<uint8_t*>(it.data + off);
        iov[n].iov_len = it.len - off;
        total += it.len - off;
        off = 0;
        ++n;
        if (it.solo) break;
    }
    return n;
}

}  // namespace qgate::io

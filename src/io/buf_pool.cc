// Receive buffer pool; see buf_pool.h for ownership rules. Shard thread only.
//
// The memory is one anonymous mapping so it is page aligned (the kernel copies into it with
// copy_to_user; alignment keeps 16 KiB buffers on 4 page boundaries) and is never charged to
// RLIMIT_MEMLOCK: provided buffers are plain user memory, unlike registered (fixed) buffers.

#include "io/buf_pool.h"

#include <sys/mman.h>

#include "io/uring_compat.h"

namespace qgate::io {

buf_pool::~buf_pool() {
    if (mem_ != nullptr) munmap(mem_, size_t{entries_} * size_);
}

bool buf_pool::init(uint32_t entries, uint32_t size) {
    if (entries == 0 || entries > 32768 || (entries & (entries - 1)) != 0 || size == 0)
        return false;
    void* m = mmap(nullptr, size_t{entries} * size, PROT_READ | PROT_WRITE,
                   MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (m == MAP_FAILED) return false;
    mem_ = static_cast<uint8_t*>(m);
    entries_ = entries;
    size_ = size;
    free_.reserve(entries);
    taken_.assign(entries, 0);
    for (uint32_t i = entries; i > 0; --i) free_.push_back(static_cast<uint16_t>(i - 1));
    return true;
}

void buf_pool::attach_ring(io_uring_buf_ring* br) {
    ring_ = br;
    // Every buffer but a small reserve starts in the kernel's hands. The reserve, on the free
    // stack, is what acquire() hands out in ring mode: TLS connections decrypt a recv's bytes
    // into more buffers than the kernel filled (proxy/tls.h).
    reserve_ = entries_ / 32;  // none in a pool too small to spare one (tests)
    while (free_.size() > reserve_) {
        const uint16_t bid = free_.back();
        free_.pop_back();
        io_uring_buf_ring_add(ring_, data(bid), size_, bid, static_cast<int>(entries_ - 1),
                              static_cast<int>(unpublished_++));
    }
    publish();
}

int buf_pool::acquire() {
    if (free_.empty()) return -1;
    uint16_t bid = free_.back();
    free_.pop_back();
    ++held_;
    taken_[bid] = 1;
    return bid;
}

void buf_pool::note_taken(uint16_t bid) {
    ++held_;
    if (bid < entries_) taken_[bid] = 1;
}

bool buf_pool::release(uint16_t bid) {
    if (bid >= entries_ || taken_[bid] == 0) return false;
    taken_[bid] = 0;
    --held_;
    if (ring_ == nullptr || free_.size() < reserve_) {
        free_.push_back(bid);
        return true;
    }
    io_uring_buf_ring_add(ring_, data(bid), size_, bid, static_cast<int>(entries_ - 1),
                          static_cast<int>(unpublished_++));
    return true;
}

void buf_pool::publish() {
    if (ring_ == nullptr || unpublished_ == 0) return;
    io_uring_buf_ring_advance(ring_, static_cast<int>(unpublished_));
    unpublished_ = 0;
}

}  // namespace qgate::io

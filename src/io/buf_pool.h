// Per-shard receive buffer pool: `entries` buffers of `size` bytes in one page-aligned block.
// Under io_uring the free buffers live in a provided-buffer ring the kernel picks from; under
// epoll (and in tests) they live on a free stack we pop ourselves. Either way the pool keeps an
// exact count of buffers held by user space, so the ENOBUFS re-arm rule ("wait until half the
// pool is back") and the admin counters see the same number.
//
// Ownership: a buffer id is owned by exactly one place at a time: the pool, the kernel (ring
// mode, between publish and the recv CQE that names it) or one send queue item. Single thread.
// The pool knows which ids user space holds (one byte each), so a second release of the same
// id is refused instead of handing one buffer to two owners (release returns false).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

struct io_uring_buf_ring;

namespace qgate::io {

class buf_pool {
  public:
    buf_pool() = default;
    ~buf_pool();
    buf_pool(const buf_pool&) = delete;
    buf_pool& operator=(const buf_pool&) = delete;

    /// Allocates the memory. `entries` must be a power of two <= 32768. Startup only.
    bool init(uint32_t entries, uint32_t size);
    /// Switches to ring mode: every free buffer is handed to `br` (already registered).
    void attach_ring(io_uring_buf_ring* br);

    uint8_t* data(uint16_t bid) const { return mem_ + size_t{bid} * size_; }
    uint32_t size() const { return size_; }
    uint32_t entries() const { return entries_; }
    /// Buffers not held by user space (free stack, or published to / owned by the kernel).
    uint32_t available() const { return entries_ - held_; }
    uint32_t held() const { return held_; }
    bool ring_mode() const { return ring_ != nullptr; }

    /// Takes a free buffer (ring mode: from the small reserve kept out of the ring); -1 when
    /// there is none.
    int acquire();
    /// Ring mode: the kernel handed `bid` to us in a recv CQE.
    void note_taken(uint16_t bid);
    /// Gives `bid` back (stack push, or ring add; the ring tail moves at publish()). False,
    /// and nothing done, when user space does not hold `bid` (released twice, or never taken):
    /// handing it out twice would let two connections share its bytes. The caller counts it.
    bool release(uint16_t bid);
    /// Ring mode: makes released buffers visible to the kernel with one release-store.
    void publish();

  private:
    uint8_t* mem_ = nullptr;
    uint32_t size_ = 0;
    uint32_t entries_ = 0;
    uint32_t held_ = 0;
    std::vector<uint16_t> free_;
    std::vector<uint8_t> taken_;  ///< per buffer: 1 while user space holds it
    io_uring_buf_ring* ring_ = nullptr;
    uint32_t unpublished_ = 0;
    uint32_t reserve_ = 0;  ///< ring mode: buffers kept on the free stack for acquire()
};

}  // namespace qgate::io

// liburing 2.3 compatibility: every constant and helper that later liburing releases added and
// that qgate uses lives here, so the rest of src/io reads as if it were written against 2.8.
// Features are gated by probing the running kernel (io_uring_get_probe_ring, params.features),
// never by uname: vendor kernels backport, and version checks lie.
#pragma once

#include <liburing.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

// Kernel 6.0: defer task work to the submitting task's io_uring_enter(GETEVENTS); 2.3 has it,
// the guard only documents the dependency.
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif
// Kernel 6.3: MSG_RING can pass CQE flags to the target (liburing 2.4).
#ifndef IORING_MSG_RING_FLAGS_PASS
#define IORING_MSG_RING_FLAGS_PASS (1U << 1)
#endif
// Kernel 6.10: send/recv bundles (liburing 2.7); not used yet, kept for the next step.
#ifndef IORING_RECVSEND_BUNDLE
#define IORING_RECVSEND_BUNDLE (1U << 4)
#endif

namespace qgate::io::compat {

/// io_uring_setup_buf_ring (liburing 2.4, kernel 5.19): allocate a page-aligned ring of
/// `entries` io_uring_buf slots, register it as group `bgid` and initialise its tail.
/// Returns nullptr and sets `err` (a negative errno) on failure.
inline io_uring_buf_ring* setup_buf_ring(io_uring* ring, unsigned entries, int bgid, int& err) {
    const size_t bytes = entries * sizeof(io_uring_buf);
    void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) {
        err = -errno;
        return nullptr;
    }
    auto* br = static_cast<io_uring_buf_ring*>(mem);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<unsigned long>(br);
    reg.ring_entries = entries;
    reg.bgid = static_cast<__u16>(bgid);
    err = io_uring_register_buf_ring(ring, &reg, 0);
    if (err != 0) {
        munmap(mem, bytes);
        return nullptr;
    }
    io_uring_buf_ring_init(br);
    return br;
}

/// io_uring_free_buf_ring (liburing 2.4).
inline void free_buf_ring(io_uring* ring, io_uring_buf_ring* br, unsigned entries, int bgid) {
    io_uring_unregister_buf_ring(ring, bgid);
    munmap(br, entries * sizeof(io_uring_buf));
}

}  // namespace qgate::io::compat

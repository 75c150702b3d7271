// The io backend interface: one instance per shard, created on and used only by that shard's
// thread (except notify()). Operations are submissions; their results come back as
// `completion` records from wait(), shaped like io_uring CQEs whichever backend runs.
//
// Contract for every submission: exactly one completion without kFlagMore ends the operation
// (a multishot op may deliver any number with kFlagMore first). Buffers named by completions
// with kFlagBuffer belong to the consumer until it calls pool().release(). Memory passed by
// pointer (msghdr, sockaddr) must stay valid until the operation's final completion.
#pragma once

#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>

#include "io/buf_pool.h"
#include "io/io_types.h"

namespace qgate::io {

enum class backend_kind : uint8_t { uring, epoll };

struct backend_options {
    uint32_t buf_entries = 1024;  ///< provided buffers (power of two)
    uint32_t buf_size = 16384;
    uint32_t sq_entries = 256;
    uint32_t cq_entries = 4096;   ///< generous: CQ overflow costs a slow path (pitfall 11)
};

class io_backend {
  public:
    virtual ~io_backend() = default;

    virtual backend_kind kind() const = 0;
    virtual const char* name() const = 0;
    buf_pool& pool() { return pool_; }
    const io_stats& stats() const { return stats_; }

    /// Multishot accept on a listening socket; completions carry the new fd in res.
    virtual void accept_multishot(int fd, uint64_t ud) = 0;
    /// Multishot recv into pool buffers. Ends (no kFlagMore) on EOF (res 0), error, -ENOBUFS
    /// when the pool is empty, -ECANCELED after cancel(), or for the kernel's own reasons.
    virtual void recv_multishot(int fd, uint64_t ud) = 0;
    /// One recv of at most `len` bytes straight into `buf` (no provided buffer, so no copy out
    /// of the pool: the bytes land where they will be used). Completes once, without
    /// kFlagMore: res = bytes (> 0), 0 on EOF, -errno. `all`: keep reading until `len` bytes
    /// arrived (MSG_WAITALL; the epoll backend may still complete short, so callers always
    /// handle a short read). `buf` must stay valid until the completion.
    virtual void recv_into(int fd, uint64_t ud, uint8_t* buf, uint32_t len, bool all) = 0;
    /// One recv of at most `len` bytes into `buf` done now, without waiting (MSG_DONTWAIT) and
    /// without a completion: bytes (> 0), 0 on EOF, -errno (-EAGAIN: nothing there yet). For a
    /// consumer that just got a recv_into's bytes and expects more already queued (a feed's
    /// next frames): it reads on in the same loop turn instead of one turn per read. Only
    /// while no recv of any kind is in flight on `fd`. Virtual so that tests can script it.
    virtual int32_t recv_now(int fd, uint8_t* buf, uint32_t len) {
        const ssize_t n = ::recv(fd, buf, len, MSG_DONTWAIT);
        return n < 0 ? -errno : static_cast<int32_t>(n);
    }
    /// One sendmsg; `msg` and its iovecs must stay valid until the completion.
    virtual void send_msg(int fd, uint64_t ud, const msghdr* msg) = 0;
    /// Non-blocking connect of an unconnected socket; `sa` must outlive the operation.
    virtual void connect(int fd, uint64_t ud, const sockaddr* sa, socklen_t len) = 0;
    /// Asks the operation tagged `ud` on `fd` to end early (its final completion still comes).
    virtual void cancel(int fd, uint64_t ud) = 0;
    /// Asks every operation on `fd` to end early.
    virtual void cancel_fd(int fd) = 0;
    /// Closes `fd`; call only when no operation on it is outstanding.
    virtual void close_fd(int fd) = 0;

    /// Submits what is queued, then waits up to `timeout_ms` (-1 forever, 0 not at all) for
    /// completions and copies at most `cap` of them to `out`. Returns how many.
    virtual int wait(completion* out, int cap, int timeout_ms) = 0;
    /// Wakes the shard that owns `peer` (same backend kind). Called from this backend's thread.
    virtual void wake_peer(io_backend& peer) = 0;
    /// Wakes this backend's thread from any thread (signals, tests). Async-signal-safe.
    virtual void notify() = 0;

  protected:
    buf_pool pool_;
    io_stats stats_;
};

/// Creates a backend on the calling thread (the thread that will use it). nullptr with `error`
/// set when it cannot (for uring: the exact errno and a remedy).
std::unique_ptr<io_backend> make_uring_backend(const backend_options& o, std::string& error);
std::unique_ptr<io_backend> make_epoll_backend(const backend_options& o, std::string& error);

/// Startup probe for --io=auto: can this process create a ring with the flags qgate wants and
/// does the kernel support every opcode it submits? On false, `reason` holds the cause and the
/// remedy, ready to log.
bool probe_uring(std::string& reason);

}  // namespace qgate::io

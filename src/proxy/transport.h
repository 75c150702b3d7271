// The transport seam under every connection (HAProxy's xprt_ops): how a socket's bytes move
// between the kernel and the engine. Every socket of every kind does its io through its
// `sock::xp`; the engine and the kind handlers never call the io backend on a connection's fd
// themselves (listening sockets alone are the engine's).
//
// The socket calls are plain TCP over the shard's io backend (io_uring or epoll) for every
// socket. TLS clients (issue 18) add a record layer on top, in user space: kTLS was planned
// here (setsockopt TCP_ULP "tls", so io_uring sends stay zero-copy) but this kernel has none
// (ENOENT), so a TLS socket's recv completions and sends go through engine_tls.cc (tls.h:
// OpenSSL over a BIO pair; decrypted in place, encrypted into the pair) before the engine's
// usual completion handling; no handler sees a difference.
// Owner: the engine (one per shard, lives as long as it). Thread: the shard's.
#pragma once

#include <sys/socket.h>

#include <cstdint>

#include "io/backend.h"

namespace qgate::proxy {

class transport {
  public:
    virtual ~transport() = default;
    /// Multishot recv into the shard's provided buffers (io_backend::recv_multishot).
    virtual void recv(int fd, uint64_t ud) = 0;
    /// One recv straight into `buf` (io_backend::recv_into).
    virtual void recv_into(int fd, uint64_t ud, uint8_t* buf, uint32_t len, bool all) = 0;
    /// One recv done now, without waiting (io_backend::recv_now).
    virtual int32_t recv_now(int fd, uint8_t* buf, uint32_t len) = 0;
    virtual void send(int fd, uint64_t ud, const msghdr* msg) = 0;
    virtual void connect(int fd, uint64_t ud, const sockaddr* sa, socklen_t len) = 0;
    /// Cancels the operation `ud`; cancel_all: every operation on `fd`.
    virtual void cancel(int fd, uint64_t ud) = 0;
    virtual void cancel_all(int fd) = 0;
    /// Ends the connection's io at once (a pending recv completes with EOF, a send fails);
    /// the fd stays open until close().
    virtual void shutdown(int fd) = 0;
    virtual void close(int fd) = 0;
};

/// Plain TCP: every call is the io backend's own.
class plain_transport final : public transport {
  public:
    explicit plain_transport(io::io_backend& be) : be_(be) {}
    void recv(int fd, uint64_t ud) override { be_.recv_multishot(fd, ud); }
    void recv_into(int fd, uint64_t ud, uint8_t* buf, uint32_t len, bool all) override {
        be_.recv_into(fd, ud, buf, len, all);
    }
    int32_t recv_now(int fd, uint8_t* buf, uint32_t len) override {
        return be_.recv_now(fd, buf, len);
    }
    void send(int fd, uint64_t ud, const msghdr* msg) override { be_.send_msg(fd, ud, msg); }
    void connect(int fd, uint64_t ud, const sockaddr* sa, socklen_t len) override {
        be_.connect(fd, ud, sa, len);
    }
    void cancel(int fd, uint64_t ud) override { be_.cancel(fd, ud); }
    void cancel_all(int fd) override { be_.cancel_fd(fd); }
    void shutdown(int fd) override { ::shutdown(fd, SHUT_RDWR); }
    void close(int fd) override { be_.close_fd(fd); }

  private:
    io::io_backend& be_;
};

}  // namespace qgate::proxy

// TLS in user space, under a connection's transport (issue 18). This kernel has no kTLS
// (setsockopt(fd, SOL_TCP, TCP_ULP, "tls") fails with ENOENT), so the record layer is
// OpenSSL's, run over a BIO pair: the shard feeds the ciphertext a recv brought into the
// pair's network side, reads plaintext out with SSL_read, and sends what SSL_write left on the
// network side. No socket is ever handed to OpenSSL, so both io backends work unchanged.
//
// tls_server: one SSL_CTX per TLS listener, built on the control thread at start (errors name
// the file). tls_conn: one SSL + BIO pair per connection, made on the shard at accept (OpenSSL
// allocates then: per connection, never per message; the pair's buffers are sized once).
// Thread: tls_server is built before the shards start and only read (SSL_CTX is refcounted);
// a tls_conn belongs to its shard.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

struct ssl_ctx_st;
struct ssl_st;
struct bio_st;

namespace qgate {
struct listener_conf;
struct backend_conf;
struct config;
}

namespace qgate::proxy {

/// A TLS listener's context (certificate, key, CA, client verification), TLS 1.2 and 1.3.
class tls_server {
  public:
    /// Nullptr with `err` set ("listener 1: tls_key /x/y.pem: no such file") when it cannot.
    static std::shared_ptr<tls_server> make(const listener_conf& l, std::size_t index,
                                            std::string& err);
    ~tls_server();
    tls_server(const tls_server&) = delete;
    tls_server& operator=(const tls_server&) = delete;
    ssl_ctx_st* ctx() const { return ctx_; }

  private:
    explicit tls_server(ssl_ctx_st* c) : ctx_(c) {}
    ssl_ctx_st* ctx_;
};

/// A TLS backend's client context (issue 18): TLS 1.2 and 1.3, the peer's certificate always
/// verified (tls_ca, else the system store), its name checked against `name()` (tls_server_name,
/// else the address's host; an IP address as an IP), and the client certificate if configured.
/// Built on the control thread by upstream_table::add, at start and whenever a reload adds or
/// changes the backend (any change of its knobs is a new backend id, generation.h), and kept
/// in the backend's `upstream` record: a shard reads that record only once a generation naming
/// the id is published, so the context reaches the shards with the routing generation, as the
/// address does. Unchanged backends keep their context over a reload.
class tls_client {
  public:
    /// Nullptr with `err` set ("tls_ca /x/ca.pem: ...: no such file") when it cannot.
    static std::shared_ptr<tls_client> make(const backend_conf& b, std::string& err);
    ~tls_client();
    tls_client(const tls_client&) = delete;
    tls_client& operator=(const tls_client&) = delete;
    ssl_ctx_st* ctx() const { return ctx_; }
    const std::string& name() const { return name_; }
    bool ip() const { return ip_; }

  private:
    tls_client(ssl_ctx_st* c, std::string name, bool ip) : ctx_(c), name_(std::move(name)),
                                                           ip_(ip) {}
    ssl_ctx_st* ctx_;
    std::string name_;  ///< checked against the certificate; SNI unless an IP address
    bool ip_;
};

/// Every listener's current TLS context. Built before the shards start; rebuilt from the same
/// files on a reload (SIGHUP, .qgate.reload[]) so a renewed certificate serves new
/// connections while the ones open keep theirs (an SSL holds a reference to its SSL_CTX).
/// Thread: build and reload on the control thread; ctx() on any shard (one acquire load).
/// Every context made is kept until exit (a reload makes a few KiB), so a shard that loaded
/// the previous pointer can still SSL_new from it.
class tls_contexts {
  public:
    /// All TLS listeners' contexts, or false with `err` naming the file at fault.
    bool build(const config& cfg, std::string& err);
    /// Rebuilds every TLS listener's context; one that fails keeps its old one (logged).
    /// Returns how many were replaced.
    std::size_t reload(const config& cfg);
    ssl_ctx_st* ctx(std::size_t l) const {
        return l < n_ ? slots_[l].load(std::memory_order_acquire) : nullptr;
    }

  private:
    std::unique_ptr<std::atomic<ssl_ctx_st*>[]> slots_;
    std::size_t n_ = 0;
    std::vector<std::shared_ptr<tls_server>> keep_;
};

/// The first byte of every TLS connection (a handshake record): a client sending anything
/// else to a TLS listener speaks plain q-IPC.
inline constexpr uint8_t kTlsHandshakeRecord = 0x16;
/// Why a tls = true backend's connection failed when its first byte was not a TLS record.
inline constexpr const char* kTlsNoReply = "the backend answered without TLS (a plain q process?)";

/// One connection's TLS state.
class tls_conn {
  public:
    enum class rd : uint8_t { data, more, closed, failed };
    tls_conn() = default;
    ~tls_conn();
    tls_conn(const tls_conn&) = delete;
    tls_conn& operator=(const tls_conn&) = delete;
    /// `recv_max`: the most one recv brings (the pool's buffer size).
    bool init(ssl_ctx_st* ctx, uint32_t recv_max);
    /// The connect side (a TLS backend): SNI and the name check from `c`, then the first
    /// flight (ClientHello) is written into the pair, for the engine to send.
    bool init_client(const tls_client& c, uint32_t recv_max);
    /// Why the handshake failed, short, for the log: OpenSSL's reason ("certificate verify
    /// failed: hostname mismatch"); the error queue is cleared.
    std::string reason();
    /// Ciphertext received; false when the pair cannot take it all (more than a record behind).
    bool feed(const uint8_t* p, uint32_t n);
    /// Plaintext into `out` (up to `cap`): data (`got` > 0), more (nothing yet: the handshake
    /// runs, or a record is partial), closed (close_notify), failed (see error()).
    rd read(uint8_t* out, uint32_t cap, uint32_t& got);
    /// Encrypts as much of `iov` as the pair takes; returns the plaintext bytes taken.
    uint64_t write(const iovec* iov, int n);
    /// Ciphertext waiting to be sent (one contiguous piece of the pair's ring).
    uint32_t pending(uint8_t** p) const;
    void sent(uint32_t n);
    bool established() const;
    /// The reason of the last failure, for the log (OpenSSL's error queue, cleared).
    std::string error();

    // ---- the send in flight on the socket (engine_tls.cc)
    uint64_t plain_taken = 0;  ///< plaintext the ciphertext in flight stands for
    bool own_send = false;     ///< the transport's own send (handshake records), no item behind
    bool counted = false;      ///< handshake outcome counted
    bool first = true;         ///< no byte received yet (plain q-IPC check)
    bool cert_asked = false;   ///< connect side: a certificate was asked for, none configured
    /// recv_into sockets (pool links, the feed): the ciphertext of one read lands here, then
    /// is decrypted into the sink's memory (frame_reader.cc). Sized at connect.
    std::unique_ptr<uint8_t[]> cin;
    uint32_t cin_cap = 0;
    iovec out_iov{};
    // msghdr lives in the engine's sock (k.msg), reused

  private:
    bool put(const uint8_t* p, size_t n, uint64_t& taken);
    ssl_st* ssl_ = nullptr;
    bio_st* net_ = nullptr;  ///< the pair's network side: ciphertext in and out
    int last_err_ = 0;
};

}  // namespace qgate::proxy

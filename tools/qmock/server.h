// qmock's server: one thread, one epoll loop, serial like q's main loop. Owns the listener,
// the connections, the deferred-response timers and the signal handling.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <queue>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "buffers.h"
#include "discovery.h"
#include "qgate/qipc/types.h"
#include "registrar.h"
#include "tickerplant.h"

struct ssl_ctx_st;
struct ssl_st;

namespace qmock {

enum class compress_mode : uint8_t { auto_, always, never };

/// --zpg: whether the process acts as if it defined `.z.pg`. `none` is a plain q process: it
/// answers sync calls in the order they arrive, so `deferred` and `--work-ms` block instead of
/// answering later (only a .z.pg can defer with -30!). `defer` is a .z.pg that defers with
/// -30!: responses may leave out of request order. A gateway tells them apart with the probe
/// `@[get;`.z.pg;`]~`` (1b: none, 0b: defer).
enum class zpg_mode : uint8_t { none, defer };

struct options {
    std::string host = "127.0.0.1";
    int port = -1;
    std::string port_file;
    std::string name = "qmock";
    std::string users_file;
    compress_mode compress = compress_mode::auto_;
    int64_t rows = 10;
    /// getTrades answers after this many ms: blocking the process under zpg none, as a -30!
    /// deferred response (without blocking) under zpg defer; 0 = at once.
    int64_t work_ms = 0;
    /// --work-us: every request (sync or async, any function) is handled after the process
    /// has slept this long, serially, like a q busy on each query; 0 = no wait.
    int64_t work_us = 0;
    zpg_mode zpg = zpg_mode::none;
    uint64_t message_bytes_max = uint64_t{1} << 30;  ///< longest request or reply (1 GiB)
    bool verbose = false;
    /// --record: every message received after a handshake is appended here as read off the
    /// wire (still compressed, header included), so a test can see exactly what arrived.
    std::string record_file;
    tp_options tp;  ///< --tickerplant and its --tp-* settings
    reg_options reg;  ///< --register-resource, --discovery-register and their settings
    disc_options disc;  ///< --discovery: act as TorQ's discovery service
    /// TLS, as q's -E: 0 plain, 1 plain and TLS on the one port (told apart by the first
    /// byte, 0x16 for TLS), 2 TLS only (a plain client is closed). tls.cc.
    int tls_mode = 0;
    std::string tls_cert;  ///< --tls-cert, else KX_SSL_CERT_FILE
    std::string tls_key;   ///< --tls-key, else KX_SSL_KEY_FILE
    /// --tls-verify-client CA (else KX_SSL_CA_CERT_FILE when KX_SSL_VERIFY_CLIENT=YES):
    /// clients must present a certificate signed by this CA.
    std::string tls_verify_ca;
};

/// One connection. State machine of an accepted one: handshake (collecting "user:pw" + cap +
/// NUL) → ready (framed messages both ways) → dead (closed, freed after the current event).
/// One qmock opened itself (`outbound`, registrar.h): connecting (waiting for EPOLLOUT) →
/// handshake sent, waiting for the 1-byte capability → ready → dead. Once ready both kinds are
/// served alike: q answers requests on a handle it opened as on one it accepted.
struct conn {
    int fd = -1;
    uint64_t id = 0;           ///< unique for the process lifetime (timers refer to it)
    bool outbound = false;     ///< opened by qmock (a registration), not accepted
    bool connecting = false;   ///< outbound, connect() still in progress
    bool handshaken = false;
    bool dead = false;
    bool loopback = true;      ///< peer address is loopback (no compression in auto mode)
    uint32_t events = 0;       ///< epoll interest currently registered
    bool read_paused = false;  ///< EPOLLIN removed: too much unsent output (back-pressure)
    bool dirty = false;        ///< on the server's flush list
    uint8_t capability = 0;
    bool tls_pending = false;  ///< -E 1: the first byte decides plain or TLS (tls.cc)
    ssl_st* ssl = nullptr;     ///< a TLS connection's OpenSSL state, on its fd (tls.cc)
    std::string user;
    std::string peer;
    in_buffer in;
    out_queue out;
};

class server {
  public:
    explicit server(options opt);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Loads users, binds, listens and writes the port file. False with `error` on failure.
    bool start(std::string& error);
    /// Serves until SIGTERM / SIGINT. Returns the process exit code.
    int run();

    const options& opts() const { return opt_; }

    /// Queues one message (header added, compressed when the policy says so) on `c`.
    void send(conn& c, qgate::qipc::msg_type type, std::span<const uint8_t> body);
    /// Queues a response carrying the q error `'text`.
    void send_error(conn& c, std::string_view text);
    /// Answers `c`'s waiting sync request after `delay_ms` (a -30!-style deferred response).
    void defer_response(conn& c, uint64_t delay_ms, std::vector<uint8_t> body, bool is_error);
    /// Writes all pending output that the sockets take now (called before blocking in sleep).
    void flush_all();
    /// The open connection with this id, or nullptr.
    conn* find_conn(uint64_t id);
    /// Starts a non-blocking connection to host:port (connect.cc); the handshake (`user:pw`,
    /// capability 3) follows when it completes, then registrar::on_ready. Null with `error`
    /// when it fails at once. Closing it later calls registrar::on_closed.
    conn* connect_out(const std::string& host, uint16_t port, std::string& error);
    /// The port the listener is bound to (the --port, or the kernel's choice for 0).
    uint16_t bound_port() const { return bound_port_; }
    /// --discovery's state, or nullptr.
    discovery_service* disc() { return disc_.get(); }

  private:
    struct timer {
        uint64_t due_ns;
        uint64_t seq;
        uint64_t conn_id;
        bool is_error;
        std::vector<uint8_t> body;
        bool operator>(const timer& o) const {
            return due_ns != o.due_ns ? due_ns > o.due_ns : seq > o.seq;
        }
    };

    bool load_users(std::string& error);
    // tls.cc: q's -E on the listener; a TLS connection's reads and writes go through its SSL
    bool tls_start(std::string& error);
    bool tls_accepted(conn& c);
    ssize_t conn_read(conn& c, uint8_t* p, std::size_t n);
    ssize_t conn_writev(conn& c, const iovec* iov, int n);
    void tls_free(conn& c);
    bool write_port_file(uint16_t port, std::string& error);
    bool open_record(std::string& error);
    void record(std::span<const uint8_t> msg);
    void accept_all();
    void on_event(conn& c, uint32_t events);
    void on_readable(conn& c);
    void on_writable(conn& c);
    void process_input(conn& c);
    bool process_handshake(conn& c);
    bool process_capability(conn& c);
    void finish_connect(conn& c);
    bool process_frame(conn& c);
    void handle_message(conn& c, std::span<const uint8_t> msg);
    void work();
    void flush(conn& c);
    void mark_dirty(conn& c);
    void flush_dirty();
    void maybe_resume(conn& c);
    void update_interest(conn& c);
    bool should_compress(const conn& c) const;
    std::size_t bytes_needed(conn& c);
    void close_conn(conn& c, const char* why);
    void reap();
    void fire_timers();
    int next_timeout_ms() const;

    options opt_;
    int listen_fd_ = -1;
    int record_fd_ = -1;  ///< --record file, O_APPEND
    int epoll_fd_ = -1;
    uint64_t next_conn_id_ = 1;
    uint64_t timer_seq_ = 0;
    std::unordered_map<std::string, std::string> users_;
    std::unordered_map<int, std::unique_ptr<conn>> conns_;    ///< by fd
    std::unordered_map<uint64_t, conn*> by_id_;
    std::vector<conn*> dirty_;
    std::vector<conn*> flushing_;  ///< flush_dirty's batch (kept to avoid reallocation)
    std::vector<int> dead_fds_;
    std::priority_queue<timer, std::vector<timer>, std::greater<timer>> timers_;
    std::unique_ptr<tickerplant> tp_;  ///< --tickerplant only
    std::unique_ptr<registrar> reg_;  ///< --register-resource / --discovery-register only
    std::unique_ptr<discovery_service> disc_;  ///< --discovery only
    uint16_t bound_port_ = 0;
    ssl_ctx_st* tls_ctx_ = nullptr;  ///< --tls-mode 1/2
};

/// Monotonic clock in nanoseconds.
uint64_t now_ns();

/// Writes one line "qmock[name]: ..." to stderr.
[[gnu::format(printf, 1, 2)]] void log_line(const char* fmt, ...);

}  // namespace qmock

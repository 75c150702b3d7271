// The per-shard session-mode engine: owns the shard's listeners, client connections and their
// dedicated upstream connections, and turns io completions into q-IPC session behaviour.
// Runs only on its shard's thread (shard_hooks). The io backend is an interface, so tests
// drive the engine with a fake backend and fabricated completions (fault injection).
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/backend.h"
#include "io/send_queue.h"
#include "net/framer.h"
#include "proxy/upstreams.h"
#include "qgate/config.h"
#include "shard/counters.h"
#include "shard/shard.h"
#include "shard/timer_heap.h"

namespace qgate::proxy {

enum class role : uint8_t { client = 0, upstream = 1 };

/// Receive arm state of a socket's multishot recv.
///   idle --arm--> armed --(final CQE: EOF, error, ENOBUFS, no F_MORE)--> idle
///   armed --pause (cancel)--> cancelling --(final CQE, -ECANCELED)--> idle
/// A socket re-arms from idle unless it is closing, paused (peer queue above the high
/// watermark) or starved (ENOBUFS: waits until half the buffer pool is back).
enum class rx_state : uint8_t { idle, armed, cancelling };

struct sock {
    int fd = -1;
    uint32_t gen = 1;            ///< bumped when the fd is closed; stale user_data is ignored
    rx_state rx = rx_state::idle;
    bool paused = false;
    bool starved = false;
    bool closing = false;        ///< shut down; freed when `ops` reaches 0
    bool send_inflight = false;
    bool dirty = false;          ///< on the engine's flush list
    uint16_t ops = 0;            ///< submitted operations whose final completion is pending
    uint64_t inflight_bytes = 0;
    io::send_queue sq;
    net::framer fr;              ///< frames of the bytes this socket receives
    msghdr msg{};
    iovec iov[io::kIovMax];
};

/// Session life cycle (one client connection and at most one upstream connection):
///   handshake     reading the client's credentials (timer: handshake_timeout_ms)
///   connecting    upstream connect in flight (timer: connect_timeout_ms)
///   up_handshake  upstream credentials sent, waiting for its 1-byte reply (same timer)
///   streaming     bytes forwarded both ways, framed, outstanding sync requests counted
///   no_backend    every backend of the group failed: the client handshake is completed with
///                 capability min(client, 3) and every sync request is answered with
///                 'qgate: no backend available for group <G>' (async ones are dropped)
///   closing       both sockets shut down; the slot is freed when their operations finish
/// connecting/up_handshake failures (refused, timeout, EOF before the reply byte) try the next
/// backend of the group; when none is left the session goes to no_backend.
enum class sstate : uint8_t { free, handshake, connecting, up_handshake, streaming, no_backend, closing };

struct session {
    uint32_t gen = 1;
    sstate st = sstate::free;
    uint32_t listener = 0;
    uint32_t index = 0;           ///< slot in the engine's table
    uint32_t next_free = 0;       ///< free-list link while free
    sock s[2];
    uint8_t client_cap = 0;
    uint8_t cap = 0;              ///< negotiated capability (frame limits)
    uint8_t reply = 0;            ///< the 1-byte handshake reply (sent from here)
    bool retry = false;           ///< when the upstream socket is freed, try the next backend
    bool close_after_flush = false;
    int backend = -1;
    uint64_t tried = 0;
    uint64_t outstanding = 0;     ///< client sync requests not yet answered by the backend
    uint64_t deadline_ms = 0;     ///< 0 = no timer
    uint32_t hs_len = 0;          ///< bytes of `hs` that were the handshake itself
    std::string hs;               ///< client handshake (+ any bytes sent before the reply)
    std::string up_hs;            ///< upstream handshake
    std::string err;              ///< the q error frame this session answers with
};

struct engine_listener {
    int fd = -1;
    bool closing = false;
    bool armed = false;
};

struct engine_options {
    config_ptr cfg;
    upstream_table* upstreams = nullptr;
    std::vector<int> listener_fds;        ///< this shard's fd per cfg.listeners entry
    const std::atomic<bool>* stop = nullptr;  ///< set by the signal thread (shard 0 polls it)
    uint64_t (*clock_ms)() = nullptr;         ///< monotonic ms; nullptr = shard::now_ms (tests inject)
};

class engine final : public shard::shard_hooks {
  public:
    engine(shard::shard& sh, engine_options o);
    /// For tests: run against any backend and counter block, no shard thread.
    engine(io::io_backend& be, shard::counters& ctr, engine_options o, shard::shard* sh = nullptr);
    ~engine() override;

    void on_completion(const io::completion& c) override;
    void on_message(uint32_t from, const shard::xmsg& m) override;
    void on_turn(uint64_t now_ms) override;
    void on_notify() override;
    int sleep_budget_ms(uint64_t now_ms) override;
    bool finished() const override;

    void start_drain(uint64_t now_ms);
    uint32_t sessions_open() const { return sessions_open_; }
    session* session_at(uint32_t idx) { return idx < sessions_.size() ? sessions_[idx].get() : nullptr; }
    uint64_t ud(io::op o, uint32_t sess, role r) const;

  private:
    // engine.cc: io plumbing
    void arm_listeners();
    void on_accept(uint32_t l, const io::completion& c);
    void on_recv(uint32_t sid, const io::completion& c);
    void on_send(uint32_t sid, const io::completion& c);
    void on_connect(uint32_t sid, const io::completion& c);
    session* alloc_session();
    void arm_recv(session& ss, role r);
    void pause_recv(session& ss, role r);
    void resume_recv(session& ss, role r);
    void mark_dirty(session& ss, role r);
    void flush_sends();
    void close_sock(session& ss, role r);
    void maybe_free(session& ss, role r);
    void close_session(session& ss);
    void set_timeout(session& ss, uint32_t delay_ms);
    void rearm_starved();
    uint32_t pinned_bufs() const;
    bool push(session& ss, role to, const uint8_t* p, uint32_t n, int32_t bid, bool solo = false);
    void release(uint16_t bid) { be_.pool().release(bid); }
    void after_send(session& ss, role r);
    void check_high(session& ss, role from, const sock& dst);
    bool idle(const session& ss) const;
    void expire_timers(uint64_t now_ms);

    // session.cc: the q protocol
    void on_data(session& ss, role r, uint16_t bid, uint32_t n);
    void on_client_handshake(session& ss, const uint8_t* p, uint32_t n);
    void start_upstream(session& ss);
    void on_upstream_connected(session& ss);
    void on_upstream_reply(session& ss, uint16_t bid, uint32_t n);
    void forward(session& ss, role from, uint16_t bid, const uint8_t* p, uint32_t n);
    void forward_copy(session& ss, role from, const uint8_t* p, uint32_t n);
    void enter_no_backend(session& ss);
    void no_backend_data(session& ss, const uint8_t* p, uint32_t n);
    void on_eof(session& ss, role r);
    void on_upstream_failed(session& ss);
    void on_timeout(session& ss);
    void set_error(session& ss, const std::string& text);

    io::io_backend& be_;
    shard::counters& ctr_;
    shard::shard* shard_;
    engine_options opt_;
    const limits_conf& lim_;
    std::vector<engine_listener> listeners_;
    std::vector<std::unique_ptr<session>> sessions_;
    uint32_t free_head_ = UINT32_MAX;
    uint32_t sessions_open_ = 0;
    io::item_pool items_;
    shard::timer_heap timers_;
    std::vector<uint32_t> dirty_;    ///< sock ids (session * 2 + role) with sends to flush
    std::vector<uint32_t> starved_;  ///< sock ids waiting for buffers after ENOBUFS
    uint32_t bufs_high_ = 0;         ///< pool buffers one queue may hold (session_buf_share_pct)
    uint32_t bufs_low_ = 0;          ///< resume at or below this (half of bufs_high_)
    uint64_t now_ms_ = 0;
    bool draining_ = false;
    uint64_t drain_deadline_ms_ = 0;
    bool forced_ = false;
};

/// Sock id <-> (session, role) for user_data slots.
constexpr uint32_t sock_id(uint32_t sess, role r) { return sess * 2 + static_cast<uint32_t>(r); }

}  // namespace qgate::proxy

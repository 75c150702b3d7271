// The per-shard session-mode engine: owns the shard's listeners, client connections and their
// dedicated upstream connections, and turns io completions into q-IPC session behaviour.
// Runs only on its shard's thread (shard_hooks). The io backend is an interface, so tests
// drive the engine with a fake backend and fabricated completions (fault injection).
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "io/backend.h"
#include "io/send_queue.h"
#include "net/framer.h"
#include "proxy/conn_handler.h"
#include "proxy/fanout.h"
#include "proxy/frame_cut.h"
#include "proxy/pubsub_state.h"
#include "proxy/request.h"
#include "proxy/frame_reader.h"
#include "proxy/transport.h"
#include "proxy/upstream_link.h"
#include "proxy/upstreams.h"
#include "qgate/check.h"
#include "qgate/config.h"
#include "shard/counters.h"
#include "shard/shard.h"
#include "shard/timer_heap.h"

namespace qgate::proxy {

class session_clients;
class request_clients;
class fanouts;
class pool_links;
class subscribers;
class ps_reader;
class pubsub_hub;
class feed_link;

enum class role : uint8_t { client = 0, upstream = 1 };

/// Bytes a client may send after its handshake but before qgate's reply (it should send none).
inline constexpr size_t kEarlyBytesMax = 65536;

/// Receive arm state of a socket's multishot recv.
///   idle --arm--> armed --(final CQE: EOF, error, ENOBUFS, no F_MORE)--> idle
///   armed --pause (cancel)--> cancelling --(final CQE, -ECANCELED)--> idle
/// A socket re-arms from idle unless it is closing, paused (peer queue above the high
/// watermark) or starved (ENOBUFS: waits until half the buffer pool is back).
/// A socket with `into` set reads with single-shot recv_into instead (pub/sub ingest, straight
/// into the frame's update buffer): armed = one read in flight, back to idle on its completion;
/// a pause cancels nothing, it only keeps the next read from being armed.
/// A pool connection's socket reads with recv_into too (pool_rx.cc): idle --arm--> armed
/// --(its one CQE)--> idle; never paused or starved (it uses no pool buffers).
enum class rx_state : uint8_t { idle, armed, cancelling };

struct sock {
    int fd = -1;
    transport* xp = nullptr;     ///< how its bytes move (transport.h); set with fd
    uint32_t gen = 1;            ///< bumped when the fd is closed; stale user_data is ignored
    rx_state rx = rx_state::idle;
    bool paused = false;
    bool starved = false;
    bool closing = false;        ///< shut down; freed when `ops` reaches 0
    bool into = false;           ///< receives by recv_into (op::read), not multishot recv
    bool send_inflight = false;
    bool dirty = false;          ///< on the engine's flush list
    uint16_t ops = 0;            ///< submitted operations whose final completion is pending
    uint32_t asked = 0;          ///< recv_into: bytes the read in flight may bring at most
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
/// Request mode adds two states: `request` (a client whose calls are routed one by one; s[1]
/// unused) and `pool` (one pooled upstream connection of a backend whose home is this shard;
/// s[0] unused, never counted as a client, kept for the engine's lifetime).
/// Pub/sub adds `pubsub` (a subscriber or publisher on a pubsub listener, subscribers.cc)
/// and `ps_up` (the hub's upstream tickerplant link in s[1], like `pool`: never freed).
enum class sstate : uint8_t {
    free, handshake, connecting, up_handshake, streaming, no_backend, closing, request, pool,
    pubsub, ps_up
};

/// A pool link (request mode): an upstream link (upstream_link.h: the slot's `link` goes
/// down -> connecting -> handshake -> ready, and back down on any failure, reconnecting with
/// backoff). While ready it carries at most one request (`cur`): it is done when its bytes are
/// sent and, for a sync call, the backend's response frame has arrived.
/// Receiving (pool_rx.cc) does not use the shard's provided buffers: while the socket is open
/// exactly one recv_into into `rx` is armed (the handshake byte, then frames), and a whole
/// reply is handed to its slot by swapping `rx` with `cur->rep`.
struct pool_conn {
    uint32_t backend = 0;
    request* cur = nullptr;
    /// The call of a connection that failed with its send in flight: the kernel may still read
    /// its bytes (lent from a client's receive buffer, or the slot's own), so it is answered
    /// only when the socket's operations are done (pool_freed), not by pool_failed.
    request* parked = nullptr;
    bool probing = false;  ///< the health query is outstanding (no request is attached)
    bool sent = false;
    bool replied = false;
    /// What the frame being read is: the awaited response (swapped into cur->rep), the awaited
    /// response of an abandoned call (discarded), a sync call from the backend (answered with
    /// an error), or anything else unsolicited (dropped).
    enum : uint8_t { stray, reply, discard, callback, probe } mode = stray;
    /// Receive buffer. size() == capacity(): all of it is room for recv_into. The frame being
    /// read starts at rx[0]; rx[0, have) has arrived. Owned by the kernel while a read is armed
    /// (touched only from that read's completion, which always comes, even after a close).
    frame_buf rx;
    uint64_t have = 0;   ///< bytes of rx received
    uint64_t need = 0;   ///< length of the frame at rx[0] once its header is in; 0 = unknown
    uint64_t skip = 0;   ///< bytes of an unwanted frame too long for rx still to read and drop
    uint64_t moved = 0;  ///< bytes of the current frame copied (rx growth, a move to the front)
};

/// A client of a request-mode listener.
struct rq_client {
    request* head = nullptr;  ///< sync calls in the order sent, answered from the front
    request* tail = nullptr;
    request* fill = nullptr;  ///< the frame being read
    uint64_t off = 0;         ///< bytes of `fill->req` written
    bool skip = false;        ///< discarding the current frame (a response from the client)
    bool oversize = false;    ///< `fill` is a call longer than request_bytes_max: body skipped
    bool undecided = false;   ///< `fill` has its header only: lend or copy at its first body byte
    /// The input chunk being framed (request_data): its receive buffer (-1: bytes the session
    /// owns) and first byte, so a frame lying whole in it can be lent (request_lend.cc).
    int32_t in_bid = -1;
    const uint8_t* in_p = nullptr;
    uint32_t pending = 0;     ///< entries of the order list
    uint32_t async_out = 0;   ///< async calls handed to a backend, not yet sent
    /// Bytes received but not yet framed because the client is over its quota (kept in their
    /// receive buffers, in order); read again as calls complete.
    io::send_queue held;
    bool unholding = false;   ///< request_unhold is running (answers it triggers re-enter it)
    bool slot_wait = false;   ///< on the engine's slot_waiters_ list (the shard ran out of slots)
    bool peer_local = true;  ///< loopback / Unix peer: joined replies are not compressed (q's rule)
    frame_cut cut;
};

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
    std::string user;             ///< handshake user (request-mode routes match on it)
    conn_handler* h = nullptr;    ///< the kind that owns this slot (conn_handler.h)
    link_state link;              ///< its upstream socket's link (upstream_link.h)
    rq_client rq;                 ///< st == request
    pool_conn pc;                 ///< st == pool
    std::unique_ptr<ps_conn> ps;  ///< st == pubsub / ps_up (kept for the slot's next use)
};

/// Home-shard state of one backend (request mode): its FIFO of waiting requests and its pool.
struct home_backend {
    bool mine = false;
    request_fifo queue;
    uint32_t inflight = 0;
    uint32_t up = 0;        ///< pool connections in `ready`
    uint32_t failures = 0;  ///< consecutive failed connects (any connection)
    bool ejected = false;
    std::vector<uint32_t> conns;  ///< session slots of its pool connections
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
    uint64_t (*clock_ms)() = nullptr;  ///< monotonic ms; nullptr = shard::now_ms (tests inject)
    route_plane* plane = nullptr;             ///< request mode; nullptr = session mode only
    pubsub_plane* pubsub = nullptr;           ///< pubsub listeners; nullptr = none
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

    void start_drain();
    uint32_t sessions_open() const { return sessions_open_; }
    session* session_at(uint32_t idx) {
        return idx < sessions_.size() ? sessions_[idx].get() : nullptr;
    }
    uint64_t ud(io::op o, uint32_t sess, role r) const;

  private:
    friend class session_clients;
    friend class request_clients;
    friend class fanouts;
    friend class pool_links;
    friend class subscribers;
    friend class ps_reader;
    friend class pubsub_hub;
    friend class feed_link;
    friend class upstream_link;
    friend class frame_reader;

    void arm_listeners();
    void tell_peers_drain();
    void on_accept(uint32_t l, const io::completion& c);
    void on_recv(uint32_t sid, const io::completion& c);
    void on_send(uint32_t sid, const io::completion& c);
    void on_connect(uint32_t sid, const io::completion& c);
    void on_read(uint32_t sid, const io::completion& c);
    void drop_completion(session& ss, const io::completion& c);
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
    /// Buffer ownership: a buffer given back twice would be handed to two sockets at once; the
    /// pool refuses the second release, which is counted (the wrong holder is unknown here).
    void release(uint16_t bid) { (void)QGATE_CHECK(ctr_, be_.pool().release(bid)); }
    bool queue_low(const session& ss, role r) const;
    void close_if_flushed(session& ss, role r);
    static bool quiet(const session& ss);
    static bool is_client(const session& ss);
    void check_high(session& ss, role from, const sock& dst);
    bool idle(const session& ss) const;
    void expire_timers(uint64_t now_ms);
    void on_data(session& ss, role r, uint16_t bid, uint32_t n);
    void on_client_handshake(session& ss, const uint8_t* p, uint32_t n);
    void on_eof(session& ss, role r);
    void on_timeout(session& ss);
    void release_item(int32_t bid);
    void init_request_mode();

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
    route_plane* plane_ = nullptr;
    uint32_t me_ = 0;  ///< this shard's id

    plain_transport plain_;  ///< the transport of every socket today (TLS: issue 18)
    upstream_link link_;     ///< connect, handshake, backoff of every upstream socket
    frame_reader frames_;    ///< recv_into reads of pool links and pub/sub feeds
    std::vector<conn_handler*> listener_kind_;  ///< per listener: the kind of its clients
    std::unique_ptr<session_clients> sc_;
    std::unique_ptr<request_clients> rq_;
    std::unique_ptr<fanouts> fan_;
    std::unique_ptr<pool_links> pool_;
    std::unique_ptr<subscribers> subs_;
    std::unique_ptr<ps_reader> psr_;
    std::unique_ptr<pubsub_hub> hub_;
    std::unique_ptr<feed_link> feed_;
};

/// send_queue item tags: bid >= 0 is a pool buffer, -1 nothing, <= -2 a request slot whose
/// answer bytes the item points at (freed when sent).
constexpr int32_t request_tag(uint32_t index) { return -2 - static_cast<int32_t>(index); }

/// Sock id <-> (session, role) for user_data slots.
constexpr uint32_t sock_id(uint32_t sess, role r) { return sess * 2 + static_cast<uint32_t>(r); }

}  // namespace qgate::proxy

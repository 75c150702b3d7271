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
#include "proxy/fanout.h"
#include "proxy/frame_cut.h"
#include "proxy/pubsub_state.h"
#include "proxy/request.h"
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
/// A socket with `into` set reads with single-shot recv_into instead (pub/sub ingest, straight
/// into the frame's update buffer): armed = one read in flight, back to idle on its completion;
/// a pause cancels nothing, it only keeps the next read from being armed.
/// A pool connection's socket reads with recv_into too (pool_rx.cc): idle --arm--> armed
/// --(its one CQE)--> idle; never paused or starved (it uses no pool buffers).
enum class rx_state : uint8_t { idle, armed, cancelling };

struct sock {
    int fd = -1;
    uint32_t gen = 1;            ///< bumped when the fd is closed; stale user_data is ignored
    rx_state rx = rx_state::idle;
    bool paused = false;
    bool starved = false;
    bool closing = false;        ///< shut down; freed when `ops` reaches 0
    bool into = false;           ///< receives by recv_into (op::read), not multishot recv
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
/// Request mode adds two states: `request` (a client whose calls are routed one by one; s[1]
/// unused) and `pool` (one pooled upstream connection of a backend whose home is this shard;
/// s[0] unused, never counted as a client, kept for the engine's lifetime).
/// Pub/sub adds `pubsub` (a subscriber or publisher on a pubsub listener, pubsub_client.cc)
/// and `ps_up` (the hub's upstream tickerplant link in s[1], like `pool`: never freed).
enum class sstate : uint8_t {
    free, handshake, connecting, up_handshake, streaming, no_backend, closing, request, pool,
    pubsub, ps_up
};

/// A pooled upstream connection (request mode):
///   down --timer (backoff) or start--> connecting --connected--> handshake --reply byte-->
///   ready; any failure --> socket closed --> down (backoff with jitter, then again).
/// While ready it carries at most one request (`cur`): it is done when its bytes are sent and,
/// for a sync call, the backend's response frame has arrived.
/// Receiving (pool_rx.cc) does not use the shard's provided buffers: while the socket is open
/// exactly one recv_into into `rx` is armed (the handshake byte, then frames), and a whole
/// reply is handed to its slot by swapping `rx` with `cur->rep`.
enum class pstate : uint8_t { down, connecting, handshake, ready };

struct pool_conn {
    uint32_t backend = 0;
    pstate st = pstate::down;
    uint32_t attempt = 0;  ///< consecutive failures of this connection (backoff exponent)
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
    // engine.cc: io plumbing
    void arm_listeners();
    void tell_peers_drain();
    void on_accept(uint32_t l, const io::completion& c);
    void on_recv(uint32_t sid, const io::completion& c);
    void on_send(uint32_t sid, const io::completion& c);
    void on_connect(uint32_t sid, const io::completion& c);
    void on_read(uint32_t sid, const io::completion& c);
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
    /// Opens the upstream socket of `ss` to `backend` and submits the connect, bounded by
    /// connect_timeout_ms; false (counted) when no socket could be made.
    bool connect_upstream(session& ss, int backend);
    /// Sends `backend`'s credentials, capability `cap` (0: none, as a client that sent none)
    /// and NUL on the upstream socket, alone in its send (q takes the first bytes as the
    /// handshake), and gives the 1-byte reply connect_timeout_ms to come.
    void send_upstream_handshake(session& ss, int backend, uint8_t cap);
    /// Reconnect delay after `attempt` failures: reconnect_min_ms doubling per failure, capped
    /// at reconnect_max_ms, drawn between half and all of that (jitter, so connections of
    /// several shards do not retry in lockstep).
    uint64_t backoff_ms(uint32_t attempt);
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
    void release_item(int32_t bid);

    // request_client.cc: request mode, the client's shard
    void init_request_mode();
    void enter_request(session& ss);
    void request_input(session& ss, int32_t bid, const uint8_t* p, uint32_t n);
    int64_t request_data(session& ss, int32_t bid, const uint8_t* p, uint32_t n);
    void request_unhold(session& ss);
    bool over_quota(const session& ss) const;
    void wait_for_slot(session& ss);
    void wake_slot_waiters();
    bool request_header(session& ss, const qipc::frame_header& h);
    void dispatch(session& ss, request& r);
    void enlist(session& ss, request& r);
    void route_call(session& ss, request& r);
    std::span<const uint8_t> inflate(std::span<const uint8_t> msg);
    void answer_error(session& ss, request& r, std::string_view text);
    void flush_answers(session& ss);
    bool client_quota_ok(const session& ss) const;
    void request_done(request& r);
    void request_sent(uint32_t index);
    void request_close(session& ss);
    void expire_requests(uint64_t now_ms);
    void compact_request_timers();
    request* alloc_request();
    void maybe_free_request(request& r);
    void submit(request& r);
    void post(uint32_t to, uint32_t kind, request& r);
    void flush_outbox();
    void take_requests(request* chain);

    // request_lend.cc: a call's bytes lent from the receive buffer it arrived in, or copied
    void init_lending();
    void request_body(session& ss, const uint8_t* p, uint32_t n);
    bool lend_call(session& ss, request& r, const uint8_t* body, uint32_t n);
    void copy_call(session& ss, request& r);
    void share_call(request& child, const request& parent);
    void drop_call(request& r);
    void buf_unref(uint16_t bid);

    // fanout_client.cc: request mode, fan-out calls and joins on the client's shard
    void init_fanout();
    bool fanout_call(session& ss, request& r, const route::call_info& call,
                     const route::route_rule* rule, bool compressed);
    void fanout_gw(session& ss, request& r, fanout& f, const route::call_info& c,
                   const route::route_rule* rule);
    void fanout_route(session& ss, request& r, fanout& f, const route::call_info& c,
                      const route::route_rule& rule);
    bool fanout_children(fanout& f, const route::route_rule& rule, const route::call_info& c,
                         uint32_t timeout_ms);
    void fanout_drop_children(fanout& f);
    void fanout_submit(fanout& f);
    void fanout_back(request& child);
    bool fanout_reroute(fanout& f, request& child);
    void fanout_complete(fanout& f);
    void fanout_reduce(fanout& f);
    void fanout_fail(fanout& f, std::string_view text);
    void fanout_finish(fanout& f);
    bool fanout_push(session& ss, request& parent);
    void fanout_release(request& parent);
    void free_fanout(fanout& f);
    void fanout_expired(request& parent, uint64_t now_ms);

    // request_home.cc: request mode, the backend's home shard
    void start_pools();
    void home_enqueue(request& r);
    void home_answer(request& r, std::string_view text);
    void return_request(request& r, bool bounce);
    void pump(uint32_t b);
    void publish_load(uint32_t b);
    void pool_connect(session& ss);
    void pool_connected(session& ss, const io::completion& c);
    void pool_ready(session& ss, uint8_t cap);
    void pool_after_send(session& ss);
    void pool_complete(session& ss);
    void pool_failed(session& ss);
    void pool_freed(session& ss);
    void pool_lost(session& ss, request& r);
    void pool_timeout(session& ss);
    void eject(uint32_t b);
    // pool_rx.cc: a pool connection's receive side (recv_into, zero-copy reply hand-off)
    void pool_on_read(uint32_t sid, const io::completion& c);
    void pool_arm_read(session& ss);
    void pool_read(session& ss, uint32_t n);
    void pool_frames(session& ss);
    bool pool_header(session& ss);
    void pool_frame_done(session& ss);
    void pool_take_reply(session& ss);
    void pool_rx_grow(pool_conn& pc);
    bool pool_reading(const session& ss) const;
    void settle_reads();  ///< teardown: every armed recv_into cancelled and completed
    void probe_due(session& ss);
    void schedule_probe(session& ss);
    bool home_idle() const;

    // pubsub_client.cc / pubsub_hub.cc / pubsub_upstream.cc: pub/sub (pubsub_state.h)
    void ps_init();
    void enter_pubsub(session& ss);
    void ps_input(session& ss, const uint8_t* p, uint32_t n);
    bool ps_begin_frame(ps_conn& pc);
    void ps_end_frame(session& ss);
    // pubsub_ingest.cc: frames read straight into their update buffers (recv_into)
    void ps_direct(session& ss, role r);
    void ps_arm(session& ss, role r);
    void ps_read(session& ss, role r, const io::completion& c);
    void ps_pull(session& ss, role r);
    void ps_took(session& ss, uint32_t n);
    bool ps_header(session& ss);
    qipc::header_limits ps_header_limits(const session& ss) const;
    bool ps_reading(const session& ss) const;
    void ps_frame(session& ss, pubsub::update_ref msg, const qipc::frame_header& h);
    void ps_answer_error(session& ss, std::string_view text);
    void ps_answer_null(session& ss);
    void ps_enqueue(session& ss, uint32_t table, const pubsub::update_ref& u);
    void ps_pump(session& ss);
    void ps_sent(session& ss);
    void ps_close(session& ss);
    void ps_reset(session& ss);
    void ps_send(uint32_t to, ps_msg&& m);
    void ps_on_msg(uint32_t from, ps_msg& m);
    void ps_drain();
    void ps_flush_lanes();
    void ps_refill();
    void ps_throttle(session& ss, role r);
    void ps_unthrottle();
    bool ps_busy() const;
    void ps_deliver(ps_msg& m);
    void ps_end(const pubsub::update_ref& u);
    void ps_sub_done(ps_sub_order* o);
    void ps_local_sub(session& ss, uint32_t table, uint64_t key);
    void ps_local_unsub(session& ss);
    void hub_sub(ps_sub_order* o);
    void hub_unsub(uint32_t shard, uint32_t session, uint32_t gen);
    void hub_publish(pubsub::update_ref msg, bool little_endian);
    bool hub_batch(uint32_t table, const pubsub::update_view& u, const pubsub::update_ref& msg);
    void hub_flush_batches(uint64_t now_ms);
    void hub_fanout(pubsub::publish_ctx& ctx, uint32_t table);
    void hub_add(uint32_t shard, uint32_t table, uint64_t key, const pubsub::update_ref& u);
    void hub_flush_pending();
    void ps_up_start();
    void ps_up_connect(session& ss);
    void ps_up_connected(session& ss, const io::completion& c);
    void ps_up_frame(session& ss, pubsub::update_ref msg, const qipc::frame_header& h);
    void ps_up_subscribe(session& ss);
    void ps_up_failed(session& ss);
    void ps_up_freed(session& ss);
    void ps_up_timeout(session& ss);

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

    // request mode
    route_plane* plane_ = nullptr;
    uint32_t me_ = 0;  ///< this shard's id
    request* slot_free_ = nullptr;
    shard::timer_heap rq_timers_;
    std::vector<route::pick_cursor> cursors_;  ///< per group
    std::vector<home_backend> homes_;          ///< per global backend id
    std::vector<request_fifo> outbox_;         ///< per destination shard: slots to hand over
    std::vector<uint32_t> slot_waiters_;       ///< clients paused for want of a request slot
    uint32_t away_ = 0;                        ///< my slots held by other shards
    uint64_t rng_ = 0x9e3779b97f4a7c15ull;
    std::vector<uint8_t> scratch_;  ///< decompressed body of the call being classified
    /// Per receive buffer: request slots whose lent call points into it, plus kInputGone once
    /// the input (request_input / held) let go of it. Origin shard only: no atomics.
    std::vector<uint32_t> buf_refs_;
    uint32_t bufs_lent_ = 0;  ///< buffers with at least one slot reference
    uint32_t lend_max_ = 0;   ///< lend only below this many buffers (kLendSharePct of the pool)

    // pub/sub
    std::unique_ptr<ps_shard> ps_;
    std::unique_ptr<fanout[]> fans_;  ///< fan-out contexts (fanout.contexts_max)
    fanout* fan_free_ = nullptr;
    int32_t reducer_group_ = -1;      ///< fanout.reducer's group id; -1 none
};

/// send_queue item tags: bid >= 0 is a pool buffer, -1 nothing, <= -2 a request slot whose
/// answer bytes the item points at (freed when sent).
constexpr int32_t request_tag(uint32_t index) { return -2 - static_cast<int32_t>(index); }

/// Sock id <-> (session, role) for user_data slots.
constexpr uint32_t sock_id(uint32_t sess, role r) { return sess * 2 + static_cast<uint32_t>(r); }

}  // namespace qgate::proxy

// The per-shard engine: owns the shard's listeners, the slot table of connections, their
// sockets (receive arming, back-pressure, batched sends, timers) and drain; what a connection
// means is its kind's (conn_handler.h; the map of kinds is src/proxy/README.md). Runs only on
// its shard's thread (shard_hooks). The io backend is an interface, so tests drive the engine
// with a fake backend and fabricated completions (fault injection).
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
#include "proxy/admin_link.h"
#include "proxy/backend_meters.h"
#include "proxy/big_bufs.h"
#include "proxy/conn_handler.h"
#include "proxy/conn_types.h"
#include "proxy/fanout.h"
#include "proxy/frame_cut.h"
#include "proxy/generation.h"
#include "proxy/pubsub_state.h"
#include "proxy/request.h"
#include "proxy/frame_reader.h"
#include "proxy/held_budget.h"
#include "proxy/transport.h"
#include "proxy/upstream_link.h"
#include "proxy/upstreams.h"
#include "qgate/check.h"
#include "qgate/config.h"
#include "qgate/qipc/compress.h"
#include "shard/counters.h"
#include "shard/shard.h"
#include "shard/timer_heap.h"

namespace qgate::proxy {

class session_clients;
class user_conns;
class request_clients;
class fanouts;
class pool_links;
class subscribers;
class ps_reader;
class pubsub_hub;
class feed_link;
class access_log;



struct engine_listener {
    int fd = -1;
    bool closing = false;
    bool armed = false;
};

struct engine_options {
    config_ptr cfg;
    upstream_table* upstreams = nullptr;
    std::vector<int> listener_fds;        ///< this shard's fd per cfg.listeners entry
    /// Every listener's current TLS context (tls.h); null: every listener is plain.
    const tls_contexts* tls = nullptr;
    const std::atomic<bool>* stop = nullptr;  ///< set by the signal thread (shard 0 polls it)
    /// Set by the signal thread on a second SIGTERM/SIGINT: the drain ends now, as at its
    /// timeout (every client closed, calls in flight dropped).
    const std::atomic<bool>* force = nullptr;
    uint64_t (*clock_ms)() = nullptr;  ///< monotonic ms; nullptr = shard::now_ms (tests inject)
    route_plane* plane = nullptr;             ///< request mode; nullptr = session mode only
    pubsub_plane* pubsub = nullptr;           ///< pubsub listeners; nullptr = none
    access_log* alog = nullptr;               ///< request mode's access log; nullptr = off
    admin_link* admin = nullptr;      ///< this shard's command slot (admin_link.h); may be null
    backend_meters* meters = nullptr;  ///< per-backend calls / errors; null = the engine's own
    gen_holder* gens = nullptr;  ///< the routing generations (hot reload); required
    user_conns* users = nullptr;  ///< process-wide per-user counts; nullptr = no user limits
};

/// A backend's latest connect outcome as one shard saw it (.qgate.backends[] lasterror, state).
struct backend_note {
    uint64_t fail_ms = 0;
    uint64_t ok_ms = 0;
    uint64_t tls_warn_ms = 0;  ///< the last TLS failure logged at warn (at most one a second)
    char error[96] = {};
};

class engine final : public shard::shard_hooks {
  public:
    engine(shard::shard& sh, engine_options o);
    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;
    engine(engine&&) = delete;
    engine& operator=(engine&&) = delete;
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
    void check_force();
    void on_accept(uint32_t l, const io::completion& c);
    void on_recv(uint32_t sid, const io::completion& c);
    void on_send(uint32_t sid, const io::completion& c);
    void on_connect(uint32_t sid, const io::completion& c);
    void on_read(uint32_t sid, const io::completion& c);
    void drop_completion(session& ss, const io::completion& c);
    session* alloc_session();
    void admit(session& ss, uint32_t l, int fd);
    // handshake.cc: a full shard makes room by closing its oldest pending handshake
    bool park_for_handshake(uint32_t l, int fd);
    session* oldest_handshake();
    void admit_parked();
    void close_parked();
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
    /// What one compressed message may inflate to: limits.inflate_*, within message_bytes_max.
    qipc::inflate_limits inflate_limits() const {
        const uint64_t cap = lim_->message_bytes_max;
        return {lim_->inflate_bytes_max < cap ? lim_->inflate_bytes_max : cap,
                lim_->inflate_ratio_max};
    }
    void close_if_flushed(session& ss, role r);
    static bool quiet(const session& ss);
    static bool is_client(const session& ss);
    void check_high(session& ss, role from, const sock& dst);
    static bool idle(const session& ss);
    void expire_timers(uint64_t now_ms);
    uint64_t clock_now();
    void on_data(session& ss, role r, uint16_t bid, uint32_t n);
    // engine_tls.cc: a TLS client's record layer between the socket and the above
    bool tls_accept(session& ss, ssl_ctx_st* ctx);
    void tls_rx(session& ss, role r, uint16_t bid, uint32_t n);
    void tls_fail(session& ss, const char* why);
    bool tls_send_pending(session& ss, role r);
    void tls_kick(session& ss, role r);
    void tls_flush(session& ss, role r);
    bool tls_on_send(session& ss, role r, io::completion& c);
    void tls_established(session& ss, role r);
    // engine_tls_up.cc: the connect side, for a tls = true backend's upstream sockets
    bool tls_upstream(session& ss, int backend, const tls_client& c);
    void tls_up_fail(session& ss, const char* why);
    void tls_up_fail_counted(session& ss, int backend, const char* why);
    bool tls_up_eof(session& ss, role r);
    void tls_read_into(session& ss, role r, uint32_t n, frame_sink& s);
    int link_backend(const session& ss) const;
    void on_client_handshake(session& ss, const uint8_t* p, uint32_t n);
    bool within_user_limits(session& ss, std::string_view user);
    static void on_eof(session& ss, role r);
    void on_timeout(session& ss);
    void release_item(int32_t bid);
    void init_request_mode();
    // admin_serve.cc: the admin's commands (admin_link.h) and the figures they report
    void init_admin();
    void serve_admin();
    void admin_snapshot(shard_command& cmd);
    void admin_kick(shard_command& cmd);
    static void snap_client(const session& ss, client_snap& out);
    void snap_backends(shard_command& cmd) const;
    void note_backend_fail(int b, const char* what, int err);
    void note_backend_ok(int b);
    void forget_backend(uint32_t b);
    backend_meter& meter(uint32_t b) { return bmeter_[b]; }
    void adopt_generation();

    io::io_backend& be_;
    shard::counters& ctr_;
    shard::shard* shard_;
    engine_options opt_;
    const limits_conf* lim_;  ///< the current generation's limits (adopt_generation)
    std::vector<engine_listener> listeners_;
    std::vector<std::unique_ptr<session>> sessions_;
    uint32_t free_head_ = UINT32_MAX;
    /// Clients accepted while the shard was full, each waiting for the slot of the pending
    /// handshake closed to make room for it (handshake.cc). At most kParkedMax.
    struct parked_accept {
        int fd;
        uint32_t listener;
    };
    static constexpr uint32_t kParkedMax = 64;
    std::vector<parked_accept> parked_;
    uint32_t sessions_open_ = 0;
    io::item_pool items_;
    shard::timer_heap timers_;
    std::vector<uint32_t> dirty_;    ///< sock ids (session * 2 + role) with sends to flush
    std::vector<uint32_t> starved_;  ///< sock ids waiting for buffers after ENOBUFS
    uint32_t bufs_high_ = 0;         ///< pool buffers one queue may hold (session_buf_share_pct)
    uint32_t bufs_low_ = 0;          ///< resume at or below this (half of bufs_high_)
    uint64_t now_ms_ = 0;
    bool clock_fresh_ = false;  ///< now_ms_ was read during this turn (clock_now)
    bool draining_ = false;
    uint64_t drain_deadline_ms_ = 0;
    bool forced_ = false;
    route_plane* plane_ = nullptr;
    /// The routing generation new calls and sessions use; the newest one is adopted at the
    /// start of a turn (engine_turn.cc). Calls routed earlier keep theirs (request::rgen).
    const generation* gen_ = nullptr;
    uint32_t me_ = 0;  ///< this shard's id
    big_bufs bigs_;    ///< request mode's buffers past kKeepBytesMax, for reuse (big_bufs.h)
    held_budget held_;  ///< request mode's bytes held in slots, this shard's share (held_budget.h)
    // ---- the admin API (admin_serve.cc)
    std::unique_ptr<backend_meters> own_meters_;  ///< when the options bring none (tests)
    backend_meter* bmeter_ = nullptr;  ///< this shard's row, one cell per backend
    uint64_t client_seq_ = 0;          ///< the last client id's sequence part
    std::vector<backend_note> notes_;  ///< per backend

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

}  // namespace qgate::proxy

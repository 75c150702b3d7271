// Request mode, the backend's home shard (kind: pool link): a queue per backend whose home is
// this shard and its pool of upstream links, connected, handshaken, health-probed, ejected and
// reconnected here (pool_links.cc); replies are read straight into the slot's buffer
// (pool_rx.cc). Owner: the home shard's thread. Lifetime: pool links are opened at start and
// kept (reconnected, never freed) for the engine's life.
#pragma once

#include "proxy/conn_handler.h"
#include "proxy/engine.h"

namespace qgate::proxy {

class pool_links final : public conn_handler, public frame_sink {
  public:
    explicit pool_links(engine& e) : e_(e) {}
    engine& e_;

    // conn_handler: a pool link is ours, never a client; it is reconnected, never freed.
    void on_authenticated(session&) override {}
    void on_data(session&, role, uint16_t bid, uint32_t) override { e_.release(bid); }
    void arm_read(session& ss, role r) override { e_.frames_.arm(ss, r, *this); }
    void on_read(session& ss, role r, const io::completion& c) override {
        e_.frames_.on_read(ss, r, c, *this);
    }
    void on_connected(session& ss, const io::completion& c) override { pool_connected(ss, c); }
    void on_eof(session& ss, role) override { pool_eof(ss); }
    void on_timeout(session& ss) override { pool_timeout(ss); }
    void on_sent(session& ss, role) override { pool_after_send(ss); }
    bool on_close(session& ss) override {
        pool_failed(ss);
        return false;
    }
    bool on_sock_freed(session& ss, role) override {
        pool_freed(ss);
        return true;
    }
    bool idle(const session&) const override { return false; }
    bool is_client() const override { return false; }

    // frame_sink (pool_rx.cc): replies read straight into the buffer their slot takes.
    bool reading(const session& ss) const override { return pool_reading(ss); }
    read_target target(session& ss) override;
    void took(session& ss, uint32_t n, bool now) override;
    uint32_t pull_max() const override { return 0; }  // one reply per completion is plenty

    void start_pools();
    void open_pool(uint32_t b);
    void adopt(const generation& old, const generation& now);
    void retire_due();
    void retire(uint32_t b);
    void reopen(uint32_t b);
    void home_enqueue(request& r);
    void home_answer(request& r, std::string_view text);
    void return_request(request& r, bool bounce);
    void mark_pump(uint32_t b);
    void pump_marked();
    void pump(uint32_t b);
    uint32_t pump_queue(request_fifo& q, const std::vector<uint32_t>& conns,
                        request_fifo& skipped);
    bool stalled(const std::vector<uint32_t>& conns, uint64_t now) const;
    session* pick_conn(const std::vector<uint32_t>& conns);
    request* next_live(request_fifo& q, request_fifo& skipped);
    session* take_slot();
    bool send_call(session& ss, request& r);
    bool pool_push(session& ss, const uint8_t* p, size_t n);
    static uint64_t sent_bytes(const session& ss);
    void pool_settle(session& ss);
    void pool_answered(session& ss);
    void publish_load(uint32_t b);
    void pool_connect(session& ss);
    void pool_connected(session& ss, const io::completion& c);
    void pool_ready(session& ss, uint8_t cap);
    void pool_after_send(session& ss);
    void pool_failed(session& ss);
    void mark_lost(session& ss, const request_fifo& gone);
    void pool_gone(session& ss, request& r);
    void pool_freed(session& ss);
    void pool_timeout(session& ss);
    void eject(uint32_t b);
    void pool_frames(session& ss);
    bool pool_header(session& ss);
    void pool_frame_done(session& ss);
    void pool_act(session& ss, bool in_order);
    void pool_take_reply(session& ss);
    static void pool_next_frame(pool_conn& pc);
    void pool_make_room(pool_conn& pc);
    void pool_rx_grow(pool_conn& pc);
    void pool_hold(pool_conn& pc);
    void pool_refused(session& ss);
    static bool pool_reading(const session& ss);
    void probe_due(session& ss);
    void schedule_probe(session& ss);
    void start_probe(session& ss, pool_conn::probe_kind k);
    void probe_answered(session& ss, bool in_order);
    bool home_idle() const;

    // pool_users.cc: a passthrough backend's pools, one per user (links opened on demand with
    // the user's own credentials, bounded, closed when idle).
    bool passthrough(uint32_t b) const {
        return e_.opt_.upstreams->at(static_cast<int>(b)).passthrough;
    }
    void user_enqueue(request& r);
    static int32_t find_user(const home_backend& hb, const request& r);
    int32_t add_user(home_backend& hb, request& r);
    void pump_users(uint32_t b);
    void pump_user(uint32_t b, uint32_t ui);
    void open_user_link(uint32_t b, uint32_t ui);
    void pool_eof(session& ss);
    void user_refused(session& ss);
    void user_idle_due(session& ss);
    void user_release(session& ss);
    void user_link_freed(session& ss);
    void drop_user_if_idle(uint32_t b, uint32_t ui);
    void bounce_users(uint32_t b);
    /// The backend's name, for logs and errors.
    const char* name(uint32_t b) const {
        return e_.opt_.upstreams->at(static_cast<int>(b)).name.c_str();
    }

    std::vector<home_backend> homes_;          ///< per backend id (kBackendsMax)
    std::vector<uint32_t> retiring_;  ///< removed backends of this home, draining (reload)
    std::vector<uint32_t> spare_;     ///< session slots of retired pools, reused by open_pool
    std::vector<uint32_t> pump_due_;  ///< backends whose queue is pumped at the end of the turn
    std::vector<uint32_t> pumping_;   ///< the ones being pumped (pump_marked)
};

}  // namespace qgate::proxy

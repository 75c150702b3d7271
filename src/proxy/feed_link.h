// Pub/sub feed (kind: the hub's upstream tickerplant link): connects, handshakes, subscribes
// with `.u.sub` and reconnects with backoff; its updates are read by ps_reader and published
// by the hub (feed_link.cc). Owner: shard 0's thread. Lifetime: opened at start, kept for the
// engine's life (reconnected, never freed).
#pragma once

#include "proxy/conn_handler.h"
#include "proxy/engine.h"

namespace qgate::proxy {

class feed_link final : public conn_handler {
  public:
    explicit feed_link(engine& e) : e_(e) {}
    engine& e_;

    // conn_handler: the hub's link to the upstream tickerplant: ours, reconnected, never freed.
    void on_authenticated(session&) override {}
    void on_data(session&, role, uint16_t bid, uint32_t) override { e_.release(bid); }
    void arm_read(session& ss, role r) override;
    void on_read(session& ss, role r, const io::completion& c) override;
    void on_connected(session& ss, const io::completion& c) override { ps_up_connected(ss, c); }
    void on_eof(session& ss, role) override { ps_up_failed(ss); }
    void on_timeout(session& ss) override { ps_up_timeout(ss); }
    void on_sent(session&, role) override {}
    void on_tag_sent(session& ss) override;
    bool on_close(session& ss) override {
        ps_up_failed(ss);
        return false;
    }
    bool on_sock_freed(session& ss, role) override {
        ps_up_freed(ss);
        return true;
    }
    bool idle(const session&) const override { return false; }
    bool is_client() const override { return false; }

    void ps_up_start();
    void ps_up_connect(session& ss);
    void ps_up_connected(session& ss, const io::completion& c);
    void ps_up_frame(session& ss, pubsub::update_ref msg, const qipc::frame_header& h);
    void ps_up_subscribe(session& ss);
    void ps_up_failed(session& ss);
    void ps_up_freed(session& ss);
    void ps_up_timeout(session& ss);

};

}  // namespace qgate::proxy

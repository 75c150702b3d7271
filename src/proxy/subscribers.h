// Pub/sub (kind: subscriber / publisher on a pubsub listener): `.u.sub` calls go to the hub,
// deliveries come back by reference and are queued on the client's socket; a publisher's
// `.u.upd` frames are read by ps_reader and published (subscribers.cc). Owner: the shard's
// thread; state in the slot's ps_conn from the handshake to close.
#pragma once

#include "proxy/conn_handler.h"
#include "proxy/engine.h"

namespace qgate::proxy {

class subscribers final : public conn_handler {
  public:
    explicit subscribers(engine& e) : e_(e) {}
    engine& e_;

    void on_authenticated(session& ss) override { enter_pubsub(ss); }
    void on_data(session& ss, role r, uint16_t bid, uint32_t n) override;
    void arm_read(session& ss, role r) override;
    void on_read(session& ss, role r, const io::completion& c) override;
    void on_eof(session& ss, role r) override;
    void on_sent(session& ss, role r) override;
    void on_tag_sent(session& ss) override { ps_sent(ss); }
    bool on_close(session& ss) override;
    void on_slot_freed(session& ss) override;
    bool idle(const session& ss) const override;

    void ps_init();
    void enter_pubsub(session& ss);
    void ps_input(session& ss, const uint8_t* p, uint32_t n);
    static bool ps_begin_frame(ps_conn& pc);
    void ps_end_frame(session& ss);
    void ps_frame(session& ss, pubsub::update_ref msg, const qipc::frame_header& h);
    void ps_answer_error(session& ss, std::string_view text);
    void ps_answer_null(session& ss);
    void ps_enqueue(session& ss, uint32_t table, const pubsub::update_ref& u);
    void ps_pump(session& ss);
    static void ps_sent(session& ss);
    void ps_close(session& ss);
    static void ps_reset(session& ss);
    void ps_deliver(ps_msg& m);
    void ps_end(const pubsub::update_ref& u);
    void ps_sub_done(ps_sub_order* o);
    void ps_local_sub(session& ss, uint32_t table, uint64_t key);
    void ps_local_unsub(session& ss);

};

}  // namespace qgate::proxy

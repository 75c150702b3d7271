// Session mode (kind: session client + its upstream): a client of a session listener gets its own
// upstream connection to one backend of the listener's group, on the same shard, and bytes are
// forwarded cut-through both ways (session_clients.cc). Owner: the shard's thread; one handler
// per engine; a connection's state lives in its slot (`session`, both sockets) from accept to
// close; the backend is picked through the listener's policy (upstreams.h).
#pragma once

#include "net/framer.h"
#include "proxy/conn_handler.h"
#include "proxy/engine.h"

namespace qgate::proxy {

class session_clients final : public conn_handler {
  public:
    explicit session_clients(engine& e) : e_(e) {}
    engine& e_;

    void on_authenticated(session& ss) override;
    void on_data(session& ss, role r, uint16_t bid, uint32_t n) override;
    void on_connected(session& ss, const io::completion& c) override;
    void on_eof(session& ss, role r) override;
    void on_link_failed(session& ss) override { on_upstream_failed(ss); }
    void on_read_eof(session& ss, role r) override;
    void on_timeout(session& ss) override;
    void on_sent(session& ss, role r) override;
    bool on_close(session& ss) override;
    bool on_sock_freed(session& ss, role r) override;
    bool idle(const session& ss) const override;

    void start_upstream(session& ss);
    bool early_ok(session& ss, const uint8_t* p, uint32_t n);
    void backend_lost(session& ss);
    void refused(session& ss);
    void count_user_over(const session& ss, qipc::status st);
    void on_upstream_reply(session& ss, uint16_t bid, uint32_t n);
    void forward(session& ss, role from, uint16_t bid, const uint8_t* p, uint32_t n);
    void forward_copy(session& ss, role from, const uint8_t* p, uint32_t n);
    void replies_timed(session& ss, uint64_t n);
    /// Messages a client sent on (.qgate.clients[] calls, .qgate.backends[] calls).
    void count_calls(session& ss, uint32_t frames) {
        ss.calls += frames;
        if (ss.backend < 0) return;
        shard::bump(e_.meter(static_cast<uint32_t>(ss.backend)).calls, frames);
    }
    void enter_no_backend(session& ss);
    void no_backend_data(session& ss, const uint8_t* p, uint32_t n);
    void on_upstream_failed(session& ss);
    static void set_error(session& ss, const std::string& text);

    // session_guard.cc: what qgate does when the backend or the client breaks the session.
    void backend_broke(session& ss, uint16_t bid, const uint8_t* p, const net::frame_counts& fc);
    uint64_t fail_calls(session& ss, const std::string& text);
    uint64_t fail_late_calls(session& ss, uint64_t sync);
    static bool owing(const session& ss);
    void watch(session& ss, role from, bool was_owing);
    void reply_timer(session& ss);
    void reply_timed_out(session& ss);
    void client_ended(session& ss);
};

}  // namespace qgate::proxy

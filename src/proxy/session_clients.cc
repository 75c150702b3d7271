// Session mode (session_clients, a conn_handler): after the engine's handshake (handshake.cc),
// upstream selection through the listener's policy, connect and handshake (upstream_link),
// cut-through forwarding with framing, and the q errors qgate writes. Thread: the client's
// shard; state: the slot's `session` (both sockets) from accept to close.
//
// Design note (decisions a kdb+ user can observe):
//  * The client's handshake is answered only after the upstream handshake, with the byte the
//    backend answered, as a single 1-byte write (node-q requires the first data chunk to be
//    that byte alone). So capability, compression and >2 GB framing agree end to end. A
//    backend that answers more than it was offered (PyKX echoes; a broken one sent 0xff) is
//    not believed: the client gets min(offered, answered), q's common capability. Bad
//    credentials: the socket is closed without writing a byte, as q does.
//  * Upstream handshake: backend_conf.credentials ("qgate" when empty; the client's own
//    "user:password" when "passthrough") + the client's capability (capped at 6) + NUL.
//    A passthrough backend that closes in the handshake refused that user: the client is
//    closed without a byte (refused()), the backend is not marked failed. A client that sent
//    no capability byte (qPython's retry path) is passed through the same way: credentials +
//    NUL only.
//  * No backend reachable (every backend of the group refused, timed out or closed before
//    its reply byte): qgate still completes the client handshake with capability
//    min(client, 3), then answers every sync request with the q error
//    'qgate: no backend available for group <G>' (a response frame, type -128 body) and
//    drops async messages, counted in async_dropped as request mode counts the async calls
//    it cannot route (q gives an async caller no error). The client sees a normal q error it
//    can trap, rather than a refused connection it cannot tell from bad credentials.
//  * Backend lost mid-session (EOF / reset): if the backend->client stream stands at a message
//    boundary, the client gets one 'qgate: backend <name> disconnected' error per outstanding
//    sync request (client sync frames minus backend responses), then is closed. Mid-message
//    the stream cannot be repaired, so the client is closed at once. Calls qgate reads after
//    the loss (in the same batch of completions as the EOF) get the same error before the
//    close; a call still on its way when the client is closed is unanswered, as when a q
//    process dies.
//  * A malformed client frame header closes the client and its upstream (counted), as q
//    itself closes a handle on 'badmsg. A backend's frame header that is malformed or longer
//    than message_bytes_max (both directions are held to it, as in request mode) counts as a
//    lost backend (session_guard.cc), and so, with limits.session_reply_timeout_ms, does a
//    backend that owes a reply and goes silent.
//  * A client that shuts down its write side (half-close: `printf ... | nc`) is answered
//    what it asked, then closed (session_guard.cc).
//  * Bodies are never inspected or copied: every receive buffer is queued on the peer socket
//    as is (cut-through), so a message of any size streams with bounded memory.

#include <cerrno>
#include <cstring>

#include "proxy/kinds.h"
#include "qgate/auth.h"
#include "qgate/log.h"
#include "qgate/qipc/handshake.h"
#include "qgate/qipc/writer.h"

namespace qgate::proxy {

using shard::bump;

namespace {
// Capability qgate offers a client when it answers the handshake itself (no backend).
constexpr uint8_t kSelfCapability = 3;
}  // namespace



void session_clients::start_upstream(session& ss) {
    for (;;) {
        const int b = e_.opt_.upstreams->pick(*e_.gen_, ss.listener, ss.tried, ss.user);
        if (b < 0) {
            enter_no_backend(ss);
            return;
        }
        if (!e_.link_.connect(ss, b)) {
            e_.opt_.upstreams->release(b);
            continue;
        }
        ss.backend = b;
        ss.st = sstate::connecting;
        return;
    }
}


void session_clients::on_upstream_reply(session& ss, uint16_t bid, uint32_t n) {
    const uint8_t* p = e_.be_.pool().data(bid);
    const uint8_t offered = ss.client_cap != 0 ? qipc::negotiate_capability(ss.client_cap) : 0;
    ss.cap = p[0] < offered ? p[0] : offered;  // q's common capability (design note)
    ss.reply = ss.cap;
    ss.st = sstate::streaming;
    upstream_link::ready(ss);
    e_.note_backend_ok(ss.backend);
    if (!e_.push(ss, role::client, &ss.reply, 1, -1, true)) {
        e_.release(bid);
        return;
    }
    e_.arm_recv(ss, role::client);
    ss.s[0].fr = net::framer{};  // early bytes were only checked (early_ok): framed again now
    if (n > 1) {
        forward(ss, role::upstream, bid, p + 1, n - 1);  // the backend spoke right away (.z.po)
    } else {
        e_.release(bid);
    }
    if (ss.st == sstate::streaming && ss.hs.size() > ss.hs_len) {
        forward_copy(ss, role::client, reinterpret_cast<const uint8_t*>(ss.hs.data()) + ss.hs_len,
                     static_cast<uint32_t>(ss.hs.size() - ss.hs_len));
    }
    if (ss.st == sstate::streaming && ss.s[0].rd_eof) client_ended(ss);  // half-closed early
    if (e_.draining_ && engine::idle(ss)) e_.close_session(ss);
}

void session_clients::forward(session& ss, role from, uint16_t bid, const uint8_t* p, uint32_t n) {
    sock& src = ss.s[static_cast<int>(from)];
    const role to = static_cast<role>(1 - static_cast<int>(from));
    sock& dst = ss.s[static_cast<int>(to)];
    net::frame_counts fc;
    qipc::header_limits hl;
    hl.capability = ss.cap;
    hl.length_max = e_.lim_->message_bytes_max;  // replies too, as request mode holds them
    if (from == role::client) hl.length_max = ss.client_max(hl.length_max);
    const bool was_owing = owing(ss);
    qipc::status st = src.fr.feed(p, n, hl, fc);
    if (!st) {
        bump(e_.ctr_.malformed_frames);
        if (from == role::client) count_user_over(ss, st);
        QGATE_LOG_DEBUG("malformed frame from %s: %s", from == role::client ? "client" : "backend",
                        qipc::errc_name(st.code));
        if (from == role::upstream) return backend_broke(ss, bid, p, fc);
        e_.release(bid);
        e_.close_session(ss);
        return;
    }
    if (from == role::client) {
        if (ss.outstanding == 0 && fc.sync != 0) ss.call_us = shard::now_us();
        ss.outstanding += fc.sync;
        bump(e_.ctr_.sync_requests, fc.sync);
        count_calls(ss, fc.frames);
    } else if (ss.outstanding != 0 && fc.response != 0) {
        replies_timed(ss, fc.response < ss.outstanding ? fc.response : ss.outstanding);
    }
    bump(e_.ctr_.msgs_fwd, fc.frames);
    if (dst.fd < 0 || dst.closing) {
        e_.release(bid);
        if (from == role::client && ss.close_after_flush && !ss.err.empty()) {
            bump(e_.ctr_.disconnect_errors, fail_late_calls(ss, fc.sync));
            bump(e_.ctr_.async_dropped, fc.async);
        }
        return;
    }
    if (!e_.push(ss, to, p, n, bid)) return;
    e_.check_high(ss, from, dst);
    if (e_.lim_->session_reply_timeout_ms != 0) watch(ss, from, was_owing);
}

// `n` replies to outstanding calls came back: each is timed from the call forwarded, or from
// the reply before it when calls were pipelined (a q backend answers them in order).
void session_clients::replies_timed(session& ss, uint64_t n) {
    const uint64_t now = shard::now_us();
    for (uint64_t i = 0; i < n; ++i) {
        e_.ctr_.lat.backend(static_cast<std::size_t>(ss.backend), now - ss.call_us);
        ss.call_us = now;
    }
    ss.outstanding -= n;
}

// Bytes that do not live in a pool buffer (client bytes that arrived with the handshake): they
// stay in ss.hs, which is not touched again while the session lives.
void session_clients::forward_copy(session& ss, role from, const uint8_t* p, uint32_t n) {
    sock& src = ss.s[static_cast<int>(from)];
    net::frame_counts fc;
    qipc::header_limits hl;
    hl.capability = ss.cap;
    hl.length_max = ss.client_max(e_.lim_->message_bytes_max);
    if (const qipc::status st = src.fr.feed(p, n, hl, fc); !st) {
        bump(e_.ctr_.malformed_frames);
        count_user_over(ss, st);
        e_.close_session(ss);
        return;
    }
    if (ss.outstanding == 0 && fc.sync != 0) ss.call_us = shard::now_us();
    ss.outstanding += fc.sync;
    bump(e_.ctr_.msgs_fwd, fc.frames);
    count_calls(ss, fc.frames);
    e_.push(ss, role::upstream, p, n, -1);
}

void session_clients::set_error(session& ss, const std::string& text) {
    ss.err.resize(qipc::error_message_size(text));
    qipc::write_error_message(text, qipc::msg_type::response,
                              {reinterpret_cast<uint8_t*>(ss.err.data()), ss.err.size()});
}

void session_clients::enter_no_backend(session& ss) {
    bump(e_.ctr_.no_backend_sessions);
    QGATE_LOG_DEBUG("no backend available for group %s",
                    e_.opt_.upstreams->group_of(ss.listener).c_str());
    ss.backend = -1;
    ss.st = sstate::no_backend;
    ss.deadline_ms = 0;
    ss.cap = qipc::negotiate_capability(ss.client_cap, kSelfCapability);
    ss.reply = ss.cap;
    const std::string& group = e_.opt_.upstreams->group_of(ss.listener);
    set_error(ss, "qgate: no backend available for group " + group);
    if (!e_.push(ss, role::client, &ss.reply, 1, -1, true)) return;
    e_.arm_recv(ss, role::client);
    ss.s[0].fr = net::framer{};  // early bytes were only checked (early_ok): framed again now
    if (ss.hs.size() > ss.hs_len) {
        no_backend_data(ss, reinterpret_cast<const uint8_t*>(ss.hs.data()) + ss.hs_len,
                        static_cast<uint32_t>(ss.hs.size() - ss.hs_len));
    }
}

void session_clients::no_backend_data(session& ss, const uint8_t* p, uint32_t n) {
    net::frame_counts fc;
    qipc::header_limits hl;
    hl.capability = ss.cap;
    hl.length_max = ss.client_max(e_.lim_->message_bytes_max);
    if (const qipc::status st = ss.s[0].fr.feed(p, n, hl, fc); !st) {
        bump(e_.ctr_.malformed_frames);
        count_user_over(ss, st);
        e_.close_session(ss);
        return;
    }
    ss.calls += fc.frames;
    const auto* e = reinterpret_cast<const uint8_t*>(ss.err.data());
    for (uint32_t i = 0; i < fc.sync; ++i) {
        if (!e_.push(ss, role::client, e, static_cast<uint32_t>(ss.err.size()), -1)) return;
    }
    bump(e_.ctr_.no_backend_errors, fc.sync);
    bump(e_.ctr_.async_dropped, fc.async);  // the README promises they are counted, not just lost
    if (ss.s[0].sq.bytes() > e_.lim_->out_bytes_high && !ss.s[0].paused) {
        bump(e_.ctr_.slow_reader_pauses);
        e_.pause_recv(ss, role::client);
    }
}

void session_clients::on_upstream_failed(session& ss) {
    if (ss.backend >= 0) {
        e_.opt_.upstreams->release(ss.backend);
        ss.backend = -1;
    }
    ss.retry = true;
    ss.deadline_ms = 0;
    sock& k = ss.s[1];
    if (k.fd >= 0 && !k.closing) {
        e_.close_sock(ss, role::upstream);  // start_upstream runs when the socket is freed
    } else if (k.fd < 0) {
        ss.retry = false;
        start_upstream(ss);
    }
}



void session_clients::on_authenticated(session& ss) {
    if (ss.hs.size() > ss.hs_len &&
        !early_ok(ss, reinterpret_cast<const uint8_t*>(ss.hs.data()) + ss.hs_len,
                  static_cast<uint32_t>(ss.hs.size() - ss.hs_len))) {
        return;
    }
    start_upstream(ss);
}

// Bytes a client sends before its backend has answered wait in ss.hs, but are framed as they
// come (s[0].fr, nothing counted; the framer starts afresh when they are forwarded or
// answered), so a bad first frame closes the client at once and is counted, as in request
// mode, whether or not a backend ever answers (and no backend is bothered for it).
bool session_clients::early_ok(session& ss, const uint8_t* p, uint32_t n) {
    net::frame_counts fc;
    qipc::header_limits hl;
    hl.capability = ss.client_cap != 0 ? qipc::negotiate_capability(ss.client_cap) : 0;
    hl.length_max = ss.client_max(e_.lim_->message_bytes_max);
    const qipc::status st = ss.s[0].fr.feed(p, n, hl, fc);
    if (st) return true;
    bump(e_.ctr_.malformed_frames);
    count_user_over(ss, st);
    e_.close_session(ss);
    return false;
}

void session_clients::on_data(session& ss, role r, uint16_t bid, uint32_t n) {
    const uint8_t* p = e_.be_.pool().data(bid);
    switch (ss.st) {
    case sstate::connecting:
    case sstate::up_handshake:
        if (r == role::upstream) {
            on_upstream_reply(ss, bid, n);
            return;
        }
        if (ss.hs.size() + n > ss.hs_len + kEarlyBytesMax) {
            bump(e_.ctr_.handshake_fail);
            e_.close_session(ss);
        } else if (early_ok(ss, p, n)) {
            ss.hs.append(reinterpret_cast<const char*>(p), n);
        }
        e_.release(bid);
        return;
    case sstate::streaming:
        forward(ss, r, bid, p, n);
        return;
    case sstate::no_backend:
        no_backend_data(ss, p, n);
        e_.release(bid);
        return;
    default:
        e_.release(bid);
        return;
    }
}

// The upstream handshake carries the client's capability (capped at 6), or none for a client
// that sent none (qPython's retry path), so framing agrees end to end.
void session_clients::on_connected(session& ss, const io::completion& c) {
    if (ss.st != sstate::connecting) {
        e_.maybe_free(ss, role::upstream);
        return;
    }
    const uint8_t cap = ss.client_cap != 0 ? qipc::negotiate_capability(ss.client_cap) : 0;
    switch (e_.link_.connected(ss, c, ss.backend, cap)) {
    case upstream_link::step::stale: return;
    case upstream_link::step::failed:
        QGATE_LOG_DEBUG("connect to %s failed: %d",
                        e_.opt_.upstreams->at(ss.backend).name.c_str(), c.res);
        on_upstream_failed(ss);
        return;
    case upstream_link::step::handshake:
        if (ss.st != sstate::connecting) return;  // the handshake's push closed the session
        ss.st = sstate::up_handshake;
        e_.arm_recv(ss, role::upstream);
        return;
    }
}

// The queue on `r` drained: its feeder (the other socket; the client itself while qgate
// answers it with no backend) may read again, unless the client is only being flushed.
void session_clients::on_sent(session& ss, role r) {
    // The backend took bytes of a call: progress, for the reply timeout.
    if (r == role::upstream && e_.lim_->session_reply_timeout_ms != 0) {
        ss.up_active_ms = e_.clock_now();
    }
    if (e_.queue_low(ss, r) && !ss.close_after_flush) {
        const bool self = ss.st == sstate::no_backend;
        e_.resume_recv(ss, self ? role::client : static_cast<role>(1 - static_cast<int>(r)));
    }
    e_.close_if_flushed(ss, r);
}

bool session_clients::on_close(session& ss) {
    if (ss.backend >= 0) {
        e_.opt_.upstreams->release(ss.backend);
        ss.backend = -1;
    }
    return true;
}

// The upstream socket of a failed connect or handshake is closed: try the next backend.
bool session_clients::on_sock_freed(session& ss, role r) {
    if (r != role::upstream || !ss.retry || ss.st == sstate::closing) return false;
    ss.retry = false;
    start_upstream(ss);
    return true;
}

bool session_clients::idle(const session& ss) const {
    if (ss.st == sstate::streaming) {
        return engine::quiet(ss) && ss.outstanding == 0 && ss.s[1].fr.at_boundary();
    }
    return ss.st == sstate::no_backend && engine::quiet(ss);
}

void session_clients::on_eof(session& ss, role r) {
    if (r == role::client) {
        e_.close_session(ss);
        return;
    }
    switch (ss.st) {
    case sstate::up_handshake:
        if (e_.opt_.upstreams->at(ss.backend).passthrough) return refused(ss);
        [[fallthrough]];
    case sstate::connecting:
        bump(e_.ctr_.backend_connect_fail);  // refused our credentials or died before replying
        e_.note_backend_fail(ss.backend, "closed in the handshake (credentials refused?)", 0);
        on_upstream_failed(ss);
        return;
    case sstate::streaming:
        break;
    default:
        e_.close_session(ss);
        return;
    }
    backend_lost(ss);
}

// A client frame longer than its user's message_bytes_max (below the global limit) is closed
// as any over-long frame is; it is also counted against the user's limit.
void session_clients::count_user_over(const session& ss, qipc::status st) {
    if (ss.msg_max != 0 && st.code == qipc::errc::length_too_large) {
        bump(e_.ctr_.user_message_refused);
    }
}

// A passthrough backend closed in the handshake: it refused the client's own credentials, so
// the client is closed without a byte, as q closes a refused login (the client reports
// 'access). Not a backend failure: one user's bad password must not mark the backend down.
void session_clients::refused(session& ss) {
    bump(e_.ctr_.passthrough_refused);
    QGATE_LOG_DEBUG("backend %s refused user %s", e_.opt_.upstreams->at(ss.backend).name.c_str(),
                    ss.user.c_str());
    e_.close_session(ss);
}

// Backend lost mid-session: one error per outstanding sync request if the stream stands at a
// message boundary (see the design note), then the client is closed.
void session_clients::backend_lost(session& ss) {
    bump(e_.ctr_.backend_disconnect);
    e_.note_backend_fail(ss.backend, "connection lost", 0);
    const upstream& u = e_.opt_.upstreams->at(ss.backend);
    if (!ss.s[1].fr.at_boundary()) {
        e_.close_session(ss);
        return;
    }
    bump(e_.ctr_.disconnect_errors, fail_calls(ss, "qgate: backend " + u.name + " disconnected"));
}

void session_clients::on_timeout(session& ss) {
    if (ss.st == sstate::streaming) {
        reply_timer(ss);
        return;
    }
    if (ss.st != sstate::connecting && ss.st != sstate::up_handshake) return;
    bump(e_.ctr_.backend_connect_timeout);
    on_upstream_failed(ss);
}

}  // namespace qgate::proxy

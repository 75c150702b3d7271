// Session engine, q protocol half: client handshake and authentication, upstream selection,
// connect and handshake, cut-through forwarding with framing, and the q errors qgate writes.
//
// Design note (decisions a kdb+ user can observe):
//  * The client's handshake is answered only after the upstream handshake, with exactly the
//    byte the backend answered, as a single 1-byte write (node-q requires the first data
//    chunk to be that byte alone). So capability, compression and >2 GB framing agree end to
//    end. Bad credentials: the socket is closed without writing a byte, as q does.
//  * Upstream handshake: backend_conf.credentials ("qgate" when empty) + the client's
//    capability (capped at 6) + NUL. A client that sent no capability byte (qPython's retry
//    path) is passed through the same way: credentials + NUL only.
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
//    the stream cannot be repaired, so the client is closed at once.
//  * A malformed client frame header closes the client and its upstream (counted), as q
//    itself closes a handle on 'badmsg.
//  * Bodies are never inspected or copied: every receive buffer is queued on the peer socket
//    as is (cut-through), so a message of any size streams with bounded memory.

#include <cerrno>
#include <cstring>

#include "proxy/engine.h"
#include "qgate/auth.h"
#include "qgate/log.h"
#include "qgate/qipc/handshake.h"
#include "qgate/qipc/writer.h"

namespace qgate::proxy {

using shard::bump;

namespace {
// Cap on error frames queued for one session at backend loss (each is an iovec entry
// pointing at the same bytes; beyond this the client is simply closed after them).
constexpr uint64_t kDisconnectErrorsMax = 4096;
// Bytes a client may send after its handshake but before qgate's reply (it should send none).
constexpr size_t kEarlyBytesMax = 65536;
// Capability qgate offers a client when it answers the handshake itself (no backend).
constexpr uint8_t kSelfCapability = 3;
}  // namespace

void engine::on_data(session& ss, role r, uint16_t bid, uint32_t n) {
    const uint8_t* p = be_.pool().data(bid);
    switch (ss.st) {
    case sstate::handshake:
        on_client_handshake(ss, p, n);
        release(bid);
        return;
    case sstate::connecting:
    case sstate::up_handshake:
        if (r == role::upstream) {
            on_upstream_reply(ss, bid, n);
            return;
        }
        if (ss.hs.size() + n > ss.hs_len + kEarlyBytesMax) {
            bump(ctr_.handshake_fail);
            close_session(ss);
        } else {
            ss.hs.append(reinterpret_cast<const char*>(p), n);
        }
        release(bid);
        return;
    case sstate::streaming:
        forward(ss, r, bid, p, n);
        return;
    case sstate::no_backend:
        no_backend_data(ss, p, n);
        release(bid);
        return;
    case sstate::request:
        request_input(ss, static_cast<int32_t>(bid), p, n);
        return;
    case sstate::pubsub:
        ps_input(ss, p, n);
        release(bid);
        return;
    default:  // pool connections and pub/sub feeds read with recv_into, not into pool buffers
        release(bid);
        return;
    }
}

void engine::on_client_handshake(session& ss, const uint8_t* p, uint32_t n) {
    const size_t max = lim_.handshake_bytes_max;
    const size_t room = max + kEarlyBytesMax - ss.hs.size();
    ss.hs.append(reinterpret_cast<const char*>(p), n < room ? n : room);
    qipc::handshake h;
    const auto* b = reinterpret_cast<const uint8_t*>(ss.hs.data());
    qipc::status st = qipc::parse_handshake({b, ss.hs.size()}, h, max);
    if (st.code == qipc::errc::truncated) return;  // wait for the NUL
    if (!st) {
        bump(ctr_.handshake_fail);
        close_session(ss);
        return;
    }
    if (!ctl::authenticate(*opt_.cfg, h.user, h.password)) {
        bump(ctr_.auth_fail);
        close_session(ss);  // no byte written: the client reports 'access, as with q
        return;
    }
    ss.client_cap = h.capability;
    ss.hs_len = static_cast<uint32_t>(h.length);
    ss.deadline_ms = 0;
    ss.user.assign(h.user.data(), h.user.size());
    if (plane_ != nullptr && opt_.cfg->listeners[ss.listener].mode == conn_mode::request) {
        enter_request(ss);
        return;
    }
    if (opt_.pubsub != nullptr && opt_.cfg->listeners[ss.listener].mode == conn_mode::pubsub) {
        enter_pubsub(ss);
        return;
    }
    start_upstream(ss);
}

void engine::start_upstream(session& ss) {
    for (;;) {
        const int b = opt_.upstreams->pick(ss.listener, ss.tried, ss.user);
        if (b < 0) {
            enter_no_backend(ss);
            return;
        }
        if (!connect_upstream(ss, b)) {
            opt_.upstreams->release(b);
            continue;
        }
        ss.backend = b;
        ss.st = sstate::connecting;
        return;
    }
}

void engine::on_upstream_connected(session& ss) {
    ss.st = sstate::up_handshake;
    const uint8_t cap = ss.client_cap != 0 ? qipc::negotiate_capability(ss.client_cap) : 0;
    send_upstream_handshake(ss, ss.backend, cap);
    arm_recv(ss, role::upstream);
}

void engine::on_upstream_reply(session& ss, uint16_t bid, uint32_t n) {
    const uint8_t* p = be_.pool().data(bid);
    ss.reply = p[0];
    ss.cap = p[0];
    ss.st = sstate::streaming;
    ss.deadline_ms = 0;
    if (!push(ss, role::client, &ss.reply, 1, -1, true)) {
        release(bid);
        return;
    }
    arm_recv(ss, role::client);
    if (n > 1) {
        forward(ss, role::upstream, bid, p + 1, n - 1);  // the backend spoke right away (.z.po)
    } else {
        release(bid);
    }
    if (ss.st == sstate::streaming && ss.hs.size() > ss.hs_len) {
        forward_copy(ss, role::client, reinterpret_cast<const uint8_t*>(ss.hs.data()) + ss.hs_len,
                     static_cast<uint32_t>(ss.hs.size() - ss.hs_len));
    }
    if (draining_ && idle(ss)) close_session(ss);
}

void engine::forward(session& ss, role from, uint16_t bid, const uint8_t* p, uint32_t n) {
    sock& src = ss.s[static_cast<int>(from)];
    const role to = static_cast<role>(1 - static_cast<int>(from));
    sock& dst = ss.s[static_cast<int>(to)];
    net::frame_counts fc;
    qipc::header_limits hl;
    hl.capability = ss.cap;
    if (from == role::client) hl.length_max = lim_.message_bytes_max;
    qipc::status st = src.fr.feed(p, n, hl, fc);
    if (!st) {
        bump(ctr_.malformed_frames);
        QGATE_LOG_DEBUG("malformed frame from %s: %s", from == role::client ? "client" : "backend",
                        qipc::errc_name(st.code));
        release(bid);
        close_session(ss);
        return;
    }
    if (from == role::client) {
        ss.outstanding += fc.sync;
        bump(ctr_.sync_requests, fc.sync);
    } else {
        ss.outstanding -= fc.response < ss.outstanding ? fc.response : ss.outstanding;
    }
    bump(ctr_.msgs_fwd, fc.frames);
    if (dst.fd < 0 || dst.closing) {
        release(bid);
        return;
    }
    if (!push(ss, to, p, n, bid)) return;
    check_high(ss, from, dst);
}

// Bytes that do not live in a pool buffer (client bytes that arrived with the handshake): they
// stay in ss.hs, which is not touched again while the session lives.
void engine::forward_copy(session& ss, role from, const uint8_t* p, uint32_t n) {
    sock& src = ss.s[static_cast<int>(from)];
    net::frame_counts fc;
    qipc::header_limits hl;
    hl.capability = ss.cap;
    hl.length_max = lim_.message_bytes_max;
    if (!src.fr.feed(p, n, hl, fc)) {
        bump(ctr_.malformed_frames);
        close_session(ss);
        return;
    }
    ss.outstanding += fc.sync;
    bump(ctr_.msgs_fwd, fc.frames);
    push(ss, role::upstream, p, n, -1);
}

void engine::set_error(session& ss, const std::string& text) {
    ss.err.resize(qipc::error_message_size(text));
    qipc::write_error_message(text, qipc::msg_type::response,
                              {reinterpret_cast<uint8_t*>(ss.err.data()), ss.err.size()});
}

void engine::enter_no_backend(session& ss) {
    bump(ctr_.no_backend_sessions);
    QGATE_LOG_DEBUG("no backend available for group %s",
                    opt_.upstreams->group_of(ss.listener).c_str());
    ss.backend = -1;
    ss.st = sstate::no_backend;
    ss.deadline_ms = 0;
    ss.cap = qipc::negotiate_capability(ss.client_cap, kSelfCapability);
    ss.reply = ss.cap;
    set_error(ss, "qgate: no backend available for group " + opt_.upstreams->group_of(ss.listener));
    if (!push(ss, role::client, &ss.reply, 1, -1, true)) return;
    arm_recv(ss, role::client);
    if (ss.hs.size() > ss.hs_len) {
        no_backend_data(ss, reinterpret_cast<const uint8_t*>(ss.hs.data()) + ss.hs_len,
                        static_cast<uint32_t>(ss.hs.size() - ss.hs_len));
    }
}

void engine::no_backend_data(session& ss, const uint8_t* p, uint32_t n) {
    net::frame_counts fc;
    qipc::header_limits hl;
    hl.capability = ss.cap;
    hl.length_max = lim_.message_bytes_max;
    if (!ss.s[0].fr.feed(p, n, hl, fc)) {
        bump(ctr_.malformed_frames);
        close_session(ss);
        return;
    }
    const auto* e = reinterpret_cast<const uint8_t*>(ss.err.data());
    for (uint32_t i = 0; i < fc.sync; ++i) {
        if (!push(ss, role::client, e, static_cast<uint32_t>(ss.err.size()), -1)) return;
    }
    bump(ctr_.no_backend_errors, fc.sync);
    bump(ctr_.async_dropped, fc.async);  // the README promises they are counted, not just lost
    if (ss.s[0].sq.bytes() > lim_.out_bytes_high && !ss.s[0].paused) {
        bump(ctr_.slow_reader_pauses);
        pause_recv(ss, role::client);
    }
}

void engine::on_upstream_failed(session& ss) {
    if (ss.backend >= 0) {
        opt_.upstreams->release(ss.backend);
        ss.backend = -1;
    }
    ss.retry = true;
    ss.deadline_ms = 0;
    sock& k = ss.s[1];
    if (k.fd >= 0 && !k.closing) {
        close_sock(ss, role::upstream);  // start_upstream runs when the socket is freed
    } else if (k.fd < 0) {
        ss.retry = false;
        start_upstream(ss);
    }
}

void engine::on_eof(session& ss, role r) {
    if (ss.st == sstate::pool) {
        pool_failed(ss);
        return;
    }
    if (ss.st == sstate::ps_up) {
        ps_up_failed(ss);
        return;
    }
    if (r == role::client) {
        close_session(ss);
        return;
    }
    switch (ss.st) {
    case sstate::connecting:
    case sstate::up_handshake:
        bump(ctr_.backend_connect_fail);  // refused our credentials or died before replying
        on_upstream_failed(ss);
        return;
    case sstate::streaming:
        break;
    default:
        close_session(ss);
        return;
    }
    bump(ctr_.backend_disconnect);
    const upstream& u = opt_.upstreams->at(ss.backend);
    if (!ss.s[1].fr.at_boundary()) {
        close_session(ss);
        return;
    }
    uint64_t k = ss.outstanding < kDisconnectErrorsMax ? ss.outstanding : kDisconnectErrorsMax;
    set_error(ss, "qgate: backend " + u.name + " disconnected");
    const auto* e = reinterpret_cast<const uint8_t*>(ss.err.data());
    for (uint64_t i = 0; i < k; ++i) {
        if (!push(ss, role::client, e, static_cast<uint32_t>(ss.err.size()), -1)) return;
    }
    bump(ctr_.disconnect_errors, k);
    ss.outstanding = 0;
    ss.close_after_flush = true;
    opt_.upstreams->release(ss.backend);
    ss.backend = -1;
    close_sock(ss, role::upstream);
    pause_recv(ss, role::client);
    sock& c = ss.s[0];
    if (c.sq.empty() && !c.send_inflight) close_session(ss);
}

void engine::on_timeout(session& ss) {
    switch (ss.st) {
    case sstate::pool:
        pool_timeout(ss);
        return;
    case sstate::ps_up:
        ps_up_timeout(ss);
        return;
    case sstate::handshake:
        bump(ctr_.handshake_fail);
        close_session(ss);
        return;
    case sstate::connecting:
    case sstate::up_handshake:
        bump(ctr_.backend_connect_timeout);
        on_upstream_failed(ss);
        return;
    default:
        return;
    }
}

}  // namespace qgate::proxy

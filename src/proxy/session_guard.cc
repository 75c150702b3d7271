// Session mode when a peer breaks the session (session_clients, a conn_handler; the flow itself
// is session_clients.cc). Thread: the client's shard; state: the slot's `session`.
//
// Design note (decisions a kdb+ user can observe; README "Behaviour decisions"):
//  * A backend is not trusted more than a client. A frame header from it that is malformed
//    or longer than limits.message_bytes_max cannot be forwarded, and the stream cannot be
//    resynchronised after it: the frames before it go to the client, then, as when the
//    backend is lost, each sync call still waiting gets 'qgate: backend B disconnected' and
//    the client is closed (malformed_frames, disconnect_errors). Only a bad header that
//    straddles two receive buffers had its first bytes forwarded already: that client is
//    closed at once, without the errors (its stream cannot be repaired).
//  * Reply timeout (limits.session_reply_timeout_ms, off by default): a backend that owes its
//    client something (a sync call's response, or the rest of a message it began) and sends
//    nothing for that long is given up (session_reply_timeouts): each waiting sync call gets
//    'qgate: timeout after Nms', as in request mode, and the client is closed, since the late
//    reply would come back out of step. If the silence fell mid-message the client is closed
//    without the errors. Progress is any byte from the backend or any byte of a call it takes;
//    while qgate itself does not read the backend (its client reads slowly, or no receive
//    buffer is free) the backend is not silent. Cost: one clock read per turn at most (the
//    engine's clock_now) and one timer per silence, re-armed lazily, not per message.
//  * Half-close: a client that shuts down its write side after its calls (`printf ... | nc`,
//    KX's console tool) is answered what it asked (every call already read; one cut short by
//    the EOF will never be whole, and its backend owes nothing for it), then closed. Its
//    socket is not read again (sock::rd_eof).

#include <algorithm>
#include <cstdio>

#include "proxy/kinds.h"
#include "qgate/log.h"

namespace qgate::proxy {

using shard::bump;

namespace {
// Cap on error frames queued for one session at backend loss (each is an iovec entry
// pointing at the same bytes; beyond this the client is simply closed after them).
constexpr uint64_t kDisconnectErrorsMax = 4096;
}  // namespace

// The backend sent a header qgate cannot forward (design note): `fc` counts the good frames
// before it, which lie whole (or end) in this buffer before bad_offset().
void session_clients::backend_broke(session& ss, uint16_t bid, const uint8_t* p,
                                    const net::frame_counts& fc) {
    const size_t good = ss.s[1].fr.bad_offset();
    if (good == net::framer::kSplit || ss.s[0].fd < 0 || ss.s[0].closing) {
        e_.release(bid);
        e_.close_session(ss);
        return;
    }
    ss.outstanding -= fc.response < ss.outstanding ? fc.response : ss.outstanding;
    bump(e_.ctr_.msgs_fwd, fc.frames);
    if (good == 0) {
        e_.release(bid);
    } else if (!e_.push(ss, role::client, p, static_cast<uint32_t>(good), bid)) {
        return;
    }
    const upstream& u = e_.opt_.upstreams->at(ss.backend);
    bump(e_.ctr_.disconnect_errors, fail_calls(ss, "qgate: backend " + u.name + " disconnected"));
}

// Answers every sync call still waiting with the q error `text` (the stream stands at a
// message boundary), drops the upstream and closes the client once that is sent. Returns the
// number of errors queued.
uint64_t session_clients::fail_calls(session& ss, const std::string& text) {
    const uint64_t k = std::min(ss.outstanding, kDisconnectErrorsMax);
    set_error(ss, text);
    const auto* e = reinterpret_cast<const uint8_t*>(ss.err.data());
    for (uint64_t i = 0; i < k; ++i) {
        if (!e_.push(ss, role::client, e, static_cast<uint32_t>(ss.err.size()), -1)) return i;
    }
    ss.outstanding = 0;
    ss.close_after_flush = true;
    ss.deadline_ms = 0;
    if (ss.backend >= 0) bump(e_.meter(static_cast<uint32_t>(ss.backend)).errors, k);
    e_.opt_.upstreams->release(ss.backend);
    ss.backend = -1;
    e_.close_sock(ss, role::upstream);
    e_.pause_recv(ss, role::client);
    const sock& c = ss.s[0];
    if (c.sq.empty() && !c.send_inflight) e_.close_session(ss);
    return k;
}

// Calls read after fail_calls, in the same batch of completions as the backend's EOF (its
// pause of the client's reads is a cancel still in flight): each sync one gets the session's
// error too, so none meets the close unanswered. Nothing is forwarded now, so nothing is owed.
uint64_t session_clients::fail_late_calls(session& ss, uint64_t sync) {
    ss.outstanding = 0;
    const uint64_t k = std::min(sync, kDisconnectErrorsMax);
    const auto* e = reinterpret_cast<const uint8_t*>(ss.err.data());
    for (uint64_t i = 0; i < k; ++i) {
        if (!e_.push(ss, role::client, e, static_cast<uint32_t>(ss.err.size()), -1)) return i;
    }
    return k;
}

// The backend owes the client a response, or the rest of a message.
bool session_clients::owing(const session& ss) {
    return ss.outstanding > 0 || !ss.s[1].fr.at_boundary();
}

// After bytes were forwarded (reply timeout on): bytes from the backend, or a first call owed,
// start the silence afresh; the slot's timer is armed when none runs (reply_timer re-arms it).
void session_clients::watch(session& ss, role from, bool was_owing) {
    if (ss.st != sstate::streaming) return;
    if (from == role::upstream || !was_owing) ss.up_active_ms = e_.clock_now();
    if (owing(ss) && ss.deadline_ms == 0) e_.set_timeout(ss, e_.lim_->session_reply_timeout_ms);
}

// The slot's timer, while streaming: nothing owed, nothing to do (watch arms it again);
// progress since it was armed, wait the rest; else the backend has been silent too long.
void session_clients::reply_timer(session& ss) {
    const uint64_t limit = e_.lim_->session_reply_timeout_ms;
    if (limit == 0 || !owing(ss)) return;
    const uint64_t now = e_.clock_now();
    const sock& u = ss.s[1];
    if (u.paused || u.starved) ss.up_active_ms = now;  // qgate is not reading it: not silent
    if (now < ss.up_active_ms + limit) {
        e_.set_timeout(ss, static_cast<uint32_t>(ss.up_active_ms + limit - now));
        return;
    }
    reply_timed_out(ss);
}

void session_clients::reply_timed_out(session& ss) {
    bump(e_.ctr_.session_reply_timeouts);
    QGATE_LOG_DEBUG("session: backend %s silent for %ums with a reply owed",
                    e_.opt_.upstreams->at(ss.backend).name.c_str(),
                    static_cast<unsigned>(e_.lim_->session_reply_timeout_ms));
    if (!ss.s[1].fr.at_boundary()) {
        e_.close_session(ss);  // cut off mid-message: no error frame can follow it
        return;
    }
    char text[48];
    const int n = std::snprintf(text, sizeof text, "qgate: timeout after %ums",
                                static_cast<unsigned>(e_.lim_->session_reply_timeout_ms));
    fail_calls(ss, std::string(text, n < 0 ? 0 : static_cast<size_t>(n)));
}

// The client half-closed (engine::on_recv read EOF; its socket is not read again).
void session_clients::on_read_eof(session& ss, role r) {
    if (r == role::upstream) {
        on_eof(ss, r);
        return;
    }
    switch (ss.st) {
    case sstate::connecting:
    case sstate::up_handshake: return;  // its early calls go out once the backend answers
    case sstate::streaming:
    case sstate::no_backend: client_ended(ss); return;
    default: e_.close_session(ss); return;
    }
}

// A half-closed client: a sync call cut short by the EOF is owed nothing; once every other
// call is answered and sent, engine::close_if_flushed closes it (or here, if that is now).
void session_clients::client_ended(session& ss) {
    if (ss.st == sstate::streaming && ss.s[0].fr.in_sync() && ss.outstanding > 0) {
        --ss.outstanding;
    }
    if (engine::idle(ss)) e_.close_session(ss);
}

}  // namespace qgate::proxy

// The upstream link's mechanics (upstream_link.h): connect, handshake, failure accounting,
// reconnect timer. Used by session_clients (connect and handshake only), pool_links and
// feed_link. Thread: the shard's. No allocation beyond the slot's handshake string, whose
// capacity is kept.

#include "proxy/upstream_link.h"

#include <cerrno>

#include "net/socket_util.h"
#include "proxy/engine.h"

namespace qgate::proxy {

using shard::bump;

bool upstream_link::connect(session& ss, int backend) {
    ss.link.phase = link_phase::connecting;  // a failure here is a failed attempt (backoff)
    const upstream& u = e_.opt_.upstreams->at(backend);
    const int fd = net::stream_socket(u.addr.family());  // TCP_NODELAY set there
    if (fd < 0) {
        bump(e_.ctr_.backend_connect_fail);
        e_.note_backend_fail(backend, "socket", errno);
        return false;
    }
    sock& k = ss.s[static_cast<int>(role::upstream)];
    k.fd = fd;
    k.xp = &e_.plain_;
    k.xp->connect(fd, e_.ud(io::op::connect, ss.index, role::upstream), u.addr.get(), u.addr.len);
    ++k.ops;
    e_.set_timeout(ss, e_.lim_->connect_timeout_ms);
    return true;
}

upstream_link::step upstream_link::connected(session& ss, const io::completion& c, int backend,
                                             uint8_t cap) {
    if (ss.s[1].closing || ss.link.phase != link_phase::connecting) {
        e_.maybe_free(ss, role::upstream);
        return step::stale;
    }
    if (c.res < 0) {
        bump(e_.ctr_.backend_connect_fail);
        e_.note_backend_fail(backend, "connect", -c.res);
        return step::failed;
    }
    // A TLS backend: the ClientHello first; the q handshake queued below waits for the TLS
    // handshake (engine_tls_up.cc).
    const upstream& u = e_.opt_.upstreams->at(backend);
    if (u.tls != nullptr && !e_.tls_upstream(ss, backend, *u.tls)) return step::failed;
    send_handshake(ss, backend, cap);
    return step::handshake;
}

// Alone in its send: q takes the first bytes it reads as the handshake. A passthrough backend
// gets a session client's own credentials: the text of its handshake, still in ss.hs (bounded
// by limits.handshake_bytes_max), without its capability byte and NUL; a per-user pool link
// (pool_users.cc) its user's, which it keeps in its own ss.hs.
void upstream_link::send_handshake(session& ss, int backend, uint8_t cap) {
    ss.link.phase = link_phase::handshake;
    const upstream& u = e_.opt_.upstreams->at(backend);
    if (ss.st == sstate::pool && ss.pc.user != 0) {
        ss.up_hs = ss.hs;
    } else if (u.passthrough && ss.st == sstate::connecting && ss.hs_len != 0) {
        ss.up_hs = ss.own_credentials();
    } else {
        ss.up_hs = u.credentials;
    }
    if (cap != 0) ss.up_hs.push_back(static_cast<char>(cap));
    ss.up_hs.push_back('\0');
    e_.push(ss, role::upstream, reinterpret_cast<const uint8_t*>(ss.up_hs.data()),
            static_cast<uint32_t>(ss.up_hs.size()), -1, true);
    e_.set_timeout(ss, e_.lim_->connect_timeout_ms);  // the reply byte is due promptly
}

void upstream_link::ready(session& ss) {
    ss.link.phase = link_phase::ready;
    ss.link.attempt = 0;
    ss.deadline_ms = 0;
}

bool upstream_link::fail(session& ss) {
    link_state& l = ss.link;
    const bool lost = l.phase == link_phase::ready;
    if (lost) {
        l.attempt = 1;  // reconnect after min, then double per failure (backoff_ms)
    } else if (l.phase != link_phase::down) {
        ++l.attempt;
    }
    l.phase = link_phase::down;
    ss.deadline_ms = 0;
    return lost;
}

bool upstream_link::close(session& ss) {
    if (ss.s[1].fd < 0) return false;
    e_.close_sock(ss, role::upstream);  // the kind's on_sock_freed runs when ops are done
    return true;
}

void upstream_link::schedule_reconnect(session& ss) {
    if (e_.draining_) return;
    const uint64_t delay = backoff_ms(ss.link.attempt);
    e_.set_timeout(ss, static_cast<uint32_t>(delay == 0 ? 1 : delay));
}

upstream_link::due upstream_link::timer(session& ss) {
    switch (ss.link.phase) {
    case link_phase::down: return due::reconnect;
    case link_phase::ready: return due::ready;
    default:
        bump(e_.ctr_.backend_connect_timeout);
        e_.note_backend_fail(ss.st == sstate::pool ? static_cast<int>(ss.pc.backend) : ss.backend,
                             "connect or handshake timed out", 0);
        return due::timed_out;
    }
}

uint64_t upstream_link::backoff_ms(uint32_t attempt) {
    const uint32_t shift = attempt < 20 ? attempt : 20;
    uint64_t base = uint64_t{e_.lim_->reconnect_min_ms} << (shift == 0 ? 0 : shift - 1);
    if (base > e_.lim_->reconnect_max_ms) base = e_.lim_->reconnect_max_ms;
    rng_ ^= rng_ << 13;  // xorshift64: cheap, per shard, no lock
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    return base / 2 + rng_ % (base / 2 + 1);
}

}  // namespace qgate::proxy

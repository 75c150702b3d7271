// The connect side of the engine's TLS (issue 18): a tls = true backend's upstream sockets —
// a session's upstream, request mode's pool links (their health probes run on them), the
// pub/sub feed — get the same record layer as a TLS listener's clients (engine_tls.cc), in
// the connect state. After the TCP connect completes (upstream_link::connected) the
// ClientHello is sent and the q handshake queued behind it: tls_flush writes nothing until the
// TLS handshake is done, so q's credentials go inside TLS, and connect_timeout_ms (the link's
// timer, set again when the q handshake is queued) bounds TLS and q handshakes together.
// Sockets read by multishot recv (a session's upstream) are decrypted in tls_rx; those read by
// recv_into (pool links, the feed: frame_reader.cc) land their ciphertext in the connection's
// own buffer (tls_conn::cin, sized at connect) and are decrypted here into the sink's memory.
// Failures before the link is ready are counted (backend_tls_failures, backend_connect_fail),
// noted for .qgate.backends[] lasterror, logged at warn with OpenSSL's reason (at most once a
// second per backend and shard: a down backend is retried by every session and pool link),
// and handed to the kind as a failed connect attempt (conn_handler::on_link_failed), which
// tries the next backend or backs off; health and ejection see a failed connect.
// Thread: the shard's. Memory: the tls_conn (SSL, BIO pair, cin) per connection, at connect.

#include <string>

#include "proxy/engine.h"
#include "qgate/log.h"

namespace qgate::proxy {

using shard::bump;

namespace {
constexpr uint64_t kTlsWarnEveryMs = 1000;
}  // namespace

int engine::link_backend(const session& ss) const {
    if (ss.st == sstate::pool) return static_cast<int>(ss.pc.backend);
    if (ss.st == sstate::ps_up && opt_.pubsub != nullptr) {
        return static_cast<int>(opt_.pubsub->upstream);
    }
    return ss.backend;
}

// The TCP connect to a TLS backend completed: its record layer, and the ClientHello sent.
// False: counted and logged here; the caller fails the attempt.
bool engine::tls_upstream(session& ss, int backend, const tls_client& c) {
    sock& k = ss.s[static_cast<int>(role::upstream)];
    k.tls = std::make_unique<tls_conn>();
    k.tls->first = true;
    if (!k.tls->init_client(c, be_.pool().size())) {
        tls_up_fail_counted(ss, backend, "cannot start the TLS handshake");
        return false;
    }
    tls_kick(ss, role::upstream);
    return true;
}

// An upstream's TLS failed (`why`, or OpenSSL's reason when null). Before the link is ready:
// a failed connect of the backend; after: the connection is lost, as by a reset.
void engine::tls_up_fail(session& ss, const char* why) {
    if (ss.link.phase == link_phase::ready) {
        const std::string reason = why != nullptr ? why : ss.s[1].tls->reason();
        QGATE_LOG_DEBUG("backend %d: TLS: %s", link_backend(ss), reason.c_str());
        on_eof(ss, role::upstream);
        return;
    }
    tls_up_fail_counted(ss, link_backend(ss), why);
    ss.h->on_link_failed(ss);
}

void engine::tls_up_fail_counted(session& ss, int backend, const char* why) {
    tls_conn* t = ss.s[1].tls.get();
    std::string reason = why != nullptr ? why : "handshake failed";
    if (why == nullptr && t != nullptr) reason = t->reason();
    if (t != nullptr) t->counted = true;
    bump(ctr_.backend_tls_failures);
    bump(ctr_.backend_connect_fail);
    note_backend_fail(backend, ("TLS: " + reason).c_str(), 0);
    if (backend < 0 || static_cast<size_t>(backend) >= notes_.size()) return;
    backend_note& n = notes_[static_cast<size_t>(backend)];
    const upstream& u = opt_.upstreams->at(backend);
    const uint64_t now = clock_now();
    if (n.tls_warn_ms != 0 && now - n.tls_warn_ms < kTlsWarnEveryMs) {
        QGATE_LOG_DEBUG("backend %s: TLS: %s", u.name.c_str(), reason.c_str());
        return;
    }
    n.tls_warn_ms = now;
    QGATE_LOG_WARN("backend %s %s: TLS: %s", u.name.c_str(), u.where.c_str(), reason.c_str());
}

// The peer closed (or the socket failed) before the TLS handshake was done, or before the q
// handshake's reply after asking for a client certificate qgate has none of: a TLS failure,
// not the q handshake's. False: not one (the kind's on_eof applies).
bool engine::tls_up_eof(session& ss, role r) {
    const sock& k = ss.s[static_cast<int>(r)];
    if (r != role::upstream || k.tls == nullptr || k.closing) return false;
    if (!k.tls->established()) {
        tls_up_fail(ss, "the backend closed the connection during the TLS handshake");
        return true;
    }
    if (k.tls->cert_asked && ss.link.phase != link_phase::ready) {
        tls_up_fail(ss, "the backend requires a client certificate (tls_cert, tls_key)");
        return true;
    }
    return false;
}

// A recv_into socket's ciphertext (`n` bytes in tls_conn::cin): decrypted into the sink's
// targets until the pair has no whole record left. Everything fed is decrypted before the
// next read is armed, so a paused feed leaves no plaintext behind in the SSL object (the
// pause only holds back the next read: one read's worth at most goes past it).
void engine::tls_read_into(session& ss, role r, uint32_t n, frame_sink& s) {
    sock& k = ss.s[static_cast<int>(r)];
    tls_conn& t = *k.tls;
    if (t.first) {
        t.first = false;
        if (t.cin[0] != kTlsHandshakeRecord) return tls_up_fail(ss, kTlsNoReply);
    }
    if (!t.feed(t.cin.get(), n)) return tls_up_fail(ss, "more ciphertext than a read");
    // Each pass moves at least one byte, or stops: bounded by the bytes fed.
    while (k.fd >= 0 && !k.closing && s.reading(ss)) {
        const read_target tg = s.target(ss);
        uint32_t got = 0;
        const tls_conn::rd st = t.read(tg.at, tg.len, got);
        if (!t.counted && t.established()) tls_established(ss, r);
        if (st == tls_conn::rd::data) {
            s.took(ss, got, false);
            continue;
        }
        if (st == tls_conn::rd::failed) return tls_up_fail(ss, nullptr);
        if (st == tls_conn::rd::closed) return on_eof(ss, r);
        break;
    }
    tls_kick(ss, r);
}

}  // namespace qgate::proxy

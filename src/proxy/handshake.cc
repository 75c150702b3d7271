// The engine's client handshake, common to every client kind (session, request and pub/sub
// listeners): a q handshake (credentials, capability byte, NUL) is read from the client's
// first bytes, checked against the users table, and the connection is handed to the kind of
// its listener (conn_handler::on_authenticated), which writes the 1-byte reply when it is
// ready. Until then the engine also routes the slot's data, EOF and timer events here.
// Thread: the owning shard only. Memory: the slot's `hs` string (kept for the slot's next use).
//
// Decisions a kdb+ user can observe: bad credentials close the socket without writing a byte,
// as q does (the client reports 'access); a handshake that does not complete within
// handshake_timeout_ms is closed and counted (handshake_fail); bytes a client sends behind its
// handshake before the reply are kept (up to kEarlyBytesMax) and handled as its first messages.

#include "proxy/kinds.h"
#include "qgate/auth.h"
#include "qgate/qipc/handshake.h"

namespace qgate::proxy {

using shard::bump;

void engine::on_data(session& ss, role r, uint16_t bid, uint32_t n) {
    if (ss.st != sstate::handshake) {
        ss.h->on_data(ss, r, bid, n);
        return;
    }
    on_client_handshake(ss, be_.pool().data(bid), n);
    release(bid);
}

void engine::on_client_handshake(session& ss, const uint8_t* p, uint32_t n) {
    // A TLS ClientHello on a plain listener: no q handshake starts with 0x16 (a user name is
    // text), so it is refused at its first byte rather than read as credentials.
    if (ss.hs.empty() && n > 0 && p[0] == kTlsHandshakeRecord && ss.s[0].tls == nullptr) {
        bump(ctr_.tls_on_plain_refused);
        close_session(ss);
        return;
    }
    const size_t max = lim_->handshake_bytes_max;
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
    if (!ctl::authenticate(*gen_->cfg, h.user, h.password)) {
        bump(ctr_.auth_fail);
        close_session(ss);  // no byte written: the client reports 'access, as with q
        return;
    }
    ss.client_cap = h.capability;
    ss.hs_len = static_cast<uint32_t>(h.length);
    ss.deadline_ms = 0;
    ss.user.assign(h.user.data(), h.user.size());
    ss.h->on_authenticated(ss);  // the kind of the listener takes it from here
}

void engine::on_eof(session& ss, role r) { ss.h->on_eof(ss, r); }

void engine::on_timeout(session& ss) {
    if (ss.st != sstate::handshake) {
        ss.h->on_timeout(ss);
        return;
    }
    bump(ctr_.handshake_fail);
    close_session(ss);
}

}  // namespace qgate::proxy

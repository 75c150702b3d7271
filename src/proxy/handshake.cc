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
// A login [[acl]] does not allow on this listener (or, in session mode, to the listener's
// backend group) is refused the same way, and counted (acl_denied_logins); so is a user over
// its [[user_limits]] conns_max (counted apart).
//
// A handshake never holds a slot others need: when a client arrives at a shard already at
// conns_per_shard_max while some of its connections are still in their handshake (TLS or q),
// the oldest of those is closed (handshakes_evicted) and the newcomer waits for its slot
// (parked_, bounded by kParkedMax) instead of being refused; a shard whose every connection has
// logged in refuses it (conns_rejected). So half-open handshakes (a slowloris) cannot lock real
// clients out, and each one lives at most handshake_timeout_ms anyway.

#include "proxy/kinds.h"
#include "proxy/user_conns.h"
#include "qgate/auth.h"
#include "qgate/log.h"
#include "qgate/qipc/handshake.h"

namespace qgate::proxy {

using shard::bump;

namespace {

// Caches the user's [[acl]] rules in the session and checks the listener (any kind) and the
// backend group a session-mode listener serves. No allocation: globs over compiled rules.
bool acl_login_ok(const generation& g, session& ss) {
    ss.acl_gen = g.number;
    if (!g.acl.enabled()) return true;
    ss.acl_rules = g.acl.rules_for(ss.user);
    if (!g.acl.listener_ok(ss.acl_rules, ss.listener)) return false;
    if (g.cfg->listeners[ss.listener].mode != conn_mode::session) return true;
    const int32_t gid = g.listeners[ss.listener].group;
    return gid < 0 || g.acl.group_ok(ss.acl_rules, ss.listener, g.groups[gid].name());
}

}  // namespace

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
    if (!within_user_limits(ss, h.user)) return;
    ss.client_cap = h.capability;
    ss.hs_len = static_cast<uint32_t>(h.length);
    ss.deadline_ms = 0;
    ss.user.assign(h.user.data(), h.user.size());
    if (gen_ != nullptr && !acl_login_ok(*gen_, ss)) {
        bump(ctr_.acl_denied_logins);
        close_session(ss);  // as a bad login: q answers 'access by closing
        return;
    }
    ss.h->on_authenticated(ss);  // the kind of the listener takes it from here
}

// [[user_limits]] conns_max: counted process-wide from the login (user_conns.h) until the
// slot is freed, so a handshake still in progress never holds a user's place. One over the
// limit is closed without a byte, as q refuses a login (the client's hopen reports 'access).
// A user whose rule limits calls (calls_max) is counted too, limited or not, so its calls have
// a slot to count in. Its message_bytes_max is kept in the slot (ss.msg_max) for the framers.
bool engine::within_user_limits(session& ss, std::string_view user) {
    const user_limits_conf* rule =
        opt_.users != nullptr ? user_conns::rule_of(*gen_->cfg, user) : nullptr;
    const uint32_t max = rule != nullptr ? rule->conns_max : 0;
    const int32_t slot = user_conns::counted(rule) ? opt_.users->acquire(user, max, true)
                                                   : user_conns::kUnlimited;
    if (slot >= user_conns::kUnlimited) {
        ss.user_slot = slot;
        const uint64_t m = rule != nullptr ? rule->message_bytes_max : 0;
        ss.msg_max = m != 0 && m < lim_->message_bytes_max ? m : 0;
        ss.calls_max = rule != nullptr ? rule->calls_max : 0;
        ss.ulim_gen = gen_->number;
        return true;
    }
    bump(slot == user_conns::kTableFull ? ctr_.user_table_full : ctr_.user_conns_refused);
    QGATE_LOG_DEBUG("user %.*s: connection limit %u", static_cast<int>(user.size()), user.data(),
                    max);
    close_session(ss);
    return false;
}

// The shard is full: close its oldest pending handshake and keep `fd` until that slot is free
// (admit_parked). False: none to close, or kParkedMax newcomers already wait.
bool engine::park_for_handshake(uint32_t l, int fd) {
    if (parked_.size() >= kParkedMax) return false;
    session* old = oldest_handshake();
    if (old == nullptr) return false;
    bump(ctr_.handshakes_evicted);
    QGATE_LOG_DEBUG("shard full: closing the oldest pending handshake for a newcomer");
    close_session(*old);
    parked_.push_back({fd, l});  // reserved at kParkedMax: no allocation
    return true;
}

// O(slots), only when the shard is full. The oldest by accept time: it had the longest to
// finish its handshake.
session* engine::oldest_handshake() {
    session* best = nullptr;
    for (auto& sp : sessions_) {
        if (sp->st != sstate::handshake) continue;
        if (best == nullptr || sp->since_ns < best->since_ns) best = sp.get();
    }
    return best;
}

// Each turn and before each accept: parked newcomers take freed slots, first come first.
void engine::admit_parked() {
    size_t n = 0;
    while (n < parked_.size()) {
        session* ss = alloc_session();
        if (ss == nullptr) break;
        admit(*ss, parked_[n].listener, parked_[n].fd);
        ++n;
    }
    if (n != 0) parked_.erase(parked_.begin(), parked_.begin() + static_cast<std::ptrdiff_t>(n));
}

// Draining: nobody waiting is admitted any more.
void engine::close_parked() {
    for (const parked_accept& p : parked_) ::close(p.fd);
    parked_.clear();
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

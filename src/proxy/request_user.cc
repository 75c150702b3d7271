// Request mode, the client's shard: [[user_limits]] calls_max, the sync calls one user has in
// flight over every listener and shard (user_conns.h: one atomic count per user, no lock).
// Owner: the shard's thread. No allocation: the limit is cached in the session and looked up
// again when the shard's generation moves on (a reload applies at each client's next call).
//
// A call counts from routing (dispatch) until its answer leaves the client's order list (sent
// or queued to be sent), or its client goes: those are the only two ways out of the order
// list, so every end (answer, error, timeout, a backend lost, drain) gives it back once. A
// fan-out is one call (its parent alone is on the order list). Async calls are not counted
// (nothing is owed to the caller). Decisions a kdb+ user can observe (README "Behaviour
// decisions"): one over the limit is answered at once, in its place in the order, with
// 'qgate: user U has N calls in flight (user_limits.calls_max), and counted
// (user_calls_refused); the connection stays open and other users are not affected.
#include <cstdio>

#include "proxy/kinds.h"
#include "proxy/user_conns.h"
#include "qgate/check.h"

namespace qgate::proxy {

using shard::bump;

// The session's calls_max as of this generation; a user a reload newly limits gets its slot
// now (counted as open from here on, given back when the connection's slot is freed).
void request_clients::refresh_user_limit(session& ss) {
    if (ss.ulim_gen == e_.gen_->number || e_.opt_.users == nullptr) return;
    ss.ulim_gen = e_.gen_->number;
    const user_limits_conf* rule = user_conns::rule_of(*e_.gen_->cfg, ss.user);
    ss.calls_max = rule != nullptr ? rule->calls_max : 0;
    if (ss.user_slot < 0 && user_conns::counted(rule)) {
        const int32_t slot = e_.opt_.users->acquire(ss.user, 0, true);
        if (slot >= 0) ss.user_slot = slot;
    }
}

// False: refused (answered with the error, in its place). `r` is already on the order list.
bool request_clients::begin_user_call(session& ss, request& r) {
    refresh_user_limit(ss);
    if (ss.user_slot < 0) return true;  // not counted: no rule limits this user
    uint32_t seen = 0;
    if (e_.opt_.users->call_begin(ss.user_slot, ss.calls_max, seen)) {
        r.user_call = true;
        return true;
    }
    bump(e_.ctr_.user_calls_refused);
    char text[kErrTextMax];
    // At most kUserShownMax bytes of the name (admin_link.h), as .qgate.clients[] shows it.
    const int shown = static_cast<int>(ss.user.size() < kUserShownMax ? ss.user.size()
                                                                      : kUserShownMax);
    const int len = std::snprintf(text, sizeof text,
                                  "qgate: user %.*s has %u calls in flight (user_limits.calls_max)",
                                  shown, ss.user.data(), static_cast<unsigned>(seen));
    answer_error(ss, r, {text, static_cast<size_t>(len < 0 ? 0 : len)});
    return false;
}

// The call leaves its client's order list: its place is given back, exactly once (the count
// never goes below 0: one given back twice is a bug, counted, and the count left exact).
void request_clients::end_user_call(const session& ss, request& r) {
    if (!r.user_call) return;
    r.user_call = false;
    (void)QGATE_CHECK(e_.ctr_, e_.opt_.users->call_end(ss.user_slot));
}

}  // namespace qgate::proxy

// Request mode, a passthrough backend's home shard (credentials = "passthrough"): a pool per
// user instead of one shared pool, so the backend's .z.u, -u/-U file and .z.pw see each
// client's own user, as a session's own upstream does. The links are ordinary pool links
// (pool_links.cc, pool_rx.cc: same connect, handshake, pipelining, receive path); what differs
// is which calls they take and how long they live.
//
// Design note. A call for such a backend carries its client's own "user:password" (request::
// cred, copied by the origin into capacity the slot keeps, and a hash of it, cred_key). The
// home shard keeps per backend a small table of user pools (home_backend::users, at most
// backend.user_pools_max, entries reused), found by a scan of keys (and the text compared: a
// colliding key must never lend one user's link to another). Each pool has its own queue and
// its own links (pool_conn::user = index + 1), opened on demand, one at a time, while every
// link it has is busy, up to backend.user_links_max; its calls go only on its links. Creating
// a pool or a link is connection setup (allocation there, like accept); a call on an existing
// pool allocates nothing.
//
// Decisions a kdb+ user can observe:
//  * The backend refusing the user (q closes a login it refuses, so: EOF in the handshake):
//    the user's waiting calls are answered 'access, q's word (user_pool_refused); the link is
//    not reconnected and the backend is not marked down (one user's bad password must not
//    eject a backend for the others). A later call of that user tries again.
//  * More users than backend.user_pools_max with links at once: the call is answered
//    'qgate: backend B has N user pools (backend.user_pools_max) (user_pools_full).
//  * A link that carried no call for backend.user_idle_ms is closed (user_links_idle_closed);
//    the pool goes with its last link. A link lost or failing to connect reconnects with
//    backoff like a shared one, and counts toward ejection like one.

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <utility>

#include "proxy/kinds.h"
#include "qgate/log.h"

namespace qgate::proxy {

using shard::bump;

namespace {
// Overwritten before it is let go: a password does not linger in a free slot.
void wipe(std::string& s) {
    std::fill(s.begin(), s.end(), '\0');
    s.clear();
}
}  // namespace

void pool_links::user_enqueue(request& r) {
    const uint32_t b = r.backend;
    home_backend& hb = homes_[b];
    int32_t ui = find_user(hb, r);
    if (ui < 0) ui = add_user(hb, r);
    if (ui < 0) return;  // answered
    user_pool& up = hb.users[static_cast<uint32_t>(ui)];
    if (up.queue.count >= r.queue_max) {
        bump(e_.ctr_.request_busy);
        home_answer(r, "qgate: busy");
        return;
    }
    up.queue.insert(&r);
    ++hb.user_queued;
    publish_load(b);
    mark_pump(b);
}

int32_t pool_links::find_user(const home_backend& hb, const request& r) {
    for (uint32_t i = 0; i < hb.users.size(); ++i) {
        const user_pool& up = hb.users[i];
        if (up.key == r.cred_key && up.cred == r.cred) return static_cast<int32_t>(i);
    }
    return -1;
}

// A pool for the call's user: a free entry, else a new one. The table's capacity is reserved
// once (user_pools_max entries), so an entry never moves while a caller holds it.
int32_t pool_links::add_user(home_backend& hb, request& r) {
    const upstream& u = e_.opt_.upstreams->at(static_cast<int>(r.backend));
    if (r.cred_key == 0) {  // its client left before the call was routed: no credentials
        bump(e_.ctr_.user_pool_refused);
        home_answer(r, "access");
        return -1;
    }
    if (hb.users.capacity() < u.user_pools_max && hb.users.empty()) {
        hb.users.reserve(u.user_pools_max);
    }
    auto it = std::find_if(hb.users.begin(), hb.users.end(),
                           [](const user_pool& p) { return p.key == 0; });
    const bool room = it != hb.users.end() || hb.users.size() < hb.users.capacity();
    if (hb.user_pools >= u.user_pools_max || !room) {
        bump(e_.ctr_.user_pools_full);
        char text[kErrTextMax];
        const int n = std::snprintf(text, sizeof text,
                                    "qgate: backend %s has %u user pools (backend.user_pools_max)",
                                    u.name.c_str(), hb.user_pools);
        home_answer(r, {text, static_cast<size_t>(n < 0 ? 0 : n)});
        return -1;
    }
    if (it == hb.users.end()) it = hb.users.emplace(hb.users.end());
    it->key = r.cred_key;
    it->cred = r.cred;
    ++hb.user_pools;
    return static_cast<int32_t>(it - hb.users.begin());
}

void pool_links::pump_users(uint32_t b) {
    for (uint32_t i = 0; i < homes_[b].users.size(); ++i) {
        if (!homes_[b].users[i].queue.empty()) pump_user(b, i);
    }
    publish_load(b);
}

// The user's calls on its links; when every link is busy (and none is on its way), one more.
void pool_links::pump_user(uint32_t b, uint32_t ui) {
    home_backend& hb = homes_[b];
    user_pool& up = hb.users[ui];
    request_fifo skipped;  // handed back after the loop: that can re-enter pump
    hb.user_queued -= pump_queue(up.queue, up.conns, skipped);
    if (!up.queue.empty() && !stalled(up.conns, e_.clock_now()) &&
        pick_conn(up.conns) == nullptr &&
        up.conns.size() < e_.opt_.upstreams->at(static_cast<int>(b)).user_links_max &&
        std::all_of(up.conns.begin(), up.conns.end(), [this](uint32_t idx) {
            return e_.sessions_[idx]->link.phase == link_phase::ready;
        })) {
        open_user_link(b, ui);
    }
    while (request* r = skipped.pop()) return_request(*r, false);
}

// No slot left (limits.conns_per_shard_max): with a link, the user's calls wait for it; with
// none, nothing would ever pump them, so they are answered 'qgate: busy.
void pool_links::open_user_link(uint32_t b, uint32_t ui) {
    session* ss = take_slot();
    user_pool& up = homes_[b].users[ui];
    if (ss == nullptr) {
        if (!up.conns.empty()) return;
        request_fifo busy = std::exchange(up.queue, request_fifo{});
        homes_[b].user_queued -= busy.count;
        while (request* r = busy.pop()) {
            bump(e_.ctr_.request_busy);
            home_answer(*r, "qgate: busy");
        }
        drop_user_if_idle(b, ui);
        return;
    }
    ss->st = sstate::pool;
    ss->h = this;
    ss->pc = pool_conn{};
    ss->pc.backend = b;
    ss->pc.user = ui + 1;
    ss->link = {};
    ss->hs = up.cred;  // sent by upstream_link::send_handshake
    up.conns.push_back(ss->index);
    bump(e_.ctr_.user_links_opened);
    bump(e_.ctr_.user_links_open);
    pool_connect(*ss);
}

// q refuses a login by closing: EOF before the handshake's reply byte, on a user's link, is
// the backend refusing that user, not the backend failing.
void pool_links::pool_eof(session& ss) {
    if (ss.pc.user != 0 && ss.link.phase == link_phase::handshake) return user_refused(ss);
    pool_failed(ss);
}

// The user's waiting calls are answered 'access (unless another of its links is up to take
// them); the link is let go, and the backend's failure count is not touched.
void pool_links::user_refused(session& ss) {
    const uint32_t b = ss.pc.backend;
    home_backend& hb = homes_[b];
    user_pool& up = hb.users[ss.pc.user - 1];
    QGATE_LOG_DEBUG("backend %s: refused a user's credentials", name(b));
    const bool other = std::any_of(up.conns.begin(), up.conns.end(), [&](uint32_t idx) {
        return idx != ss.index && e_.sessions_[idx]->link.phase == link_phase::ready;
    });
    request_fifo refused;
    if (!other) refused = std::exchange(up.queue, request_fifo{});
    hb.user_queued -= refused.count;
    user_release(ss);  // may free the pool entry: `up` is not used below
    while (request* r = refused.pop()) {
        bump(e_.ctr_.user_pool_refused);
        bump(e_.meter(b).errors);
        home_answer(*r, "access");
    }
    publish_load(b);
}

// The idle timer of a ready user link: closed once no call went on it for user_idle_ms.
void pool_links::user_idle_due(session& ss) {
    const uint32_t idle = e_.opt_.upstreams->at(static_cast<int>(ss.pc.backend)).user_idle_ms;
    const uint64_t now = e_.clock_now();
    const uint64_t end = ss.pc.used_ms + idle;
    if (!ss.pc.fly.empty() || now < end) {
        e_.set_timeout(ss, ss.pc.fly.empty() ? static_cast<uint32_t>(end - now) : idle);
        return;
    }
    bump(e_.ctr_.user_links_idle_closed);
    user_release(ss);
}

// Closes a user link that carries nothing (idle, or refused in its handshake) for good:
// user_link_freed runs when its socket is freed.
void pool_links::user_release(session& ss) {
    if (ss.link.phase == link_phase::ready) --homes_[ss.pc.backend].up;
    ss.link.phase = link_phase::down;
    ss.deadline_ms = 0;
    ss.pc.probing = pool_conn::probe_kind::none;
    ss.pc.release = true;
    if (!e_.link_.close(ss)) pool_freed(ss);
}

// The socket of a released user link is freed: its slot becomes a spare; the user's pool goes
// with its last link unless calls wait (they get a new link at the end of the turn).
void pool_links::user_link_freed(session& ss) {
    const uint32_t b = ss.pc.backend;
    const uint32_t ui = ss.pc.user - 1;
    user_pool& up = homes_[b].users[ui];
    std::erase(up.conns, ss.index);
    ss.pc.release = false;
    ss.pc.user = 0;
    wipe(ss.hs);
    wipe(ss.up_hs);
    spare_.push_back(ss.index);
    shard::drop(e_.ctr_.user_links_open);
    if (up.conns.empty() && !up.queue.empty()) mark_pump(b);
    drop_user_if_idle(b, ui);
}

// A pool with no link and nothing waiting is let go: its entry is free for another user.
void pool_links::drop_user_if_idle(uint32_t b, uint32_t ui) {
    home_backend& hb = homes_[b];
    user_pool& up = hb.users[ui];
    if (up.key == 0 || !up.conns.empty() || !up.queue.empty()) return;
    wipe(up.cred);
    up.key = 0;
    --hb.user_pools;
}

// Ejected: the users' waiting calls go back to be routed again, as the shared queue's do.
void pool_links::bounce_users(uint32_t b) {
    for (uint32_t i = 0; i < homes_[b].users.size(); ++i) {
        while (request* r = homes_[b].users[i].queue.pop()) {
            --homes_[b].user_queued;
            return_request(*r, true);
        }
    }
}

}  // namespace qgate::proxy

// Request mode, the backend's home shard: per-backend FIFO of waiting requests, a pool of
// upstream connections with at most one request outstanding each, health (reconnect with
// exponential backoff and jitter, ejection after repeated failures, recovery), and the
// per-backend load cell every shard's least-busy policy reads.
//
// Design note. Backend b lives on shard b % shards; only that shard touches its queue, its
// connections and writes its backend_state (load = queued + in flight, live = not ejected),
// with relaxed stores: other shards read a value at most one turn old. Pool connections are
// engine sessions in state `pool` (socket in s[1]), so they share the io plumbing (one
// gathered sendmsg in flight, generation-checked user_data, close and cancel) with session
// mode; they receive differently: straight into the buffer the reply is handed back in, one
// recv_into at a time (pool_rx.cc), with no copy.
//
// Decisions a kdb+ user can observe:
//  * Full queue (limits.queue_max, or the route's queue_max): 'qgate: busy.
//  * Backend lost with a call in flight: that call gets 'qgate: backend B disconnected (it may
//    have run, so it is never re-sent). Calls still queued wait for the reconnect; if the
//    backend is ejected (limits.eject_after_failures consecutive failed connects) they go back
//    to their client's shard to be routed again among the live members (at most 3 times),
//    which answers 'qgate: no backend available for group G when none is left.
//  * Unsolicited messages from a backend on a shared connection (a q process calling
//    neg[.z.w], or sending anything but the one response it owes) cannot be attributed to a
//    client: async ones are dropped and counted (backend_unsolicited); a sync one is answered
//    with the q error 'qgate: request mode does not serve calls from backends, so the backend
//    does not block forever (pool_rx.cc).

#include <cstdio>

#include "net/socket_util.h"
#include "proxy/kinds.h"
#include "qgate/log.h"
#include "qgate/qipc/handshake.h"
#include "qgate/qipc/writer.h"

namespace qgate::proxy {

using shard::bump;

namespace {
constexpr uint8_t kPoolCapability = 3;
constexpr uint8_t kBouncesMax = 3;
}  // namespace

void pool_links::start_pools() {
    homes_.resize(e_.plane_->backends());
    for (uint32_t b = 0; b < e_.plane_->backends(); ++b) {
        if (e_.plane_->home(b) != e_.me_) continue;
        home_backend& hb = homes_[b];
        hb.mine = true;
        for (uint32_t i = 0; i < e_.opt_.cfg->backends[b].conns; ++i) {
            session* ss = e_.alloc_session();
            if (ss == nullptr) break;  // conns_per_shard_max reached: fewer connections
            ss->st = sstate::pool;
            ss->h = this;
            ss->pc = pool_conn{};
            ss->pc.backend = b;
            hb.conns.push_back(ss->index);
            pool_connect(*ss);
        }
    }
}

void pool_links::publish_load(uint32_t b) {
    const home_backend& hb = homes_[b];
    e_.plane_->state(b).load.store(hb.queue.count + hb.inflight, std::memory_order_relaxed);
}

void pool_links::home_enqueue(request& r) {
    home_backend& hb = homes_[r.backend];
    if (hb.ejected) {
        return_request(r, true);  // its client's shard routes it again among live members
        return;
    }
    if (hb.queue.count >= r.queue_max) {
        bump(e_.ctr_.request_busy);
        home_answer(r, "qgate: busy");
        return;
    }
    hb.queue.insert(&r);
    publish_load(r.backend);
    pump(r.backend);
}

// An error qgate writes as the answer (rep belongs to the home shard until the hand-back).
void pool_links::home_answer(request& r, std::string_view text) {
    // An async call gets no answer (q tells an async caller nothing) but is counted: busy, its
    // group gone after kBouncesMax re-routes, or its connection lost while sending it.
    if (!r.sync) bump(e_.ctr_.async_dropped);
    r.rep.resize(qipc::error_message_size(text));
    qipc::write_error_message(text, qipc::msg_type::response, {r.rep.data(), r.rep.size()});
    return_request(r, false);
}

void pool_links::return_request(request& r, bool bounce) {
    r.bounce = bounce && r.bounces < kBouncesMax;
    if (bounce && !r.bounce) {
        char text[kErrTextMax];
        const std::string_view g = e_.plane_->groups()[e_.plane_->group_of(r.backend)].name();
        const int n = std::snprintf(text, sizeof text, "qgate: no backend available for group %.*s",
                                    static_cast<int>(g.size()), g.data());
        home_answer(r, {text, static_cast<size_t>(n < 0 ? 0 : n)});
        return;
    }
    if (r.origin == e_.me_) {
        e_.rq_->request_done(r);
    } else {
        e_.rq_->post(r.origin, kPostDone, r);
    }
}

// Gives each idle ready connection the next live request of the queue.
void pool_links::pump(uint32_t b) {
    home_backend& hb = homes_[b];
    for (uint32_t idx : hb.conns) {
        if (hb.queue.empty()) break;
        session& ss = *e_.sessions_[idx];
        if (ss.link.phase != link_phase::ready || ss.pc.cur != nullptr || ss.pc.probing ||
            ss.s[1].closing) {
            continue;
        }
        request* r = hb.queue.pop();
        while (r != nullptr && r->is_abandoned()) {
            bump(e_.ctr_.requests_skipped);
            return_request(*r, false);
            r = hb.queue.pop();
        }
        if (r == nullptr) break;
        ss.pc.cur = r;
        ss.pc.sent = ss.pc.replied = false;
        ++hb.inflight;
        const std::span<const uint8_t> call = r->call();  // lent or copied: the origin's bytes
        if (!e_.push(ss, role::upstream, call.data(), static_cast<uint32_t>(call.size()), -1)) {
            break;  // push failed the connection (pool_failed answered the request)
        }
    }
    publish_load(b);
}

void pool_links::pool_connect(session& ss) {
    if (!e_.link_.connect(ss, static_cast<int>(ss.pc.backend))) pool_failed(ss);
}

void pool_links::pool_connected(session& ss, const io::completion& c) {
    const int b = static_cast<int>(ss.pc.backend);
    switch (e_.link_.connected(ss, c, b, kPoolCapability)) {
    case upstream_link::step::stale: return;
    case upstream_link::step::failed: pool_failed(ss); return;
    case upstream_link::step::handshake: e_.frames_.start(ss, role::upstream); return;
    }
}

// The backend answered the handshake with its capability byte (pool_rx.cc read it): ready.
void pool_links::pool_ready(session& ss, uint8_t cap) {
    const uint32_t b = ss.pc.backend;
    home_backend& hb = homes_[b];
    ss.cap = cap;
    upstream_link::ready(ss);
    hb.failures = 0;
    ++hb.up;
    if (hb.ejected) {
        hb.ejected = false;
        bump(e_.ctr_.backends_recovered);
        QGATE_LOG_INFO("backend %s: recovered", e_.plane_->name(b).c_str());
    }
    e_.plane_->state(b).live.store(true, std::memory_order_relaxed);
    schedule_probe(ss);
    pump(b);
}

void pool_links::pool_after_send(session& ss) {
    pool_conn& pc = ss.pc;
    const sock& k = ss.s[1];
    if (pc.cur == nullptr || pc.sent || !k.sq.empty() || k.send_inflight) return;
    pc.sent = true;
    if (!pc.cur->sync || pc.replied) pool_complete(ss);
}

void pool_links::pool_complete(session& ss) {
    const uint32_t b = ss.pc.backend;
    request* r = ss.pc.cur;
    ss.pc.cur = nullptr;
    --homes_[b].inflight;
    return_request(*r, false);
    pump(b);
    publish_load(b);
}

// Any failure of a pool connection: answer its call, count, close; pool_freed reconnects.
void pool_links::pool_failed(session& ss) {
    pool_conn& pc = ss.pc;
    const uint32_t b = pc.backend;
    home_backend& hb = homes_[b];
    const bool attempted = ss.link.phase != link_phase::down;
    if (upstream_link::fail(ss)) {
        --hb.up;
        bump(e_.ctr_.backend_disconnect);
        QGATE_LOG_DEBUG("backend %s: connection lost", e_.plane_->name(b).c_str());
    } else if (attempted) {
        ++hb.failures;
    }
    request* lost = nullptr;
    if (pc.cur != nullptr) {
        request* r = pc.cur;
        pc.cur = nullptr;
        if (r->sync && !r->is_abandoned()) bump(e_.ctr_.disconnect_errors);
        r->lost = true;
        if (ss.s[1].fd >= 0 && ss.s[1].send_inflight) {
            pc.parked = r;  // its bytes may still be read by the kernel: see pool_freed
        } else {
            lost = r;
        }
    }
    pc.probing = false;
    if (hb.up == 0 && !hb.ejected && hb.failures >= e_.lim_.eject_after_failures) eject(b);
    // Answered only now that the connection is down: answering can re-enter pump (the client
    // is on this shard and framing more calls), which must not pick this connection.
    if (lost != nullptr) pool_lost(ss, *lost);
    publish_load(b);
    if (!e_.link_.close(ss)) pool_freed(ss);  // else on_sock_freed -> pool_freed
}

// 'qgate: backend B disconnected for the call a failed connection carried (in flight until
// now: the backend's load counts it while its connection may still be sending it).
void pool_links::pool_lost(session& ss, request& r) {
    --homes_[ss.pc.backend].inflight;
    char text[kErrTextMax];
    const int n = std::snprintf(text, sizeof text, "qgate: backend %s disconnected",
                                e_.plane_->name(ss.pc.backend).c_str());
    home_answer(r, {text, static_cast<size_t>(n < 0 ? 0 : n)});
}

// The socket is gone: wait min * 2^(attempt-1) ms (capped), half of it jittered, then reconnect.
// Every operation of the socket has completed, so a parked call's bytes are no longer read:
// only now may its slot go back to the origin (which may free it and recycle a lent buffer).
void pool_links::pool_freed(session& ss) {
    if (ss.pc.parked != nullptr) {
        request* r = ss.pc.parked;
        ss.pc.parked = nullptr;
        pool_lost(ss, *r);
        publish_load(ss.pc.backend);
    }
    if (e_.draining_) return;
    if (ss.link.attempt > 0) bump(e_.ctr_.backend_reconnects);
    e_.link_.schedule_reconnect(ss);
}

void pool_links::pool_timeout(session& ss) {
    switch (e_.link_.timer(ss)) {
    case upstream_link::due::reconnect: pool_connect(ss); return;
    case upstream_link::due::timed_out: pool_failed(ss); return;
    case upstream_link::due::ready: probe_due(ss); return;
    }
}

// The health query: sync "" (q answers ::) on a ready connection whose backend is idle, so a
// long-running call elsewhere on the backend cannot make it look dead.
void pool_links::schedule_probe(session& ss) {
    if (e_.lim_.health_interval_ms != 0) e_.set_timeout(ss, e_.lim_.health_interval_ms);
}

void pool_links::probe_due(session& ss) {
    static constexpr uint8_t kProbe[] = {1, 1, 0, 0, 14, 0, 0, 0, 10, 0, 0, 0, 0, 0};  // sync ""
    pool_conn& pc = ss.pc;
    if (pc.probing) {
        bump(e_.ctr_.backend_health_fail);
        QGATE_LOG_WARN("backend %s: no answer to the health query",
                       e_.plane_->name(pc.backend).c_str());
        pool_failed(ss);
        return;
    }
    if (pc.cur != nullptr || homes_[pc.backend].inflight != 0) {
        schedule_probe(ss);  // busy is alive enough; look again later
        return;
    }
    pc.probing = true;
    bump(e_.ctr_.backend_health_queries);
    if (!e_.push(ss, role::upstream, kProbe, sizeof kProbe, -1)) return;
    e_.set_timeout(ss, e_.lim_.connect_timeout_ms);
}

// No connection and too many failures: stop picking it and send its queue back for re-routing.
void pool_links::eject(uint32_t b) {
    home_backend& hb = homes_[b];
    hb.ejected = true;
    e_.plane_->state(b).live.store(false, std::memory_order_relaxed);
    bump(e_.ctr_.backends_ejected);
    QGATE_LOG_WARN("backend %s: ejected after %u failed connects", e_.plane_->name(b).c_str(),
                   hb.failures);
    while (request* r = hb.queue.pop()) return_request(*r, true);
    publish_load(b);
}

bool pool_links::home_idle() const {
    if (e_.rq_->away_ != 0) return false;
    for (const request_fifo& o : e_.rq_->outbox_) {
        if (!o.empty()) return false;
    }
    for (const home_backend& hb : homes_) {
        if (hb.mine && (!hb.queue.empty() || hb.inflight != 0)) return false;
    }
    return e_.plane_->clients_open().load(std::memory_order_relaxed) == 0;
}

}  // namespace qgate::proxy

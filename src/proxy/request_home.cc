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
#include "proxy/engine.h"
#include "qgate/log.h"
#include "qgate/qipc/handshake.h"
#include "qgate/qipc/writer.h"

namespace qgate::proxy {

using shard::bump;

namespace {
constexpr uint8_t kPoolCapability = 3;
constexpr uint8_t kBouncesMax = 3;
}  // namespace

void engine::start_pools() {
    homes_.resize(plane_->backends());
    for (uint32_t b = 0; b < plane_->backends(); ++b) {
        if (plane_->home(b) != me_) continue;
        home_backend& hb = homes_[b];
        hb.mine = true;
        for (uint32_t i = 0; i < opt_.cfg->backends[b].conns; ++i) {
            session* ss = alloc_session();
            if (ss == nullptr) break;  // conns_per_shard_max reached: fewer connections
            ss->st = sstate::pool;
            ss->pc = pool_conn{};
            ss->pc.backend = b;
            hb.conns.push_back(ss->index);
            pool_connect(*ss);
        }
    }
}

void engine::publish_load(uint32_t b) {
    const home_backend& hb = homes_[b];
    plane_->state(b).load.store(hb.queue.count + hb.inflight, std::memory_order_relaxed);
}

void engine::home_enqueue(request& r) {
    home_backend& hb = homes_[r.backend];
    if (hb.ejected) {
        return_request(r, true);  // its client's shard routes it again among live members
        return;
    }
    if (hb.queue.count >= r.queue_max) {
        bump(ctr_.request_busy);
        home_answer(r, "qgate: busy");
        return;
    }
    hb.queue.insert(&r);
    publish_load(r.backend);
    pump(r.backend);
}

// An error qgate writes as the answer (rep belongs to the home shard until the hand-back).
void engine::home_answer(request& r, std::string_view text) {
    // An async call gets no answer (q tells an async caller nothing) but is counted: busy, its
    // group gone after kBouncesMax re-routes, or its connection lost while sending it.
    if (!r.sync) bump(ctr_.async_dropped);
    r.rep.resize(qipc::error_message_size(text));
    qipc::write_error_message(text, qipc::msg_type::response, {r.rep.data(), r.rep.size()});
    return_request(r, false);
}

void engine::return_request(request& r, bool bounce) {
    r.bounce = bounce && r.bounces < kBouncesMax;
    if (bounce && !r.bounce) {
        char text[kErrTextMax];
        const std::string_view g = plane_->groups()[plane_->group_of(r.backend)].name();
        const int n = std::snprintf(text, sizeof text, "qgate: no backend available for group %.*s",
                                    static_cast<int>(g.size()), g.data());
        home_answer(r, {text, static_cast<size_t>(n < 0 ? 0 : n)});
        return;
    }
    if (r.origin == me_) {
        request_done(r);
    } else {
        post(r.origin, kPostDone, r);
    }
}

// Gives each idle ready connection the next live request of the queue.
void engine::pump(uint32_t b) {
    home_backend& hb = homes_[b];
    for (uint32_t idx : hb.conns) {
        if (hb.queue.empty()) break;
        session& ss = *sessions_[idx];
        if (ss.pc.st != pstate::ready || ss.pc.cur != nullptr || ss.pc.probing ||
            ss.s[1].closing) {
            continue;
        }
        request* r = hb.queue.pop();
        while (r != nullptr && r->is_abandoned()) {
            bump(ctr_.requests_skipped);
            return_request(*r, false);
            r = hb.queue.pop();
        }
        if (r == nullptr) break;
        ss.pc.cur = r;
        ss.pc.sent = ss.pc.replied = false;
        ++hb.inflight;
        const std::span<const uint8_t> call = r->call();  // lent or copied: the origin's bytes
        if (!push(ss, role::upstream, call.data(), static_cast<uint32_t>(call.size()), -1)) {
            break;  // push failed the connection (pool_failed answered the request)
        }
    }
    publish_load(b);
}

void engine::pool_connect(session& ss) {
    ss.pc.st = pstate::connecting;
    if (!connect_upstream(ss, static_cast<int>(ss.pc.backend))) pool_failed(ss);
}

void engine::pool_connected(session& ss, const io::completion& c) {
    sock& k = ss.s[1];
    if (k.closing || ss.pc.st != pstate::connecting) {
        maybe_free(ss, role::upstream);
        return;
    }
    if (c.res < 0) {
        bump(ctr_.backend_connect_fail);
        pool_failed(ss);
        return;
    }
    net::set_nodelay(k.fd);
    ss.pc.st = pstate::handshake;
    send_upstream_handshake(ss, static_cast<int>(ss.pc.backend), kPoolCapability);
    pool_arm_read(ss);  // the reply byte, then frames (pool_rx.cc)
}

// The backend answered the handshake with its capability byte (pool_rx.cc read it): ready.
void engine::pool_ready(session& ss, uint8_t cap) {
    const uint32_t b = ss.pc.backend;
    home_backend& hb = homes_[b];
    ss.cap = cap;
    ss.deadline_ms = 0;
    ss.pc.st = pstate::ready;
    ss.pc.attempt = 0;
    hb.failures = 0;
    ++hb.up;
    if (hb.ejected) {
        hb.ejected = false;
        bump(ctr_.backends_recovered);
        QGATE_LOG_INFO("backend %s: recovered", plane_->name(b).c_str());
    }
    plane_->state(b).live.store(true, std::memory_order_relaxed);
    schedule_probe(ss);
    pump(b);
}

void engine::pool_after_send(session& ss) {
    pool_conn& pc = ss.pc;
    const sock& k = ss.s[1];
    if (pc.cur == nullptr || pc.sent || !k.sq.empty() || k.send_inflight) return;
    pc.sent = true;
    if (!pc.cur->sync || pc.replied) pool_complete(ss);
}

void engine::pool_complete(session& ss) {
    const uint32_t b = ss.pc.backend;
    request* r = ss.pc.cur;
    ss.pc.cur = nullptr;
    --homes_[b].inflight;
    return_request(*r, false);
    pump(b);
    publish_load(b);
}

// Any failure of a pool connection: answer its call, count, close; pool_freed reconnects.
void engine::pool_failed(session& ss) {
    pool_conn& pc = ss.pc;
    const uint32_t b = pc.backend;
    home_backend& hb = homes_[b];
    if (pc.st == pstate::ready) {
        --hb.up;
        pc.attempt = 1;  // reconnect after min, then double per failure (backoff_ms)
        bump(ctr_.backend_disconnect);
        QGATE_LOG_DEBUG("backend %s: connection lost", plane_->name(b).c_str());
    } else if (pc.st != pstate::down) {
        ++pc.attempt;
        ++hb.failures;
    }
    request* lost = nullptr;
    if (pc.cur != nullptr) {
        request* r = pc.cur;
        pc.cur = nullptr;
        if (r->sync && !r->is_abandoned()) bump(ctr_.disconnect_errors);
        r->lost = true;
        if (ss.s[1].fd >= 0 && ss.s[1].send_inflight) {
            pc.parked = r;  // its bytes may still be read by the kernel: see pool_freed
        } else {
            lost = r;
        }
    }
    pc.st = pstate::down;
    pc.probing = false;
    ss.deadline_ms = 0;
    if (hb.up == 0 && !hb.ejected && hb.failures >= lim_.eject_after_failures) eject(b);
    // Answered only now that the connection is down: answering can re-enter pump (the client
    // is on this shard and framing more calls), which must not pick this connection.
    if (lost != nullptr) pool_lost(ss, *lost);
    publish_load(b);
    if (ss.s[1].fd >= 0) {
        close_sock(ss, role::upstream);  // pool_freed runs when its operations are done
    } else {
        pool_freed(ss);
    }
}

// 'qgate: backend B disconnected for the call a failed connection carried (in flight until
// now: the backend's load counts it while its connection may still be sending it).
void engine::pool_lost(session& ss, request& r) {
    --homes_[ss.pc.backend].inflight;
    char text[kErrTextMax];
    const int n = std::snprintf(text, sizeof text, "qgate: backend %s disconnected",
                                plane_->name(ss.pc.backend).c_str());
    home_answer(r, {text, static_cast<size_t>(n < 0 ? 0 : n)});
}

// The socket is gone: wait min * 2^(attempt-1) ms (capped), half of it jittered, then reconnect.
// Every operation of the socket has completed, so a parked call's bytes are no longer read:
// only now may its slot go back to the origin (which may free it and recycle a lent buffer).
void engine::pool_freed(session& ss) {
    if (ss.pc.parked != nullptr) {
        request* r = ss.pc.parked;
        ss.pc.parked = nullptr;
        pool_lost(ss, *r);
        publish_load(ss.pc.backend);
    }
    if (draining_) return;
    const uint64_t delay = backoff_ms(ss.pc.attempt);
    if (ss.pc.attempt > 0) bump(ctr_.backend_reconnects);
    set_timeout(ss, static_cast<uint32_t>(delay == 0 ? 1 : delay));
}

void engine::pool_timeout(session& ss) {
    switch (ss.pc.st) {
    case pstate::down:
        pool_connect(ss);
        return;
    case pstate::connecting:
    case pstate::handshake:
        bump(ctr_.backend_connect_timeout);
        pool_failed(ss);
        return;
    case pstate::ready:
        probe_due(ss);
        return;
    }
}

// The health query: sync "" (q answers ::) on a ready connection whose backend is idle, so a
// long-running call elsewhere on the backend cannot make it look dead.
void engine::schedule_probe(session& ss) {
    if (lim_.health_interval_ms != 0) set_timeout(ss, lim_.health_interval_ms);
}

void engine::probe_due(session& ss) {
    static constexpr uint8_t kProbe[] = {1, 1, 0, 0, 14, 0, 0, 0, 10, 0, 0, 0, 0, 0};  // sync ""
    pool_conn& pc = ss.pc;
    if (pc.probing) {
        bump(ctr_.backend_health_fail);
        QGATE_LOG_WARN("backend %s: no answer to the health query",
                       plane_->name(pc.backend).c_str());
        pool_failed(ss);
        return;
    }
    if (pc.cur != nullptr || homes_[pc.backend].inflight != 0) {
        schedule_probe(ss);  // busy is alive enough; look again later
        return;
    }
    pc.probing = true;
    bump(ctr_.backend_health_queries);
    if (!push(ss, role::upstream, kProbe, sizeof kProbe, -1)) return;
    set_timeout(ss, lim_.connect_timeout_ms);
}

// No connection and too many failures: stop picking it and send its queue back for re-routing.
void engine::eject(uint32_t b) {
    home_backend& hb = homes_[b];
    hb.ejected = true;
    plane_->state(b).live.store(false, std::memory_order_relaxed);
    bump(ctr_.backends_ejected);
    QGATE_LOG_WARN("backend %s: ejected after %u failed connects", plane_->name(b).c_str(),
                   hb.failures);
    while (request* r = hb.queue.pop()) return_request(*r, true);
    publish_load(b);
}

bool engine::home_idle() const {
    if (away_ != 0) return false;
    for (const request_fifo& o : outbox_) {
        if (!o.empty()) return false;
    }
    for (const home_backend& hb : homes_) {
        if (hb.mine && (!hb.queue.empty() || hb.inflight != 0)) return false;
    }
    return plane_->clients_open().load(std::memory_order_relaxed) == 0;
}

}  // namespace qgate::proxy

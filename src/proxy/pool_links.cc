// Request mode, the backend's home shard: per-backend FIFO of waiting requests, a pool of
// upstream connections carrying one call each or, pipelined, up to limits.pipeline_depth,
// health (reconnect with exponential backoff and jitter, ejection after repeated failures,
// recovery), and the per-backend load cell every shard's least-busy policy reads.
//
// Design note. Backend b lives on shard b % shards; only that shard touches its queue, its
// connections and writes its backend_state (load = queued + in flight, live = not ejected),
// with relaxed stores: other shards read a value at most one turn old. Pool connections are
// engine sessions in state `pool` (socket in s[1]), so they share the io plumbing (one
// gathered sendmsg in flight, generation-checked user_data, close and cancel) with session
// mode; they receive differently: straight into the buffer the reply is handed back in, one
// recv_into at a time (pool_rx.cc), with no copy.
//
// Keeping a backend busy. A q process is serial, but it reads its next message the moment it
// has answered; a gateway that waits for each answer before sending the next call leaves it
// idle for a round trip per call. So calls are pipelined: sent on a connection while earlier
// ones still wait, their responses taken in order (q answers the sync messages of one handle in
// the order it read them). Only a .z.pg that defers with -30! can answer out of order, so
// backend.pipeline = auto asks each new connection whether .z.pg is defined and pipelines only
// when it is not (the order query, below); a -30! backend then gets its calls one per
// connection, over `conns` connections. Calls fill the fullest connection that has room first:
// which connection carries a call does not change when a serial backend runs it, and calls
// sharing a connection leave in one send and come back in one read. A pipelined backend busy
// on a long call (pipeline_hold_ms) takes no more calls until it answers (stalled()), so
// calls are not committed behind it: they wait in the queue. A connection whose next
// response belongs to an abandoned call (it timed out: the backend is likely still running
// it) takes no more calls while it waits; the call stays counted in the backend's load until
// its late response is read, so least-busy routes around the backend meanwhile.
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

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <utility>

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

// The health query: sync "" (q answers ::).
constexpr uint8_t kHealthQuery[] = {1, 1, 0, 0, 14, 0, 0, 0, 10, 0, 0, 0, 0, 0};

// The order query (backend.pipeline = auto): 1b when .z.pg is not defined. -30! defers only
// the response of a sync message .z.pg handles, so a process without it answers in order.
constexpr std::string_view kOrderQueryText = "@[get;`.z.pg;`]~`";

struct order_query {
    uint8_t frame[qipc::kHeaderSize + 6 + kOrderQueryText.size()]{};
    order_query() {
        const uint32_t n = sizeof frame;
        const uint32_t chars = kOrderQueryText.size();
        const uint8_t head[] = {1, 1, 0, 0, uint8_t(n), uint8_t(n >> 8), 0, 0, 10, 0,
                                uint8_t(chars), 0, 0, 0};
        std::memcpy(frame, head, sizeof head);
        std::memcpy(frame + sizeof head, kOrderQueryText.data(), chars);
    }
};
const order_query kOrderQuery;

// The first sync call at or after `r` in a connection's list (the next response's owner).
request* next_sync(request* r) {
    while (r != nullptr && !r->sync) r = r->qnext;
    return r;
}
}  // namespace

void pool_links::start_pools() {
    homes_.resize(kBackendsMax);
    pump_due_.reserve(kBackendsMax);  // each backend at most once: never grows
    pumping_.reserve(kBackendsMax);
    for (const uint32_t b : e_.gen_->ids) {
        if (e_.plane_->home(b) == e_.me_) open_pool(b);
    }
}

// The pool of a backend whose home is this shard: `conns` links, connecting now. Session slots
// of retired pools are reused first, so added and removed backends do not grow the table.
// A passthrough backend has no shared pool: its users' pools open links on demand.
void pool_links::open_pool(uint32_t b) {
    home_backend& hb = homes_[b];
    hb.mine = true;
    if (passthrough(b)) return;
    for (uint32_t i = 0; i < e_.opt_.upstreams->at(static_cast<int>(b)).conns; ++i) {
        session* ss = take_slot();
        if (ss == nullptr) break;  // conns_per_shard_max reached: fewer connections
        ss->st = sstate::pool;
        ss->h = this;
        ss->pc = pool_conn{};
        ss->pc.backend = b;
        ss->link = {};
        hb.conns.push_back(ss->index);
        pool_connect(*ss);
    }
}

// A session slot for a pool link: a spare first (a retired pool's, a closed user link's).
session* pool_links::take_slot() {
    if (spare_.empty()) return e_.alloc_session();
    session* ss = e_.sessions_[spare_.back()].get();
    spare_.pop_back();
    return ss;
}

// A reload adopted by this shard: pools for the added backends it is home to; the removed ones
// drain: no group of the new generation has them, so only calls routed with an older one still
// reach them (a shard that has not adopted it yet: at most its current turn), and they keep
// serving until no generation refers to them (retire_due). No flag is needed on the picks: a
// shard routing with an older generation must still find its members in service.
void pool_links::adopt(const generation& old, const generation& now) {
    for (const uint32_t b : now.ids) {
        if (old.contains(b) || e_.plane_->home(b) != e_.me_) continue;
        if (homes_[b].retired) reopen(b);
        if (!homes_[b].mine) open_pool(b);
    }
    for (const uint32_t b : old.ids) {
        if (e_.plane_->home(b) != e_.me_ || now.contains(b) || homes_[b].draining) continue;
        homes_[b].draining = true;
        retiring_.push_back(b);
        QGATE_LOG_INFO("backend %s: removed by reload, draining",
                       name(b));
    }
}

// A retired id handed out again (generation.h): a new backend, with calls already queued for
// it perhaps (a shard that adopted first routed them here), so the queue stays.
void pool_links::reopen(uint32_t b) {
    home_backend& hb = homes_[b];
    request_fifo queue = std::exchange(hb.queue, request_fifo{});
    const uint32_t inflight = hb.inflight;
    const bool pump_due = hb.pump_due;  // still on pump_due_: it must not be listed twice
    std::vector<user_pool> users = std::move(hb.users);  // calls a passthrough id has queued
    const uint32_t user_pools = hb.user_pools;
    const uint32_t user_queued = hb.user_queued;
    hb = home_backend{};
    hb.queue = queue;
    hb.inflight = inflight;
    hb.pump_due = pump_due;
    hb.users = std::move(users);
    hb.user_pools = user_pools;
    hb.user_queued = user_queued;
}

// Removed backends whose calls are all done (no generation refers to them: gen_holder::reclaim)
// close their pooled connections, which do not reconnect; their slots become spares.
void pool_links::retire_due() {
    std::erase_if(retiring_, [this](uint32_t b) {
        if (!e_.opt_.gens->retired(b)) return false;
        retire(b);
        return true;
    });
}

void pool_links::retire(uint32_t b) {
    home_backend& hb = homes_[b];
    hb.retired = true;
    bump(e_.ctr_.backends_retired);
    for (user_pool& up : hb.users) {  // its users' links close as its shared ones do
        hb.conns.insert(hb.conns.end(), up.conns.begin(), up.conns.end());
        up = user_pool{};
    }
    hb.users.clear();
    hb.user_pools = 0;
    QGATE_LOG_INFO("backend %s: drained, closing its %zu pooled connection(s)",
                   name(b), hb.conns.size());
    for (const uint32_t idx : hb.conns) {
        session& ss = *e_.sessions_[idx];
        ss.pc.release = false;  // a user link being let go: closed as retired instead
        ss.deadline_ms = 0;  // a reconnect or probe timer already set is stale now
        if (ss.link.phase == link_phase::down && ss.s[1].fd < 0) {
            if (ss.pc.user != 0) shard::drop(e_.ctr_.user_links_open);
            spare_.push_back(idx);
            continue;
        }
        ++hb.closing;     // before: pool_freed may run inside pool_failed
        pool_failed(ss);  // nothing is on it: it only closes (pool_freed makes it a spare)
    }
    hb.conns.clear();
    if (hb.closing == 0) e_.opt_.gens->set_quiet(b);
}

void pool_links::publish_load(uint32_t b) {
    const home_backend& hb = homes_[b];
    e_.plane_->state(b).load.store(hb.queue.count + hb.user_queued + hb.inflight,
                                   std::memory_order_relaxed);
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
    if (passthrough(r.backend)) return user_enqueue(r);
    hb.queue.insert(&r);
    publish_load(r.backend);
    mark_pump(r.backend);
}

// Calls leave at the end of the turn anyway (engine::flush_sends), so the queue is pumped
// there too (pump_marked): once per backend per turn, whatever number of calls came in.
void pool_links::mark_pump(uint32_t b) {
    home_backend& hb = homes_[b];
    if (hb.pump_due) return;
    hb.pump_due = true;
    pump_due_.push_back(b);
}

// End of turn, before sends are flushed. Pumping can hand calls back, and that can queue
// more (the client is on this shard): go on until no backend is marked.
void pool_links::pump_marked() {
    while (!pump_due_.empty()) {
        pumping_.swap(pump_due_);
        for (const uint32_t b : pumping_) {
            homes_[b].pump_due = false;
            pump(b);
        }
        pumping_.clear();
    }
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
        const std::string_view g = e_.opt_.upstreams->at(static_cast<int>(r.backend)).group;
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

// Gives queued calls to the connections that have room, the fullest first (see the top).
void pool_links::pump(uint32_t b) {
    if (passthrough(b)) return pump_users(b);
    home_backend& hb = homes_[b];
    if (hb.queue.empty()) return publish_load(b);
    request_fifo skipped;  // handed back after the loop: that can re-enter pump
    pump_queue(hb.queue, hb.conns, skipped);
    publish_load(b);
    while (request* r = skipped.pop()) return_request(*r, false);
}

// Sends calls of `q` on the connections of `conns` while one has room; returns how many were
// taken off `q` (sent, or abandoned ones put on `skipped`).
uint32_t pool_links::pump_queue(request_fifo& q, const std::vector<uint32_t>& conns,
                                request_fifo& skipped) {
    const uint64_t now = e_.clock_now();
    // Sending only adds fresh calls: neither the stall nor the fullest connection changes
    // until that connection is full.
    session* ss = stalled(conns, now) ? nullptr : pick_conn(conns);
    uint32_t taken = 0;
    while (ss != nullptr && !q.empty()) {
        const uint32_t before = q.count;
        request* r = next_live(q, skipped);
        taken += before - q.count;
        if (r == nullptr) break;
        r->sent_ms = now;
        r->sent_us = shard::now_us();
        if (!send_call(*ss, *r)) break;  // the push failed the connection (pool_failed answered)
        if (ss->pc.fly.count >= ss->pc.depth) ss = pick_conn(conns);
    }
    return taken;
}

// A pipelined backend answers in order, so it is serial: once its oldest unanswered call has
// run for pipeline_hold_ms (since it was sent, or since the response before it was read) it
// is busy on a long query, and a call sent now, on any of its connections, would only wait
// behind it. Calls then wait in its queue, where priorities, timeouts, a client's disconnect
// and ejection still apply to them.
bool pool_links::stalled(const std::vector<uint32_t>& conns, uint64_t now) const {
    const uint32_t hold = e_.lim_->pipeline_hold_ms;
    if (hold == 0) return false;
    for (uint32_t idx : conns) {
        const pool_conn& pc = e_.sessions_[idx]->pc;
        if (pc.depth == 1 || pc.await == nullptr) continue;
        const uint64_t began = std::max(pc.await->sent_ms, pc.answered_ms);
        if (now >= began + hold) return true;
    }
    return false;
}

// The ready connection with the most calls in flight that still has room; nullptr if none.
// One whose next response belongs to an abandoned call waits for it alone (see the top).
session* pool_links::pick_conn(const std::vector<uint32_t>& conns) {
    session* best = nullptr;
    for (uint32_t idx : conns) {
        session& ss = *e_.sessions_[idx];
        const pool_conn& pc = ss.pc;
        if (ss.link.phase != link_phase::ready || ss.s[1].closing ||
            pc.probing != pool_conn::probe_kind::none || pc.fly.count >= pc.depth ||
            (pc.await != nullptr && pc.await->is_abandoned())) {
            continue;
        }
        if (best == nullptr || pc.fly.count > best->pc.fly.count) best = &ss;
    }
    return best;
}

// The next queued call nobody gave up on; abandoned ones go on `skipped`, to be freed.
request* pool_links::next_live(request_fifo& q, request_fifo& skipped) {
    request* r = q.pop();
    while (r != nullptr && r->is_abandoned()) {
        bump(e_.ctr_.requests_skipped);
        skipped.push(r);
        r = q.pop();
    }
    return r;
}

// Onto the connection's list first: if the push fails the connection, pool_failed answers it.
bool pool_links::send_call(session& ss, request& r) {
    pool_conn& pc = ss.pc;
    const std::span<const uint8_t> call = r.call();  // lent or copied: the origin's bytes
    r.replied = false;
    r.wire_end = pc.pushed + call.size();
    pc.used_ms = r.sent_ms;  // a per-user link's idle time counts from its last call
    pc.fly.push(&r);
    ++homes_[pc.backend].inflight;
    bump(e_.meter(pc.backend).calls);
    if (r.sync && pc.await == nullptr) pc.await = &r;
    return pool_push(ss, call.data(), call.size());
}

// Every byte a pool connection sends goes through here, so `pushed` can tell what was sent.
bool pool_links::pool_push(session& ss, const uint8_t* p, size_t n) {
    ss.pc.pushed += n;
    return e_.push(ss, role::upstream, p, static_cast<uint32_t>(n), -1);
}

// Bytes of `pushed` the kernel has taken. Handshake bytes queued by the link are not in
// `pushed`: while any is still queued this is an underestimate (a call completes a turn later).
uint64_t pool_links::sent_bytes(const session& ss) {
    const uint64_t queued = ss.s[1].sq.bytes();
    return ss.pc.pushed > queued ? ss.pc.pushed - queued : 0;
}

// Completes calls from the front of the list while they are done: every byte up to theirs
// taken by the kernel and, for a sync call, its response read. Their room goes to the queue.
void pool_links::pool_settle(session& ss) {
    pool_conn& pc = ss.pc;
    const uint64_t sent = sent_bytes(ss);
    bool done = false;
    while (request* r = pc.fly.head) {
        if (r->wire_end > sent || (r->sync && !r->replied)) break;
        pc.fly.pop();
        --homes_[pc.backend].inflight;
        return_request(*r, false);
        done = true;
    }
    if (!done) return;
    publish_load(pc.backend);
    mark_pump(pc.backend);
}

// The response of `await` is read (taken into its slot, or discarded if it was abandoned).
void pool_links::pool_answered(session& ss) {
    pool_conn& pc = ss.pc;
    request* r = pc.await;
    r->replied = true;
    e_.ctr_.lat.backend(pc.backend, shard::now_us() - r->sent_us);
    pc.answered_ms = e_.clock_now();
    pc.await = next_sync(r->qnext);
    pool_settle(ss);
}

void pool_links::pool_connect(session& ss) {
    if (homes_[ss.pc.backend].retired) return;
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
    ss.pc.used_ms = e_.clock_now();
    upstream_link::ready(ss);
    e_.note_backend_ok(static_cast<int>(ss.pc.backend));
    hb.failures = 0;
    ++hb.up;
    if (hb.ejected) {
        hb.ejected = false;
        bump(e_.ctr_.backends_recovered);
        QGATE_LOG_INFO("backend %s: recovered", name(b));
    }
    e_.plane_->state(b).live.store(true, std::memory_order_relaxed);
    e_.plane_->state(b).ejected.store(false, std::memory_order_relaxed);
    const pipeline_mode m = e_.opt_.upstreams->at(static_cast<int>(b)).pipeline;
    ss.pc.depth = m == pipeline_mode::on ? e_.lim_->pipeline_depth : 1;
    if (m == pipeline_mode::automatic) {
        start_probe(ss, pool_conn::probe_kind::order);
        return;
    }
    schedule_probe(ss);
    pump(b);
}

void pool_links::pool_after_send(session& ss) {
    if (!ss.pc.fly.empty()) pool_settle(ss);
}

// Any failure of a pool connection: answer its calls, count, close; pool_freed reconnects.
void pool_links::pool_failed(session& ss) {
    pool_conn& pc = ss.pc;
    const uint32_t b = pc.backend;
    home_backend& hb = homes_[b];
    const bool attempted = ss.link.phase != link_phase::down;
    if (upstream_link::fail(ss)) {
        --hb.up;
        bump(e_.ctr_.backend_disconnect);
        e_.note_backend_fail(static_cast<int>(b), "connection lost", 0);
        QGATE_LOG_DEBUG("backend %s: connection lost", name(b));
    } else if (attempted) {
        ++hb.failures;
    }
    request_fifo gone = std::exchange(pc.fly, request_fifo{});
    pc.await = nullptr;
    mark_lost(ss, gone);
    if (ss.s[1].fd >= 0 && ss.s[1].send_inflight) {
        pc.parked.splice(gone);  // their bytes may still be read by the kernel: see pool_freed
    }
    pc.probing = pool_conn::probe_kind::none;
    if (hb.up == 0 && !hb.ejected && hb.failures >= e_.lim_->eject_after_failures) eject(b);
    // Answered only now that the connection is down: answering can re-enter pump (the client
    // is on this shard and framing more calls), which must not pick this connection.
    while (request* r = gone.pop()) pool_gone(ss, *r);
    publish_load(b);
    if (!e_.link_.close(ss)) pool_freed(ss);  // else on_sock_freed -> pool_freed
}

// Which calls of a failed connection are lost: a sync call with no response yet, an async one
// the kernel had not taken whole. The rest are done (their answer stands).
void pool_links::mark_lost(session& ss, const request_fifo& gone) {
    const uint64_t sent = sent_bytes(ss);
    for (request* r = gone.head; r != nullptr; r = r->qnext) {
        r->lost = r->sync ? !r->replied : r->wire_end > sent;
        if (r->lost && r->sync && !r->is_abandoned()) bump(e_.ctr_.disconnect_errors);
    }
}

// A call of a failed connection: its answer if it has one, else 'qgate: backend B
// disconnected (it may have run, so it is never re-sent). It was in flight until now: the
// backend's load counts it while its connection may still be sending it.
void pool_links::pool_gone(session& ss, request& r) {
    --homes_[ss.pc.backend].inflight;
    if (!r.lost) {
        return_request(r, false);
        return;
    }
    bump(e_.meter(ss.pc.backend).errors);
    char text[kErrTextMax];
    const int n = std::snprintf(text, sizeof text, "qgate: backend %s disconnected",
                                name(ss.pc.backend));
    home_answer(r, {text, static_cast<size_t>(n < 0 ? 0 : n)});
}

// The socket is gone: wait min * 2^(attempt-1) ms (capped), half of it jittered, then reconnect.
// Every operation of the socket has completed, so a parked call's bytes are no longer read:
// only now may its slot go back to the origin (which may free it and recycle a lent buffer).
void pool_links::pool_freed(session& ss) {
    if (!ss.pc.parked.empty()) {
        request_fifo parked = std::exchange(ss.pc.parked, request_fifo{});
        while (request* r = parked.pop()) pool_gone(ss, *r);
        publish_load(ss.pc.backend);
    }
    if (ss.pc.release) return user_link_freed(ss);  // pool_users.cc: not reconnected
    if (e_.draining_) return;
    if (home_backend& hb = homes_[ss.pc.backend]; hb.retired) {
        if (ss.pc.user != 0) shard::drop(e_.ctr_.user_links_open);
        spare_.push_back(ss.index);
        if (hb.closing > 0 && --hb.closing == 0) e_.opt_.gens->set_quiet(ss.pc.backend);
        return;
    }
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
    if (ss.pc.user != 0) {  // a per-user link: no health query, its idle timer (pool_users.cc)
        e_.set_timeout(ss, e_.opt_.upstreams->at(static_cast<int>(ss.pc.backend)).user_idle_ms);
        return;
    }
    if (e_.lim_->health_interval_ms != 0) e_.set_timeout(ss, e_.lim_->health_interval_ms);
}

void pool_links::probe_due(session& ss) {
    pool_conn& pc = ss.pc;
    if (pc.probing != pool_conn::probe_kind::none) {
        bump(e_.ctr_.backend_health_fail);
        QGATE_LOG_WARN("backend %s: no answer to the %s query", name(pc.backend),
                       pc.probing == pool_conn::probe_kind::order ? "order" : "health");
        pool_failed(ss);
        return;
    }
    if (pc.user != 0) return user_idle_due(ss);
    if (!pc.fly.empty() || homes_[pc.backend].inflight != 0) {
        schedule_probe(ss);  // busy is alive enough; look again later
        return;
    }
    bump(e_.ctr_.backend_health_queries);
    start_probe(ss, pool_conn::probe_kind::health);
}

// A query of qgate's own on an idle connection, which takes no call until it is answered
// (within connect_timeout_ms, or the connection fails).
void pool_links::start_probe(session& ss, pool_conn::probe_kind k) {
    ss.pc.probing = k;
    const bool order = k == pool_conn::probe_kind::order;
    const uint8_t* q = order ? kOrderQuery.frame : kHealthQuery;
    if (!pool_push(ss, q, order ? sizeof kOrderQuery.frame : sizeof kHealthQuery)) return;
    e_.set_timeout(ss, e_.lim_->connect_timeout_ms);
}

// The probe's answer is read: `in_order` when it was the order query's 1b. Then calls may go.
void pool_links::probe_answered(session& ss, bool in_order) {
    pool_conn& pc = ss.pc;
    if (pc.probing == pool_conn::probe_kind::order) {
        pc.depth = in_order ? e_.lim_->pipeline_depth : 1;
        QGATE_LOG_DEBUG("backend %s: %s", name(pc.backend),
                        in_order ? "answers in order: pipelined" : "may defer: not pipelined");
    }
    pc.probing = pool_conn::probe_kind::none;
    ss.deadline_ms = 0;  // the answer's timeout is over (with no health query, nothing is due)
    schedule_probe(ss);
    pump(pc.backend);
}

// No connection and too many failures: stop picking it and send its queue back for re-routing.
void pool_links::eject(uint32_t b) {
    home_backend& hb = homes_[b];
    hb.ejected = true;
    e_.plane_->state(b).live.store(false, std::memory_order_relaxed);
    e_.plane_->state(b).ejected.store(true, std::memory_order_relaxed);  // the fleet's view
    bump(e_.ctr_.backends_ejected);
    QGATE_LOG_WARN("backend %s: ejected after %u failed connects", name(b),
                   hb.failures);
    while (request* r = hb.queue.pop()) return_request(*r, true);
    bounce_users(b);
    publish_load(b);
}

bool pool_links::home_idle() const {
    if (e_.rq_->away_ != 0) return false;
    for (const request_fifo& o : e_.rq_->outbox_) {
        if (!o.empty()) return false;
    }
    for (const home_backend& hb : homes_) {
        if (hb.mine && (!hb.queue.empty() || hb.user_queued != 0 || hb.inflight != 0)) {
            return false;
        }
    }
    return e_.plane_->clients_open().load(std::memory_order_relaxed) == 0;
}

}  // namespace qgate::proxy

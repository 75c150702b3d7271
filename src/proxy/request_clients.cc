// Request mode, the client's shard (the origin): read each call whole into a request slot,
// classify it, match the route table, pick a backend by the route's policy and hand the slot
// to the backend's home shard; answer the client in the order it sent its sync calls.
//
// Design note (decisions a kdb+ user can observe; also in README "Behaviour decisions"):
//  * Handshake: qgate answers it itself with capability min(client, 3): backends are shared,
//    so a reply over 2 GB (capability 6 framing) cannot be promised to one client.
//  * Replies come back in the order the client sent its sync calls, whichever backend answered
//    first: a slot stays on the client's order list until every earlier one is answered.
//  * Errors are real q errors (response frame, type -128): 'qgate: no route for F,
//    'qgate: no backend available for group G, 'qgate: timeout after Nms (origin), and
//    'qgate: busy, 'qgate: backend B disconnected (home). A backend's own error passes through.
//  * Async calls are routed the same way and forwarded fire-and-forget; if they cannot be
//    routed they are dropped and counted (q gives an async caller no error either).
//  * Timeout: the client is answered at once; the request is skipped if still queued, and a
//    late reply is discarded when it comes (the connection stays busy until then: a q backend
//    cannot be cancelled).
//  * A client that disconnects loses its queued requests (skipped at its backend); replies to
//    its in-flight ones are discarded. One that only shuts down its write side (half-close:
//    `printf ... | nc`) is answered every call already read, then closed.
//  * Request slots are preallocated per shard (limits.requests_per_shard_max); a call whole in
//    one receive buffer is lent to the slot, not copied (request_lend.cc), and the slot's byte
//    buffers keep their capacity, so steady-state routing allocates nothing. Buffers past
//    kKeepBytesMax are not kept by a slot: when it is freed its call's buffer goes to the
//    shard's cache of big buffers and its reply's stays parked on it until its next call takes
//    it to that call's home shard (arrive_home), which caches it for the big replies it
//    receives (big_bufs.h). When every slot is taken, a client that needs one more is paused
//    (its bytes held) until slots come back.
//  * Compressed calls (q compresses > 2000 bytes to non-loopback peers) are decompressed into
//    a per-shard scratch buffer to be classified, and forwarded compressed, as received; one
//    past 1 MiB a slice per loop turn, its client's later calls waiting behind it
//    (request_inflate.cc).
//  * A call whose body is not exactly one q object (or does not decompress) never reaches a
//    backend, whose shared connection q would close on 'badmsg: a sync one is answered
//    'badmsg, an async one dropped, both counted; the client stays connected (its framing is
//    intact). A compressed reply goes to a client of capability 0 or on this host (to which q
//    never compresses) decompressed. Both in request_bodies.cc.

#include <cstdio>
#include <cstring>

#include "net/socket_util.h"
#include "proxy/kinds.h"
#include "qgate/check.h"
#include "qgate/log.h"
#include "qgate/qipc/handshake.h"

namespace qgate::proxy {

using shard::bump;

namespace {
constexpr uint8_t kRequestCapability = 3;
// A call over its user's [[user_limits]] message_bytes_max (read past, like request_too_large).
constexpr std::string_view kUserMessageOver = "qgate: message over this user's limit";

}  // namespace

request_clients::request_clients(engine& e)
    : e_(e), rq_timers_(e.plane_ != nullptr ? e.plane_->slots_per_shard() : 0) {
    slot_waiters_.reserve(e.lim_->conns_per_shard_max);
}

void request_clients::enter_request(session& ss) {
    ss.st = sstate::request;
    ss.cap = qipc::negotiate_capability(ss.client_cap, kRequestCapability);
    ss.reply = ss.cap;
    ss.rq.peer_local = net::peer_is_local(ss.s[0].fd);  // fanout: compress as q would
    e_.plane_->clients_open().fetch_add(1, std::memory_order_relaxed);
    if (!e_.push(ss, role::client, &ss.reply, 1, -1, true)) return;
    e_.arm_recv(ss, role::client);
    if (ss.hs.size() > ss.hs_len) {  // ss.hs is not touched again: safe to hold
        request_input(ss, -1, reinterpret_cast<const uint8_t*>(ss.hs.data()) + ss.hs_len,
                      static_cast<uint32_t>(ss.hs.size() - ss.hs_len));
    }
}

// Client bytes in (a receive buffer `bid`, or -1 for bytes the session owns). What cannot be
// framed now (quota reached) stays in its buffer on `held`, behind anything held before.
void request_clients::request_input(session& ss, int32_t bid, const uint8_t* p, uint32_t n) {
    int64_t used = 0;
    if (ss.rq.held.empty()) {
        used = request_data(ss, bid, p, n);
        if (used < 0 || ss.st != sstate::request) {
            e_.release_item(bid);
            return;
        }
    }
    if (static_cast<uint64_t>(used) == n) {
        e_.release_item(bid);
    } else if (!ss.rq.held.push(e_.items_, p + used, static_cast<uint32_t>(n - used), bid)) {
        bump(e_.ctr_.send_items_exhausted);
        e_.release_item(bid);
        e_.close_session(ss);
        return;
    }
    if (!ss.rq.held.empty() && slot_free_ == nullptr) wait_for_slot(ss);
    if (!ss.s[0].paused && (!ss.rq.held.empty() || over_quota(ss))) {
        // It calls faster than its backends answer, or holds client_bytes_max of calls and
        // replies (request_budget.cc).
        // Or its later calls wait behind one being inflated (counted in inflate_sliced).
        const bool bytes = ss.rq.held_bytes >= e_.lim_->client_bytes_max;
        if (ss.rq.inflating == 0) {
            bump(bytes ? e_.ctr_.client_bytes_pauses : e_.ctr_.client_quota_pauses);
        }
        e_.pause_recv(ss, role::client);
    } else if (!ss.s[0].paused && ss.s[0].sq.bytes() > e_.lim_->out_bytes_high) {
        bump(e_.ctr_.slow_reader_pauses);  // it reads its replies slower than it calls
        e_.pause_recv(ss, role::client);
    }
}

// Out of request slots: the client stays paused with its bytes held; wake_slot_waiters (each
// turn, once slots are free again) frames them. Counted once per wait.
void request_clients::wait_for_slot(session& ss) {
    if (ss.rq.slot_wait) return;
    ss.rq.slot_wait = true;
    bump(e_.ctr_.request_slots_exhausted);
    slot_waiters_.push_back(ss.index);
}

void request_clients::wake_slot_waiters() {
    if (slot_waiters_.empty() || slot_free_ == nullptr) return;
    for (size_t i = 0; i < slot_waiters_.size() && slot_free_ != nullptr; ++i) {
        session& ss = *e_.sessions_[slot_waiters_[i]];
        if (!ss.rq.slot_wait) continue;  // closed (and maybe reused) since
        ss.rq.slot_wait = false;
        slot_waiters_[i] = UINT32_MAX;
        if (ss.st == sstate::request) request_unhold(ss);
    }
    // Keep the ones still waiting (request_unhold may have re-added some at the end).
    size_t k = 0;
    for (uint32_t idx : slot_waiters_) {
        if (idx != UINT32_MAX && e_.sessions_[idx]->rq.slot_wait) slot_waiters_[k++] = idx;
    }
    slot_waiters_.resize(k);
}

bool request_clients::over_quota(const session& ss) const {
    return ss.rq.pending + ss.rq.async_out >= e_.lim_->requests_per_client_max ||
           ss.rq.held_bytes >= e_.lim_->client_bytes_max;
}

// Whether a paused client may be read again: nothing held, outstanding calls down to half the
// quota (hysteresis: a pipelining client is not paused and resumed per call), replies drained.
bool request_clients::client_quota_ok(const session& ss) const {
    return ss.rq.held.empty() && ss.rq.inflating == 0 &&
           ss.rq.pending + ss.rq.async_out <= e_.lim_->requests_per_client_max / 2 &&
           ss.rq.held_bytes <= e_.lim_->client_bytes_max / 2 &&
           ss.s[0].sq.bytes() <= e_.lim_->out_bytes_low;
}

// Frames calls until the input ends or the client reaches its quota; returns the bytes used
// (the rest waits on `held`), or kCutFailed after closing the client on a malformed frame.
int64_t request_clients::request_data(session& ss, int32_t bid, const uint8_t* p, uint32_t n) {
    const int32_t outer_bid = ss.rq.in_bid;  // a nested call (answers re-entering) restores it
    const uint8_t* outer_p = ss.rq.in_p;
    ss.rq.in_bid = bid;
    ss.rq.in_p = p;
    qipc::header_limits hl;
    hl.capability = ss.cap;
    hl.length_max = e_.lim_->message_bytes_max;
    const int64_t used = cut_frames(
        ss.rq.cut, p, n, hl,
        [&] {
            return ss.st == sstate::request && !over_quota(ss) && slot_free_ != nullptr &&
                   ss.rq.inflating == 0;  // later calls wait behind a parked one
        },
        [&](const qipc::frame_header& h) { return request_header(ss, h); },
        [&](const uint8_t* b, size_t len) { request_body(ss, b, static_cast<uint32_t>(len)); },
        [&] {
            if (ss.st != sstate::request) return;
            if (ss.rq.skip) {
                ss.rq.skip = false;
                return;
            }
            request* r = ss.rq.fill;
            ss.rq.fill = nullptr;
            if (ss.rq.undecided) copy_call(ss, *r);  // a frame without body bytes
            if (ss.rq.over_budget) {
                ss.rq.over_budget = false;
                bump(e_.ctr_.request_held_refused);
                if (r->sync) enlist(ss, *r);
                answer_error(ss, *r, "qgate: busy");
                return;
            }
            if (ss.rq.oversize) {
                ss.rq.oversize = false;
                const bool user = ss.rq.user_over;
                ss.rq.user_over = false;
                bump(user ? e_.ctr_.user_message_refused : e_.ctr_.request_too_large);
                if (r->sync) enlist(ss, *r);
                answer_error(ss, *r, user ? kUserMessageOver : "qgate: request too large");
                return;
            }
            dispatch(ss, *r);
        });
    ss.rq.in_bid = outer_bid;
    ss.rq.in_p = outer_p;
    if (used < 0 && ss.st == sstate::request) {
        bump(e_.ctr_.malformed_frames);
        e_.close_session(ss);
    }
    return used;
}

// Calls completed: frame what was held back, and read the socket again once nothing is held,
// the client is below half its quota (hysteresis) and its replies have drained.
void request_clients::request_unhold(session& ss) {
    // A call framed here may be answered at once (no route, busy, ...), and answering comes
    // back here: the outer call owns the held buffer it is reading, so the inner one returns.
    if (ss.rq.unholding) return;
    ss.rq.unholding = true;
    const uint32_t resume_at = e_.lim_->requests_per_client_max / 2;
    while (!ss.rq.held.empty() && ss.st == sstate::request && slot_free_ != nullptr &&
           ss.rq.inflating == 0 && ss.rq.pending + ss.rq.async_out <= resume_at &&
           ss.rq.held_bytes <= e_.lim_->client_bytes_max / 2) {
        iovec iov[1];
        uint64_t bytes = 0;
        ss.rq.held.gather(e_.items_, iov, 1, bytes);
        const int64_t used = request_data(ss, ss.rq.held.head_bid(e_.items_),
                                          static_cast<const uint8_t*>(iov[0].iov_base),
                                          static_cast<uint32_t>(iov[0].iov_len));
        if (used < 0 || ss.st != sstate::request) break;
        ss.rq.held.consume(e_.items_, static_cast<uint64_t>(used),
                           [this](int32_t b) { e_.release_item(b); });
        if (static_cast<size_t>(used) < iov[0].iov_len) break;  // quota reached again
    }
    ss.rq.unholding = false;
    if (ss.st == sstate::request && !ss.rq.held.empty() && slot_free_ == nullptr) {
        wait_for_slot(ss);
    }
    if (ss.st == sstate::request && ss.s[0].rd_eof && ss.rq.held.empty()) {
        drop_partial(ss);  // half-closed: what was held is framed; nothing more comes
        if (engine::idle(ss)) return e_.close_session(ss);
    }
    if (ss.st == sstate::request && ss.s[0].paused && client_quota_ok(ss)) {
        e_.resume_recv(ss, role::client);
    }
}

bool request_clients::request_header(session& ss, const qipc::frame_header& h) {
    if (ss.st != sstate::request) return false;
    if (h.type == qipc::msg_type::response) {
        ss.rq.skip = true;  // nothing asked the client anything: ignore, as q does
        return true;
    }
    request* r = alloc_request();
    if (r == nullptr) {
        bump(e_.ctr_.request_slots_exhausted);
        e_.close_session(ss);
        return false;
    }
    r->session = ss.index;
    r->session_gen = ss.gen;
    r->sync = h.type == qipc::msg_type::sync;
    r->in_us = r->sync ? shard::now_us() : 0;
    // A call is taken whole (lent or copied at its first body byte: request_lend.cc); one
    // over the limit is read past and answered with an error.
    const bool too_large = h.length > e_.lim_->request_bytes_max;
    ss.rq.user_over = !too_large && ss.msg_max != 0 && h.length > ss.msg_max;
    ss.rq.oversize = too_large || ss.rq.user_over;
    ss.rq.undecided = !ss.rq.oversize;
    if (ss.rq.oversize) {
        r->req.resize(qipc::kHeaderSize);
        std::memcpy(r->req.data(), ss.rq.cut.hdr, qipc::kHeaderSize);
    }
    ss.rq.fill = r;
    ss.rq.off = qipc::kHeaderSize;
    return true;
}

void request_clients::dispatch(session& ss, request& r) {
    bump(r.sync ? e_.ctr_.sync_requests : e_.ctr_.async_requests);
    if (e_.opt_.alog != nullptr) log_call(r);  // request_log.cc
    if (r.sync) enlist(ss, r);
    if (r.sync && !begin_user_call(ss, r)) return;  // [[user_limits]] calls_max: request_user.cc
    route_call(ss, r);
}

// Into the order list first, so every answer (errors included) keeps the call order.
void request_clients::enlist(session& ss, request& r) {
    r.holds |= hold::kOrder;
    r.onext = nullptr;
    if (ss.rq.tail != nullptr) ss.rq.tail->onext = &r; else ss.rq.head = &r;
    ss.rq.tail = &r;
    ++ss.rq.pending;
}

void request_clients::route_call(session& ss, request& r) {
    ++ss.calls;
    const std::span<const uint8_t> all = r.call();
    qipc::frame_header h;
    (void)qipc::parse_header(all, h);  // validated when the frame was cut
    std::span<const uint8_t> body = all.subspan(qipc::kHeaderSize);
    if (!h.compressed) return route_body(ss, r, h, body);
    // Not inflated: answered (request_bodies.cc) or parked (request_inflate.cc). A fan-out
    // copies what it keeps of the body.
    if (inflate(ss, r, all, body)) route_body(ss, r, h, body);
    release_scratch();
}

void request_clients::route_body(session& ss, request& r, const qipc::frame_header& h,
                                 std::span<const uint8_t> body) {
    const route::call_info call = route::classify(body, h.little_endian, h.type);
    if (call.form == route::call_form::invalid) return reject_malformed(ss, r);
    hold_generation(r);
    const generation& gen = *r.rgen;
    const route::route_rule* rule = gen.table.size() == 0
                                        ? &gen.fallback[ss.listener]
                                        : route::match_call(gen.table, call, ss.user);
    if (acl_refused(ss, r, gen, call, rule)) return;  // request_acl.cc
    char text[kErrTextMax];
    if (rule == nullptr && call.gw == route::gw_kind::none) {
        bump(e_.ctr_.request_no_route);
        answer_error(ss, r, route::no_route_text(call.name, text));
        return;
    }
    if (rule != nullptr && gen.table.size() != 0) {
        r.log_route = rule->index;
        // A configured rule (not a listener's fallback), counted once per call, not per re-route.
        if (r.bounces == 0) e_.ctr_.lat.route_hit(rule->index);
    }
    if (e_.fan_->fanout_call(ss, r, call, rule, h.compressed)) return;  // fanouts.cc
    const uint16_t gid = rule->groups[0];
    const route::backend_group& g = gen.groups[gid];
    const int32_t b = route::pick_for_call(*rule, g, e_.plane_->state(), cursors_[gid], call);
    if (b == route::kNoBackend) {
        bump(e_.ctr_.request_no_backend);
        const int len =
            std::snprintf(text, sizeof text, "qgate: no backend available for group %.*s",
                          static_cast<int>(g.name().size()), g.name().data());
        answer_error(ss, r, {text, static_cast<size_t>(len < 0 ? 0 : len)});
        return;
    }
    r.backend = r.log_backend = static_cast<uint32_t>(b);
    r.queue_max = rule->queue_max != 0 ? rule->queue_max : e_.lim_->queue_max;
    r.priority = rule->priority;
    if (!r.sync) ++ss.rq.async_out;
    if (r.sync && rule->timeout_ms != 0 && r.deadline_ms == 0) {
        r.deadline_ms = e_.clock_now() + rule->timeout_ms;
        r.timeout_ms = rule->timeout_ms;
        if (rq_timers_.size() >= e_.plane_->slots_per_shard()) compact_request_timers();
        rq_timers_.add(r.deadline_ms, r.index, r.gen);
    }
    bump(e_.ctr_.requests_routed);
    submit(r);
}

// A call is routed (again, after a bounce) with this shard's current generation, which it holds
// until its slot is freed: the rule and groups it was matched against stay valid that long.
void request_clients::hold_generation(request& r) {
    if (r.rgen == e_.gen_) return;
    if (r.rgen != nullptr) r.rgen->unhold(e_.me_);
    r.rgen = e_.gen_;
    r.rgen->hold(e_.me_);
}

// The answer is written into the slot (no allocation); async calls have no one to tell.
void request_clients::answer_error(session& ss, request& r, std::string_view text) {
    if (!r.sync) {
        bump(e_.ctr_.async_dropped);
        maybe_free_request(r);
        return;
    }
    write_error(r, text);
    r.answered = true;
    flush_answers(ss);
}

// Sends every answer at the front of the order list; stops at the first unanswered call.
void request_clients::flush_answers(session& ss) {
    while (ss.rq.head != nullptr && ss.rq.head->answered && ss.st == sstate::request) {
        request& r = *ss.rq.head;
        // Order list: its head is an enlisted call counted in `pending`; anything else there
        // would send a reply in another call's place. Only this client is closed.
        if (!QGATE_CHECK(e_.ctr_, ss.rq.pending > 0 && (r.holds & hold::kOrder) != 0)) {
            return e_.close_session(ss);
        }
        ss.rq.head = r.onext;
        if (ss.rq.head == nullptr) ss.rq.tail = nullptr;
        r.onext = nullptr;
        --ss.rq.pending;
        end_user_call(ss, r);
        r.holds = static_cast<uint8_t>((r.holds & ~hold::kOrder) | hold::kSend);
        if (r.in_us != 0) e_.ctr_.lat.listener(ss.listener, shard::now_us() - r.in_us);
        if (r.fan != nullptr && !r.use_err) {  // a joined reply (fanouts.cc)
            if (e_.opt_.alog != nullptr) log_answer(ss, r, nullptr, 0);
            if (!e_.fan_->fanout_push(ss, r)) return;
            continue;
        }
        const uint8_t* p = r.use_err ? r.err : r.use_req ? r.req.data() : r.rep.data();
        const size_t n = r.use_err ? r.err_len : r.use_req ? r.req.size() : r.rep.size();
        if (e_.opt_.alog != nullptr) log_answer(ss, r, p, n);
        if (!e_.push(ss, role::client, p, static_cast<uint32_t>(n), request_tag(r.index))) return;
    }
    if (ss.st == sstate::request && ss.s[0].paused) request_unhold(ss);
    if (e_.draining_ && ss.st == sstate::request && engine::idle(ss)) e_.close_session(ss);
}

// Back from the home shard (or from home_enqueue directly): `rep` holds the answer.
void request_clients::request_done(request& r) {
    // Slot hand-back: only a slot that is away comes back, once. A second hand-back (or one of
    // a free slot) would answer a call twice or another client's call: dropped.
    if (!QGATE_CHECK(e_.ctr_, (r.holds & (hold::kHome | hold::kFree)) == hold::kHome)) return;
    r.holds = static_cast<uint8_t>(r.holds & ~hold::kHome);
    if (e_.plane_->home(r.backend) != r.origin) --away_;
    if (r.fan_child) return e_.fan_->fanout_back(r);
    session* ss = r.session < e_.sessions_.size() ? e_.sessions_[r.session].get() : nullptr;
    const bool mine = ss != nullptr && ss->gen == r.session_gen && ss->st == sstate::request;
    if (!r.sync && mine) --ss->rq.async_out;  // sent (or back to be routed again)
    if (r.bounce && mine && !r.answered && !r.is_abandoned()) {
        r.bounce = false;
        ++r.bounces;
        bump(e_.ctr_.requests_rerouted);
        route_call(*ss, r);  // its backend was ejected: pick again among the live ones
        return;
    }
    if (!r.sync || r.answered || r.is_abandoned() || !mine) {
        const bool unhold = !r.sync && mine && ss->s[0].paused;
        maybe_free_request(r);  // first: its bytes may be what keeps the client paused
        if (unhold) request_unhold(*ss);
        return;
    }
    r.deadline_ms = 0;
    let_call_go(r);  // sent: its bytes need not be held while the reply waits (request_budget.cc)
    if (!hold_reply(*ss, r)) return answer_error(*ss, r, "qgate: busy");
    plain_reply(*ss, r);  // request_bodies.cc
    r.answered = true;
    flush_answers(*ss);
}

void request_clients::request_sent(uint32_t index) {
    request& r = e_.plane_->slots(e_.me_)[index];
    // Slot hand-back: its answer was queued once; a second "sent" would free it under a reply
    // still queued (or free a free slot). Dropped.
    if (!QGATE_CHECK(e_.ctr_, (r.holds & (hold::kSend | hold::kFree)) == hold::kSend)) return;
    r.holds = static_cast<uint8_t>(r.holds & ~hold::kSend);
    maybe_free_request(r);
}

// Client gone: queued calls are skipped by their backend, in-flight replies discarded.
void request_clients::request_close(session& ss) {
    // A draining home shard with no client of its own waits for this count (home_idle), and
    // nothing else tells it: the last client gone wakes the other shards.
    if (e_.plane_->clients_open().fetch_sub(1, std::memory_order_relaxed) == 1 && e_.draining_) {
        e_.tell_peers_drain();
    }
    for (request* r = ss.rq.head; r != nullptr;) {
        request* next = r->onext;
        r->onext = nullptr;
        r->holds = static_cast<uint8_t>(r->holds & ~hold::kOrder);
        end_user_call(ss, *r);
        if ((r->holds & hold::kHome) != 0) {
            r->abandoned.store(true, std::memory_order_relaxed);
            bump(e_.ctr_.requests_abandoned);
        }
        maybe_free_request(*r);
        r = next;
    }
    ss.rq.head = ss.rq.tail = nullptr;
    ss.rq.pending = 0;
    ss.rq.held.clear(e_.items_, [this](int32_t b) { e_.release_item(b); });
    if (ss.rq.fill != nullptr) {
        request* f = ss.rq.fill;
        ss.rq.fill = nullptr;
        maybe_free_request(*f);
    }
}

void request_clients::expire_requests(uint64_t now_ms) {
    rq_timers_.expire(now_ms, [this, now_ms](const shard::timer_entry& e) {
        request& r = e_.plane_->slots(e_.me_)[e.slot];
        if (r.gen != e.gen || r.deadline_ms != e.deadline_ms || r.answered) return;
        if (r.fan != nullptr) return e_.fan_->fanout_expired(r, now_ms);
        session* ss = e_.sessions_[r.session].get();
        if (ss->gen != r.session_gen || ss->st != sstate::request) return;
        bump(e_.ctr_.request_timeouts);
        bump(e_.meter(r.backend).errors);
        r.abandoned.store(true, std::memory_order_relaxed);
        char text[64];
        const int len = std::snprintf(text, sizeof text, "qgate: timeout after %ums",
                                      static_cast<unsigned>(r.timeout_ms));
        answer_error(*ss, r, {text, static_cast<size_t>(len < 0 ? 0 : len)});
    });
}

request* request_clients::alloc_request() {
    request* r = slot_free_;
    if (r == nullptr) return nullptr;
    slot_free_ = r->onext;
    QGATE_ASSERT(r->holds == hold::kFree);  // maybe_free_request keeps held slots off the list
    e_.bigs_.unpark(r->rep);  // a parked reply buffer travels with the slot (given at home)
    r->onext = nullptr;
    r->holds = 0;
    r->answered = r->use_err = r->use_req = false;
    r->err_len = 0;
    r->deadline_ms = 0;
    r->bounce = false;
    r->lost = false;
    r->fan = nullptr;
    r->fan_child = false;
    r->bounces = 0;
    r->user_call = false;
    r->abandoned.store(false, std::memory_order_relaxed);
    return r;
}

// Entries of answered or freed slots are dropped lazily; at most one per slot is live, so
// compacting at the pool size keeps the heap within its reserved capacity.
void request_clients::compact_request_timers() {
    request* slots = e_.plane_->slots(e_.me_);
    rq_timers_.compact([slots](const shard::timer_entry& e) {
        const request& r = slots[e.slot];
        return r.gen != e.gen || r.deadline_ms != e.deadline_ms || r.answered;
    });
}

void request_clients::maybe_free_request(request& r) {
    if (r.holds != 0) {
        // Slot generation: a free slot freed again would be on the free list twice and taken
        // by two calls at once. Dropped.
        (void)QGATE_CHECK(e_.ctr_, (r.holds & hold::kFree) == 0);
        return;
    }
    if (r.fan != nullptr && !r.fan_child) e_.fan_->fanout_release(r);
    r.fan = nullptr;
    r.fan_child = false;
    drop_call(r);  // a lent call's buffer goes back to the pool with its last reference
    release_held(r);  // its bytes leave the budget and its client's count (request_budget.cc)
    // Past kKeepBytesMax (big_bufs.h): the call's buffer to this shard's cache; the reply's
    // stays parked on the slot, for its next call to take to the home shard that needs it.
    e_.bigs_.give(r.req);
    e_.bigs_.park(r.rep);
    if (r.rgen != nullptr) r.rgen->unhold(e_.me_);
    r.rgen = nullptr;
    ++r.gen;
    r.deadline_ms = 0;
    r.holds = hold::kFree;
    r.onext = slot_free_;
    slot_free_ = &r;
}

void request_clients::submit(request& r) {
    r.holds |= hold::kHome;
    stamp_user(r);
    const uint32_t home = e_.plane_->home(r.backend);
    if (home == r.origin) {
        arrive_home(r);
        return;
    }
    ++away_;
    post(home, kPostSubmit, r);
}

// A passthrough backend's call takes its client's own credentials to the home shard, which
// sends it over that user's links (pool_users.cc): a copy of a few bytes into capacity the
// slot keeps, and their FNV-1a hash (never 0: 0 is "none", refused there as 'access).
void request_clients::stamp_user(request& r) {
    r.cred.clear();
    r.cred_key = 0;
    if (!e_.opt_.upstreams->at(static_cast<int>(r.backend)).passthrough) return;
    const session& ss = *e_.sessions_[r.session];
    if (ss.gen != r.session_gen || ss.st != sstate::request) return;  // the client left
    const std::string_view own = ss.own_credentials();
    r.cred.assign(own.data(), own.size());
    uint64_t h = 14695981039346656037ULL;
    for (const char c : own) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ULL;
    r.cred_key = h != 0 ? h : 1;
}

// A slot reaches its backend's home shard. A big buffer left in `rep` by its last reply (parked
// at its origin, big_bufs.h) goes to this shard's cache: here is where big replies are received.
void request_clients::arrive_home(request& r) {
    e_.bigs_.give(r.rep);
    e_.pool_->home_enqueue(r);
}

// Slots for another shard wait in its outbox until the end of the turn (flush_outbox).
void request_clients::post(uint32_t to, uint32_t kind, request& r) {
    r.post_kind = kind;
    outbox_[to].push(&r);
    bump(e_.ctr_.xshard_requests);
}

// One message per destination carries the whole chain. When the peer's mailbox is full the
// chain stays (and grows, in order) until a later turn.
void request_clients::flush_outbox() {
    for (uint32_t to = 0; to < outbox_.size(); ++to) {
        request_fifo& o = outbox_[to];
        if (o.empty()) continue;
        if (e_.shard_->send(to, shard::requests_msg{o.head})) o = request_fifo{};
    }
}

// A chain from another shard: read each link before the slot joins a list of ours.
void request_clients::take_requests(request* r) {
    while (r != nullptr) {
        request* next = r->qnext;
        r->qnext = nullptr;
        if (r->post_kind == kPostSubmit) {
            arrive_home(*r);
        } else {
            request_done(*r);
        }
        r = next;
    }
}

// ---- conn_handler: the engine's events for a request-mode client

void request_clients::on_data(session& ss, role, uint16_t bid, uint32_t n) {
    request_input(ss, static_cast<int32_t>(bid), e_.be_.pool().data(bid), n);
}

void request_clients::on_eof(session& ss, role) { e_.close_session(ss); }

// Half-closed (design note): closed once every call read is answered and sent, by
// engine::close_if_flushed or request_unhold, or here when that is now.
void request_clients::on_read_eof(session& ss, role) {
    if (ss.st != sstate::request) return e_.close_session(ss);  // still in the handshake
    if (ss.rq.held.empty()) drop_partial(ss);
    if (engine::idle(ss)) e_.close_session(ss);
}

// A call cut short by the client's EOF will never be whole: its slot goes back.
void request_clients::drop_partial(session& ss) {
    if (ss.rq.cut.at_boundary()) return;
    if (ss.rq.fill != nullptr) {
        request* f = ss.rq.fill;
        ss.rq.fill = nullptr;
        maybe_free_request(*f);
    }
    ss.rq.cut = frame_cut{};
    ss.rq.skip = ss.rq.oversize = ss.rq.user_over = ss.rq.undecided = false;
}

// Replies drained below the low watermarks: read the client again, within its quota.
void request_clients::on_sent(session& ss, role r) {
    if (e_.queue_low(ss, r)) {
        if (ss.st == sstate::request) {
            request_unhold(ss);
        } else if (!ss.close_after_flush) {
            e_.resume_recv(ss, role::client);
        }
    }
    e_.close_if_flushed(ss, r);
}

bool request_clients::on_close(session& ss) {
    if (ss.st == sstate::request) request_close(ss);
    return true;
}

bool request_clients::idle(const session& ss) const {
    return ss.st == sstate::request && engine::quiet(ss) && ss.rq.head == nullptr &&
           ss.rq.held.empty() && ss.rq.cut.at_boundary() && ss.rq.inflating == 0;
}

}  // namespace qgate::proxy

// The engine's loop turn and drain (engine.h): what runs once per turn after completions and
// messages (timers, request hand-over, a slice of a parked compressed call, pub/sub lanes,
// re-arms, the turn's sends), messages from other shards, and the drain on SIGTERM/SIGINT:
// listeners closed, idle clients closed at once, busy ones when idle, everything forced after
// drain_timeout_ms. Thread: the shard's.

#include "proxy/kinds.h"

namespace qgate::proxy {

using shard::bump;

namespace {
constexpr uint64_t kForcedGraceMs = 1000;
}  // namespace

void engine::expire_timers(uint64_t now_ms) {
    timers_.expire(now_ms, [this](const shard::timer_entry& e) {
        session& ss = *sessions_[e.slot];
        if (ss.gen != e.gen || ss.deadline_ms != e.deadline_ms) return;  // stale entry
        ss.deadline_ms = 0;
        on_timeout(ss);
    });
}

// Between two turns: new calls and sessions route with the newest generation from here on
// (generation.h). Pick cursors are only rotation points, so they are kept (never shrunk: a
// fan-out of an older generation may still index them). Request mode's home shard opens the
// pools of added backends it is home to and starts draining removed ones. Publishing the
// number last tells the control thread no new hold on the old generation will come.
void engine::adopt_generation() {
    const generation* old = gen_;
    gen_ = opt_.gens->current();
    lim_ = &gen_->cfg->limits;  // the reloadable ones; the rest keep their running values
    for (const uint32_t b : gen_->ids) {
        if (!old->contains(b)) forget_backend(b);  // fresh, or a quiet id reused
    }
    if (plane_ != nullptr) {
        if (rq_->cursors_.size() < gen_->groups.size()) rq_->cursors_.resize(gen_->groups.size());
        pool_->adopt(*old, *gen_);
    }
    opt_.gens->saw(me_, gen_->number);
}

void engine::on_turn(uint64_t now_ms) {
    now_ms_ = now_ms;
    if (opt_.gens->current() != gen_) adopt_generation();
    expire_timers(now_ms);
    if (!parked_.empty()) admit_parked();  // slots of evicted handshakes freed (handshake.cc)
    if (plane_ != nullptr) {
        if (!pool_->retiring_.empty()) pool_->retire_due();
        rq_->expire_requests(now_ms);
        rq_->wake_slot_waiters();
        rq_->inflate_parked();  // one slice of a big compressed call (request_inflate.cc)
        pool_->pump_marked();
        rq_->flush_outbox();
    }
    if (hub_->ps_ != nullptr) {
        hub_->ps_drain();
        hub_->hub_flush_batches(now_ms);
        hub_->ps_flush_lanes();
        hub_->ps_unthrottle();
    }
    serve_admin();  // the admin's command, if one is posted (admin_link.h)
    rearm_starved();
    flush_sends();
    if (draining_ && !forced_ && now_ms >= drain_deadline_ms_) {
        forced_ = true;
        for (auto& sp : sessions_) {
            if (is_client(*sp)) close_session(*sp);
        }
    }
    clock_fresh_ = false;  // the shard waits next: completions read the clock again
}

// The clock read at most once per turn: a turn takes microseconds, while reading the clock
// costs about as much as routing a call on a VM (measured: 4.7% of request mode's CPU when read
// per call).
uint64_t engine::clock_now() {
    if (!clock_fresh_) {
        now_ms_ = opt_.clock_ms();
        clock_fresh_ = true;
    }
    return now_ms_;
}

// One lambda per message type (shard/xmsg.h): a type left out does not compile.
void engine::on_message(uint32_t, const shard::xmsg& m) {
    std::visit(shard::overloaded{
                   [this](const shard::drain_msg&) {
                       start_drain();
                       check_force();
                   },
                   [this](const shard::requests_msg& r) { rq_->take_requests(r.head); },
                   [this](const shard::pubsub_wake_msg&) { hub_->ps_drain(); },
                   [](const shard::ping_msg&) {},
               },
               m);
}

void engine::on_notify() {
    if (opt_.stop == nullptr || !opt_.stop->load(std::memory_order_acquire)) return;
    const bool force = opt_.force != nullptr && opt_.force->load(std::memory_order_acquire);
    if (draining_ && !force) return;
    // Shard 0 hears about the signal first and broadcasts the drain (or its end, on a second
    // signal) over the mailboxes.
    tell_peers_drain();
    start_drain();
    check_force();
}

// A second signal: the drain timeout is now (on_turn closes every client, finished() then
// stops waiting for calls still at a backend).
void engine::check_force() {
    if (opt_.force == nullptr || !opt_.force->load(std::memory_order_acquire)) return;
    if (!draining_ || forced_) return;
    now_ms_ = opt_.clock_ms();
    drain_deadline_ms_ = now_ms_;
}

// drain_msg to every other shard: it starts the drain, or, once draining, only wakes the
// peer to look at finished() again (start_drain is idempotent).
void engine::tell_peers_drain() {
    if (shard_ == nullptr) return;
    for (uint32_t to = 0; to < shard_->mesh().shards(); ++to) {
        if (to != shard_->id()) shard_->send(to, shard::drain_msg{});
    }
}

void engine::start_drain() {
    if (draining_) return;
    draining_ = true;
    // The loop may have slept long before the signal (or the drain message) woke it, so the
    // turn's now is stale: the timeout runs from the clock.
    now_ms_ = opt_.clock_ms();
    drain_deadline_ms_ = now_ms_ + lim_->drain_timeout_ms;
    for (auto& l : listeners_) {
        if (l.fd < 0) continue;
        l.closing = true;
        if (l.armed) {
            be_.cancel_fd(l.fd);
        } else {
            be_.close_fd(l.fd);
            l.fd = -1;
        }
    }
    close_parked();
    for (auto& sp : sessions_) {
        if (is_client(*sp) && idle(*sp)) {
            bump(ctr_.drain_closed);
            close_session(*sp);
        }
    }
}

int engine::sleep_budget_ms(uint64_t now_ms) {
    if (!dirty_.empty()) return 0;
    // A compressed call is being inflated a slice per turn: look at the sockets, do not sleep.
    if (plane_ != nullptr && !rq_->parked_.empty()) return 0;
    // A full lane or a paused feed waits for the peer to drain a lane, which sends no wake
    // back: poll every ms while that lasts.
    const ps_shard* ps = hub_->ps_.get();
    if (ps != nullptr && (ps->overflowing != 0 || !ps->paused.empty())) return 1;

    uint64_t next = timers_.next();
    if (plane_ != nullptr) {
        for (const request_fifo& o : rq_->outbox_) {
            if (!o.empty()) return 0;  // the peer's mailbox was full: retry next turn
        }
        next = next < rq_->rq_timers_.next() ? next : rq_->rq_timers_.next();
    }
    if (hub_->ps_ != nullptr && hub_->ps_->batch_due_ms != 0 && hub_->ps_->batch_due_ms < next) {
        next = hub_->ps_->batch_due_ms;  // pubinterval flush
    }
    if (draining_) {
        const uint64_t d = forced_ ? drain_deadline_ms_ + kForcedGraceMs : drain_deadline_ms_;
        next = next < d ? next : d;
    }
    if (next == UINT64_MAX) return -1;
    return next <= now_ms ? 0 : static_cast<int>(next - now_ms < 60000 ? next - now_ms : 60000);
}

bool engine::finished() const {
    if (!draining_) return false;
    if (forced_ && now_ms_ >= drain_deadline_ms_ + kForcedGraceMs) return true;
    if (sessions_open_ != 0) return false;
    for (const auto& l : listeners_) {
        if (l.fd >= 0) return false;
    }
    // Past the drain timeout every client is closed, so calls still at a backend (or queued
    // for one) are answers nobody waits for: a home shard does not wait for them (it used to,
    // until the grace below, which held every forced request-mode exit one second longer).
    if (forced_) return true;
    // A home shard serves the other shards' clients until they are all gone.
    return plane_ == nullptr || pool_->home_idle();
}

}  // namespace qgate::proxy

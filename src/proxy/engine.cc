// The engine's sockets: completion dispatch to the slot's kind (conn_handler.h), receive
// arming and back-pressure, batched sends, socket and slot life cycle, timers. The loop turn
// and drain are in engine_turn.cc, the client handshake in handshake.cc; what a connection
// means is its kind's (src/proxy/README.md).
//
// Design note. One engine per shard, on the shard's thread; nothing here is shared. Sessions
// live in a slot table that grows in place up to limits.conns_per_shard_max (allocation only
// when a new slot is first used, never per message); user_data carries (op, sock generation,
// session * 2 + role), so a completion is routed without lookups.
//
// Invariants:
//  * A socket has at most one recv (multishot, or recv_into: pool connections and pub/sub
//    ingest) and one send in flight; `ops` counts submitted operations whose final completion
//    has not arrived. Its slot and fd are released only when it is closing and ops == 0, so no
//    completion can ever refer to a reused slot (nor a recv_into write into reused memory).
//  * Sends are not submitted from completion handlers: sockets are put on `dirty_` and one
//    sendmsg per socket, gathering everything queued, goes out at the end of the turn, so a
//    batch of CQEs costs one sendmsg per socket and the whole batch one io_uring_enter.
//  * Back-pressure: when a socket's queue exceeds out_bytes_high the socket feeding it stops
//    reading (its multishot recv is cancelled) until the queue drains below out_bytes_low.
//    Only that session stalls. Bytes alone do not bound a queue's share of the receive pool
//    (a 64-byte reply pins a whole buffer, 64 KiB by default), so the same pause also fires
//    when a queue holds more than limits.session_buf_share_pct of the pool, and waits for half
//    of that: a reader that stalls pins a bounded share, and the rest of the pool keeps every
//    other session moving. The bound is the share plus one kernel batch: the pause cancels
//    the feeder's multishot recv, and whatever the kernel had already copied into buffers for
//    that socket by then still arrives (measured: ~75 buffers of 16 KiB with 1 KB replies
//    under io_uring, ~3 under epoll; tests/integration/session_backpressure.test.js).
//    An ENOBUFS recv waits until half the pool is back (pitfall 1), not counting the buffers
//    pinned by paused sessions, which only come back when their reader reads.

#include "proxy/kinds.h"
#include "proxy/user_conns.h"

#include <sys/socket.h>

#include <unistd.h>

#include <cerrno>
#include <variant>

#include "net/socket_util.h"
#include "qgate/check.h"
#include "qgate/log.h"

namespace qgate::proxy {

using shard::bump;
using shard::drop;

namespace {
constexpr uint32_t kNoSlot = UINT32_MAX;
// Items: one per forwarded receive buffer (bounded by the pool) plus a few per session
// (handshake reply, error frames).
uint32_t item_capacity(const limits_conf& l) {
    uint64_t n = uint64_t{l.buf_ring_entries} * 2 + uint64_t{l.conns_per_shard_max} * 8 + 4096;
    return n > (1u << 22) ? (1u << 22) : static_cast<uint32_t>(n);
}
// Backoff jitter differs per shard, so the links of several shards do not retry in lockstep.
uint64_t link_seed(const shard::shard* sh) {
    const uint64_t id = sh != nullptr ? sh->id() : 0;
    return 0x9e3779b97f4a7c15ull ^ (id + 1) * 0xbf58476d1ce4e5b9ull;
}
}  // namespace

engine::engine(shard::shard& sh, engine_options o)
    : engine(sh.backend(), sh.stats(), std::move(o), &sh) {}

engine::engine(io::io_backend& be, shard::counters& ctr, engine_options o, shard::shard* sh)
    : be_(be), ctr_(ctr), shard_(sh), opt_(std::move(o)), lim_(&opt_.cfg->limits),
      items_(item_capacity(opt_.cfg->limits)),
      timers_(size_t{opt_.cfg->limits.conns_per_shard_max} * 2),
      plane_(opt_.plane),
      bigs_(ctr, opt_.cfg->limits.big_bufs_max, opt_.cfg->limits.big_bufs_bytes_max),
      held_(ctr, opt_.plane != nullptr ? &opt_.plane->held_bytes() : nullptr,
            opt_.cfg->limits.request_bytes_held_max),
      plain_(be),
      link_(*this, link_seed(sh)), frames_(*this),
      sc_(std::make_unique<session_clients>(*this)),
      rq_(std::make_unique<request_clients>(*this)), fan_(std::make_unique<fanouts>(*this)),
      pool_(std::make_unique<pool_links>(*this)), subs_(std::make_unique<subscribers>(*this)),
      psr_(std::make_unique<ps_reader>(*this)), hub_(std::make_unique<pubsub_hub>(*this)),
      feed_(std::make_unique<feed_link>(*this)) {
    if (opt_.clock_ms == nullptr) opt_.clock_ms = &shard::shard::now_ms;
    me_ = sh != nullptr ? sh->id() : 0;
    init_admin();
    dirty_.reserve(1024);
    starved_.reserve(1024);
    parked_.reserve(kParkedMax);
    listeners_.resize(opt_.listener_fds.size());
    for (size_t i = 0; i < listeners_.size(); ++i) listeners_[i].fd = opt_.listener_fds[i];
    now_ms_ = opt_.clock_ms();
    const uint64_t share = uint64_t{be_.pool().entries()} * lim_->session_buf_share_pct / 100;
    bufs_high_ = share < 2 ? 2 : static_cast<uint32_t>(share);
    bufs_low_ = bufs_high_ / 2;
    me_ = shard_ != nullptr ? shard_->id() : 0;
    gen_ = opt_.gens->current();
    lim_ = &gen_->cfg->limits;
    opt_.gens->saw(me_, gen_->number);
    if (plane_ != nullptr) init_request_mode();
    if (opt_.pubsub != nullptr) subs_->ps_init();
    listener_kind_.resize(listeners_.size(), sc_.get());
    for (size_t i = 0; i < listeners_.size() && i < opt_.cfg->listeners.size(); ++i) {
        const conn_mode m = opt_.cfg->listeners[i].mode;
        if (m == conn_mode::request && plane_ != nullptr) listener_kind_[i] = rq_.get();
        if (m == conn_mode::pubsub && opt_.pubsub != nullptr) listener_kind_[i] = subs_.get();
    }
    arm_listeners();
}

// Request mode: this shard's slot free list, pick cursors, mailbox overflow lists, and the
// pools of the backends whose home it is.
void engine::init_request_mode() {
    request* slots = plane_->slots(me_);
    for (uint32_t i = plane_->slots_per_shard(); i-- > 0;) {
        slots[i].holds = hold::kFree;
        slots[i].onext = rq_->slot_free_;
        rq_->slot_free_ = &slots[i];
    }
    rq_->cursors_.resize(gen_->groups.size());
    rq_->outbox_.resize(shard_ != nullptr ? shard_->mesh().shards() : 1);
    rq_->init_lending();
    fan_->init_fanout();
    pool_->start_pools();
}

void engine::release_item(int32_t bid) {
    if (bid >= 0) {
        rq_->buf_unref(static_cast<uint16_t>(bid));  // back to the pool unless a slot borrows it
    } else if (bid <= -2 && bid != kPsTag) {  // kPsTag: the session's ps_conn owns the bytes
        rq_->request_sent(static_cast<uint32_t>(-2 - bid));
    }
}

engine::~engine() {
    for (auto& l : listeners_) {
        if (l.fd >= 0) be_.close_fd(l.fd);
    }
    frames_.settle();  // frame_reader.cc: no recv_into may outlive the buffer it writes into
    for (const parked_accept& p : parked_) ::close(p.fd);
    for (auto& sp : sessions_) {
        for (sock& k : sp->s) {
            if (k.fd >= 0) ::close(k.fd);  // the backend (ring) is torn down right after us
        }
    }
}

uint64_t engine::ud(io::op o, uint32_t sess, role r) const {
    return io::pack_ud(o, sessions_[sess]->s[static_cast<int>(r)].gen, sock_id(sess, r));
}

void engine::arm_listeners() {
    for (uint32_t i = 0; i < listeners_.size(); ++i) {
        if (listeners_[i].fd < 0 || listeners_[i].armed) continue;
        be_.accept_multishot(listeners_[i].fd, io::pack_ud(io::op::accept, 0, i));
        listeners_[i].armed = true;
    }
}

void engine::on_completion(const io::completion& c) {
    const uint32_t slot = io::ud_slot(c.user_data);
    const io::op o = io::ud_op(c.user_data);
    const bool on_sock = o == io::op::recv || o == io::op::send || o == io::op::connect ||
                         o == io::op::read;
    // Slot generation: a socket is freed (gen bumped) only after its last completion, so one
    // for a freed or reused socket would act on, or hand bytes to, another connection. Dropped.
    if (on_sock && !QGATE_CHECK(ctr_, slot / 2 < sessions_.size() &&
                                          io::ud_gen(c.user_data) ==
                                              (sessions_[slot / 2]->s[slot & 1].gen & 0xffffffu))) {
        if (c.res > 0 && c.has_buffer()) release(c.buffer_id());
        return;
    }
    switch (o) {
    case io::op::accept: on_accept(slot, c); return;
    case io::op::recv: on_recv(slot, c); return;
    case io::op::send: on_send(slot, c); return;
    case io::op::connect: on_connect(slot, c); return;
    case io::op::read: on_read(slot, c); return;
    default: return;
    }
}

session* engine::alloc_session() {
    if (free_head_ != kNoSlot) {
        session* ss = sessions_[free_head_].get();
        free_head_ = ss->next_free;
        return ss;
    }
    if (sessions_.size() >= lim_->conns_per_shard_max) return nullptr;
    sessions_.push_back(std::make_unique<session>());
    sessions_.back()->index = static_cast<uint32_t>(sessions_.size() - 1);
    return sessions_.back().get();
}

void engine::on_accept(uint32_t l, const io::completion& c) {
    engine_listener& el = listeners_[l];
    if (!c.more()) el.armed = false;
    if (c.res < 0) {
        if (c.res != -ECANCELED) bump(ctr_.accept_errors);
    } else if (el.closing || draining_) {
        ::close(c.res);
    } else {
        admit_parked();  // those waiting for an evicted handshake's slot come first
        session* ss = parked_.empty() ? alloc_session() : nullptr;
        if (ss != nullptr) {
            admit(*ss, l, c.res);
        } else if (!park_for_handshake(l, c.res)) {  // handshake.cc
            bump(ctr_.conns_rejected);
            ::close(c.res);
        }
    }
    if (!el.armed) {
        if (el.closing) {
            be_.close_fd(el.fd);
            el.fd = -1;
        } else if (c.res != -ECANCELED) {
            bump(ctr_.multishot_rearm);
            arm_listeners();
        }
    }
}

void engine::admit(session& ss, uint32_t l, int fd) {
    net::set_nodelay(fd);
    ss.st = sstate::handshake;
    ss.h = listener_kind_[l];
    ss.listener = l;
    ss.client_id = (++client_seq_ << kShardBits) | me_;
    ss.since_ns = unix_ns();
    ss.calls = ss.bytes_in = ss.bytes_out = 0;
    ss.s[0].fd = fd;
    ss.s[0].xp = &plain_;
    bump(ctr_.accepts);
    bump(ctr_.conns_open);
    ++sessions_open_;
    // The TLS handshake runs first, within the same handshake_timeout_ms.
    set_timeout(ss, lim_->handshake_timeout_ms);
    ssl_ctx_st* tls = opt_.tls != nullptr ? opt_.tls->ctx(l) : nullptr;
    if (tls == nullptr || tls_accept(ss, tls)) arm_recv(ss, role::client);
}

// NOLINTNEXTLINE(readability-make-member-function-const): it submits io; const would mislead.
void engine::arm_recv(session& ss, role r) {
    sock& k = ss.s[static_cast<int>(r)];
    if (k.fd < 0 || k.closing || k.paused || k.starved || k.rx != rx_state::idle || k.rd_eof) {
        return;
    }
    if (k.into) {
        ss.h->arm_read(ss, r);  // the kind reads into its own memory (recv_into)
        return;
    }
    k.xp->recv(k.fd, ud(io::op::recv, ss.index, r));
    k.rx = rx_state::armed;
    ++k.ops;
}

// NOLINTNEXTLINE(readability-make-member-function-const): it submits io; const would mislead.
void engine::pause_recv(session& ss, role r) {
    sock& k = ss.s[static_cast<int>(r)];
    if (k.paused) return;
    k.paused = true;
    if (k.rx == rx_state::armed && !k.into) {  // a recv_into is not cancelled: it ends by itself
        k.xp->cancel(k.fd, ud(io::op::recv, ss.index, r));
        k.rx = rx_state::cancelling;
    }
}

void engine::resume_recv(session& ss, role r) {
    sock& k = ss.s[static_cast<int>(r)];
    if (!k.paused) return;
    k.paused = false;
    arm_recv(ss, r);  // no-op while the cancel is still in flight; the final CQE re-arms
}

void engine::on_recv(uint32_t sid, const io::completion& c) {
    const uint32_t idx = sid / 2;
    const role r = static_cast<role>(sid & 1);
    session& ss = *sessions_[idx];
    sock& k = ss.s[sid & 1];
    if (!c.more()) {
        // Ops count: a final completion with no recv armed (a duplicate) would wrap `ops`, and
        // the socket could be freed while an operation still uses it.
        const bool armed = k.rx == rx_state::cancelling || (k.rx == rx_state::armed && !k.into);
        if (!QGATE_CHECK(ctr_, armed && k.ops > 0)) return drop_completion(ss, c);
        k.rx = rx_state::idle;
        --k.ops;
    }
    if (c.res > 0 && c.has_buffer()) {
        bump(ctr_.bytes_in, static_cast<uint64_t>(c.res));
        if (r == role::client) ss.bytes_in += static_cast<uint64_t>(c.res);
        if (k.closing || ss.st == sstate::closing) {
            release(c.buffer_id());
        } else if (k.tls != nullptr) {
            tls_rx(ss, r, c.buffer_id(), static_cast<uint32_t>(c.res));
        } else {
            on_data(ss, r, c.buffer_id(), static_cast<uint32_t>(c.res));
        }
        if (!c.more() && !k.closing) {
            bump(ctr_.multishot_rearm);
            arm_recv(ss, r);
        }
    } else if (c.res == -ENOBUFS) {
        bump(ctr_.rcv_enobufs);
        if (k.into) {
            arm_recv(ss, r);  // the multishot was being replaced by recv_into: needs no buffer
        } else if (!k.starved && !k.closing) {
            k.starved = true;
            starved_.push_back(sid);
        }
    } else if (c.res == -ECANCELED) {
        arm_recv(ss, r);  // a pause that was lifted before the cancel completed
    } else if (c.res <= 0 && tls_up_eof(ss, r)) {
        // EOF or an error in a backend's TLS handshake: a TLS failure (engine_tls_up.cc)
    } else if (c.res == 0 && !k.closing) {
        k.rd_eof = true;  // shut down for writing (half-closed): it may still read
        ss.h->on_read_eof(ss, r);
    } else if (!k.closing) {
        on_eof(ss, r);    // a socket error
    }
    maybe_free(ss, r);
}

// Single-shot recv_into completions: the connection's kind owns the memory the bytes landed in
// (pool links: pool_rx.cc; pub/sub feeds: ps_reader.cc).
void engine::on_read(uint32_t sid, const io::completion& c) {
    session& ss = *sessions_[sid / 2];
    ss.h->on_read(ss, static_cast<role>(sid & 1), c);
}

void engine::on_send(uint32_t sid, const io::completion& cqe) {
    session& ss = *sessions_[sid / 2];
    const role r = static_cast<role>(sid & 1);
    sock& k = ss.s[sid & 1];
    io::completion c = cqe;
    if (k.tls != nullptr && !tls_on_send(ss, r, c)) return;  // engine_tls.cc
    // Ops count: the one sendmsg in flight; a duplicate would wrap `ops` (see on_recv).
    if (!QGATE_CHECK(ctr_, k.send_inflight && k.ops > 0)) return drop_completion(ss, c);
    --k.ops;
    k.send_inflight = false;
    if (k.closing) {
        maybe_free(ss, r);
        return;
    }
    if (c.res < 0) {
        if (!tls_up_eof(ss, r)) on_eof(ss, r);  // a backend's TLS refusal: engine_tls_up.cc
        maybe_free(ss, r);
        return;
    }
    const uint64_t n = static_cast<uint64_t>(c.res);
    // Sent bytes: more than the sendmsg gathered would release queued items not yet sent.
    if (!QGATE_CHECK(ctr_, n <= k.inflight_bytes)) {
        close_session(ss);
        maybe_free(ss, r);
        return;
    }
    if (n < k.inflight_bytes) bump(ctr_.snd_short);  // resumed from the exact byte below
    bump(ctr_.bytes_out, n);
    if (r == role::client) ss.bytes_out += n;
    k.sq.consume(items_, n, [this, &ss](int32_t bid) {
        if (bid == kPsTag) {
            ss.h->on_tag_sent(ss);
        } else {
            release_item(bid);
        }
    });
    if (!k.sq.empty()) mark_dirty(ss, r);
    ss.h->on_sent(ss, r);
}

// Called after bytes were queued on `dst` from `from`: pause `from` while dst's queue is over
// either high watermark (bytes, or its share of the receive buffer pool).
void engine::check_high(session& ss, role from, const sock& dst) {
    if (ss.s[static_cast<int>(from)].paused) return;
    if (dst.sq.bytes() > lim_->out_bytes_high) {
        bump(ctr_.slow_reader_pauses);
    } else if (dst.sq.bufs() > bufs_high_) {
        bump(ctr_.buf_share_pauses);
    } else {
        return;
    }
    pause_recv(ss, from);
}

// Below both low watermarks (bytes, and buffers of the receive pool): the feeder may read again.
bool engine::queue_low(const session& ss, role r) const {
    const sock& k = ss.s[static_cast<int>(r)];
    return k.sq.bytes() <= lim_->out_bytes_low && k.sq.bufs() <= bufs_low_;
}

// A client connection's queue on `r` is empty: close it if it was only flushing its last bytes,
// or if a drain, or a client that has half-closed (every call of it answered then), is waiting
// for it to be idle.
void engine::close_if_flushed(session& ss, role r) {
    const sock& k = ss.s[static_cast<int>(r)];
    if (!k.sq.empty() || k.send_inflight) return;
    if (ss.close_after_flush && r == role::client) {
        close_session(ss);
    } else if ((draining_ || ss.s[0].rd_eof) && idle(ss)) {
        if (draining_) bump(ctr_.drain_closed);
        close_session(ss);
    }
}

void engine::on_connect(uint32_t sid, const io::completion& c) {
    session& ss = *sessions_[sid / 2];
    // Ops count: a connect completes once, while its link is connecting (or the socket is
    // closing: cancelled); another is a duplicate, which would wrap `ops` (see on_recv).
    const sock& k = ss.s[1];
    if (!QGATE_CHECK(ctr_, k.ops > 0 && (k.closing || ss.link.phase == link_phase::connecting))) {
        return drop_completion(ss, c);
    }
    --ss.s[1].ops;
    ss.h->on_connected(ss, c);
}

// A completion that matches no operation of its socket (a QGATE_CHECK failed): its buffer goes
// back to the pool and its connection is closed; nothing else is touched.
void engine::drop_completion(session& ss, const io::completion& c) {
    if (c.res > 0 && c.has_buffer()) release(c.buffer_id());
    close_session(ss);
}

bool engine::push(session& ss, role to, const uint8_t* p, uint32_t n, int32_t bid, bool solo) {
    sock& k = ss.s[static_cast<int>(to)];
    if (!k.sq.push(items_, p, n, bid, solo)) {
        bump(ctr_.send_items_exhausted);
        release_item(bid);
        close_session(ss);
        return false;
    }
    mark_dirty(ss, to);
    return true;
}

void engine::mark_dirty(session& ss, role r) {
    sock& k = ss.s[static_cast<int>(r)];
    if (k.dirty) return;
    k.dirty = true;
    dirty_.push_back(sock_id(ss.index, r));
}

void engine::flush_sends() {
    for (const uint32_t sid : dirty_) {  // sends queue nothing on dirty_ while it runs
        session& ss = *sessions_[sid / 2];
        sock& k = ss.s[sid & 1];
        k.dirty = false;
        if (k.fd < 0 || k.closing || k.send_inflight || k.sq.empty()) continue;
        if (k.tls != nullptr) {
            tls_flush(ss, static_cast<role>(sid & 1));
            continue;
        }
        const int n = k.sq.gather(items_, k.iov, io::kIovMax, k.inflight_bytes);
        k.msg = msghdr{};
        k.msg.msg_iov = k.iov;
        k.msg.msg_iovlen = static_cast<size_t>(n);
        k.xp->send(k.fd, ud(io::op::send, sid / 2, static_cast<role>(sid & 1)), &k.msg);
        k.send_inflight = true;
        ++k.ops;
        bump(ctr_.sends);
    }
    dirty_.clear();
}

void engine::close_sock(session& ss, role r) {
    sock& k = ss.s[static_cast<int>(r)];
    if (k.fd < 0 || k.closing) return;
    k.closing = true;
    // shutdown() ends a pending multishot recv (EOF) and fails a pending send at once; the
    // cancel covers a connect in flight. The fd itself is closed once every op has completed.
    k.xp->shutdown(k.fd);
    if (k.ops > 0) k.xp->cancel_all(k.fd);
    maybe_free(ss, r);
}

void engine::maybe_free(session& ss, role r) {
    sock& k = ss.s[static_cast<int>(r)];
    if (k.fd >= 0 && k.closing && k.ops == 0) {
        k.sq.clear(items_, [this](int32_t bid) { release_item(bid); });
        k.xp->close(k.fd);
        k.fd = -1;
        ++k.gen;
        k.closing = k.paused = k.starved = k.send_inflight = k.into = k.rd_eof = false;
        k.rx = rx_state::idle;
        k.inflight_bytes = 0;
        k.fr = net::framer{};
        k.tls.reset();
        if (ss.h->on_sock_freed(ss, r)) return;  // the kind reconnects or retries on it
    }
    if (ss.st == sstate::closing && ss.s[0].fd < 0 && ss.s[1].fd < 0) {
        const uint32_t idx = ss.index;
        ++ss.gen;
        ss.st = sstate::free;
        ss.hs.clear();
        ss.up_hs.clear();
        ss.err.clear();
        ss.deadline_ms = ss.up_active_ms = 0;
        ss.link = link_state{};
        ss.outstanding = 0;
        ss.tried = 0;
        ss.retry = ss.close_after_flush = false;
        ss.h->on_slot_freed(ss);
        ss.h = nullptr;
        if (ss.user_slot >= 0) opt_.users->release(ss.user_slot);
        ss.user_slot = -1;
        ss.msg_max = 0;
        ss.calls_max = 0;
        ss.next_free = free_head_;
        free_head_ = idx;
        --sessions_open_;
        drop(ctr_.conns_open);
    }
}

void engine::close_session(session& ss) {
    if (ss.st == sstate::closing || ss.st == sstate::free) return;
    if (!ss.h->on_close(ss)) return;  // a pool link or the feed reconnects instead
    ss.st = sstate::closing;
    ss.deadline_ms = 0;
    close_sock(ss, role::upstream);
    close_sock(ss, role::client);
    maybe_free(ss, role::client);
}

// Reads the clock afresh: now_ms_ is from the last turn, which may be long ago if the shard
// slept, and a deadline computed from it could already be in the past.
void engine::set_timeout(session& ss, uint32_t delay_ms) {
    now_ms_ = opt_.clock_ms();
    clock_fresh_ = true;
    ss.deadline_ms = now_ms_ + delay_ms;
    timers_.add(ss.deadline_ms, ss.index, ss.gen);
}

// Buffers queued towards a reader whose feeder is paused (a slow reader) stay pinned until that
// reader reads, however long: counting them as "coming back" would let a few slow readers hold
// the re-arm threshold out of reach and starve every other socket of the shard for good.
// Buffers lent to request slots are pinned the same way: they come back when a backend
// answers, which a sleeping backend may not do for a long time (their number is bounded by
// lend_max_, request_lend.cc).
// O(sessions), and runs only while a socket is starved and the pool is below half.
uint32_t engine::pinned_bufs() const {
    uint32_t pinned = rq_->bufs_lent_;
    for (const auto& sp : sessions_) {
        if (sp->st == sstate::free) continue;
        if (sp->s[1].paused) pinned += sp->s[0].sq.bufs();
        if (sp->s[0].paused) pinned += sp->s[1].sq.bufs();
    }
    return pinned;
}

void engine::rearm_starved() {
    if (starved_.empty()) return;
    const uint32_t entries = be_.pool().entries();
    const uint32_t avail = be_.pool().available();
    if (avail < entries / 2) {
        // Wait for half of what can come back (pitfall 1), not half of the whole pool.
        const uint32_t pinned = pinned_bufs();
        const uint32_t need = pinned >= entries ? 1 : (entries - pinned) / 2;
        if (avail < (need == 0 ? 1 : need)) return;
    }
    for (uint32_t sid : starved_) {
        session& ss = *sessions_[sid / 2];
        sock& k = ss.s[sid & 1];
        if (!k.starved) continue;
        k.starved = false;
        bump(ctr_.multishot_rearm);
        arm_recv(ss, static_cast<role>(sid & 1));
    }
    starved_.clear();
}

bool engine::idle(const session& ss) {
    if (ss.st == sstate::handshake) return true;
    if (ss.st == sstate::free || ss.st == sstate::closing) return false;
    return ss.h->idle(ss);
}

// Nothing queued or being sent on either socket.
bool engine::quiet(const session& ss) {
    const sock& c = ss.s[0];
    const sock& u = ss.s[1];
    return c.sq.empty() && !c.send_inflight && u.sq.empty() && !u.send_inflight;
}

// A client connection (not free, not closing, not one of our own links).
bool engine::is_client(const session& ss) {
    return ss.st != sstate::free && ss.st != sstate::closing && ss.h->is_client();
}

}  // namespace qgate::proxy

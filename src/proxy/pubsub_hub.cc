// Pub/sub, the hub (shard 0) and the lanes between shards.
//
// Design note. The hub owns the schema store, the filter directory and each subscriber's
// filters (pubsub_state.h); nothing of it is shared. Per update (from the upstream
// tickerplant or a publisher's .u.upd): one parse, then for each distinct filter of the table
// one pubsub::publish_for — the received buffer itself for every-sym filters of a forwardable
// `(`upd;t;table)`, else one exact-size encoding — and one deliver message per shard holding
// subscribers, carrying (filter key, buffer) pairs; the buffers are never copied again.
// Subscription changes arrive on the lanes in order with the client shard's other messages,
// so the directory and the shards' groups agree at every point of the update stream.
// Errors in updates (pubsub::parse_update, publish_for) are counted in pubsub_bad_msgs and the
// update is dropped; a publisher is never disconnected for one.

#include <ctime>

#include <cstring>

#include "proxy/kinds.h"
#include "qgate/log.h"
#include "qgate/qipc/compress.h"

namespace qgate::proxy {

using shard::bump;

pubsub_plane::pubsub_plane(uint32_t shards, const config& cfg)
    : shards_(shards) {
    lanes_.reserve(size_t{shards} * shards);
    for (size_t i = 0; i < size_t{shards} * shards; ++i) {
        lanes_.push_back(std::make_unique<ps_lane>(kPsLaneSlots, 0));  // ps_flush_lanes publishes
    }
    limits.updates_max = cfg.pubsub.backlog_updates_max;
    limits.bytes_max = cfg.pubsub.backlog_bytes_max;
    limits.policy = static_cast<pubsub::slow_policy>(cfg.pubsub.slow_subscriber);
    pubinterval_ms = cfg.pubsub.pubinterval_ms;
    for (size_t b = 0; b < cfg.backends.size(); ++b) {
        if (!cfg.pubsub.upstream.empty() && cfg.backends[b].name == cfg.pubsub.upstream) {
            upstream = static_cast<int>(b);
        }
    }
}

pubsub::update_ref ps_error_frame(std::string_view text) {
    const uint64_t len = qipc::kHeaderSize + 1 + text.size() + 1;
    pubsub::update_builder b(len);
    if (!b.ok()) return {};
    uint8_t* p = b.data().data();
    qipc::frame_header h;
    h.type = qipc::msg_type::response;
    h.length = len;
    qipc::write_header(h, p);
    p[qipc::kHeaderSize] = 0x80;  // q error (type -128), then the text and its NUL
    std::memcpy(p + qipc::kHeaderSize + 1, text.data(), text.size());
    p[len - 1] = 0;
    return std::move(b).freeze();
}

pubsub::update_ref ps_inflate(const pubsub::update_ref& msg, uint64_t length_max,
                              const qipc::inflate_limits& lim, bool& refused) {
    uint64_t ulen = 0;
    const qipc::status st = qipc::inflate_length(msg.bytes(), length_max, lim, ulen);
    refused = st.code == qipc::errc::inflate_limit;
    if (!st) return {};
    pubsub::update_builder b(ulen);
    if (!b.ok() || !qipc::decompress(msg.bytes(), b.data())) return {};
    return std::move(b).freeze();
}

namespace {
uint64_t sub_key(uint32_t shard, uint32_t session, uint32_t gen) {
    return (uint64_t{shard} << 56) ^ (uint64_t{session} << 32) ^ gen;
}

// tick.q's time column: "n"$.z.P, nanoseconds since midnight (UTC here).
int64_t time_of_day_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t{ts.tv_sec} % 86400) * 1'000'000'000 + ts.tv_nsec;
}

// pubinterval: tick.q's batch-mode upd adds the time column before it holds the rows, as its
// .u.upd does without an interval, so a short .u.upd is held as the table it would be
// published as: encoded once (all rows, time added) and `u` re-parsed from that buffer, which
// replaces `msg`. False when that fails (the update is dropped and counted).
bool with_time(pubsub::update_view& u, pubsub::update_ref& msg,
               const pubsub::schema_store& schemas, uint32_t tid, pubsub::row_selection& scratch) {
    pubsub::publish_ctx ctx;
    ctx.update = &u;
    ctx.names = schemas.column_names(tid);
    ctx.scratch = &scratch;
    ctx.add_time = true;
    ctx.time_ns = time_of_day_ns();
    pubsub::publish_kind kind{};
    pubsub::update_ref timed;
    if (!pubsub::publish_for(ctx, pubsub::sym_filter::all(), kind, timed) || !timed) return false;
    msg = std::move(timed);  // `u` pointed into the old buffer: parsed again below
    return pubsub::parse_update(msg.bytes().subspan(qipc::kHeaderSize), true, u, &schemas).ok();
}
}  // namespace

void pubsub_hub::ps_send(uint32_t to, ps_msg&& m) {
    if (to == e_.me_ && m.kind == ps_kind::unsub) {
        ps_->self_unsubs.emplace_back(m.session, m.gen);
        return;
    }
    if (to == e_.me_) {
        ps_on_msg(e_.me_, m);
        return;
    }
    std::deque<ps_msg>& waiting = ps_->overflow[to];
    ps_lane& lane = e_.opt_.pubsub->lane(e_.me_, to);
    if (!waiting.empty() || !lane.has_room()) {
        if (waiting.size() >= kPsOverflowMax) {
            bump(e_.ctr_.pubsub_lane_drops);
            delete m.order;  // a lost .u.sub gets no answer; counted
            return;
        }
        bump(e_.ctr_.pubsub_lane_full);
        waiting.push_back(std::move(m));
        ++ps_->overflowing;
        return;
    }
    lane.push(std::move(m));  // has room
    ps_->dirty_lanes |= uint64_t{1} << to;
    bump(e_.ctr_.pubsub_mailbox_msgs);
}

// Moves waiting messages into lanes that have room again, in order.
void pubsub_hub::ps_refill() {
    for (uint32_t to = 0; to < ps_->overflow.size() && ps_->overflowing != 0; ++to) {
        std::deque<ps_msg>& waiting = ps_->overflow[to];
        ps_lane& lane = e_.opt_.pubsub->lane(e_.me_, to);
        while (!waiting.empty() && lane.push(std::move(waiting.front()))) {
            waiting.pop_front();
            --ps_->overflowing;
            ps_->dirty_lanes |= uint64_t{1} << to;
            bump(e_.ctr_.pubsub_mailbox_msgs);
        }
    }
}

// End of turn: make this turn's messages visible, one wake per peer.
void pubsub_hub::ps_flush_lanes() {
    ps_refill();
    while (ps_->dirty_lanes != 0) {
        const uint32_t to = static_cast<uint32_t>(__builtin_ctzll(ps_->dirty_lanes));
        ps_->dirty_lanes &= ps_->dirty_lanes - 1;
        if (e_.opt_.pubsub->lane(e_.me_, to).publish() && e_.shard_ != nullptr) {
            e_.shard_->send(to, shard::pubsub_wake_msg{});  // full mailbox: it is awake
        }
    }
}

bool pubsub_hub::ps_busy() const {
    for (uint32_t to = 0; to < e_.opt_.pubsub->shards(); ++to) {
        if (to != e_.me_ && e_.opt_.pubsub->lane(e_.me_, to).used() > kPsLaneHigh) return true;
    }
    return ps_->overflowing != 0;
}

// Back-pressure on feeds: a publisher (or the upstream link) is not read while a lane out of
// this shard is over kPsLaneHigh, so a burst waits in the kernel, not in dropped messages.
void pubsub_hub::ps_throttle(session& ss, role r) {
    if (!ps_busy() || ss.s[static_cast<int>(r)].paused) return;
    bump(e_.ctr_.pubsub_feed_pauses);
    e_.pause_recv(ss, r);
    ps_->paused.push_back({ss.index, ss.gen, r});
}

void pubsub_hub::ps_unthrottle() {
    if (ps_->paused.empty() || ps_busy()) return;
    for (const ps_shard::paused_feed& f : ps_->paused) {
        session& ss = *e_.sessions_[f.session];
        if (ss.gen == f.gen && ss.st != sstate::closing) e_.resume_recv(ss, f.r);
    }
    ps_->paused.clear();
}

void pubsub_hub::ps_drain() {
    for (const auto& [session, gen] : ps_->self_unsubs) hub_unsub(e_.me_, session, gen);
    ps_->self_unsubs.clear();
    for (uint32_t from = 0; from < e_.opt_.pubsub->shards(); ++from) {
        if (from == e_.me_) continue;
        e_.opt_.pubsub->lane(from, e_.me_).drain([&](ps_msg& m) { ps_on_msg(from, m); });
    }
}

void pubsub_hub::ps_on_msg(uint32_t from, ps_msg& m) {
    switch (m.kind) {
    case ps_kind::deliver: e_.subs_->ps_deliver(m); return;
    case ps_kind::end:
        e_.subs_->ps_end(m.bufs[0]);
        m.bufs[0].reset();
        return;
    case ps_kind::sub: hub_sub(std::exchange(m.order, nullptr)); return;
    case ps_kind::sub_done: e_.subs_->ps_sub_done(std::exchange(m.order, nullptr)); return;
    case ps_kind::unsub: hub_unsub(from, m.session, m.gen); return;
    case ps_kind::publish: hub_publish(std::move(m.bufs[0]), m.n == 1); return;
    }
}

// A .u.sub (control plane: may allocate): the reply from the schema store, then the
// directory and the subscriber's filters; answered on the lane its updates will take.
void pubsub_hub::hub_sub(ps_sub_order* o) {
    pubsub::sub_request r;
    pubsub::parse_sub(o->body, o->little_endian, o->type, r);  // validated by the client shard
    std::vector<uint8_t> reply;
    std::string_view missing;
    const pubsub::status st = pubsub::build_sub_reply(ps_->schemas, r, reply, missing);
    if (!st) {
        if (r.wants_reply()) {
            o->reply = ps_error_frame(st.code == pubsub::errc::unknown_table ? missing : "type");
        }
    } else {
        const pubsub::sym_filter f = r.all_syms
                                         ? pubsub::sym_filter::all()
                                         : pubsub::sym_filter::of(pubsub::to_strings(r.syms));
        std::vector<uint32_t> ids;
        if (r.all_tables) {
            for (uint32_t t = 0; t < ps_->schemas.size(); ++t) ids.push_back(t);
        } else {
            pubsub::name_iter it(r.tables);
            std::string_view name;
            while (it.next(name)) ids.push_back(static_cast<uint32_t>(ps_->schemas.find(name)));
        }
        ps_filters& fs = ps_->subscribers[sub_key(o->shard, o->session, o->gen)];
        for (uint32_t id : ids) {
            const std::string_view name = ps_->schemas.name(id);
            bool replaced = false;
            for (auto& [t, old] : fs) {
                if (t != id) continue;
                ps_->dir.remove(o->shard, name, old);
                old = f;
                replaced = true;
            }
            if (!replaced) fs.emplace_back(id, f);
            ps_->dir.add(o->shard, name, f);
            o->subs.emplace_back(id, f.key());
        }
        if (r.wants_reply()) o->reply = pubsub::update_ref::copy_of(reply);
    }
    ps_msg m;
    m.kind = ps_kind::sub_done;
    m.order = o;
    ps_send(o->shard, std::move(m));
}

// NOLINTNEXTLINE(readability-make-member-function-const): it changes the hub's state.
void pubsub_hub::hub_unsub(uint32_t shard, uint32_t session, uint32_t gen) {
    auto it = ps_->subscribers.find(sub_key(shard, session, gen));
    if (it == ps_->subscribers.end()) return;
    for (const auto& [t, f] : it->second) ps_->dir.remove(shard, ps_->schemas.name(t), f);
    ps_->subscribers.erase(it);
}

// One update: parse once, one buffer per distinct filter, one deliver message per shard.
void pubsub_hub::hub_publish(pubsub::update_ref msg, bool little_endian) {
    const std::span<const uint8_t> body = msg.bytes().subspan(qipc::kHeaderSize);
    pubsub::update_view u;
    if (!pubsub::parse_update(body, little_endian, u, &ps_->schemas)) {
        bump(e_.ctr_.pubsub_bad_msgs);
        return;
    }
    bump(e_.ctr_.pubsub_updates_in);
    int32_t tid = ps_->schemas.find(u.table);
    if (tid < 0 && u.kind == pubsub::upd_kind::u_upd) {
        ps_->schemas.learn(u);  // a publisher's first table update (control plane, rare)
        tid = ps_->schemas.find(u.table);
    }
    if (tid < 0) {
        bump(e_.ctr_.pubsub_bad_msgs);  // no schema: nobody can have subscribed to it
        return;
    }
    if (ps_->dir.filters(u.table).empty()) return;
    if (e_.opt_.pubsub->pubinterval_ms != 0) {
        if (u.time_missing && u.little_endian) {
            if (u.rows == 0) return;  // no row: nothing to hold (q's pub sends no empty update)
            if (!with_time(u, msg, ps_->schemas, static_cast<uint32_t>(tid), ps_->scratch)) {
                bump(e_.ctr_.pubsub_bad_msgs);
                return;
            }
        }
        if (hub_batch(static_cast<uint32_t>(tid), u, msg)) return;
    }
    pubsub::publish_ctx ctx;
    ctx.update = &u;
    ctx.received = std::move(msg);
    if (u.shape != pubsub::data_shape::table) ctx.names = ps_->schemas.column_names(tid);
    ctx.scratch = &ps_->scratch;
    if (u.kind == pubsub::upd_kind::u_upd && u.time_missing) {
        ctx.add_time = true;
        ctx.time_ns = time_of_day_ns();
    }
    hub_fanout(ctx, static_cast<uint32_t>(tid));
}

// One buffer per distinct filter of the table, then one deliver message per shard.
void pubsub_hub::hub_fanout(pubsub::publish_ctx& ctx, uint32_t table) {
    for (const auto& e : ps_->dir.filters(ctx.update->table)) {
        pubsub::publish_kind kind{};
        pubsub::update_ref out;
        if (!pubsub::publish_for(ctx, e.filter, kind, out)) {
            bump(e_.ctr_.pubsub_bad_msgs);
            continue;
        }
        if (kind == pubsub::publish_kind::none) continue;
        if (kind == pubsub::publish_kind::encoded) {
            bump(e_.ctr_.pubsub_encodings);
            bump(e_.ctr_.pubsub_update_bytes_encoded, out.size());
        } else {
            bump(e_.ctr_.pubsub_as_received);
        }
        for (uint64_t mask = e.shard_mask; mask != 0; mask &= mask - 1) {
            hub_add(static_cast<uint32_t>(__builtin_ctzll(mask)), table, e.filter.key(), out);
        }
    }
    hub_flush_pending();
}

// pubinterval: holds the update (by reference) for the table's next merged update. False when
// it must go on its own now (big-endian, or a batcher that cannot take it).
bool pubsub_hub::hub_batch(uint32_t table, const pubsub::update_view& u,
                       const pubsub::update_ref& msg) {
    if (ps_->batchers.size() <= table) ps_->batchers.resize(table + 1);
    pubsub::batcher& b = ps_->batchers[table];
    pubsub::status st = b.add(u, msg);
    if (st.code == pubsub::errc::schema_mismatch) {
        hub_flush_batches(UINT64_MAX);  // the held rows go first, in order
        st = b.add(u, msg);
    }
    if (!st) return false;
    if (ps_->batch_due_ms == 0) {
        ps_->batch_due_ms = e_.opt_.clock_ms() + e_.opt_.pubsub->pubinterval_ms;
    }
    return true;
}

// At the interval: one merged update per table, parsed and fanned out like any other.
void pubsub_hub::hub_flush_batches(uint64_t now_ms) {
    if (ps_->batch_due_ms == 0 || now_ms < ps_->batch_due_ms) return;
    ps_->batch_due_ms = 0;
    for (uint32_t t = 0; t < ps_->batchers.size(); ++t) {
        if (ps_->batchers[t].empty()) continue;
        pubsub::update_ref merged;
        if (!ps_->batchers[t].flush(merged, ps_->schemas.column_names(t)) || !merged) {
            bump(e_.ctr_.pubsub_bad_msgs);
            continue;
        }
        pubsub::update_view u;
        const auto body = merged.bytes().subspan(qipc::kHeaderSize);
        if (!pubsub::parse_update(body, true, u, &ps_->schemas)) {
            bump(e_.ctr_.pubsub_bad_msgs);
            continue;
        }
        pubsub::publish_ctx ctx;
        ctx.update = &u;
        ctx.received = merged;
        ctx.scratch = &ps_->scratch;
        hub_fanout(ctx, t);
    }
}

void pubsub_hub::hub_add(uint32_t shard, uint32_t table, uint64_t key,
                         const pubsub::update_ref& u) {
    ps_msg& p = ps_->pending[shard];
    if (p.n == kPsFiltersPerMsg) {
        ps_msg full = std::move(p);
        p = ps_msg{};
        ps_send(shard, std::move(full));
    }
    p.kind = ps_kind::deliver;
    p.table = table;
    p.keys[p.n] = key;
    p.bufs[p.n] = u;
    ++p.n;
}

void pubsub_hub::hub_flush_pending() {
    for (uint32_t s = 0; s < ps_->pending.size(); ++s) {
        ps_msg& p = ps_->pending[s];
        if (p.n == 0) continue;
        ps_msg m = std::move(p);
        p = ps_msg{};
        ps_send(s, std::move(m));
    }
}

}  // namespace qgate::proxy

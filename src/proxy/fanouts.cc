// Request mode, fan-out on the client's shard (the origin): a `.gw.*` TorQ call or a call
// matching a [[route]] with `groups` becomes one child request per group (fanout.h). Each
// child is an ordinary request slot: routed by policy, queued and run on its backend's home
// shard, handed back by pointer with the backend's reply in `rep`. The origin gathers the
// replies (join::gather: first error wins, timeout), joins them with the join core (raze /
// list / first build a small head buffer plus iovecs into the children's `rep` buffers, so no
// column byte is copied) and queues the iovecs on the client's socket; the children stay held
// until the last byte is sent. Custom joins go to the fanout.reducer group as (join; results).
//
// Decisions a kdb+ user can observe (also in README "Behaviour decisions"):
//  * Server type = backend group name. An unknown type fails at once with TorQ's `not all of
//    the requested server types are available; missing T…`; so does a type whose group has no
//    live backend (TorQ's gateway only sees registered, connected servers).
//  * `.gw.syncexec*` must be sent sync and `.gw.asyncexec*` async, as TorQ requires: a sync
//    asyncexec gets 'qgate: .gw.asyncexec must be sent async (neg h), an async syncexec is
//    dropped (counted in async_dropped), as q gives an async caller no error.
//  * A lost backend is TorQ's `backend T server handling query closed the connection`; other
//    texts per src/join/README.md ("Reply plans"). Only the first failure is reported.
//  * A custom join of a single server type is not applied (TorQ returns a single result as is).
//  * Joined replies are compressed when q would (over 2000 bytes, peer not on this host by
//    address, at most half the size): the one path that copies the reply (counted in
//    fanout_column_bytes_copied; fanout_compressed).
//  * String-form calls (".gw.syncexec[\"f[`a]\";`rdb]") send the query text as `value <text>`.

#include <cstdio>
#include <cstring>

#include "proxy/generation.h"
#include "proxy/kinds.h"
#include "proxy/fanout.h"
#include "qgate/log.h"
#include "qgate/qipc/writer.h"

namespace qgate::proxy {

using shard::bump;

namespace {

// Writes an 8-byte message header (`total` bytes, header included) in the body's byte order.
void write_header(uint8_t* h, bool little_endian, uint8_t type, uint64_t total) {
    h[0] = little_endian ? 1 : 0;
    h[1] = type;
    h[2] = h[3] = 0;
    const auto len = static_cast<uint32_t>(total);
    for (int i = 0; i < 4; ++i) {
        const int shift = little_endian ? 8 * i : 8 * (3 - i);
        h[4 + i] = static_cast<uint8_t>(len >> shift);
    }
}

std::string_view fmt(char* buf, size_t cap, int n) {
    return {buf, n < 0 ? 0 : (static_cast<size_t>(n) < cap ? static_cast<size_t>(n) : cap - 1)};
}

// A `.gw.*` query as a sync call: its exact bytes re-framed (list form), or the char vector
// `value <text>` (string form: the text is q source producing the query; qgate does not
// evaluate q). Written into the child's request buffer (capacity reused).
void frame_query(const route::arg_view& query, frame_buf& q) {
    if (!query.is_text) {
        const std::span<const uint8_t> b = query.object.bytes;
        q.resize(qipc::kHeaderSize + b.size());
        write_header(q.data(), query.little_endian, 1, q.size());
        std::memcpy(q.data() + qipc::kHeaderSize, b.data(), b.size());
        return;
    }
    constexpr std::string_view kValue = "value ";
    const uint64_t len = kValue.size() + query.text.size();
    q.resize(qipc::kHeaderSize + 6 + len);
    write_header(q.data(), true, 1, q.size());
    q[8] = 10;  // char vector, no attribute, length, text
    q[9] = 0;
    const auto n32 = static_cast<uint32_t>(len);
    std::memcpy(&q[10], &n32, 4);
    std::memcpy(&q[14], kValue.data(), kValue.size());
    std::memcpy(&q[14 + kValue.size()], query.text.data(), query.text.size());
}

// Why a part failed without a reply of its own: its backend was lost mid-query (the home
// shard wrote 'qgate: backend B disconnected into rep; TorQ names the server type instead) or
// ejected before it ran (bounced: rep holds nothing of this call).
std::string_view lost_text(const request& ch, std::string_view group, bool torq,
                           std::span<char> out) {
    if (torq && !ch.bounce) return join::backend_closed_text(group, out);
    if (ch.bounce) {
        const int n =
            std::snprintf(out.data(), out.size(), "qgate: no backend available for group %.*s",
                          static_cast<int>(group.size()), group.data());
        return fmt(out.data(), out.size(), n);
    }
    const size_t skip = qipc::kHeaderSize + 1;  // header, then the -128 type byte
    if (ch.rep.size() <= skip + 1) return "qgate: backend disconnected";
    return {reinterpret_cast<const char*>(ch.rep.data() + skip), ch.rep.size() - skip - 1};
}

}  // namespace

void fanouts::init_fanout() {
    const uint32_t n = e_.opt_.cfg->fanout.contexts_max;
    fans_ = std::make_unique<fanout[]>(n);
    for (uint32_t i = n; i-- > 0;) {
        fans_[i].next_free = fan_free_;
        fan_free_ = &fans_[i];
    }
}

// Takes the call when it is a fan-out; false leaves it to the single-backend path.
bool fanouts::fanout_call(session& ss, request& r, const route::call_info& call,
                         const route::route_rule* rule, bool compressed) {
    const bool gw = call.gw != route::gw_kind::none;
    if (!gw && (rule == nullptr || !rule->fan_out())) return false;
    fanout* f = fan_free_;
    if (f == nullptr) {
        bump(e_.ctr_.fanout_busy);
        if (r.sync || !gw) {
            e_.rq_->answer_error(ss, r, "qgate: busy");
            return true;
        }
        // An async .gw.* caller waits for an answer: TorQ's `error: ` string (no postback:
        // there is no context to keep its envelope in).
        r.rep.resize(64);
        r.rep.resize(join::write_error_reply("qgate: busy", false, {}, r.rep));
        r.holds |= hold::kSend;
        if (!e_.push(ss, role::client, r.rep.data(), static_cast<uint32_t>(r.rep.size()),
                  request_tag(r.index))) {
            r.holds = static_cast<uint8_t>(r.holds & ~hold::kSend);
            e_.rq_->maybe_free_request(r);
        }
        return true;
    }
    fan_free_ = f->next_free;
    f->next_free = nullptr;
    f->n = f->away = 0;
    f->parent = &r;
    // `n` counts the groups before there are children: a fan-out refused early (a missing
    // server type, no reducer, too many types) has n > 0 and no parts. The previous fan-out's
    // parts are other calls' slots by now; fanout_release must not find them here.
    f->parts.fill(nullptr);
    f->gen = e_.gen_;  // the context keeps the generation its groups are from (generation.h)
    f->gen->hold(e_.me_);
    f->reducer = nullptr;
    f->stage = fan_stage::gathering;
    f->released = f->use_rep = f->custom = f->delivered = false;
    f->deadline_ms = -1;
    f->plan = join::reply_plan{};
    f->plan.sync = r.sync;
    f->plan.reply = r.sync;
    f->plan.torq = gw;
    r.fan = f;
    r.holds |= hold::kFan;
    if (!r.sync) ++ss.rq.async_out;  // counts against the client's quota until answered
    bump(e_.ctr_.fanout_calls);

    route::call_info c = call;
    if (compressed) {  // the shard's scratch is reused by the next call: keep our own copy
        f->body.assign(call.body.begin(), call.body.end());
        c = route::classify(f->body, call.little_endian, call.type);
    }
    if (gw) {
        fanout_gw(ss, r, *f, c, rule);
    } else {
        fanout_route(ss, r, *f, c, *rule);
    }
    return true;
}

void fanouts::fanout_gw(session& ss, request& r, fanout& f, const route::call_info& c,
                       const route::route_rule* rule) {
    (void)ss;
    char text[kErrTextMax];
    route::gw_call g;
    if (!route::parse_gw(c, g)) return fanout_fail(f, "rank");
    if (g.expects_sync() != r.sync) {
        if (!r.sync) return fanout_fail(f, "");  // no reply to an async caller
        const int n = std::snprintf(text, sizeof text, "qgate: %.*s must be sent async (neg h)",
                                    static_cast<int>(c.name.size()), c.name.data());
        return fanout_fail(f, fmt(text, sizeof text, n));
    }
    std::string_view bad;
    if (!join::plan_gw(g, f.scratch, f.plan, &bad)) return fanout_fail(f, bad);
    // Server types -> groups; every unknown (or wholly down) one is named, as TorQ does.
    std::array<std::string_view, 8> missing{};
    uint32_t nmissing = 0;
    route::name_list names(g.servertypes);
    if (!names.valid()) return fanout_fail(f, "type");
    std::string_view name;
    while (names.next(name)) {
        const int32_t gid = f.gen->groups.find(name);
        bool live = false;
        if (gid >= 0) {
            for (const uint32_t m : f.gen->groups[static_cast<uint16_t>(gid)].members()) {
                live = live || e_.plane_->state()[m].is_open();
            }
        }
        if (!live) {
            if (nmissing < missing.size()) missing[nmissing++] = name;
            continue;
        }
        if (f.n == join::kPartsMax) return fanout_fail(f, "qgate: too many server types");
        f.groups[f.n++] = static_cast<uint16_t>(gid);
    }
    if (nmissing != 0) {
        bump(e_.ctr_.fanout_missing_types);
        return fanout_fail(f, join::missing_types_text({missing.data(), nmissing}, text));
    }
    if (f.n == 0) return fanout_fail(f, "qgate: no server types");
    f.custom = f.plan.kind == join::join_kind::custom && f.n > 1;
    if (f.custom) {
        if (f.gen->reducer_group < 0) return fanout_fail(f, "qgate: no reducer configured");
        if (g.join.is_text) {
            f.join_obj.resize(g.join.text.size() + 64);
            f.join_obj.resize(join::encode_callable_text(g.join.text, f.join_obj));
        } else {
            f.join_obj.assign(g.join.object.bytes.begin(), g.join.object.bytes.end());
        }
        if (f.join_obj.empty()) return fanout_fail(f, "qgate: bad join");
    }
    static const route::route_rule kDefault{};
    const route::route_rule& pick = rule != nullptr && !rule->fan_out() ? *rule : kDefault;
    uint32_t timeout = f.plan.timeout_ms > 0 ? static_cast<uint32_t>(f.plan.timeout_ms)
                                             : (rule != nullptr ? rule->timeout_ms : 0);
    if (!fanout_children(f, pick, c, timeout)) return;
    for (uint32_t i = 0; i < f.n; ++i) frame_query(g.query, f.parts[i]->req);
    fanout_submit(f);
}

void fanouts::fanout_route(session& ss, request& r, fanout& f, const route::call_info& c,
                          const route::route_rule& rule) {
    (void)ss;
    f.plan = join::plan_route(rule.join, r.sync ? qipc::msg_type::sync : qipc::msg_type::async);
    f.n = static_cast<uint32_t>(rule.groups.size() < join::kPartsMax ? rule.groups.size()
                                                                       : join::kPartsMax);
    for (uint32_t i = 0; i < f.n; ++i) f.groups[i] = rule.groups[i];
    f.custom = f.plan.kind == join::join_kind::custom && f.n > 1;
    if (f.custom) {
        if (f.gen->reducer_group < 0) return fanout_fail(f, "qgate: no reducer configured");
        f.join_obj.resize(rule.join.size() + 2);  // the join's name as a symbol
        f.join_obj[0] = static_cast<uint8_t>(-qipc::qtype::kSymbol);
        std::memcpy(&f.join_obj[1], rule.join.data(), rule.join.size());
        f.join_obj.back() = 0;
    }
    if (!fanout_children(f, rule, c, rule.timeout_ms)) return;
    for (uint32_t i = 0; i < f.n; ++i) e_.rq_->share_call(*f.parts[i], r);  // the call as received
    fanout_submit(f);
}

// One child per group, each with its backend picked; false (answered) when a group has no
// live backend or the shard has no slot left.
bool fanouts::fanout_children(fanout& f, const route::route_rule& rule,
                             const route::call_info& c, uint32_t timeout_ms) {
    request& p = *f.parent;
    char text[kErrTextMax];
    for (uint32_t i = 0; i < f.n; ++i) {
        const route::backend_group& g = f.gen->groups[f.groups[i]];
        route::pick_cursor& cur = e_.rq_->cursors_[f.groups[i]];
        const int32_t b = route::pick_for_call(rule, g, e_.plane_->state(), cur, c);
        if (b == route::kNoBackend) {
            bump(e_.ctr_.request_no_backend);
            const std::string_view name = g.name();
            if (f.plan.torq) {
                f.n = i;
                fanout_drop_children(f);
                return fanout_fail(f, join::missing_types_text({&name, 1}, text)), false;
            }
            const int n =
                std::snprintf(text, sizeof text, "qgate: no backend available for group %.*s",
                              static_cast<int>(name.size()), name.data());
            f.n = i;
            fanout_drop_children(f);
            return fanout_fail(f, fmt(text, sizeof text, n)), false;
        }
        request* ch = e_.rq_->alloc_request();
        if (ch == nullptr) {
            bump(e_.ctr_.request_slots_exhausted);
            f.n = i;
            fanout_drop_children(f);
            return fanout_fail(f, "qgate: busy"), false;
        }
        ch->session = p.session;
        ch->session_gen = p.session_gen;
        ch->sync = p.sync || f.plan.reply;
        ch->fan = &f;
        ch->fan_child = true;
        ch->part = static_cast<uint8_t>(i);
        ch->holds = hold::kFan;
        ch->backend = static_cast<uint32_t>(b);
        ch->queue_max = rule.queue_max != 0 ? rule.queue_max : e_.lim_->queue_max;
        ch->priority = rule.priority;
        f.parts[i] = ch;
    }
    const uint64_t now = e_.clock_now();
    if (timeout_ms != 0) {
        f.deadline_ms = static_cast<int64_t>(now + timeout_ms);
        p.deadline_ms = now + timeout_ms;
        p.timeout_ms = timeout_ms;
        if (e_.rq_->rq_timers_.size() >= e_.plane_->slots_per_shard()) {
            e_.rq_->compact_request_timers();
        }
        e_.rq_->rq_timers_.add(p.deadline_ms, p.index, p.gen);
    }
    f.g.start(f.n, f.deadline_ms, join::kJoinLengthMax, e_.inflate_limits());
    return true;
}

// Children not yet submitted (arrival failed part-way): back to the free list.
void fanouts::fanout_drop_children(fanout& f) {
    for (uint32_t i = 0; i < f.n; ++i) {
        f.parts[i]->holds = 0;
        e_.rq_->maybe_free_request(*f.parts[i]);
        f.parts[i] = nullptr;
    }
    f.n = 0;
}

void fanouts::fanout_submit(fanout& f) {
    // All marked away first: a child answered at once (busy) must not see the others free.
    for (uint32_t i = 0; i < f.n; ++i) f.parts[i]->holds |= hold::kHome;
    f.away = f.n;
    bump(e_.ctr_.fanout_parts, f.n);
    bump(e_.ctr_.requests_routed, f.n);
    const uint32_t n = f.n;
    request* parts[join::kPartsMax];
    for (uint32_t i = 0; i < n; ++i) parts[i] = f.parts[i];
    for (uint32_t i = 0; i < n; ++i) e_.rq_->submit(*parts[i]);
}

// A child is back from its home shard (request_done): deliver its reply to the gather.
void fanouts::fanout_back(request& ch) {
    fanout& f = *ch.fan;
    if (ch.bounce && fanout_reroute(f, ch)) return;
    const bool lost = ch.bounce || ch.lost;
    if (!ch.is_abandoned() && f.stage != fan_stage::answered) {
        const bool reducer = &ch == f.reducer;
        if (reducer || f.stage == fan_stage::gathering) {
            const uint32_t i = reducer ? 0 : ch.part;
            char text[kErrTextMax];
            if (!f.plan.reply) {
                if (f.away == 1) fanout_complete(f);  // a plain async fan-out: nothing to join
            } else if (lost) {
                const uint16_t gid =
                    reducer ? static_cast<uint16_t>(f.gen->reducer_group) : f.groups[i];
                f.g.lost(i, lost_text(ch, f.gen->groups[gid].name(), f.plan.torq, text));
            } else {
                const uint32_t refused = f.g.inflate_refused();
                f.g.deliver(i, ch.rep);
                if (f.g.inflate_refused() != refused) bump(e_.ctr_.inflate_refused);
            }
            if (f.plan.reply && f.g.status() != join::gather_status::waiting) fanout_complete(f);
        }
    }
    ch.bounce = false;
    --f.away;
    if (f.released) {
        if ((ch.holds & hold::kFan) != 0) {
            ch.holds = static_cast<uint8_t>(ch.holds & ~hold::kFan);
            e_.rq_->maybe_free_request(ch);
        }
        if (f.away == 0) free_fanout(f);
    }
}

// A part whose backend was ejected before it ran goes to another live member of its group
// (return_request bounds the bounces); false when there is none or the part is not wanted.
bool fanouts::fanout_reroute(fanout& f, request& ch) {
    if (ch.is_abandoned() || f.stage == fan_stage::answered) return false;
    const bool reducer = &ch == f.reducer;
    if (!reducer && f.stage != fan_stage::gathering) return false;
    const uint16_t gid = reducer ? static_cast<uint16_t>(f.gen->reducer_group) : f.groups[ch.part];
    static const route::route_rule kDefault{};
    const route::call_info none{};
    const int32_t b = route::pick_for_call(kDefault, f.gen->groups[gid], e_.plane_->state(),
                                           e_.rq_->cursors_[gid], none);
    if (b == route::kNoBackend) return false;
    ch.bounce = false;
    ++ch.bounces;
    ch.backend = static_cast<uint32_t>(b);
    ch.holds |= hold::kHome;
    bump(e_.ctr_.requests_rerouted);
    e_.rq_->submit(ch);  // still counted in f.away
    return true;
}

// The gather decided (or the reducer answered): join, fail, or start the reducer.
void fanouts::fanout_complete(fanout& f) {
    char text[kErrTextMax];
    if (!f.plan.reply) {
        f.delivered = true;  // not dropped: no one answers an async call
        return fanout_fail(f, "");
    }
    const join::gather_status st = f.g.status();
    if (st == join::gather_status::timed_out) {
        bump(e_.ctr_.fanout_timeouts);
        return fanout_fail(f, join::failure_text(f.g, f.plan, {}, text));
    }
    if (st == join::gather_status::failed && f.stage == fan_stage::reducing &&
        f.g.reason() == join::fail_reason::q_error) {  // the reducer's q error: the join failed
        return fanout_fail(f, f.plan.torq ? join::join_failed_text(f.g.error(), f.plan.sync, text)
                                          : f.g.error());
    }
    if (st == join::gather_status::failed) {
        const uint32_t i = f.g.failed_part();
        const uint16_t gid = f.stage == fan_stage::reducing
                                 ? static_cast<uint16_t>(f.gen->reducer_group)
                                 : f.groups[i < f.n ? i : 0];
        const std::string_view name = f.gen->groups[gid].name();
        return fanout_fail(f, join::failure_text(f.g, f.plan, name, text));
    }
    if (f.stage == fan_stage::gathering && f.custom) return fanout_reduce(f);
    const join::join_kind kind =
        f.stage == fan_stage::reducing || f.plan.kind == join::join_kind::custom
            ? join::join_kind::first
            : f.plan.kind;
    const join::join_error e = join::run_join(kind, f.g.bodies(), f.plan.options(), f.out);
    if (e != join::join_error::ok) return fanout_fail(f, join::join_failure_text(e, f.plan, text));
    const request& p = *f.parent;
    const session* ss = p.session < e_.sessions_.size() ? e_.sessions_[p.session].get() : nullptr;
    if (ss != nullptr && ss->gen == p.session_gen && !ss->rq.peer_local && ss->cap != 0 &&
        join::compress_if_q_would(f.out, false)) {  // the one copying path (counted below)
        bump(e_.ctr_.fanout_compressed);
    }
    bump(e_.ctr_.fanout_joined);
    bump(e_.ctr_.fanout_joined_bytes, f.out.total_bytes);
    bump(e_.ctr_.fanout_referenced_bytes, f.out.referenced_bytes);
    bump(e_.ctr_.fanout_column_bytes_copied, f.out.column_bytes_copied);
    f.use_rep = false;
    fanout_finish(f);
}

// Custom join: (join; results) to a backend of the reducer group. The reducer's request is
// one contiguous frame (a pool connection sends one buffer): the results are copied once
// into it, counted in fanout_reducer_bytes.
void fanouts::fanout_reduce(fanout& f) {
    const join::join_error e = join::reducer_request(f.join_obj, f.g.bodies(), f.out);
    char text[kErrTextMax];
    if (e != join::join_error::ok) return fanout_fail(f, join::join_failure_text(e, f.plan, text));
    const uint16_t gid = static_cast<uint16_t>(f.gen->reducer_group);
    static const route::route_rule kDefault{};
    const route::call_info none{};
    const int32_t b = route::pick_for_call(kDefault, f.gen->groups[gid], e_.plane_->state(),
                                           e_.rq_->cursors_[gid], none);
    request* ch = b == route::kNoBackend ? nullptr : e_.rq_->alloc_request();
    if (ch == nullptr) {
        const std::string_view name = f.gen->groups[gid].name();
        const int n = std::snprintf(text, sizeof text, "qgate: no backend available for group %.*s",
                                    static_cast<int>(name.size()), name.data());
        return fanout_fail(f, fmt(text, sizeof text, n));
    }
    e_.bigs_.fit(ch->req, f.out.total_bytes);
    uint64_t off = 0;
    for (const iovec& v : f.out.iov) {
        std::memcpy(ch->req.data() + off, v.iov_base, v.iov_len);
        off += v.iov_len;
    }
    bump(e_.ctr_.fanout_reducer_calls);
    bump(e_.ctr_.fanout_reducer_bytes, f.out.referenced_bytes);
    ch->session = f.parent->session;
    ch->session_gen = f.parent->session_gen;
    ch->sync = true;
    ch->fan = &f;
    ch->fan_child = true;
    ch->part = static_cast<uint8_t>(join::kPartsMax);
    ch->holds = hold::kFan | hold::kHome;
    ch->backend = static_cast<uint32_t>(b);
    ch->queue_max = e_.lim_->queue_max;
    ch->priority = 0;
    f.reducer = ch;
    f.stage = fan_stage::reducing;
    f.g.start(1, f.deadline_ms, join::kJoinLengthMax, e_.inflate_limits());
    ++f.away;
    e_.rq_->submit(*ch);
}

// Answers with an error per the plan (empty text: no answer at all).
void fanouts::fanout_fail(fanout& f, std::string_view text) {
    request& p = *f.parent;
    if (!text.empty() && f.plan.reply) {
        bump(e_.ctr_.fanout_errors);
        uint64_t need = text.size() + 64;
        for (const auto& e : f.plan.envelope_items()) need += e.size();
        p.rep.resize(need);
        p.rep.resize(join::write_plan_error(text, f.plan, p.rep));
    } else {
        p.rep.clear();
    }
    f.use_rep = true;
    fanout_finish(f);
}

void fanouts::fanout_finish(fanout& f) {
    f.stage = fan_stage::answered;
    request& p = *f.parent;
    p.holds = static_cast<uint8_t>(p.holds & ~hold::kFan);
    p.deadline_ms = 0;
    session* ss = p.session < e_.sessions_.size() ? e_.sessions_[p.session].get() : nullptr;
    const bool mine = ss != nullptr && ss->gen == p.session_gen && ss->st == sstate::request;
    const bool empty = f.use_rep && p.rep.empty();
    if (!p.sync && mine) --ss->rq.async_out;
    if (p.sync) {
        if (empty) {  // cannot happen for a sync call; never leave the client waiting
            p.rep.resize(64);
            p.rep.resize(qipc::write_error_message("qgate: fan-out failed",
                                                   qipc::msg_type::response, p.rep));
        }
        p.answered = true;
        if (mine && (p.holds & hold::kOrder) != 0) {
            e_.rq_->flush_answers(*ss);
        } else {
            e_.rq_->maybe_free_request(p);
        }
        return;
    }
    if (!mine || empty) {
        if (empty && !f.delivered) bump(e_.ctr_.async_dropped);
        e_.rq_->maybe_free_request(p);
        if (mine && ss->s[0].paused) e_.rq_->request_unhold(*ss);
        return;
    }
    p.holds |= hold::kSend;
    if (fanout_push(*ss, p) && ss->st == sstate::request && ss->s[0].paused) {
        e_.rq_->request_unhold(*ss);
    }
}

// Queues the answer on the client's socket: the error frame, or the joined reply's iovecs
// (the last one tagged with the parent slot, freed once sent). The send queue gathers up to
// io::kIovMax pieces per sendmsg, so a reply of more pieces goes out in several sends.
bool fanouts::fanout_push(session& ss, request& p) {
    const fanout& f = *p.fan;
    const int32_t tag = request_tag(p.index);
    if (f.use_rep)
        return e_.push(ss, role::client, p.rep.data(), static_cast<uint32_t>(p.rep.size()), tag);
    size_t last = f.out.iov.size();
    while (last > 0 && f.out.iov[last - 1].iov_len == 0) --last;
    for (size_t i = 0; i < last; ++i) {
        const iovec& v = f.out.iov[i];
        if (v.iov_len == 0) continue;
        if (!e_.push(ss, role::client, static_cast<const uint8_t*>(v.iov_base),
                  static_cast<uint32_t>(v.iov_len), i + 1 == last ? tag : -1)) {
            p.holds = static_cast<uint8_t>(p.holds & ~hold::kSend);
            e_.rq_->maybe_free_request(p);
            return false;
        }
    }
    return true;
}

// The parent let go (its answer sent, or its client gone): release the children that are
// back, abandon those still away; the context is freed when the last one is back.
void fanouts::fanout_release(request& p) {
    fanout& f = *p.fan;
    p.fan = nullptr;
    f.released = true;
    auto drop = [this, &f](request* ch) {
        // Parts are this context's children: a slot of another call must not be abandoned.
        if (ch == nullptr || !QGATE_CHECK(e_.ctr_, ch->fan == &f && ch->fan_child)) return;
        if ((ch->holds & hold::kHome) != 0) {
            ch->abandoned.store(true, std::memory_order_relaxed);
        } else if ((ch->holds & hold::kFan) != 0) {
            ch->holds = static_cast<uint8_t>(ch->holds & ~hold::kFan);
            e_.rq_->maybe_free_request(*ch);
        }
    };
    for (uint32_t i = 0; i < f.n; ++i) drop(f.parts[i]);
    drop(f.reducer);
    if (f.away == 0) free_fanout(f);
}

void fanouts::free_fanout(fanout& f) {
    if (f.out.meta.capacity() > (size_t{1} << 16)) std::vector<uint8_t>().swap(f.out.meta);
    f.parent = nullptr;
    f.reducer = nullptr;
    f.n = 0;
    if (f.gen != nullptr) f.gen->unhold(e_.me_);
    f.gen = nullptr;
    f.next_free = fan_free_;
    fan_free_ = &f;
}

void fanouts::fanout_expired(request& p, uint64_t now_ms) {
    fanout& f = *p.fan;
    if (f.stage == fan_stage::answered) return;
    if (f.g.tick(static_cast<int64_t>(now_ms)) == join::gather_status::timed_out) {
        bump(e_.ctr_.request_timeouts);
        fanout_complete(f);
    }
}

}  // namespace qgate::proxy

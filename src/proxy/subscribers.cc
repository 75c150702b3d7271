// Pub/sub, the client's shard: subscribers and publishers on a listener in mode `pubsub`.
//
// Design note. After the handshake (capability min(client, 3), answered by qgate as in request
// mode) a client's stream is cut into whole frames, each read straight into one refcounted
// buffer (update_builder; the only allocation per received message) by recv_into
// (ps_reader.cc); only bytes that came with the handshake, or in the multishot recv that
// read it before it was cancelled, are copied (ps_input, pubsub_ingest_bytes_copied):
//   * `.u.sub[t;s]` (any form pubsub::parse_sub takes) goes to the hub with a copy of its body;
//     the hub answers (reply or 'error) on the same ordered lane as the updates, and this shard
//     registers the subscriber's (table, filter key) pairs when the answer arrives, so the
//     reply always precedes the first update;
//   * a `.u.upd[t;x]` / `(`upd;t;x)` is handed to the hub as the received buffer (a sync one
//     is answered `::` at once, as tick.q's .u.upd returns nothing);
//   * anything else: a sync call is answered 'qgate: pubsub listener: .u.sub and .u.upd only,
//     async calls are dropped and counted (pubsub_bad_msgs); responses (a client answering
//     nothing qgate asked) are dropped uncounted.
// Delivery: a deliver message names a table and (filter key, buffer) pairs; each subscriber of
// the matching local group gets a reference pushed on its backlog (bounded; disconnect or
// conflate when full), and at most kPsOutMax references sit in its socket's send queue, the
// send items pointing into the shared buffer (zero copies per subscriber). A reference is
// dropped when the send that carried its last byte completes (ps_sent).
// Thread: the owning shard only. Everything here is no-throw; allocation only at subscription
// time (order bodies, group vectors) and the one buffer per received frame.

#include <cstring>

#include "proxy/kinds.h"
#include "qgate/log.h"
#include "qgate/qipc/handshake.h"

namespace qgate::proxy {

using shard::bump;
using shard::drop;

namespace {
constexpr uint8_t kPubsubCapability = 3;
}  // namespace

void subscribers::ps_init() {
    e_.hub_->ps_ = std::make_unique<ps_shard>();
    e_.me_ = e_.shard_ != nullptr ? e_.shard_->id() : 0;
    e_.hub_->ps_->pending.resize(e_.opt_.pubsub->shards());
    e_.hub_->ps_->overflow.resize(e_.opt_.pubsub->shards());
    if (e_.me_ == pubsub_plane::hub() && e_.opt_.pubsub->upstream >= 0) e_.feed_->ps_up_start();
}

void subscribers::enter_pubsub(session& ss) {
    ss.st = sstate::pubsub;
    ss.cap = qipc::negotiate_capability(ss.client_cap, kPubsubCapability);
    ss.reply = ss.cap;
    if (ss.ps == nullptr) {
        ss.ps = std::make_unique<ps_conn>(e_.opt_.pubsub->limits);
    } else {
        ps_reset(ss);  // a reused slot: nothing of its previous client survives
    }
    if (!e_.push(ss, role::client, &ss.reply, 1, -1, true)) return;
    // Bytes sent with the handshake go first: the first recv_into reads where they stop.
    if (ss.hs.size() > ss.hs_len) {
        ps_input(ss, reinterpret_cast<const uint8_t*>(ss.hs.data()) + ss.hs_len,
                 static_cast<uint32_t>(ss.hs.size() - ss.hs_len));
    }
    e_.frames_.start(ss, role::client);
}

// Bytes that are already in user space (the handshake's leftovers, receive buffers of the
// multishot recv being cancelled): frames are copied into one buffer each, counted in
// pubsub_ingest_bytes_copied (the receive buffer is released by the caller at once, so a
// publisher never pins the pool).
void subscribers::ps_input(session& ss, const uint8_t* p, uint32_t n) {
    ps_conn& pc = *ss.ps;
    bool ok = true;
    const int64_t used = cut_frames(
        pc.cut, p, n, e_.psr_->ps_header_limits(ss),
        [&] { return e_.psr_->ps_reading(ss); },  // no next frame once closed or failed
        [&](const qipc::frame_header&) {
            ok = ps_begin_frame(pc);
            return ok;
        },
        [&](const uint8_t* b, size_t len) {
            std::memcpy(pc.fill->data().data() + pc.off, b, len);
            pc.off += len;
            bump(e_.ctr_.pubsub_ingest_bytes_copied, len);
        },
        [&] { ps_end_frame(ss); });
    if (used < 0 || !ok) {
        bump(e_.ctr_.pubsub_bad_msgs);
        e_.close_session(ss);
    }
}

// The header in pc.cut is valid: the frame's buffer, header bytes in (false: memory short).
// 8 bytes to spare: a direct read of the body may read the next frame's header after it.
bool subscribers::ps_begin_frame(ps_conn& pc) {
    pc.fill.emplace(pc.cut.h.length + qipc::kHeaderSize);
    if (!pc.fill->ok()) return false;
    std::memcpy(pc.fill->data().data(), pc.cut.hdr, qipc::kHeaderSize);
    pc.off = qipc::kHeaderSize;
    return true;
}

// The frame's last byte is in: freeze its buffer and hand it on by the connection's kind.
void subscribers::ps_end_frame(session& ss) {
    ps_conn& pc = *ss.ps;
    const qipc::frame_header h = pc.cut.h;
    pc.fill->shrink(h.length);
    // This buffer is what subscribers get, and they must only get async messages (a q
    // subscriber would have to answer a sync one): marked async once, while it is ours alone.
    // `h` keeps the type as sent (a sync .u.upd is still answered ::); a compressed frame's
    // type byte is carried into the plain buffer by the decompressor.
    if (h.type == qipc::msg_type::sync) {
        pc.fill->data()[1] = static_cast<uint8_t>(qipc::msg_type::async);
    }
    pubsub::update_ref msg = std::move(*pc.fill).freeze();
    pc.fill.reset();
    if (ss.st == sstate::pubsub) {
        ps_frame(ss, std::move(msg), h);
    } else if (ss.st == sstate::ps_up) {
        e_.feed_->ps_up_frame(ss, std::move(msg), h);
    }
}

void subscribers::ps_frame(session& ss, pubsub::update_ref msg, const qipc::frame_header& h) {
    if (h.type == qipc::msg_type::response) return;  // nothing is owed to a client
    const bool sync = h.type == qipc::msg_type::sync;
    if (h.compressed) {
        bool refused = false;
        msg = ps_inflate(msg, e_.lim_->message_bytes_max, e_.inflate_limits(), refused);
        if (!msg) {
            // Malformed, or past the inflate limits (not inflated): q's 'badmsg, a close.
            bump(refused ? e_.ctr_.inflate_refused : e_.ctr_.pubsub_bad_msgs);
            e_.close_session(ss);
            return;
        }
    }
    const std::span<const uint8_t> body = msg.bytes().subspan(qipc::kHeaderSize);
    if (pubsub::is_sub_call(body, h.little_endian)) {
        pubsub::sub_request r;
        const pubsub::status st = pubsub::parse_sub(body, h.little_endian, h.type, r);
        bump(e_.ctr_.pubsub_sub_calls);
        if (!st) {
            bump(e_.ctr_.pubsub_bad_msgs);
            if (sync) ps_answer_error(ss, st.code == pubsub::errc::rank ? "rank" : "type");
            return;
        }
        auto* o = new ps_sub_order;
        o->shard = e_.me_;
        o->session = ss.index;
        o->gen = ss.gen;
        o->type = h.type;
        o->little_endian = h.little_endian;
        o->body.assign(body.begin(), body.end());
        ps_msg m;
        m.kind = ps_kind::sub;
        m.order = o;
        e_.hub_->ps_send(pubsub_plane::hub(), std::move(m));
        return;
    }
    if (pubsub::is_update_call(body, h.little_endian)) {
        if (sync) ps_answer_null(ss);  // q's .u.upd returns ::; errors stay on the hub
        ps_msg m;
        m.kind = ps_kind::publish;
        m.n = h.little_endian ? 1 : 0;
        m.bufs[0] = std::move(msg);
        e_.hub_->ps_send(pubsub_plane::hub(), std::move(m));
        e_.hub_->ps_throttle(ss, role::client);
        return;
    }
    bump(e_.ctr_.pubsub_bad_msgs);
    if (sync) ps_answer_error(ss, "qgate: pubsub listener: .u.sub and .u.upd only");
}

// A q error response ('text) queued behind whatever the subscriber is owed already.
void subscribers::ps_answer_error(session& ss, std::string_view text) {
    pubsub::update_ref e = ps_error_frame(text);
    if (e) ps_enqueue(ss, UINT32_MAX, e);
}

void subscribers::ps_answer_null(session& ss) {
    static constexpr uint8_t kNull[] = {1, 2, 0, 0, 10, 0, 0, 0, 101, 0};  // response ::
    pubsub::update_ref r = pubsub::update_ref::copy_of(kNull);
    if (r) ps_enqueue(ss, UINT32_MAX, r);
}

void subscribers::ps_enqueue(session& ss, uint32_t table, const pubsub::update_ref& u) {
    ps_conn& pc = *ss.ps;
    const uint64_t conflated = pc.queue.counters().conflated;
    const pubsub::push_result r = pc.queue.push(table, u);
    if (r == pubsub::push_result::disconnect) {
        bump(e_.ctr_.pubsub_slow_disconnects);
        QGATE_LOG_DEBUG("pubsub: subscriber %u too slow: disconnected", ss.index);
        e_.close_session(ss);
        return;
    }
    if (r == pubsub::push_result::conflated) {
        bump(e_.ctr_.pubsub_conflations, pc.queue.counters().conflated - conflated);
    }
    bump(e_.ctr_.pubsub_deliveries);
    ps_pump(ss);
}

// Moves references from the backlog into the socket's send queue (items point into the
// shared buffers: nothing is copied), up to kPsOutMax at a time.
void subscribers::ps_pump(session& ss) {
    ps_conn& pc = *ss.ps;
    sock& k = ss.s[0];
    if (k.fd < 0 || k.closing) return;
    while (pc.out_count < kPsOutMax && !pc.queue.empty()) {
        pubsub::update_ref& slot = pc.out[(pc.out_head + pc.out_count) % kPsOutMax];
        pc.queue.pop(slot);
        const std::span<const uint8_t> b = slot.bytes();
        ++pc.out_count;
        if (!e_.push(ss, role::client, b.data(), static_cast<uint32_t>(b.size()), kPsTag)) return;
        bump(e_.ctr_.pubsub_bytes_queued, b.size());
    }
}

// The send queue finished the item of the front reference.
void subscribers::ps_sent(session& ss) {
    ps_conn& pc = *ss.ps;
    if (pc.out_count == 0) return;
    pc.out[pc.out_head].reset();
    pc.out_head = (pc.out_head + 1) % kPsOutMax;
    --pc.out_count;
}

void subscribers::ps_close(session& ss) {
    if (ss.ps == nullptr) return;
    ps_local_unsub(ss);
    ps_msg m;
    m.kind = ps_kind::unsub;
    m.session = ss.index;
    m.gen = ss.gen;
    e_.hub_->ps_send(pubsub_plane::hub(), std::move(m));
    ss.ps->queue.clear();
}

// Slot freed (its send queue already cleared): drop the references it still holds.
void subscribers::ps_reset(session& ss) {
    ps_conn& pc = *ss.ps;
    for (auto& r : pc.out) r.reset();
    pc.out_head = pc.out_count = 0;
    pc.queue.clear();
    pc.fill.reset();
    pc.cut = frame_cut{};
    pc.off = 0;
    pc.subs.clear();
    pc.subscribing = false;
}

void subscribers::ps_local_sub(session& ss, uint32_t table, uint64_t key) {
    if (e_.hub_->ps_->tables.size() <= table) e_.hub_->ps_->tables.resize(table + 1);
    std::vector<ps_group>& groups = e_.hub_->ps_->tables[table];
    bool replaced = false;
    for (auto& [t, k] : ss.ps->subs) {
        if (t != table) continue;
        for (ps_group& g : groups) {  // u.q's sub: a second .u.sub replaces the filter
            if (g.key == k) std::erase(g.sessions, ss.index);
        }
        k = key;
        replaced = true;
    }
    if (!replaced) ss.ps->subs.emplace_back(table, key);
    for (ps_group& g : groups) {
        if (g.key == key) {
            g.sessions.push_back(ss.index);
            return;
        }
    }
    groups.push_back(ps_group{key, {ss.index}});
}

void subscribers::ps_local_unsub(session& ss) {
    if (!ss.ps->subs.empty()) drop(e_.ctr_.pubsub_subscribers);
    for (const auto& [t, k] : ss.ps->subs) {
        for (ps_group& g : e_.hub_->ps_->tables[t]) {
            if (g.key == k) std::erase(g.sessions, ss.index);
        }
    }
    ss.ps->subs.clear();
}

void subscribers::ps_sub_done(ps_sub_order* o) {
    session* ss = e_.session_at(o->session);
    if (ss != nullptr && ss->gen == o->gen && ss->st == sstate::pubsub) {
        if (ss->ps->subs.empty() && !o->subs.empty()) bump(e_.ctr_.pubsub_subscribers);
        for (const auto& [t, k] : o->subs) ps_local_sub(*ss, t, k);
        if (o->reply) ps_enqueue(*ss, UINT32_MAX, o->reply);
    }
    // else: the subscriber left; its unsub follows this order on the lane to the hub
    delete o;
}

void subscribers::ps_deliver(ps_msg& m) {
    if (m.table < e_.hub_->ps_->tables.size()) {
        for (uint8_t i = 0; i < m.n; ++i) {
            for (const ps_group& g : e_.hub_->ps_->tables[m.table]) {
                if (g.key != m.keys[i]) continue;
                // ps_enqueue may close a subscriber (erasing it from g.sessions): walk backwards
                for (size_t j = g.sessions.size(); j-- > 0;) {
                    if (j >= g.sessions.size()) continue;
                    ps_enqueue(*e_.sessions_[g.sessions[j]], m.table, m.bufs[i]);
                }
            }
        }
    }
    for (uint8_t i = 0; i < m.n; ++i) m.bufs[i].reset();
}

// .u.end: once to every subscriber of this shard (u.q sends it to each handle once).
void subscribers::ps_end(const pubsub::update_ref& u) {
    for (auto& sp : e_.sessions_) {
        if (sp->st != sstate::pubsub || sp->ps->subs.empty()) continue;
        bump(e_.ctr_.pubsub_ends);
        ps_enqueue(*sp, UINT32_MAX, u);
    }
}

// ---- conn_handler: the engine's events for a pub/sub client

// Bytes of the multishot recv that read the handshake (before enter_pubsub cancels it).
void subscribers::on_data(session& ss, role, uint16_t bid, uint32_t n) {
    ps_input(ss, e_.be_.pool().data(bid), n);
    e_.release(bid);
}

void subscribers::arm_read(session& ss, role r) { e_.frames_.arm(ss, r, *e_.psr_); }

void subscribers::on_read(session& ss, role r, const io::completion& c) {
    e_.frames_.on_read(ss, r, c, *e_.psr_);
}

void subscribers::on_eof(session& ss, role) { e_.close_session(ss); }

// A delivery was written: queue the next ones from the backlog, and read the client again
// once its queue is below the low watermarks.
void subscribers::on_sent(session& ss, role r) {
    if (ss.st == sstate::pubsub) ps_pump(ss);
    if (e_.queue_low(ss, r) && !ss.close_after_flush && ss.st == sstate::pubsub) {
        e_.resume_recv(ss, role::client);
    }
    e_.close_if_flushed(ss, r);
}

bool subscribers::on_close(session& ss) {
    if (ss.st == sstate::pubsub) ps_close(ss);
    return true;
}

void subscribers::on_slot_freed(session& ss) {
    if (ss.ps != nullptr) ps_reset(ss);
}

bool subscribers::idle(const session& ss) const {
    return ss.st == sstate::pubsub && engine::quiet(ss) && ss.ps->queue.empty();
}

}  // namespace qgate::proxy

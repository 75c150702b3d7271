// Pub/sub, the hub's link to the upstream tickerplant ([pubsub] upstream = a backend name).
//
// Design note. One engine session in state `ps_up` (socket in s[1]) on the hub, kept for the
// engine's lifetime like a request-mode pool connection:
//   down --timer--> connecting --connected--> handshake --reply byte--> subscribing
//   subscribing: one sync `.u.sub[`;`]` (or one `.u.sub[`t;`]` per configured table) is sent;
//   each response is loaded into the schema store (by name, so table ids stay stable across
//   reconnects); after the last one --> live.
//   any failure (refused, EOF, timeout, malformed frame) --> socket closed --> down, and the
//   next connect waits reconnect_min_ms, doubling per failed attempt after it (capped at
//   reconnect_max_ms), half of it jittered, so a restarted tickerplant is re-subscribed
//   within one backoff step.
// Every byte is read by recv_into (ps_reader.cc): the reply byte, then each frame's
// header into ps_conn::cut and its body straight into the frame's own buffer, which is kept
// until the read's completion even when the link fails meanwhile (reset in ps_up_freed).
// Incoming async `(`upd;t;x)` frames are published by the hub (one buffer per frame, the
// all-sym subscribers' bytes); `(`.u.end;d)` goes to every shard and from there once to each
// subscriber, as received. A compressed frame (q compresses messages over 2000 bytes to a
// non-loopback peer) is decompressed once into a fresh buffer, which is then what all-sym
// subscribers get; one that does not decompress fails the link (q's 'badmsg), and so does one
// that would inflate past limits.inflate_bytes_max / inflate_ratio_max (inflate_refused).

#include "net/socket_util.h"
#include "proxy/kinds.h"
#include "qgate/log.h"

namespace qgate::proxy {

using shard::bump;

namespace {
constexpr uint8_t kUpstreamCapability = 3;

// A sync char-vector message (q text) appended to `out`.
void append_text_call(std::string& out, std::string_view text) {
    uint8_t h[qipc::kHeaderSize];
    qipc::frame_header fh;
    fh.type = qipc::msg_type::sync;
    fh.length = qipc::kHeaderSize + 6 + text.size();
    qipc::write_header(fh, h);
    out.append(reinterpret_cast<const char*>(h), sizeof h);
    const uint32_t n = static_cast<uint32_t>(text.size());
    const char v[6] = {10, 0, char(n & 0xff), char(n >> 8 & 0xff), char(n >> 16 & 0xff),
                       char(n >> 24 & 0xff)};
    out.append(v, sizeof v);
    out.append(text);
}
}  // namespace

void feed_link::ps_up_start() {
    session* ss = e_.alloc_session();
    if (ss == nullptr) {
        QGATE_LOG_ERROR("pubsub: no session slot for the upstream tickerplant");
        return;
    }
    ss->st = sstate::ps_up;
    ss->h = this;
    if (ss->ps == nullptr) ss->ps = std::make_unique<ps_conn>(e_.opt_.pubsub->limits);
    e_.hub_->ps_->up_session = ss->index;
    ps_up_connect(*ss);
}

void feed_link::ps_up_connect(session& ss) {
    if (!e_.link_.connect(ss, e_.opt_.pubsub->upstream)) ps_up_failed(ss);
}

void feed_link::ps_up_connected(session& ss, const io::completion& c) {
    switch (e_.link_.connected(ss, c, e_.opt_.pubsub->upstream, kUpstreamCapability)) {
    case upstream_link::step::stale: return;
    case upstream_link::step::failed: ps_up_failed(ss); return;
    case upstream_link::step::handshake: e_.frames_.start(ss, role::upstream); return;
    }
}

void feed_link::ps_up_subscribe(session& ss) {
    const std::vector<std::string>& tables = e_.opt_.cfg->pubsub.tables;
    ss.hs.clear();  // unused by this session otherwise; holds the calls until they are sent
    if (tables.empty()) {
        append_text_call(ss.hs, ".u.sub[`;`]");
    } else {
        for (const std::string& t : tables) append_text_call(ss.hs, ".u.sub[`" + t + ";`]");
    }
    ss.ps->replies_due = tables.empty() ? 1 : static_cast<uint32_t>(tables.size());
    ss.ps->subscribing = true;  // the link stays in its handshake phase until answered
    e_.push(ss, role::upstream, reinterpret_cast<const uint8_t*>(ss.hs.data()),
         static_cast<uint32_t>(ss.hs.size()), -1, true);
    e_.set_timeout(ss, e_.lim_->connect_timeout_ms);
}

void feed_link::ps_up_frame(session& ss, pubsub::update_ref msg, const qipc::frame_header& h) {
    ps_conn& pc = *ss.ps;
    if (h.compressed) {
        bool refused = false;  // the plain bytes are what we forward
        msg = ps_inflate(msg, e_.lim_->message_bytes_max, e_.inflate_limits(), refused);
        if (!msg) {
            bump(refused ? e_.ctr_.inflate_refused : e_.ctr_.pubsub_bad_msgs);
            ps_up_failed(ss);
            return;
        }
    }
    const std::span<const uint8_t> body = msg.bytes().subspan(qipc::kHeaderSize);
    if (h.type == qipc::msg_type::response) {
        if (pc.replies_due == 0) return;
        pubsub::schema_store got;
        if (!got.load_sub_reply(body, h.little_endian)) {
            QGATE_LOG_WARN("pubsub: the upstream's .u.sub reply is not a schema (error?)");
        }
        for (uint32_t t = 0; t < got.size(); ++t) {
            e_.hub_->ps_->schemas.add(got.name(t), got.schema(t));  // replaces by name: ids stay
        }
        if (--pc.replies_due == 0) {
            pc.subscribing = false;
            upstream_link::ready(ss);  // live
            bump(e_.ctr_.pubsub_upstream_connects);
            QGATE_LOG_INFO("pubsub: subscribed to %s, %u table(s)",
                           e_.opt_.upstreams->at(e_.opt_.pubsub->upstream).name.c_str(),
                           e_.hub_->ps_->schemas.size());
        }
        return;
    }
    if (pubsub::is_update_call(body, h.little_endian)) {
        e_.hub_->hub_publish(std::move(msg), h.little_endian);
        e_.hub_->ps_throttle(ss, role::upstream);
        return;
    }
    int32_t date = 0;
    if (pubsub::parse_end(body, h.little_endian, date)) {
        for (uint32_t s = 0; s < e_.opt_.pubsub->shards(); ++s) {
            ps_msg m;
            m.kind = ps_kind::end;
            m.bufs[0] = msg;
            e_.hub_->ps_send(s, std::move(m));
        }
        return;
    }
    bump(e_.ctr_.pubsub_bad_msgs);
}

void feed_link::ps_up_failed(session& ss) {
    ps_conn& pc = *ss.ps;
    if (upstream_link::fail(ss)) {
        bump(e_.ctr_.backend_disconnect);
        QGATE_LOG_WARN("pubsub: upstream tickerplant connection lost; reconnecting");
    }
    pc.subscribing = false;
    pc.replies_due = 0;
    if (!e_.link_.close(ss)) ps_up_freed(ss);  // else on_sock_freed -> ps_up_freed
}

// The socket is gone: back off (min * 2^(attempt-1), capped, half jittered), then reconnect.
void feed_link::ps_up_freed(session& ss) {
    ss.ps->cut = frame_cut{};  // no read is in flight any more: its buffer can go
    ss.ps->fill.reset();
    if (e_.draining_) return;
    bump(e_.ctr_.pubsub_upstream_reconnects);
    e_.link_.schedule_reconnect(ss);
}

void feed_link::ps_up_timeout(session& ss) {
    switch (e_.link_.timer(ss)) {
    case upstream_link::due::reconnect: ps_up_connect(ss); return;
    case upstream_link::due::timed_out: ps_up_failed(ss); return;
    case upstream_link::due::ready: return;  // live: no timer of its own
    }
}

void feed_link::arm_read(session& ss, role r) { e_.frames_.arm(ss, r, *e_.psr_); }

void feed_link::on_read(session& ss, role r, const io::completion& c) {
    e_.frames_.on_read(ss, r, c, *e_.psr_);
}

void feed_link::on_tag_sent(session& ss) { e_.subs_->ps_sent(ss); }

}  // namespace qgate::proxy

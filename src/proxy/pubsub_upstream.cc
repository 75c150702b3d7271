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
// Every byte is read by recv_into (pubsub_ingest.cc): the reply byte, then each frame's
// header into ps_conn::cut and its body straight into the frame's own buffer, which is kept
// until the read's completion even when the link fails meanwhile (reset in ps_up_freed).
// Incoming async `(`upd;t;x)` frames are published by the hub (one buffer per frame, the
// all-sym subscribers' bytes); `(`.u.end;d)` goes to every shard and from there once to each
// subscriber, as received. A compressed frame (q compresses messages over 2000 bytes to a
// non-loopback peer) is decompressed once into a fresh buffer, which is then what all-sym
// subscribers get; one that does not decompress fails the link (q's 'badmsg).

#include "net/socket_util.h"
#include "proxy/engine.h"
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

void engine::ps_up_start() {
    session* ss = alloc_session();
    if (ss == nullptr) {
        QGATE_LOG_ERROR("pubsub: no session slot for the upstream tickerplant");
        return;
    }
    ss->st = sstate::ps_up;
    if (ss->ps == nullptr) ss->ps = std::make_unique<ps_conn>(opt_.pubsub->limits);
    ps_->up_session = ss->index;
    ps_up_connect(*ss);
}

void engine::ps_up_connect(session& ss) {
    ss.ps->ust = ps_conn::up::connecting;
    if (!connect_upstream(ss, opt_.pubsub->upstream)) ps_up_failed(ss);
}

void engine::ps_up_connected(session& ss, const io::completion& c) {
    sock& k = ss.s[1];
    if (k.closing || ss.ps->ust != ps_conn::up::connecting) {
        maybe_free(ss, role::upstream);
        return;
    }
    if (c.res < 0) {
        bump(ctr_.backend_connect_fail);
        ps_up_failed(ss);
        return;
    }
    net::set_nodelay(k.fd);
    ss.ps->ust = ps_conn::up::handshake;
    send_upstream_handshake(ss, opt_.pubsub->upstream, kUpstreamCapability);
    ps_direct(ss, role::upstream);
}

void engine::ps_up_subscribe(session& ss) {
    const std::vector<std::string>& tables = opt_.cfg->pubsub.tables;
    ss.hs.clear();  // unused by this session otherwise; holds the calls until they are sent
    if (tables.empty()) {
        append_text_call(ss.hs, ".u.sub[`;`]");
    } else {
        for (const std::string& t : tables) append_text_call(ss.hs, ".u.sub[`" + t + ";`]");
    }
    ss.ps->replies_due = tables.empty() ? 1 : static_cast<uint32_t>(tables.size());
    ss.ps->ust = ps_conn::up::subscribing;
    push(ss, role::upstream, reinterpret_cast<const uint8_t*>(ss.hs.data()),
         static_cast<uint32_t>(ss.hs.size()), -1, true);
    set_timeout(ss, lim_.connect_timeout_ms);
}

void engine::ps_up_frame(session& ss, pubsub::update_ref msg, const qipc::frame_header& h) {
    ps_conn& pc = *ss.ps;
    if (h.compressed) {
        msg = ps_inflate(msg, lim_.message_bytes_max);  // the plain bytes are what we forward
        if (!msg) {
            bump(ctr_.pubsub_bad_msgs);
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
            ps_->schemas.add(got.name(t), got.schema(t));  // replaces by name: ids stay
        }
        if (--pc.replies_due == 0) {
            pc.ust = ps_conn::up::live;
            pc.attempt = 0;
            ss.deadline_ms = 0;
            bump(ctr_.pubsub_upstream_connects);
            QGATE_LOG_INFO("pubsub: subscribed to %s, %u table(s)",
                           opt_.upstreams->at(opt_.pubsub->upstream).name.c_str(),
                           ps_->schemas.size());
        }
        return;
    }
    if (pubsub::is_update_call(body, h.little_endian)) {
        hub_publish(std::move(msg), h.little_endian);
        ps_throttle(ss, role::upstream);
        return;
    }
    int32_t date = 0;
    if (pubsub::parse_end(body, h.little_endian, date)) {
        for (uint32_t s = 0; s < opt_.pubsub->shards(); ++s) {
            ps_msg m;
            m.kind = ps_kind::end;
            m.bufs[0] = msg;
            ps_send(s, std::move(m));
        }
        return;
    }
    bump(ctr_.pubsub_bad_msgs);
}

void engine::ps_up_failed(session& ss) {
    ps_conn& pc = *ss.ps;
    if (pc.ust == ps_conn::up::live) {
        pc.attempt = 1;  // reconnect after min, then double per failure (backoff_ms)
        bump(ctr_.backend_disconnect);
        QGATE_LOG_WARN("pubsub: upstream tickerplant connection lost; reconnecting");
    } else if (pc.ust != ps_conn::up::down) {
        ++pc.attempt;
    }
    pc.ust = ps_conn::up::down;
    pc.replies_due = 0;
    ss.deadline_ms = 0;
    if (ss.s[1].fd >= 0) {
        close_sock(ss, role::upstream);  // ps_up_freed runs when its operations are done
    } else {
        ps_up_freed(ss);
    }
}

// The socket is gone: back off (min * 2^(attempt-1), capped, half jittered), then reconnect.
void engine::ps_up_freed(session& ss) {
    ss.ps->cut = frame_cut{};  // no read is in flight any more: its buffer can go
    ss.ps->fill.reset();
    if (draining_) return;
    const uint64_t delay = backoff_ms(ss.ps->attempt);
    bump(ctr_.pubsub_upstream_reconnects);
    set_timeout(ss, static_cast<uint32_t>(delay == 0 ? 1 : delay));
}

void engine::ps_up_timeout(session& ss) {
    switch (ss.ps->ust) {
    case ps_conn::up::down:
        ps_up_connect(ss);
        return;
    case ps_conn::up::live:
        return;
    default:
        bump(ctr_.backend_connect_timeout);
        ps_up_failed(ss);
        return;
    }
}

}  // namespace qgate::proxy

// Request mode, the client's shard (the origin): what is checked or rewritten inside a message
// body on its way through, as opposed to its framing (request_clients.cc) or its bytes' home
// (request_lend.cc). Owner: the shard's thread; every buffer used is the shard's or the slot's.
//
// Design note (decisions a kdb+ user can observe; also in README "Behaviour decisions").
//  * A call whose body is not exactly one q object (a general list claiming 3 items that holds
//    1, trailing bytes, an unknown type), or a compressed call that does not decompress, never
//    reaches a backend: the backend's connection is shared, and q (or qmock) closes a handle on
//    'badmsg, which would fail every other client's call on it. The framing is intact, so the
//    client stays connected: a sync call is answered `'badmsg` (q's own word for it) in its
//    place in the order, an async one is dropped. Both are counted in malformed_frames and
//    request_malformed. The check is the validating walk classify() does anyway to route the
//    call (walker::validate: atoms and simple vectors O(1), symbols a NUL scan, general lists
//    walk their items, no allocation), so it costs one branch (bench/RESULTS.md).
//  * A compressed call is decompressed into the shard's scratch buffer to be validated and
//    classified, and forwarded compressed, as received. One declaring more than
//    request_bytes_max once decompressed is answered 'qgate: request too large'; one that
//    would inflate past limits.inflate_bytes_max or inflate_ratio_max is refused unread like a
//    call that is not one q object ('badmsg sync, dropped async) and counted in
//    inflate_refused. It is inflated whole, not a prefix: the validating walk (a malformed
//    call must not reach the shared backend connection), hashing by any argument and a
//    fan-out's per-group calls all need the whole body, so the inflate limit is what bounds
//    the work. One that inflates past kInflateSliceBytes is not inflated here but parked and
//    inflated a slice per loop turn (request_inflate.cc), so it stalls no other connection;
//    smaller ones are inflated at once. A scratch buffer grown past kKeepBytesMax goes to the
//    shard's cache of big buffers once the call is routed (release_scratch), so it is not
//    pinned by one call.
//  * Pool connections use capability 3, so a backend on another host compresses replies over
//    2000 bytes. q never compresses to a peer of capability 0 or to one on its own host
//    (loopback, Unix socket), so before such a client gets a compressed reply it is
//    decompressed here, into the slot's `req` (the call's bytes are no longer needed once its
//    reply is back; its capacity is reused, under the kKeepBytesMax rule, and past that it
//    comes from the shard's cache of big buffers), counted in replies_decompressed. Other
//    clients get it as the backend sent it, as from q itself. A reply that does not
//    decompress is answered 'qgate: backend B sent a malformed reply' (replies_malformed).
//    Fan-out parts are not touched here: the join's gather decompresses compressed parts to
//    join them (join/gather.cc), and the joined reply is compressed only for a client q would
//    compress for (fanouts.cc).

#include <cstdio>

#include "proxy/kinds.h"
#include "qgate/qipc/compress.h"
#include "qgate/qipc/writer.h"

namespace qgate::proxy {

using shard::bump;

// The body of a compressed call, in the shard's scratch buffer (valid until the next call).
// False when the call was answered instead (it does not decompress, or is too large) or parked
// to be inflated a slice per turn (past kInflateSliceBytes: request_inflate.cc).
bool request_clients::inflate(session& ss, request& r, std::span<const uint8_t> msg,
                              std::span<const uint8_t>& body) {
    uint64_t ulen = 0;
    qipc::inflate_limits lim = e_.inflate_limits();
    lim.bytes_max = UINT64_MAX;  // request_bytes_max first: its own error, as for plain calls
    const qipc::status st = qipc::inflate_length(msg, e_.lim_->message_bytes_max, lim, ulen);
    if (st.code == qipc::errc::inflate_limit) return refuse_inflate(ss, r);
    if (!st) {
        reject_malformed(ss, r);
        return false;
    }
    if (ulen > e_.lim_->request_bytes_max) {
        bump(e_.ctr_.request_too_large);
        answer_error(ss, r, "qgate: request too large");
        return false;
    }
    if (ulen > e_.inflate_limits().bytes_max) return refuse_inflate(ss, r);
    if (ulen > kInflateSliceBytes) {
        park_inflate(ss, r);
        return false;
    }
    e_.bigs_.fit(scratch_, ulen);  // past kKeepBytesMax: from the shard's cache (big_bufs.h)
    if (!qipc::decompress(msg, scratch_)) {
        reject_malformed(ss, r);
        return false;
    }
    body = std::span<const uint8_t>(scratch_).subspan(qipc::kHeaderSize);
    return true;
}

// A compressed call that would inflate past the inflate limits: refused as a bad message.
bool request_clients::refuse_inflate(session& ss, request& r) {
    bump(e_.ctr_.inflate_refused);
    if (r.sync) {
        answer_error(ss, r, "badmsg");
    } else {
        maybe_free_request(r);  // not async_dropped: counted above
    }
    return false;
}

// The scratch buffer of a compressed call: past kKeepBytesMax, to the shard's cache.
void request_clients::release_scratch() { e_.bigs_.give(scratch_); }

// A call that is not one q object: 'badmsg for a sync caller, nothing for an async one.
void request_clients::reject_malformed(session& ss, request& r) {
    bump(e_.ctr_.malformed_frames);
    bump(e_.ctr_.request_malformed);
    if (r.sync) return answer_error(ss, r, "badmsg");
    maybe_free_request(r);  // not async_dropped: counted above
}

// The backend's reply in `rep` is about to be answered: decompress it when this client must
// not get it compressed (see the design note).
void request_clients::plain_reply(const session& ss, request& r) {
    if (r.rep.size() < qipc::kHeaderSize || r.rep[2] == 0) return;  // header checked: 0 or 1
    if (ss.cap != 0 && !ss.rq.peer_local) return;  // q would send it compressed as well
    uint64_t ulen = 0;
    const qipc::status st =
        qipc::inflate_length(r.rep, e_.lim_->message_bytes_max, e_.inflate_limits(), ulen);
    if (st.code == qipc::errc::inflate_limit) return refuse_reply(r);
    if (st) {
        e_.bigs_.fit(r.req, ulen);  // past kKeepBytesMax: from the shard's cache (big_bufs.h)
        if (qipc::decompress(r.rep, r.req)) {
            r.use_req = true;
            bump(e_.ctr_.replies_decompressed);
            return;
        }
    }
    bump(e_.ctr_.replies_malformed);
    backend_error(r, "sent a malformed reply");
}

// A compressed reply that would inflate past the inflate limits, for a client that must get
// it plain: a qgate error in its place, counted.
void request_clients::refuse_reply(request& r) {
    bump(e_.ctr_.inflate_refused);
    backend_error(r, "reply over the inflate limit");
}

// 'qgate: backend B <what> as the slot's answer.
void request_clients::backend_error(request& r, const char* what) const {
    const std::string& name = e_.opt_.upstreams->at(static_cast<int>(r.backend)).name;
    char text[kErrTextMax];
    const int len = std::snprintf(text, sizeof text, "qgate: backend %.*s %s",
                                  static_cast<int>(name.size()), name.data(), what);
    const size_t n = len < 0 ? 0 : static_cast<size_t>(len);
    write_error(r, {text, n < sizeof text ? n : sizeof text - 1});
}

// The q error `text` as the slot's answer (no allocation: `err` is part of the slot).
void request_clients::write_error(request& r, std::string_view text) {
    if (text.size() > kErrTextMax) text = text.substr(0, kErrTextMax);
    r.err_len = static_cast<uint16_t>(
        qipc::write_error_message(text, qipc::msg_type::response, {r.err, sizeof r.err}));
    r.use_err = true;
}

}  // namespace qgate::proxy

// Request mode, the client's shard: a call's bytes reach the backend's home shard as a view of
// the receive buffer they arrived in (DESIGN §3 "a refcounted view of the frame bytes, never
// a copy"), or, when that cannot be done safely, as a copy in the slot's `req`.
//
// Design note.
//  * Lent: the frame, header included, lies whole in one receive buffer of this shard's pool
//    (bid >= 0). The slot records (view, view_len, lent_bid) and takes a reference on the
//    buffer; the home shard sends from the view (request::call()). The slot always comes back
//    here before it is freed (request.h), and it is freed only after the home shard is done
//    with its bytes (pool_complete after the send; pool_failed parks a call whose send may be
//    in flight until the socket's operations are done, pool_freed). maybe_free_request drops
//    the reference; the last one gives the buffer back to the pool.
//  * Copied (counted in request_bytes_copied): the frame straddles receive buffers (its bytes
//    come from more than one input chunk), the bytes are the session's own (handshake
//    leftovers, bid -1), or the shard is under pressure (below). The copy goes into `req`,
//    which grows with the bytes that have arrived, not with the length the header claims
//    (request_budget.cc: at most kCallFirst at once, then doubling; no zero fill): the slot's
//    own buffer when long enough, a cached big buffer for a call past kKeepBytesMax
//    (big_bufs.h). Its bytes are counted in the budget of bytes held as it grows.
//  * Pressure: while a slot holds a buffer, the kernel cannot receive into it. A backend that
//    sleeps would let its callers pin the provided-buffer pool, and with it empty every
//    connection of the shard stalls (ENOBUFS). So buffers are lent only while fewer than
//    kLendSharePct of the pool are lent; past that a call is copied (request_lend_pressure).
//    A call in a buffer that is already lent shares it at no extra cost. Lent buffers count as
//    pinned for the ENOBUFS re-arm rule (pinned_bufs): they come back when a backend answers.
//  * Counts: buf_refs_[bid] = slots referencing the buffer (bufs_lent_ = buffers with at least
//    one), plus kInputGone once the input side (request_input, the `held` queue, release_item)
//    let go of it: the input is one more reference, so several pipelined calls in one buffer
//    share it and it goes back after the last of them. Only this shard touches the counts
//    (references are taken when a slot borrows and dropped when it is freed here, never by
//    the home shard): no atomics.
//  * Fan-out children of a route's call (fanout_route) share the parent's view, each with its
//    own reference: a child may still be at its home shard after the parent was freed.

#include <cstring>

#include "proxy/kinds.h"
#include "qgate/check.h"

namespace qgate::proxy {

using shard::bump;

namespace {
/// Share of the receive pool that slots may hold lent (a quarter: the other three quarters
/// keep receiving for every connection even when every lent call waits on a sleeping backend).
constexpr uint32_t kLendSharePct = 25;
/// buf_refs_ flag: the input no longer holds the buffer (only slots do).
constexpr uint32_t kInputGone = uint32_t{1} << 31;
}  // namespace

void request_clients::init_lending() {
    const uint32_t entries = e_.be_.pool().entries();
    buf_refs_.assign(entries, 0);
    const uint32_t share = static_cast<uint32_t>(uint64_t{entries} * kLendSharePct / 100);
    lend_max_ = share == 0 ? 1 : share;
}

// Body bytes of the call being cut: the first decide lend or copy.
void request_clients::request_body(session& ss, const uint8_t* p, uint32_t n) {
    if (ss.st != sstate::request || ss.rq.skip || ss.rq.oversize || ss.rq.fill == nullptr) {
        return;
    }
    request& r = *ss.rq.fill;
    if (ss.rq.undecided && lend_call(ss, r, p, n)) return;  // whole in this receive buffer
    if (ss.rq.undecided) copy_call(ss, r);
    if (ss.rq.over_budget) return;
    if (!call_room(ss, r, ss.rq.off + n)) return refuse_call(ss, r);
    std::memcpy(r.req.data() + ss.rq.off, p, n);
    ss.rq.off += n;
}

// The first body bytes of `r` (the frame being cut): lend the frame when all of it, header
// included, lies in this input chunk of a receive buffer. The cutter consumes a chunk in
// order, so the header is the 8 bytes just before `body` when at least 8 bytes of the chunk
// precede it; otherwise the header (or part of it) came from an earlier chunk.
bool request_clients::lend_call(session& ss, request& r, const uint8_t* body, uint32_t n) {
    const qipc::frame_header& h = ss.rq.cut.h;
    const int32_t bid = ss.rq.in_bid;
    if (bid < 0 || n != h.body_length() ||
        static_cast<size_t>(body - ss.rq.in_p) < qipc::kHeaderSize) {
        return false;
    }
    uint32_t& refs = buf_refs_[static_cast<uint32_t>(bid)];
    if ((refs & ~kInputGone) == 0) {
        if (bufs_lent_ >= lend_max_) {
            bump(e_.ctr_.request_lend_pressure);
            return false;
        }
        ++bufs_lent_;
    }
    ++refs;
    r.view = body - qipc::kHeaderSize;
    r.view_len = static_cast<uint32_t>(h.length);
    r.lent_bid = bid;
    ss.rq.undecided = false;
    ss.rq.off = h.length;
    bump(e_.ctr_.request_bytes_lent, h.length);
    return true;
}

// The copy: header now (the cutter keeps it), body bytes as they come (request_body), into a
// buffer sized from what has arrived (request_budget.cc). Over budget: read past, 'qgate: busy.
void request_clients::copy_call(session& ss, request& r) {
    const qipc::frame_header& h = ss.rq.cut.h;
    ss.rq.undecided = false;
    ss.rq.off = 0;
    if (!start_call(ss, r, h.length)) return refuse_call(ss, r);
    std::memcpy(r.req.data(), ss.rq.cut.hdr, qipc::kHeaderSize);
    ss.rq.off = qipc::kHeaderSize;
    bump(e_.ctr_.request_bytes_copied, h.length);
}

// A fan-out child carries its parent's call: the same view with a reference of its own, or a
// copy of a copied call.
void request_clients::share_call(request& child, const request& parent) {
    if (parent.view == nullptr) {
        e_.bigs_.fit(child.req, parent.req.size());
        std::memcpy(child.req.data(), parent.req.data(), parent.req.size());
        return;
    }
    child.view = parent.view;
    child.view_len = parent.view_len;
    child.lent_bid = parent.lent_bid;
    ++buf_refs_[static_cast<uint32_t>(parent.lent_bid)];  // already lent: no new buffer pinned
}

// The slot is being freed (on the origin): its view's reference goes.
void request_clients::drop_call(request& r) {
    const int32_t bid = r.lent_bid;
    r.view = nullptr;
    r.view_len = 0;
    r.lent_bid = -1;
    if (bid < 0) return;
    uint32_t& refs = buf_refs_[static_cast<uint32_t>(bid)];
    // Buffer reference count: a reference dropped that no slot took would underflow it and
    // give back a buffer other slots (or the input) still read. Kept instead (a leak, counted).
    if (!QGATE_CHECK(e_.ctr_, (refs & ~kInputGone) != 0)) return;
    --refs;
    if ((refs & ~kInputGone) != 0) return;
    --bufs_lent_;
    if ((refs & kInputGone) == 0) return;  // the input still reads it
    refs = 0;
    e_.release(static_cast<uint16_t>(bid));
}

// The input (or a send queue) is done with a buffer: back to the pool unless slots borrow it.
void request_clients::buf_unref(uint16_t bid) {
    if (bid < buf_refs_.size() && (buf_refs_[bid] & ~kInputGone) != 0) {
        // Buffer ownership: the input lets go once; a second time is dropped (the slots'
        // references still hold the buffer).
        (void)QGATE_CHECK(e_.ctr_, (buf_refs_[bid] & kInputGone) == 0);
        buf_refs_[bid] |= kInputGone;
        return;
    }
    e_.release(bid);
}

}  // namespace qgate::proxy

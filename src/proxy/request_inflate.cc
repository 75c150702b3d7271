// Request mode, the client's shard (the origin): a compressed call that inflates past one slice
// (kInflateSliceBytes) is parked and inflated a slice per loop turn, so the shard's other
// connections are served between slices instead of waiting for the whole call. Owner: the
// shard's thread; the parked list, the output buffer and the decoder are the shard's.
//
// Design note (also in README "Behaviour decisions", Compressed calls).
//  * Why the whole call and not a prefix: q's compression copies from anywhere earlier in the
//    output, the validating walk must see every byte before the call may reach a shared backend
//    connection, and hashing by any argument and a fan-out's per-group calls need the whole
//    body (request_bodies.cc). So what slicing buys is not less work but no stall: at 64 MiB
//    (limits.inflate_bytes_max) a call took ~0.9 s into fresh pages and ~3 ms warm, during
//    which every other connection of the shard waited.
//  * One parked call is inflated at a time, the oldest first, into one buffer from the shard's
//    cache of big buffers (given back once the call is routed): parking adds at most one
//    inflate_bytes_max buffer per shard, as the one-shot scratch did. The others wait in the
//    list holding only their compressed bytes (already counted in the held budgets). Each turn
//    inflates one slice (qipc::inflater), and the shard does not sleep in its io wait while
//    the list is not empty (engine::sleep_budget_ms returns 0: a non-blocking wait on both io
//    backends), so completions of other connections are handled between two slices.
//  * Order: a client with a parked call frames none of its later calls until that call is
//    routed (they wait in its held bytes, its socket paused as for its quota), so its calls
//    reach backends in the order it sent them; a sync call is on its order list already, so
//    its answer keeps its place too. A parked call's client is not idle: a drain or a
//    half-close waits for it (at most inflate_bytes_max / kInflateSliceBytes turns).
//  * A parked slot holds hold::kInflate, so nothing frees it under the decoder. A client that
//    disconnects (or a call answered meanwhile: the timeout of a call routed again) leaves its
//    slot parked until the next turn, which drops it and frees everything it held. A call that
//    does not decompress is answered 'badmsg (async: dropped), as a small one is.

#include "proxy/kinds.h"

namespace qgate::proxy {

using shard::bump;

// `r` (compressed, declaring more than one slice) waits for the turns that inflate it.
void request_clients::park_inflate(session& ss, request& r) {
    r.holds |= hold::kInflate;
    ++ss.rq.inflating;
    parked_.push(&r);
    bump(e_.ctr_.inflate_sliced);
}

// Once per turn (engine::on_turn): one slice of the head's call, routed once it is whole. Heads
// whose client is gone are dropped first (that costs no inflating).
void request_clients::inflate_parked() {
    while (!parked_.empty()) {
        request& r = *parked_.head;
        session* ss = parked_owner(r);
        if (ss != nullptr) return parked_step(*ss, r);
        unpark(r);
        maybe_free_request(r);
    }
}

// The client still waiting for the parked call `r`, or nullptr (gone, or the call answered).
session* request_clients::parked_owner(const request& r) const {
    session* ss = r.session < e_.sessions_.size() ? e_.sessions_[r.session].get() : nullptr;
    const bool mine = ss != nullptr && ss->gen == r.session_gen && ss->st == sstate::request;
    return mine && !r.answered && !r.is_abandoned() ? ss : nullptr;
}

// Takes the head `r` off the list (before it is routed or answered: an answer given at once
// re-enters request_unhold, which must see it gone). Its output buffer goes back to the cache.
void request_clients::unpark(request& r) {
    (void)parked_.pop();
    r.holds = static_cast<uint8_t>(r.holds & ~hold::kInflate);
    session* ss = r.session < e_.sessions_.size() ? e_.sessions_[r.session].get() : nullptr;
    if (ss != nullptr && ss->gen == r.session_gen && ss->rq.inflating > 0) --ss->rq.inflating;
    if (parked_started_) e_.bigs_.give(parked_out_);
    parked_started_ = false;
}

// One slice of the head `r`. Whole: routed (or answered 'badmsg when it does not decompress)
// and its client's held calls framed.
void request_clients::parked_step(session& ss, request& r) {
    const std::span<const uint8_t> msg = r.call();
    qipc::status st;
    if (!parked_started_) {
        uint64_t ulen = 0;
        (void)qipc::uncompressed_length(msg, UINT64_MAX, ulen);  // its limits: checked when parked
        e_.bigs_.fit(parked_out_, ulen);
        inflater_ = qipc::inflater{};
        parked_started_ = true;
        st = inflater_.start(msg, parked_out_);
    }
    if (st) {
        st = inflater_.step(kInflateSliceBytes);
        bump(e_.ctr_.inflate_slices);
        if (st && !inflater_.done()) return;  // the next slice next turn
    }
    if (st) {
        qipc::frame_header h;
        (void)qipc::parse_header(msg, h);  // validated when the frame was cut
        frame_buf out = std::move(parked_out_);  // unpark gives nothing: the body is in `out`
        parked_started_ = false;
        unpark(r);
        route_body(ss, r, h, std::span<const uint8_t>(out).subspan(qipc::kHeaderSize));
        e_.bigs_.give(out);  // a fan-out copied what it keeps of the body
    } else {
        unpark(r);
        reject_malformed(ss, r);
    }
    if (ss.st != sstate::request) return;
    request_unhold(ss);
    if (ss.st == sstate::request && e_.draining_ && engine::idle(ss)) e_.close_session(ss);
}

}  // namespace qgate::proxy

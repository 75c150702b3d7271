// Request mode, the client's shard: the bytes a client makes qgate hold (its copied calls, and
// the replies waiting for it), bounded per client and for the whole process.
//
// Design note (decisions a kdb+ user can observe; also in README "Behaviour decisions").
//  * Process (limits.request_bytes_held_max, held_budget.h): a copied call's bytes are taken
//    from the budget as they arrive, a reply's declared length when its header is read at the
//    backend's home shard (pool_rx.cc); the slot holds them until it is freed. A call or a
//    reply the budget cannot cover is read past and dropped, and the call answered 'qgate:
//    busy (request_held_refused): a stopped backend or clients that do not read their replies
//    make callers wait or fail, never make qgate grow. Lent calls (request_lend.cc) sit in
//    the receive buffer pool, which bounds them already: they are not counted.
//  * Client (limits.client_bytes_max, rq_client::held_bytes): the same bytes, counted on the
//    client they belong to. At the bound the client is not read (client_bytes_pauses) until
//    it is down to half, as with requests_per_client_max: back-pressure on the one client. A
//    reply that would take a client that holds anything else past the bound is dropped and
//    its call answered 'qgate: busy (client_bytes_refused), so a client that does not read
//    keeps at most the bound, or one reply. A single call or reply is never refused for the
//    client's bound alone: request_bytes_max and message_bytes_max are what bound one message.
//  * A copied call's buffer follows the bytes received, not the header's claim: at most
//    kCallFirst at once (or a cached big buffer that fits it whole: memory already held), then
//    doubling, capped by the declared length. So a client that declares 64 MiB and sends a
//    few bytes makes qgate hold a few bytes more, not 64 MiB of address space.
// Owner: the shard's thread; the process-wide count is the route plane's relaxed atomic.

#include <cstring>

#include "proxy/kinds.h"

namespace qgate::proxy {

using shard::bump;

namespace {
// A copied call's buffer is sized to the declared length at once only up to this (calls up to
// 1 MiB, the common large ones, in one step); past it, it doubles as the bytes arrive.
constexpr uint64_t kCallFirst = kKeepBytesMax + (uint64_t{64} << 10);
}  // namespace

// The first bytes of a copied call of `len` bytes: its buffer sized for them.
bool request_clients::start_call(session& ss, request& r, uint64_t len) {
    QGATE_ASSERT(r.held == 0 && r.client_held == 0);
    if (len > kCallFirst && r.req.capacity() < len) {
        frame_buf c = e_.bigs_.take_cached(len);  // memory already held, if any fits
        if (c.capacity() != 0) {
            e_.bigs_.give(r.req);
            r.req.swap(c);
        }
    }
    return hold_call(ss, r, len < kCallFirst ? len : kCallFirst);
}

// Room in the copied call for its bytes up to `end`: doubled (at least to `end`), capped by
// the declared length.
bool request_clients::call_room(session& ss, request& r, uint64_t end) {
    if (end <= r.req.size()) return true;
    const uint64_t len = ss.rq.cut.h.length;
    uint64_t n = 2 * r.req.size();
    if (n < end) n = end;
    if (n > len) n = len;
    return hold_call(ss, r, n);
}

// The copied call grows to `n` bytes (the first ss.rq.off kept): the growth is taken from the
// process's budget and counted on the client. False (nothing changed) when the budget cannot.
bool request_clients::hold_call(session& ss, request& r, uint64_t n) {
    const uint64_t more = n - r.held;  // r.held is this call's bytes so far
    if (!e_.held_.take(more)) return false;
    r.held = n;
    r.client_held = n;
    ss.rq.held_bytes += more;
    e_.bigs_.grow(r.req, n, ss.rq.off);
    return true;
}

// The budget cannot hold the call being read: what it took goes back, the rest of its bytes
// are read past, and at its end it is answered 'qgate: busy (request_data).
void request_clients::refuse_call(session& ss, request& r) {
    ss.rq.over_budget = true;
    release_held(r);
    e_.bigs_.give(r.req);  // past kKeepBytesMax: to the cache; else the slot keeps it
    r.req.resize(qipc::kHeaderSize);
    std::memcpy(r.req.data(), ss.rq.cut.hdr, qipc::kHeaderSize);
}

// A backend's reply is back for `ss`: counted on the client, unless it would take a client
// that holds anything else past client_bytes_max. Then its bytes and their budget go now and
// the caller answers 'qgate: busy. Errors qgate wrote at home hold no budget: never refused.
bool request_clients::hold_reply(session& ss, request& r) {
    const uint64_t n = r.rep.size();
    const uint64_t reply_held = r.held - r.client_held;  // taken at home for the reply
    if (reply_held > 0 && ss.rq.held_bytes > r.client_held &&
        ss.rq.held_bytes + n > e_.lim_->client_bytes_max) {
        bump(e_.ctr_.client_bytes_refused);
        e_.held_.give(reply_held);
        r.held = r.client_held;
        e_.bigs_.give(r.rep);
        return false;
    }
    r.client_held += n;
    ss.rq.held_bytes += n;
    return true;
}

// A copied call whose reply is back: its bytes are done with (a compressed reply may yet be
// decompressed into `req`, request_bodies.cc, but as new bytes). Its budget goes back now,
// so a reply does not wait behind its own call's bytes; a big buffer goes to the cache.
void request_clients::let_call_go(request& r) {
    if (r.client_held == 0) return;
    const uint64_t call = r.client_held;  // before the reply is counted: the call's bytes
    const uint64_t reply = r.held - call;  // taken at home for the reply
    r.held = call;
    release_held(r);  // the call's bytes, from the budget and the client's count
    r.held = reply;
    e_.bigs_.give(r.req);
}

// The slot lets go of its bytes (freed, or its call refused): the budget and its client's
// count get them back. The client may be gone (its slot reused: nothing to uncount).
void request_clients::release_held(request& r) {
    e_.held_.give(r.held);
    r.held = 0;
    if (r.client_held == 0) return;
    session* ss = r.session < e_.sessions_.size() ? e_.sessions_[r.session].get() : nullptr;
    if (ss != nullptr && ss->gen == r.session_gen) {
        uint64_t& h = ss->rq.held_bytes;
        h = h > r.client_held ? h - r.client_held : 0;
    }
    r.client_held = 0;
}

}  // namespace qgate::proxy

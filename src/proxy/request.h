// Request mode, the shared part: the request slot that travels between a client's shard (the
// origin) and a backend's home shard, and the routing plane every shard reads (compiled groups
// and routes, per-backend load/liveness cells, home shard of each backend, the slot pools).
//
// Ownership of a slot (DESIGN §3 "request path"):
//   free --origin: frame read--> filling --classified, routed--> at home (kHome)
//   at home: queued in its backend's FIFO, then in flight on one upstream connection; the home
//   shard writes `rep` (the backend's response frame, or an error qgate wrote) and hands the
//   slot back (over the mailbox, or a direct call when origin == home).
//   origin: the reply waits in the client's order list (kOrder) until every earlier sync call
//   is answered, then sits in the client's send queue (kSend) until written. The slot is freed
//   when no holder is left. Only the origin touches `holds`, the order links, `err` and the
//   timer; only the current holder of kHome touches `rep` and the queue link. The mailbox's
//   release/acquire publication orders the hand-overs. `abandoned` is the one field both read
//   concurrently: the origin sets it (timeout, client gone), the home skips or discards.
// The call's bytes are either copied into `req` or lent: `view` points into a receive buffer
// of the origin's pool, on which the slot holds one reference (request_lend.cc). The home
// shard only reads them (call()); the origin drops the reference when it frees the slot, so a
// lent buffer outlives every send of it (pool_failed keeps a slot whose send may be in flight
// until the connection's operations are done).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "proxy/frame_buf.h"
#include "qgate/config.h"
#include "qgate/route.h"

namespace qgate::proxy {

namespace hold {
inline constexpr uint8_t kHome = 1 << 0;   ///< the home shard has it (queued or in flight)
inline constexpr uint8_t kOrder = 1 << 1;  ///< in its client's order list (sync calls)
inline constexpr uint8_t kSend = 1 << 2;   ///< its answer is in the client's send queue
inline constexpr uint8_t kFan = 1 << 3;    ///< a fan-out context refers to it (fanout.h)
/// Parked at its origin to be inflated a slice per turn (request_inflate.cc).
inline constexpr uint8_t kInflate = 1 << 4;
/// Not a holder: marks a slot on its shard's free list (set when freed, cleared when taken),
/// so freeing it again, or answering it, is caught (QGATE_CHECK) instead of listing it twice.
inline constexpr uint8_t kFree = 1 << 7;
}  // namespace hold

/// What a slot handed over in a shard::requests_msg is (request::post_kind).
inline constexpr uint32_t kPostSubmit = 1;  ///< origin -> home: queue this request
inline constexpr uint32_t kPostDone = 2;    ///< home -> origin: answered (or to re-route)

inline constexpr size_t kErrTextMax = 240;

struct fanout;
struct generation;

struct request {
    // ---- fixed at start
    uint32_t index = 0;   ///< in its shard's pool
    uint32_t origin = 0;  ///< shard that owns the pool
    // ---- origin only
    uint32_t gen = 1;
    uint32_t session = 0;
    uint32_t session_gen = 0;
    uint8_t holds = 0;
    bool answered = false;  ///< the answer (err or rep) is ready for the client
    bool use_err = false;   ///< answer with `err` (written by the origin) instead of `rep`
    /// Answer with `req`: the backend's compressed reply, decompressed for a client that must
    /// not get it compressed (request_bodies.cc); the call's bytes are no longer needed then.
    bool use_req = false;
    uint16_t err_len = 0;
    bool user_call = false;  ///< counted in its user's calls in flight (request_user.cc)
    uint64_t deadline_ms = 0;
    uint32_t timeout_ms = 0;
    uint64_t in_us = 0;  ///< sync: when its header was read (listener_latency); async: 0
    request* onext = nullptr;  ///< client order list / slot free list
    uint8_t err[kErrTextMax + 16]{};
    fanout* fan = nullptr;  ///< fan-out parent or child (fanout.h); origin only
    /// The routing generation the call was routed with (held: generation.h); origin only.
    const generation* rgen = nullptr;
    bool fan_child = false;
    uint8_t part = 0;       ///< child: its part index (kPartsMax = reducer)
    // Access log (request_log.cc), set only while the log is on: when the call was read whole,
    // its size, and where it went (kAccessNone until routed).
    uint64_t log_t0_ns = 0;
    uint32_t log_in = 0;
    uint32_t log_backend = 0;
    uint32_t log_route = 0;
    // ---- written by the origin before submit, read by the home shard
    uint32_t backend = 0;
    uint32_t queue_max = 0;
    int32_t priority = 0;
    bool sync = true;
    uint8_t bounces = 0;  ///< times it came back to be routed again
    /// A passthrough backend's call (pool_users.cc): its client's own "user:password" (the
    /// handshake's text, copied into capacity the slot keeps) and a hash of it, which name the
    /// per-user pool at the home shard. Empty for any other backend.
    std::string cred;
    uint64_t cred_key = 0;
    /// A copied call, header included (capacity reused); once answered, maybe the plain form
    /// of a compressed reply (use_req).
    frame_buf req;
    /// A lent call: the frame, header included, in one of the origin's receive buffers
    /// (request_lend.cc); nullptr when the call is in `req`. Valid until the slot is freed on
    /// the origin, which cannot happen while the home shard still holds or sends it (kHome).
    const uint8_t* view = nullptr;
    uint32_t view_len = 0;
    int32_t lent_bid = -1;  ///< origin only: the receive buffer `view` holds a reference on
    // ---- the current holder of kHome
    /// The answer frame (capacity reused). A backend's reply is received straight into a pool
    /// connection's buffer, which is then swapped in here (pool_rx.cc): no copy.
    frame_buf rep;
    request* qnext = nullptr;  ///< backend FIFO / pool connection's calls / mailbox list
    uint32_t post_kind = 0;    ///< kPostSubmit / kPostDone while handed to another shard
    bool bounce = false;       ///< handed back unanswered: route it again (backend ejected)
    bool lost = false;         ///< answered with 'backend B disconnected (fan-out: TorQ's text)
    bool replied = false;      ///< on a pool connection: its response has arrived
    uint64_t wire_end = 0;     ///< on a pool connection: pool_conn::pushed once it was queued
    uint64_t sent_ms = 0;      ///< on a pool connection: when it was queued (monotonic ms)
    uint64_t sent_us = 0;      ///< the same in µs (backend_latency)
    // ---- the current holder (the slot's bytes, counted in held_budget.h)
    /// Budget the slot holds: its copied call's bytes (origin, as they arrive) and its reply's
    /// (taken at home when the reply's header is read). Given back when the slot is freed.
    uint64_t held = 0;
    /// Origin only: bytes of `held` also counted on its client (rq_client::held_bytes).
    uint64_t client_held = 0;
    // ---- shared
    std::atomic<bool> abandoned{false};

    bool is_abandoned() const { return abandoned.load(std::memory_order_relaxed); }
    /// The call's frame as received, wherever it lives (the home shard sends these bytes).
    std::span<const uint8_t> call() const {
        return view != nullptr ? std::span<const uint8_t>(view, view_len)
                               : std::span<const uint8_t>(req.data(), req.size());
    }
};

/// An intrusive FIFO of slots through `qnext` (home queues, a pool connection's calls,
/// mailbox overflow).
struct request_fifo {
    request* head = nullptr;
    request* tail = nullptr;
    uint32_t count = 0;

    void push(request* r) {
        r->qnext = nullptr;
        if (tail != nullptr) tail->qnext = r; else head = r;
        tail = r;
        ++count;
    }
    /// Behind every request of the same or a higher priority (FIFO within a priority). The
    /// common case, nothing of a lower priority waiting, is O(1); else a scan of the queue,
    /// which queue_max bounds.
    void insert(request* r) {
        if (tail == nullptr || tail->priority >= r->priority) return push(r);
        request** at = &head;
        while (*at != nullptr && (*at)->priority >= r->priority) at = &(*at)->qnext;
        r->qnext = *at;
        *at = r;
        ++count;
    }
    request* pop() {
        request* r = head;
        if (r == nullptr) return nullptr;
        head = r->qnext;
        if (head == nullptr) tail = nullptr;
        r->qnext = nullptr;
        --count;
        return r;
    }
    bool empty() const { return head == nullptr; }
    /// Moves every slot of `o` behind ours, in order; `o` is left empty.
    void splice(request_fifo& o) {
        if (o.head == nullptr) return;
        if (tail != nullptr) tail->qnext = o.head; else head = o.head;
        tail = o.tail;
        count += o.count;
        o = request_fifo{};
    }
};

/// Everything request mode shares between shards that reloads do not change: one
/// backend_state cell per backend id (kBackendsMax, generation.h; load = queued + in flight,
/// live), the home shard of each id (`id % shards`) and one pool of `request` slots per shard.
/// Groups and routes are the generation's (generation.h). Built once by run_gateway before the
/// shards start; afterwards only the backend_state cells and the slots change (see above).
class route_plane {
  public:
    /// Allocates the state cells and `shards` slot pools.
    void build(const config& cfg, uint32_t shards);

    std::span<const route::backend_state> state() const { return {state_.get(), nstate_}; }
    route::backend_state& state(uint32_t b) { return state_[b]; }
    uint32_t home(uint32_t b) const { return b % shards_; }
    request* slots(uint32_t shard) { return pools_[shard].get(); }
    uint32_t slots_per_shard() const { return slots_per_shard_; }
    /// Client connections open on every shard (a home shard keeps serving until it is 0).
    std::atomic<uint32_t>& clients_open() { return clients_open_; }
    /// Bytes held in request slots, every shard (held_budget.h).
    std::atomic<uint64_t>& held_bytes() { return held_bytes_; }

  private:
    std::unique_ptr<route::backend_state[]> state_;
    uint32_t nstate_ = 0;
    uint32_t shards_ = 1;
    std::vector<std::unique_ptr<request[]>> pools_;
    uint32_t slots_per_shard_ = 0;
    std::atomic<uint32_t> clients_open_{0};
    std::atomic<uint64_t> held_bytes_{0};
};

}  // namespace qgate::proxy

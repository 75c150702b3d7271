// Pub/sub in the engine (DESIGN §7, issue 7): the state a shard keeps for listeners in mode
// `pubsub`, and the plane the shards share (one SPSC lane per ordered pair of shards).
//
// Ownership and threads. One shard is the *hub* (shard 0): it alone owns the schema store,
// the filter directory (which shard has which distinct filter of which table), each
// subscriber's filters, and the upstream tickerplant connection. Every other shard only keeps
// its own subscribers grouped by (table id, filter key). Shards talk through lanes
// (`ps_lane`: the one SPSC ring, shard/spsc_ring.h, of ps_msg):
//   client shard -> hub : sub (a .u.sub body to answer), unsub (a subscriber is gone),
//                         publish (a publisher's .u.upd message, one refcounted buffer)
//   hub -> client shard : sub_done (the reply + the (table, filter key) pairs to register),
//                         deliver (one update: up to kPsFiltersPerMsg (filter key, buffer)
//                         pairs, one message per shard per update), end (.u.end bytes)
// A lane is published once per turn with one release store and signalled with at most one
// mailbox wake (shard::pubsub_wake_msg) per peer per turn. Because sub_done and deliver travel
// on the same ordered lane, a subscriber's `.u.sub` reply always precedes its first update.
// Buffers move through the lanes as update_refs (a pointer swap, no copy).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "proxy/frame_cut.h"
#include "qgate/config.h"
#include "qgate/pubsub.h"
#include "qgate/qipc/compress.h"
#include "shard/spsc_ring.h"

namespace qgate::proxy {

enum class role : uint8_t;  // conn_types.h (a fixed underlying type: complete here)

/// Filters carried by one deliver message; an update with more distinct filters for one
/// shard takes several messages (counted in pubsub_mailbox_msgs like any other).
inline constexpr uint32_t kPsFiltersPerMsg = 8;
/// Lane capacity (messages). Messages for a full lane wait, in order, in the sender's overflow
/// queue (pubsub_lane_full), bounded by kPsOverflowMax per destination (beyond: dropped,
/// pubsub_lane_drops). Feeds are paused long before that (kPsLaneHigh).
inline constexpr uint32_t kPsLaneSlots = 4096;
inline constexpr uint32_t kPsOverflowMax = 65536;
/// A shard stops reading its feeds (publishers, the upstream link) while one of its outgoing
/// lanes holds more than this many messages, and reads them again below it (pubsub_feed_pauses).
inline constexpr uint32_t kPsLaneHigh = kPsLaneSlots / 2;
/// Update references one subscriber may have in its socket's send queue (the rest wait in
/// its backlog, where the slow-subscriber policy applies).
inline constexpr uint32_t kPsOutMax = 16;
/// send_queue tag of an item whose bytes belong to the subscriber's front `out` reference.
inline constexpr int32_t kPsTag = INT32_MIN;

enum class ps_kind : uint8_t { deliver, end, sub, sub_done, unsub, publish };

/// A `.u.sub` handed to the hub and back: the body (copied, control plane), then the hub's
/// answer. Owned by whichever shard holds it; deleted by the client shard.
struct ps_sub_order {
    uint32_t shard = 0;
    uint32_t session = 0;
    uint32_t gen = 0;
    qipc::msg_type type = qipc::msg_type::sync;
    bool little_endian = true;
    std::vector<uint8_t> body;
    pubsub::update_ref reply;  ///< the reply or error frame (sync calls only)
    std::vector<std::pair<uint32_t, uint64_t>> subs;  ///< (table id, filter key) to register
};

struct ps_msg {
    ps_kind kind = ps_kind::deliver;
    uint8_t n = 0;          ///< deliver: pairs used
    uint32_t table = 0;     ///< deliver: table id (the hub's schema store)
    uint32_t session = 0;   ///< unsub: subscriber slot on the sender
    uint32_t gen = 0;
    ps_sub_order* order = nullptr;
    uint64_t keys[kPsFiltersPerMsg] = {};
    pubsub::update_ref bufs[kPsFiltersPerMsg];  ///< deliver: per key; end / publish: [0]
};

/// The lane from one shard to another: push()ed during the turn, publish()ed once at its end
/// (publish_every 0: ps_flush_lanes wakes the peer only when publish() reports something new).
/// The consumer must move the references out of each slot it drains (the slot is reused as it
/// is, spsc_ring.h).
using ps_lane = shard::spsc_ring<ps_msg>;

/// Shared by every shard, built once by run_gateway when a listener is in pubsub mode.
class pubsub_plane {
  public:
    pubsub_plane(uint32_t shards, const config& cfg);
    ps_lane& lane(uint32_t from, uint32_t to) { return *lanes_[from * shards_ + to]; }
    const ps_lane& lane(uint32_t from, uint32_t to) const { return *lanes_[from * shards_ + to]; }
    uint32_t shards() const { return shards_; }
    static constexpr uint32_t hub() { return 0; }
    int upstream = -1;  ///< backend index of the upstream tickerplant, -1 = none
    uint32_t pubinterval_ms = 0;
    pubsub::backlog_limits limits;

  private:
    uint32_t shards_;
    std::vector<std::unique_ptr<ps_lane>> lanes_;
};

/// Per pub/sub connection (a subscriber / publisher client, or the hub's upstream link).
struct ps_conn {
    explicit ps_conn(const pubsub::backlog_limits& l) : queue(l) {}
    frame_cut cut;
    std::optional<pubsub::update_builder> fill;  ///< the frame being read
    uint64_t off = 0;
    pubsub::backlog queue;                       ///< updates not yet in the send queue
    pubsub::update_ref out[kPsOutMax];           ///< in the send queue, oldest first
    uint32_t out_head = 0;
    uint32_t out_count = 0;
    std::vector<std::pair<uint32_t, uint64_t>> subs;  ///< (table id, filter key), local index
    // upstream link only
    // The link itself is the slot's (session::link, upstream_link.h): the handshake phase
    // lasts until every .u.sub is answered, ready is live.
    bool subscribing = false;  ///< handshake answered, .u.sub replies due
    uint32_t replies_due = 0;
};

/// A q error response frame ('text), or an empty handle when memory is short.
pubsub::update_ref ps_error_frame(std::string_view text);

/// The plain message of a compressed one (q compresses messages over 2000 bytes to
/// non-loopback peers), in one fresh buffer; empty when malformed, longer than length_max or
/// past `lim` (then `refused` is set: the message is well formed, qgate will not inflate it).
pubsub::update_ref ps_inflate(const pubsub::update_ref& msg, uint64_t length_max,
                              const qipc::inflate_limits& lim, bool& refused);

/// One table's local subscribers, grouped by filter key.
struct ps_group {
    uint64_t key = 0;
    std::vector<uint32_t> sessions;
};

/// The hub's view of one subscriber: its filter per table id.
using ps_filters = std::vector<std::pair<uint32_t, pubsub::sym_filter>>;

/// A shard's pub/sub state (engine::ps_).
struct ps_shard {
    std::vector<std::vector<ps_group>> tables;  ///< by table id: local groups
    std::vector<ps_msg> pending;                ///< per destination shard: deliver being built
    uint64_t dirty_lanes = 0;                   ///< bit s: lane me->s has unpublished messages
    /// A feed not read while the lanes are busy: the slot, its generation and the socket that
    /// carries its updates (a publisher's client socket, the feed link's upstream one).
    struct paused_feed {
        uint32_t session;
        uint32_t gen;
        role r;
    };
    std::vector<paused_feed> paused;
    /// Hub only: its own subscribers' unsubs, applied at the next drain, never while a fan-out
    /// walks the directory (a slow subscriber can be closed in the middle of one).
    std::vector<std::pair<uint32_t, uint32_t>> self_unsubs;
    std::vector<std::deque<ps_msg>> overflow;   ///< per destination: waiting for lane space
    uint32_t overflowing = 0;                   ///< messages in all overflow queues
    // hub only
    pubsub::schema_store schemas;
    pubsub::filter_directory dir;
    std::unordered_map<uint64_t, ps_filters> subscribers;  ///< by (shard, session, gen)
    pubsub::row_selection scratch;
    uint32_t up_session = UINT32_MAX;
    std::vector<pubsub::batcher> batchers;  ///< by table id (pubinterval_ms > 0)
    uint64_t batch_due_ms = 0;              ///< next flush; 0 = nothing held
};

}  // namespace qgate::proxy

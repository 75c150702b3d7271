// Per-shard counters, declared once. Written only by the owning shard with relaxed
// load+store (no locked instruction on the hot path), read by the admin thread with relaxed
// loads: a reader may see a slightly stale value, never a torn one.
#pragma once

#include <atomic>
#include <cstdint>

namespace qgate::shard {

// X(name): every counter the admin endpoint reports, in order. Gauges (conns_open,
// bufs_held: receive buffers user space holds now) go up and down; bufs_held_peak is the
// highest bufs_held seen at the end of a loop turn; everything else only grows.
#define QGATE_SHARD_COUNTERS(X) \
    X(accepts)                  \
    X(accept_errors)            \
    X(conns_open)               \
    X(conns_rejected)           \
    X(handshake_fail)           \
    X(auth_fail)                \
    X(malformed_frames)         \
    X(bytes_in)                 \
    X(bytes_out)                \
    X(msgs_fwd)                 \
    X(sync_requests)            \
    X(enters)                   \
    X(cqes)                     \
    X(cq_overflow)              \
    X(sq_full)                  \
    X(rcv_enobufs)              \
    X(snd_short)                \
    X(sends)                    \
    X(multishot_rearm)          \
    X(xshard_msgs)              \
    X(xshard_full)              \
    X(xshard_wakes)             \
    X(xshard_requests)          \
    X(backend_connect_fail)     \
    X(backend_connect_timeout)  \
    X(backend_disconnect)       \
    X(no_backend_sessions)      \
    X(no_backend_errors)        \
    X(disconnect_errors)        \
    X(slow_reader_pauses)       \
    X(buf_share_pauses)         \
    X(bufs_held)                \
    X(bufs_held_peak)           \
    X(send_items_exhausted)     \
    X(drain_closed)             \
    X(async_requests)           \
    X(requests_routed)          \
    X(requests_rerouted)        \
    X(request_no_route)         \
    X(request_no_backend)       \
    X(request_busy)             \
    X(request_timeouts)         \
    X(request_late_replies)     \
    X(request_slots_exhausted)  \
    X(request_too_large)        \
    X(request_bytes_lent)       \
    X(request_bytes_copied)     \
    X(request_lend_pressure)    \
    X(client_quota_pauses)      \
    X(requests_abandoned)       \
    X(requests_skipped)         \
    X(async_dropped)            \
    X(backend_unsolicited)      \
    X(backend_reconnects)       \
    X(backends_ejected)         \
    X(backends_recovered)       \
    X(backend_health_queries)   \
    X(backend_health_fail)      \
    X(reply_bytes_received_direct) \
    X(reply_bytes_copied)       \
    X(pubsub_subscribers)       \
    X(pubsub_sub_calls)         \
    X(pubsub_updates_in)        \
    X(pubsub_update_bytes_encoded) \
    X(pubsub_encodings)         \
    X(pubsub_as_received)       \
    X(pubsub_deliveries)        \
    X(pubsub_payload_bytes_copied) \
    X(pubsub_ingest_bytes_direct) \
    X(pubsub_ingest_bytes_copied) \
    X(pubsub_ingest_reads)      \
    X(pubsub_ingest_reads_now)  \
    X(pubsub_bytes_queued)      \
    X(pubsub_slow_disconnects)  \
    X(pubsub_conflations)       \
    X(pubsub_mailbox_msgs)      \
    X(pubsub_lane_full)         \
    X(pubsub_lane_drops)        \
    X(pubsub_feed_pauses)       \
    X(pubsub_bad_msgs)          \
    X(pubsub_ends)              \
    X(pubsub_upstream_connects) \
    X(pubsub_upstream_reconnects) \
    X(fanout_calls)             \
    X(fanout_parts)             \
    X(fanout_joined)            \
    X(fanout_errors)            \
    X(fanout_timeouts)          \
    X(fanout_missing_types)     \
    X(fanout_busy)              \
    X(fanout_reducer_calls)     \
    X(fanout_reducer_bytes)     \
    X(fanout_joined_bytes)      \
    X(fanout_referenced_bytes)  \
    X(fanout_column_bytes_copied) \
    X(fanout_compressed)

struct counters {
// NOLINTNEXTLINE(bugprone-macro-parentheses): `name` is a declarator, not an expression.
#define QGATE_DECLARE_COUNTER(name) std::atomic<uint64_t> name{0};
    QGATE_SHARD_COUNTERS(QGATE_DECLARE_COUNTER)
#undef QGATE_DECLARE_COUNTER
};

/// Single-writer increment: a plain add published with a relaxed store.
inline void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
inline void drop(std::atomic<uint64_t>& c, uint64_t n = 1) {
    c.store(c.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
}
inline void set(std::atomic<uint64_t>& c, uint64_t v) { c.store(v, std::memory_order_relaxed); }

/// Calls f(name, value) for each counter (admin thread).
template <typename F> void for_each_counter(const counters& c, F&& f) {
#define QGATE_VISIT_COUNTER(name) f(#name, c.name.load(std::memory_order_relaxed));
    QGATE_SHARD_COUNTERS(QGATE_VISIT_COUNTER)
#undef QGATE_VISIT_COUNTER
}

}  // namespace qgate::shard

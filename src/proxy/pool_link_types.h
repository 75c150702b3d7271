// The state a pool link keeps (types only; pool_links.h has the logic): the per-connection
// record in its slot and the home shard's per-backend queue and pool. Owner: the backend's
// home shard; a pool_conn lives as long as its slot (the engine's life), a home_backend as long
// as the engine.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "proxy/frame_buf.h"
#include "proxy/request.h"

namespace qgate::proxy {

/// A pool link (request mode): an upstream link (upstream_link.h: the slot's `link` goes
/// down -> connecting -> handshake -> ready, and back down on any failure, reconnecting with
/// backoff). While ready it carries up to `depth` calls (`fly`, in the order sent): a call is
/// done when its bytes are sent and, for a sync call, its response has arrived. Responses come
/// in the order of the sync calls, so each one answers `await`, the first unanswered sync call.
/// Receiving (pool_rx.cc) does not use the shard's provided buffers: while the socket is open
/// exactly one recv_into into `rx` is armed (the handshake byte, then frames); a reply that
/// is all the read brought is handed to its slot by swapping `rx` with its `rep`, one with more
/// behind it (pipelined replies read together) is copied out.
struct pool_conn {
    uint32_t backend = 0;
    /// A per-user link of a passthrough backend (pool_users.cc): its user_pool's index + 1 in
    /// home_backend::users; 0 = a link of the backend's shared pool.
    uint32_t user = 0;
    /// A per-user link being let go (idle, or its credentials refused): freed, not reconnected.
    bool release = false;
    /// When a call was last sent on it (monotonic ms): a per-user link idle for
    /// backend.user_idle_ms is closed.
    uint64_t used_ms = 0;
    /// Calls allowed in flight: 1, or limits.pipeline_depth once pipelining is known safe.
    uint32_t depth = 1;
    request_fifo fly;          ///< calls on the connection, in the order pushed (qnext)
    request* await = nullptr;  ///< first sync call of `fly` with no response yet
    /// When the last response was read (monotonic ms): a serial backend started on `await`
    /// then, or when it was sent, whichever is later (pool_links::stalled).
    uint64_t answered_ms = 0;
    /// Bytes pushed on the socket since it connected (calls, probes, callback answers): with
    /// the bytes still queued this tells which calls the kernel has taken (request::wire_end).
    uint64_t pushed = 0;
    /// The calls of a connection that failed with a send in flight: the kernel may still read
    /// their bytes (lent from a client's receive buffer, or the slot's own), so they are
    /// answered only when the socket's operations are done (pool_freed), not by pool_failed.
    request_fifo parked;
    /// The query outstanding instead of calls: the health query (sync "", q answers ::), or
    /// the order query of backend.pipeline = auto, asked once per connect.
    enum class probe_kind : uint8_t { none, health, order };
    probe_kind probing = probe_kind::none;
    /// What the frame being read is: the awaited response (into await->rep), the awaited
    /// response of an abandoned call (discarded), the awaited response refused for want of
    /// budget (request_bytes_held_max: dropped, the call answered 'qgate: busy), a probe's
    /// answer, a sync call from the backend (answered with an error), or anything else
    /// unsolicited (dropped).
    enum class rx_mode : uint8_t { stray, reply, discard, refused, callback, probe };
    rx_mode mode = rx_mode::stray;
    /// Receive buffer. size() == capacity(): all of it is room for recv_into. The frame being
    /// read starts at rx[at] (0 whenever a read is armed); rx[0, have) has arrived. Owned by
    /// the kernel while a read is armed (touched only from that read's completion, which
    /// always comes, even after a close).
    frame_buf rx;
    uint64_t at = 0;     ///< start of the frame being parsed (several replies in one read)
    uint64_t have = 0;   ///< bytes of rx received
    uint64_t need = 0;   ///< length of the frame at rx[at] once its header is in; 0 = unknown
    uint64_t skip = 0;   ///< bytes of an unwanted frame too long for rx still to read and drop
    uint64_t moved = 0;  ///< bytes of the current frame copied (rx growth, a move to the front)
    /// Budget taken for the reply being read (its declared length, held_budget.h): handed to
    /// its slot with the reply, given back if the connection is reset first.
    uint64_t held = 0;
};

/// The calls and links of one user of a passthrough backend (request mode, pool_users.cc):
/// links handshaked with the user's own credentials, opened on demand (at most
/// backend.user_links_max), closed when idle for backend.user_idle_ms; the entry is free again
/// (key 0) once its last link is gone and nothing waits.
struct user_pool {
    uint64_t key = 0;  ///< request::cred_key; 0 = a free entry
    std::string cred;  ///< "user:password" sent upstream (never logged)
    request_fifo queue;
    std::vector<uint32_t> conns;  ///< session slots of its links
};

/// Home-shard state of one backend (request mode): its FIFO of waiting requests and its pool.
struct home_backend {
    bool mine = false;
    request_fifo queue;
    uint32_t inflight = 0;
    uint32_t up = 0;        ///< pool connections in `ready`
    uint32_t failures = 0;  ///< consecutive failed connects (any connection)
    bool ejected = false;
    bool draining = false;  ///< removed by a reload: serves what it has, takes nothing new
    bool retired = false;   ///< drained: its connections closed and do not reconnect
    uint32_t closing = 0;   ///< retired: connections not yet freed (0: the id is quiet)
    bool pump_due = false;  ///< on pool_links::pump_due_
    std::vector<uint32_t> conns;  ///< session slots of its pool connections
    /// A passthrough backend: no shared pool, a pool per user instead (entries reused).
    std::vector<user_pool> users;
    uint32_t user_pools = 0;  ///< entries of `users` in use (backend.user_pools_max)
    uint32_t user_queued = 0;  ///< calls waiting in the users' queues (load)
};

}  // namespace qgate::proxy

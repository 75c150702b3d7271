// The state a pool link keeps (types only; pool_links.h has the logic): the per-connection
// record in its slot and the home shard's per-backend queue and pool. Owner: the backend's
// home shard; a pool_conn lives as long as its slot (the engine's life), a home_backend as long
// as the engine.
#pragma once

#include <cstdint>
#include <vector>

#include "proxy/frame_buf.h"
#include "proxy/request.h"

namespace qgate::proxy {

/// A pool link (request mode): an upstream link (upstream_link.h: the slot's `link` goes
/// down -> connecting -> handshake -> ready, and back down on any failure, reconnecting with
/// backoff). While ready it carries at most one request (`cur`): it is done when its bytes are
/// sent and, for a sync call, the backend's response frame has arrived.
/// Receiving (pool_rx.cc) does not use the shard's provided buffers: while the socket is open
/// exactly one recv_into into `rx` is armed (the handshake byte, then frames), and a whole
/// reply is handed to its slot by swapping `rx` with `cur->rep`.
struct pool_conn {
    uint32_t backend = 0;
    request* cur = nullptr;
    /// The call of a connection that failed with its send in flight: the kernel may still read
    /// its bytes (lent from a client's receive buffer, or the slot's own), so it is answered
    /// only when the socket's operations are done (pool_freed), not by pool_failed.
    request* parked = nullptr;
    bool probing = false;  ///< the health query is outstanding (no request is attached)
    bool sent = false;
    bool replied = false;
    /// What the frame being read is: the awaited response (swapped into cur->rep), the awaited
    /// response of an abandoned call (discarded), a sync call from the backend (answered with
    /// an error), or anything else unsolicited (dropped).
    enum class rx_mode : uint8_t { stray, reply, discard, callback, probe };
    rx_mode mode = rx_mode::stray;
    /// Receive buffer. size() == capacity(): all of it is room for recv_into. The frame being
    /// read starts at rx[0]; rx[0, have) has arrived. Owned by the kernel while a read is armed
    /// (touched only from that read's completion, which always comes, even after a close).
    frame_buf rx;
    uint64_t have = 0;   ///< bytes of rx received
    uint64_t need = 0;   ///< length of the frame at rx[0] once its header is in; 0 = unknown
    uint64_t skip = 0;   ///< bytes of an unwanted frame too long for rx still to read and drop
    uint64_t moved = 0;  ///< bytes of the current frame copied (rx growth, a move to the front)
};

/// Home-shard state of one backend (request mode): its FIFO of waiting requests and its pool.
struct home_backend {
    bool mine = false;
    request_fifo queue;
    uint32_t inflight = 0;
    uint32_t up = 0;        ///< pool connections in `ready`
    uint32_t failures = 0;  ///< consecutive failed connects (any connection)
    bool ejected = false;
    std::vector<uint32_t> conns;  ///< session slots of its pool connections
};

}  // namespace qgate::proxy

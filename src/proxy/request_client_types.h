// The state a request-mode client keeps in its slot (types only; request_clients.h has the
// logic). Owner: the client's shard, from the handshake to the slot's reset.
#pragma once

#include <cstdint>

#include "io/send_queue.h"
#include "proxy/frame_cut.h"
#include "proxy/request.h"

namespace qgate::proxy {

/// A client of a request-mode listener.
struct rq_client {
    request* head = nullptr;  ///< sync calls in the order sent, answered from the front
    request* tail = nullptr;
    request* fill = nullptr;  ///< the frame being read
    uint64_t off = 0;         ///< bytes of `fill->req` written
    bool skip = false;        ///< discarding the current frame (a response from the client)
    bool oversize = false;    ///< `fill` is a call longer than request_bytes_max: body skipped
    bool user_over = false;   ///< ... or than its user's message_bytes_max (a different error)
    bool over_budget = false; ///< `fill` could not be held (request_bytes_held_max): body skipped
    bool undecided = false;   ///< `fill` has its header only: lend or copy at its first body byte
    /// The input chunk being framed (request_data): its receive buffer (-1: bytes the session
    /// owns) and first byte, so a frame lying whole in it can be lent (request_lend.cc).
    int32_t in_bid = -1;
    const uint8_t* in_p = nullptr;
    uint32_t pending = 0;     ///< entries of the order list
    uint32_t async_out = 0;   ///< async calls handed to a backend, not yet sent
    /// Bytes of its calls and replies held in slots (request::client_held); at
    /// limits.client_bytes_max the client is not read (held_budget.h, request_clients.cc).
    uint64_t held_bytes = 0;
    /// Bytes received but not yet framed because the client is over its quota (kept in their
    /// receive buffers, in order); read again as calls complete.
    io::send_queue held;
    bool unholding = false;   ///< request_unhold is running (answers it triggers re-enter it)
    bool slot_wait = false;   ///< on the engine's slot_waiters_ list (the shard ran out of slots)
    /// Its calls parked to be inflated (request_inflate.cc): none of its later calls is framed
    /// until they are routed, so its calls reach backends in the order it sent them.
    uint32_t inflating = 0;
    bool peer_local = true;  ///< loopback / Unix peer: joined replies are not compressed (q's rule)
    frame_cut cut;
};

}  // namespace qgate::proxy

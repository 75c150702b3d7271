// What the shard loop asks of a connection kind (HAProxy's mux_ops, one level up): the engine
// owns sockets, buffers, sends, timers and drain; everything a kind of connection means in q
// terms is behind this interface. One handler object per kind per engine (session_clients,
// request_clients, pool_links, subscribers, feed_link), created with the engine and living as
// long; a slot's `h` names the handler that owns it, set when the slot is taken (at accept from
// the listener's mode, or when a pool link or the feed is opened) and cleared when it is freed.
// All calls come from the shard's thread.
//
// The engine never looks at a kind's state: it calls these hooks, and a handler keeps its own
// state machine (session.h describes the shared slot record).
#pragma once

#include <cstdint>

#include "io/io_types.h"

namespace qgate::proxy {

struct session;
enum class role : uint8_t;

class conn_handler {
  public:
    virtual ~conn_handler() = default;

    /// A client's handshake was read and its credentials accepted (client kinds).
    virtual void on_authenticated(session& ss) = 0;
    /// Bytes of a multishot recv in pool buffer `bid`; the handler owns the buffer from here.
    virtual void on_data(session& ss, role r, uint16_t bid, uint32_t n) = 0;
    /// Kinds that read with recv_into (sock::into): arm the next read / its completion.
    virtual void arm_read(session& ss, role r);
    virtual void on_read(session& ss, role r, const io::completion& c);
    /// The connect of the upstream socket completed (res < 0: failed).
    virtual void on_connected(session& ss, const io::completion& c);
    /// The peer closed or the socket failed.
    virtual void on_eof(session& ss, role r) = 0;
    /// The upstream link failed before it was ready for a reason the engine counted and
    /// noted already (a TLS backend's handshake: engine_tls.cc): a failed connect attempt.
    /// By default on_eof of the upstream.
    virtual void on_link_failed(session& ss);
    /// The peer shut down its write side (a recv read EOF; sock::rd_eof is set, the socket is
    /// not read again) but may still read: a client kind answers what it was asked, then
    /// closes. By default the same as on_eof.
    virtual void on_read_eof(session& ss, role r);
    /// The slot's timer expired (after the handshake: the kind's own deadline).
    virtual void on_timeout(session& ss);
    /// A send on `r` completed and its bytes were consumed from the queue.
    virtual void on_sent(session& ss, role r) = 0;
    /// A send-queue item tagged kPsTag (a pub/sub delivery) was written.
    virtual void on_tag_sent(session& ss);
    /// close_session asks: true lets the slot close; false when the kind keeps it (a pool link
    /// or the feed reconnects instead).
    virtual bool on_close(session& ss) = 0;
    /// A socket of the slot was closed and its operations are done: true when the kind took
    /// over (reconnect, retry); false lets the engine free the slot once both sockets are.
    virtual bool on_sock_freed(session& ss, role r);
    /// The slot is being returned to the free list: reset the kind's state.
    virtual void on_slot_freed(session& ss);
    /// Nothing in flight: a drain may close it now.
    virtual bool idle(const session& ss) const = 0;
    /// A client connection (drain closes it; it counts in sessions_open), not a link of ours.
    virtual bool is_client() const { return true; }
};

}  // namespace qgate::proxy

// The engine's slot record (types only): one `session` per connection slot, with its two
// sockets and the state of whichever kind owns it (conn_handler.h). The kinds' own records
// come from their types headers (request_client_types.h, pool_link_types.h, pubsub_state.h).
// Owner: the shard's thread; a slot lives as long as the engine and is reused.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "io/io_types.h"
#include "io/send_queue.h"
#include "net/framer.h"
#include "proxy/pool_link_types.h"
#include "proxy/pubsub_state.h"
#include "proxy/request_client_types.h"
#include "proxy/tls.h"
#include "proxy/upstream_link.h"

namespace qgate::proxy {

class conn_handler;
class transport;

enum class role : uint8_t { client = 0, upstream = 1 };

/// Bytes a client may send after its handshake but before qgate's reply (it should send none).
inline constexpr size_t kEarlyBytesMax = 65536;

/// Receive arm state of a socket's multishot recv.
///   idle --arm--> armed --(final CQE: EOF, error, ENOBUFS, no F_MORE)--> idle
///   armed --pause (cancel)--> cancelling --(final CQE, -ECANCELED)--> idle
/// A socket re-arms from idle unless it is closing, paused (peer queue above the high
/// watermark) or starved (ENOBUFS: waits until half the buffer pool is back).
/// A socket with `into` set reads with single-shot recv_into instead (pub/sub ingest, straight
/// into the frame's update buffer): armed = one read in flight, back to idle on its completion;
/// a pause cancels nothing, it only keeps the next read from being armed.
/// A pool connection's socket reads with recv_into too (pool_rx.cc): idle --arm--> armed
/// --(its one CQE)--> idle; never paused or starved (it uses no pool buffers).
enum class rx_state : uint8_t { idle, armed, cancelling };

struct sock {
    int fd = -1;
    transport* xp = nullptr;     ///< how its bytes move (transport.h); set with fd
    std::unique_ptr<tls_conn> tls;  ///< a TLS listener's client: its record layer (tls.h)
    uint32_t gen = 1;            ///< bumped when the fd is closed; stale user_data is ignored
    rx_state rx = rx_state::idle;
    bool paused = false;
    bool starved = false;
    bool closing = false;        ///< shut down; freed when `ops` reaches 0
    bool into = false;           ///< receives by recv_into (op::read), not multishot recv
    bool send_inflight = false;
    bool dirty = false;          ///< on the engine's flush list
    bool rd_eof = false;         ///< the peer shut down its write side: nothing more to read
    uint16_t ops = 0;            ///< submitted operations whose final completion is pending
    uint32_t asked = 0;          ///< recv_into: bytes the read in flight may bring at most
    uint64_t inflight_bytes = 0;
    io::send_queue sq;
    net::framer fr;              ///< frames of the bytes this socket receives
    msghdr msg{};
    iovec iov[io::kIovMax]{};
};

/// Session life cycle (one client connection and at most one upstream connection):
///   handshake     reading the client's credentials (timer: handshake_timeout_ms)
///   connecting    upstream connect in flight (timer: connect_timeout_ms)
///   up_handshake  upstream credentials sent, waiting for its 1-byte reply (same timer)
///   streaming     bytes forwarded both ways, framed, outstanding sync requests counted
///   no_backend    every backend of the group failed: the client handshake is completed with
///                 capability min(client, 3) and every sync request is answered with
///                 'qgate: no backend available for group <G>' (async ones are dropped)
///   closing       both sockets shut down; the slot is freed when their operations finish
/// connecting/up_handshake failures (refused, timeout, EOF before the reply byte) try the next
/// backend of the group; when none is left the session goes to no_backend.
/// Request mode adds two states: `request` (a client whose calls are routed one by one; s[1]
/// unused) and `pool` (one pooled upstream connection of a backend whose home is this shard;
/// s[0] unused, never counted as a client, kept for the engine's lifetime).
/// Pub/sub adds `pubsub` (a subscriber or publisher on a pubsub listener, subscribers.cc)
/// and `ps_up` (the hub's upstream tickerplant link in s[1], like `pool`: never freed).
enum class sstate : uint8_t {
    free, handshake, connecting, up_handshake, streaming, no_backend, closing, request, pool,
    pubsub, ps_up
};

struct session {
    uint32_t gen = 1;
    sstate st = sstate::free;
    uint32_t listener = 0;
    uint32_t index = 0;           ///< slot in the engine's table
    uint32_t next_free = 0;       ///< free-list link while free
    sock s[2];
    uint8_t client_cap = 0;
    uint8_t cap = 0;              ///< negotiated capability (frame limits)
    uint8_t reply = 0;            ///< the 1-byte handshake reply (sent from here)
    bool retry = false;           ///< when the upstream socket is freed, try the next backend
    bool close_after_flush = false;
    int backend = -1;
    uint64_t tried = 0;
    uint64_t outstanding = 0;     ///< client sync requests not yet answered by the backend
    /// Session mode: when the oldest outstanding call was forwarded, or the reply before it read
    /// (backend_latency; a q backend answers in order).
    uint64_t call_us = 0;
    uint64_t deadline_ms = 0;     ///< 0 = no timer
    uint64_t up_active_ms = 0;    ///< session mode: the backend's last progress (reply timeout)
    uint32_t hs_len = 0;          ///< bytes of `hs` that were the handshake itself
    std::string hs;               ///< client handshake (+ any bytes sent before the reply)
    std::string up_hs;            ///< upstream handshake
    std::string err;              ///< the q error frame this session answers with
    std::string user;             ///< handshake user (request-mode routes match on it)
    uint64_t acl_rules = 0;       ///< the [[acl]] rules naming `user` (route/acl.h), as of
    uint64_t acl_gen = 0;         ///< this generation's number (recomputed when it moves on)
    int32_t user_slot = -1;       ///< its user_conns slot, released when the slot is freed
    uint32_t calls_max = 0;       ///< its user's [[user_limits]] calls_max (0 = none), as of
    uint64_t ulim_gen = 0;        ///< this generation's number (looked up again when it moves on)
    uint64_t msg_max = 0;         ///< its user's message_bytes_max when below the global; 0 = none
    /// The client's own "user:password": its handshake's text, without the capability byte
    /// and NUL (credentials = "passthrough" sends it upstream). Empty before the login.
    std::string_view own_credentials() const {
        if (hs_len == 0) return {};
        return {hs.data(), hs_len - 1 - (client_cap != 0 ? 1U : 0U)};
    }
    /// Longest message this client may send: its user's limit, else limits.message_bytes_max.
    uint64_t client_max(uint64_t global) const { return msg_max != 0 ? msg_max : global; }
    // ---- a client's figures for .qgate.clients[] (set at accept; the shard's thread only)
    uint64_t client_id = 0;       ///< admin_link.h: unique for the process's life
    int64_t since_ns = 0;         ///< accepted at (Unix ns)
    uint64_t calls = 0;           ///< messages sent after the handshake
    uint64_t bytes_in = 0;        ///< received from the client (handshake included)
    uint64_t bytes_out = 0;       ///< sent to the client
    conn_handler* h = nullptr;    ///< the kind that owns this slot (conn_handler.h)
    link_state link;              ///< its upstream socket's link (upstream_link.h)
    rq_client rq;                 ///< st == request
    pool_conn pc;                 ///< st == pool
    std::unique_ptr<ps_conn> ps;  ///< st == pubsub / ps_up (kept for the slot's next use)
};

/// send_queue item tags: bid >= 0 is a pool buffer, -1 nothing, <= -2 a request slot whose
/// answer bytes the item points at (freed when sent).
constexpr int32_t request_tag(uint32_t index) { return -2 - static_cast<int32_t>(index); }

/// Sock id <-> (session, role) for user_data slots.
constexpr uint32_t sock_id(uint32_t sess, role r) { return sess * 2 + static_cast<uint32_t>(r); }

}  // namespace qgate::proxy

// One upstream link: the mechanics every connection qgate opens to a q process shares — a
// session client's upstream, a request-mode pool link, the pub/sub feed. Connect (bounded by
// connect_timeout_ms), the q handshake with the backend's credentials and a capability byte,
// and, for the links that live for the engine's life (pool links, the feed), failure
// accounting and reconnection with exponential backoff and jitter. What a kind does on top
// (read the reply byte its own way, probe health, eject a backend, subscribe) stays in the
// kind.
//
//   down --connect--> connecting --connected: handshake sent--> handshake --reply byte-->
//   ready; any failure --> down (socket closed; when it is freed: a reconnect timer of
//   backoff_ms(attempt), then connect again). A session's upstream never reconnects: its kind
//   tries the next backend instead.
//
// Owner: the engine (one per shard, no state of its own beyond the xorshift seed); the
// link_state lives in the slot. Thread: the shard's.
#pragma once

#include <cstdint>

#include "io/io_types.h"

namespace qgate::proxy {

class engine;
struct session;

enum class link_phase : uint8_t { down, connecting, handshake, ready };

struct link_state {
    link_phase phase = link_phase::down;
    uint32_t attempt = 0;  ///< consecutive failures (backoff exponent); 1 after a live loss
};

class upstream_link {
  public:
    explicit upstream_link(engine& e, uint64_t seed) : e_(e), rng_(seed) {}

    /// down -> connecting: a socket to `backend` and its connect submitted, timer running.
    /// False when no socket could be made (counted: backend_connect_fail): the caller fails
    /// the link (a failed attempt).
    bool connect(session& ss, int backend);

    enum class step : uint8_t { handshake, failed, stale };
    /// The connect completed. stale: the socket is closing or the link gave up on it (freed
    /// here when its last operation is done); failed: counted, the caller fails the link;
    /// handshake: credentials + capability `cap` (0: none) + NUL sent alone, timer running.
    step connected(session& ss, const io::completion& c, int backend, uint8_t cap);
    /// Sends the handshake on the upstream socket (also the phase change to handshake).
    void send_handshake(session& ss, int backend, uint8_t cap);
    /// The backend's reply byte arrived: ready, consecutive failures forgotten.
    static void ready(session& ss);
    /// Any failure: the phase goes down and the backoff exponent moves on (a lost ready link
    /// reconnects after reconnect_min_ms, each failed attempt doubles). True when a ready
    /// link was lost (the caller counts and logs that its own way).
    static bool fail(session& ss);
    /// Closes the upstream socket; false when there is none (the caller runs its freed step
    /// now instead of from on_sock_freed).
    bool close(session& ss);
    /// The socket is freed: start the reconnect timer (not while draining).
    void schedule_reconnect(session& ss);

    enum class due : uint8_t { reconnect, timed_out, ready };
    /// What the slot's timer means for the link: reconnect now, the connect or handshake
    /// timed out (counted: backend_connect_timeout; the caller fails the link), or the ready
    /// link's own timer (the kind's: health probe, subscribe reply).
    due timer(session& ss);

    /// reconnect_min_ms doubling per failure, capped at reconnect_max_ms, drawn between half
    /// and all of that (jitter, so the links of several shards do not retry in lockstep).
    uint64_t backoff_ms(uint32_t attempt);

  private:
    engine& e_;
    uint64_t rng_;
};

}  // namespace qgate::proxy

// The admin endpoint's client table and the rules that keep it from being exhausted: every
// client has a deadline (its handshake by accepted + handshake_timeout_ms; once authenticated,
// last byte + idle_timeout_ms), and at the cap a newcomer displaces the oldest client still in
// its handshake, else the authenticated one idle longest. Pure functions over an injected
// clock (milliseconds), so the policy is tested without sockets or sleeps. Admin thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ctl/admin_http.h"
#include "qgate/config.h"

namespace qgate::ctl {

inline constexpr uint64_t kNoDeadline = UINT64_MAX;

struct admin_client {
    int fd = -1;
    /// q: handshake done (authenticated); HTTP: a first request read (then the idle deadline)
    bool ready = false;
    admin_protocol proto = admin_protocol::undecided;  ///< from the first bytes (admin_http.h)
    bool close_after = false;  ///< close once `out` is sent (HTTP Connection: close, errors)
    uint8_t capability = 0;
    uint64_t accepted_ms = 0;  ///< when accepted (the handshake deadline runs from here)
    uint64_t active_ms = 0;    ///< when a byte last arrived (the idle deadline runs from here)
    std::vector<uint8_t> in;
    /// Replies not yet taken by the kernel, from out_off (bounded: admin.cc kOutMax).
    std::string out;
    std::size_t out_off = 0;

    std::size_t out_pending() const { return out.size() - out_off; }
};

/// When `c` is to be closed: kNoDeadline for an authenticated client with no idle timeout.
uint64_t admin_deadline(const admin_client& c, const admin_conf& lim);

/// The client to close so that a newcomer fits (`clients` non-empty): the oldest one not yet
/// authenticated, else the authenticated one idle longest.
std::size_t admin_victim(const std::vector<admin_client>& clients);

/// Milliseconds poll() may sleep from `now` before the earliest deadline (-1: none).
int admin_poll_timeout(const std::vector<admin_client>& clients, const admin_conf& lim,
                       uint64_t now_ms);

}  // namespace qgate::ctl

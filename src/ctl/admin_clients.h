// The admin endpoint's client table and the rules that keep it from being exhausted: every
// client has a deadline (its handshake by accepted + handshake_timeout_ms; once authenticated,
// last byte + idle_timeout_ms), and at the cap a newcomer displaces the oldest client still in
// its handshake, else the authenticated one idle longest. Pure functions over an injected
// clock (milliseconds), so the policy is tested without sockets or sleeps. Admin thread only.
#pragma once

#include <poll.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
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

// ---- Socket helpers shared with the registration listener (register.cc), which serves its
// connections with the same client table, deadlines and non-blocking output buffer.

/// Milliseconds of the steady clock.
uint64_t ctl_now_ms();

/// Single writer (a control thread): a plain add published with a relaxed store.
inline void ctl_inc(std::atomic<uint64_t>& c) {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

/// A client just accepted on `fd` now (its handshake deadline runs from here).
admin_client accepted_client(int fd);

/// Binds and listens on `where` (port 0 = any), non-blocking accept is the caller's; opens the
/// stop pipe `wake`. False: `error` says why ("<who>: cannot listen on ...") and nothing is open.
bool ctl_listen(const char* who, const endpoint& where, int& fd, uint16_t& port, int (&wake)[2],
                std::string& error);

/// One poll() over the stop pipe (fds[0]), the listener (fds[1]) and every client (fds[i + 2]
/// is clients[i]: POLLIN unless it is closing, POLLOUT while output waits), for at most
/// `timeout_ms`. False: stop (the pipe is readable, or poll failed: logged with `who`).
bool ctl_poll(const char* who, int wake_fd, int listen_fd,
              const std::vector<admin_client>& clients, int timeout_ms, std::vector<pollfd>& fds);

/// Sends what the kernel takes now; false: the connection failed, or it is done (close_after).
bool client_flush(admin_client& c);

/// Appends `bytes` to the client's output; false (nothing appended) past `max` unsent bytes:
/// the client is not reading, close it.
bool client_queue(admin_client& c, std::string_view bytes, std::size_t max);

/// After ctl_poll: every client with events, the last first (so that closing one keeps the
/// lower indices valid): readable, `serve(i)` reads and answers it; writable, the rest of its
/// output is sent; an error or hang-up alone, nothing is left to do. A false result from any
/// of them: `close(i)`.
template <typename Serve, typename Close>
void serve_clients(const std::vector<pollfd>& fds, std::vector<admin_client>& clients,
                   Serve serve, Close close) {
    for (std::size_t i = clients.size(); i-- > 0;) {
        const short ev = fds[i + 2].revents;
        if (ev == 0) continue;
        const bool ok = (ev & POLLIN) != 0    ? serve(i)
                        : (ev & POLLOUT) != 0 ? client_flush(clients[i])
                                              : false;
        if (!ok) close(i);
    }
}

/// Who may log in on a control listener (checked against auth.users under `mu`).
struct login_rules {
    const char* who;         ///< "admin", "register": the log lines' prefix
    const config& auth;      ///< users and limits.handshake_bytes_max
    std::mutex& mu;          ///< guards auth.users (a reload swaps them)
    bool admin_only;         ///< only a user with the admin role
    uint8_t capability_max;  ///< the highest capability granted
};

enum class login_step { waiting, refused, done };

/// Reads the q handshake at the start of c.in: `waiting` for its NUL; `refused` (bad
/// credentials or handshake: close without a reply, as q does); `done`: the capability byte
/// is sent in its own write (node-q needs it alone), the handshake dropped from c.in, ready.
login_step client_login(admin_client& c, const login_rules& rules);

}  // namespace qgate::ctl

// DESIGN: see admin_clients.h. Linear scans on purpose: the table holds at most
// admin.clients_max (64 by default) entries and is walked once per poll() wake-up.
#include "ctl/admin_clients.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>

#include "qgate/auth.h"
#include "qgate/ctl.h"
#include "qgate/log.h"
#include "qgate/qipc/handshake.h"

namespace qgate::ctl {
namespace {

// Room for a burst of connects beyond the client cap: each is accepted (displacing an idle
// one, or refused at once) rather than left to the kernel's SYN-ACK retransmits while a flood
// holds the queue.
constexpr int kListenBacklog = 128;

}  // namespace

uint64_t admin_deadline(const admin_client& c, const admin_conf& lim) {
    if (!c.ready) return c.accepted_ms + lim.handshake_timeout_ms;
    if (lim.idle_timeout_ms == 0) return kNoDeadline;
    return c.active_ms + lim.idle_timeout_ms;
}

std::size_t admin_victim(const std::vector<admin_client>& clients) {
    std::size_t best = clients.size();
    for (std::size_t i = 0; i < clients.size(); ++i) {
        if (clients[i].ready) continue;
        if (best == clients.size() || clients[i].accepted_ms < clients[best].accepted_ms) best = i;
    }
    if (best != clients.size()) return best;
    best = 0;
    for (std::size_t i = 1; i < clients.size(); ++i) {
        if (clients[i].active_ms < clients[best].active_ms) best = i;
    }
    return best;
}

int admin_poll_timeout(const std::vector<admin_client>& clients, const admin_conf& lim,
                       uint64_t now_ms) {
    uint64_t first = kNoDeadline;
    for (const admin_client& c : clients) first = std::min(first, admin_deadline(c, lim));
    if (first == kNoDeadline) return -1;
    if (first <= now_ms) return 0;
    return static_cast<int>(std::min<uint64_t>(first - now_ms, INT32_MAX));
}

uint64_t ctl_now_ms() {
    using namespace std::chrono;
    return uint64_t(duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
}

admin_client accepted_client(int fd) {
    admin_client c;
    c.fd = fd;
    c.accepted_ms = ctl_now_ms();
    c.active_ms = c.accepted_ms;
    return c;
}

bool ctl_listen(const char* who, const endpoint& where, int& fd, uint16_t& port, int (&wake)[2],
                std::string& error) {
    sockaddr_storage sa{};
    socklen_t len = 0;
    const std::string text = format_endpoint(where);
    if (!endpoint_to_sockaddr(where, sa, len)) {
        error = std::string(who) + ": cannot listen on " + text + ": not a numeric address";
        return false;
    }
    fd = ::socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    if (fd >= 0 && ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
        ::bind(fd, reinterpret_cast<sockaddr*>(&sa), len) == 0 &&
        ::listen(fd, kListenBacklog) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0 &&
        ::pipe2(wake, O_CLOEXEC) == 0) {
        port = ntohs(sa.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&sa)->sin_port
                                             : reinterpret_cast<sockaddr_in6*>(&sa)->sin6_port);
        return true;
    }
    error = std::string(who) + ": cannot listen on " + text + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    fd = -1;
    return false;
}

bool ctl_poll(const char* who, int wake_fd, int listen_fd,
              const std::vector<admin_client>& clients, int timeout_ms, std::vector<pollfd>& fds) {
    for (;;) {
        fds.assign({{wake_fd, POLLIN, 0}, {listen_fd, POLLIN, 0}});
        for (const admin_client& c : clients) {
            const int in = c.close_after ? 0 : POLLIN;
            const int out = c.out_pending() != 0 ? POLLOUT : 0;
            fds.push_back({c.fd, static_cast<short>(in | out), 0});
        }
        if (::poll(fds.data(), fds.size(), timeout_ms) >= 0) return fds[0].revents == 0;
        if (errno != EINTR) break;
    }
    QGATE_LOG_ERROR("%s: poll: %s", who, std::strerror(errno));
    return false;
}

bool client_flush(admin_client& c) {
    while (c.out_pending() != 0) {
        const ssize_t w = ::send(c.fd, c.out.data() + c.out_off, c.out_pending(), MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) return true;  // POLLOUT brings the rest
        if (w <= 0) return false;
        c.out_off += static_cast<std::size_t>(w);
        c.active_ms = ctl_now_ms();  // a reader making progress is not idle
    }
    c.out.clear();
    c.out_off = 0;
    return !c.close_after;
}

bool client_queue(admin_client& c, std::string_view bytes, std::size_t max) {
    if (c.out_pending() + bytes.size() > max) return false;
    if (c.out_off != 0 && c.out_off >= c.out.size() / 2) {
        c.out.erase(0, c.out_off);  // sent bytes dropped before the buffer grows
        c.out_off = 0;
    }
    c.out.append(bytes);
    return true;
}

login_step client_login(admin_client& c, const login_rules& rules) {
    qipc::handshake hs;
    const qipc::status st =
        qipc::parse_handshake(c.in, hs, rules.auth.limits.handshake_bytes_max);
    if (st.code == qipc::errc::truncated) return login_step::waiting;  // wait for the NUL
    if (!st) return login_step::refused;
    bool admin = false;
    bool known = false;
    {
        const std::lock_guard<std::mutex> lock(rules.mu);  // a reload may swap the users
        known = authenticate(rules.auth, hs.user, hs.password, &admin);
    }
    if (!known || (rules.admin_only && !admin)) {
        // A data-plane user on the admin port is refused as q refuses bad credentials.
        QGATE_LOG_WARN("%s: access denied for user '%.*s'%s", rules.who, int(hs.user.size()),
                       hs.user.data(), known ? ": no admin role in the users file" : "");
        return login_step::refused;
    }
    c.capability = qipc::negotiate_capability(hs.capability, rules.capability_max);
    const std::size_t used = hs.length;  // hs views c.in: read before the erase below
    if (!client_queue(c, {reinterpret_cast<const char*>(&c.capability), 1}, 1) ||
        !client_flush(c)) {
        return login_step::refused;
    }
    c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(used));
    c.ready = true;
    return login_step::done;
}

}  // namespace qgate::ctl

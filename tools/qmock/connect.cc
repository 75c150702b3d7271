// Outbound connections (server::connect_out): the client half of q-IPC, for the registrar.
//
// Design note: same thread and loop as everything else. connect() is non-blocking; the
// connection waits for EPOLLOUT (`connecting`), then sends the handshake "user:pw" + 3 + NUL
// in one write (it is at most ~1 KB, so a fresh socket takes it whole; a short write closes
// the connection, which the registrar retries), then waits for the 1-byte capability reply.
// A close before that byte is q's hopen failing ('access or a refused connection). After it,
// the connection is an ordinary `conn` (conn.cc): requests on it are served, its close calls
// registrar::on_closed from close_conn.
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net/socket_util.h"
#include "server.h"

namespace qmock {
namespace {

/// Capability qmock asks for: q 3.x (compression, timestamps), as it answers (conn.cc).
constexpr uint8_t kClientCapability = 3;
constexpr std::size_t kUserMax = 1000;  ///< the handshake must fit q's 1 KB bound

/// A connected-or-connecting non-blocking socket to host:port, or -1 with `error`.
int open_socket(const std::string& host, uint16_t port, sockaddr_storage& peer,
                std::string& error) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* res = nullptr;
    const std::string service = std::to_string(port);
    if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0) {
        error = gai_strerror(rc);
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) != 0 && errno != EINPROGRESS) {
        error = strerror(errno);
        close(fd);
        fd = -1;
    } else if (fd < 0) {
        error = strerror(errno);
    }
    if (fd >= 0) std::memcpy(&peer, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return fd;
}

}  // namespace

conn* server::connect_out(const std::string& host, uint16_t port, std::string& error) {
    if (opt_.reg.user.size() > kUserMax) {
        error = "--register-user is too long";
        return nullptr;
    }
    sockaddr_storage peer{};
    const int fd = open_socket(host, port, peer, error);
    if (fd < 0) return nullptr;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto c = std::make_unique<conn>();
    c->fd = fd;
    c->id = next_conn_id_++;
    c->outbound = true;
    c->connecting = true;
    c->loopback = qgate::net::is_loopback(peer);
    c->peer = host + ":" + std::to_string(port);
    c->events = EPOLLOUT;
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        error = std::string("epoll_ctl: ") + strerror(errno);
        close(fd);
        return nullptr;
    }
    conn* raw = c.get();
    by_id_[c->id] = raw;
    conns_[fd] = std::move(c);
    return raw;
}

void server::finish_connect(conn& c) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) return close_conn(c, strerror(err));
    c.connecting = false;
    std::string hs = opt_.reg.user;
    hs.push_back(static_cast<char>(kClientCapability));
    hs.push_back('\0');
    if (::send(c.fd, hs.data(), hs.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(hs.size()))
        return close_conn(c, "handshake write failed");
    update_interest(c);  // now EPOLLIN: the capability byte
}

bool server::process_capability(conn& c) {
    if (c.in.readable() < 1) return false;
    c.capability = *c.in.read_ptr();
    c.in.consume(1);
    c.handshaken = true;
    if (opt_.verbose) log_line("connected to %s (capability %u)", c.peer.c_str(), c.capability);
    if (reg_) reg_->on_ready(c);
    return true;
}

}  // namespace qmock

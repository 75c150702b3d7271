// DESIGN: the admin endpoint's socket loop. One control-plane thread owns the listening
// socket, every admin client socket and their input buffers; nothing is shared with the
// shards except the `stats` callback, which reads their relaxed-atomic counters.
// Blocking style on purpose (it never touches the data plane): poll() over the listener, the
// clients and a stop pipe; a readable client is read once, then every complete handshake or
// frame in its buffer is answered with a blocking send (bounded by SO_SNDTIMEO so a client
// that stops reading cannot wedge the thread). stop() writes the pipe and joins; the thread
// closes every socket it owns before returning.
// Handshake as q: credentials + capability + NUL, checked against config::users; on success
// one byte min(client, 3) in its own write; on failure the socket is closed with no reply.
// Nobody can lock the admins out without a password (issue 16): a connection must
// authenticate within admin.handshake_timeout_ms (counted from accept, so trickling bytes does
// not extend it), an authenticated one silent for admin.idle_timeout_ms is closed, and at
// admin.clients_max a newcomer displaces one (admin_clients.h): poll() sleeps only until the
// earliest deadline.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "ctl/admin_clients.h"
#include "ctl/admin_query.h"
#include "qgate/admin.h"
#include "qgate/auth.h"
#include "qgate/ctl.h"
#include "qgate/log.h"
#include "qgate/qipc/compress.h"
#include "qgate/qipc/frame.h"
#include "qgate/qipc/handshake.h"

namespace qgate::ctl {
namespace {

constexpr uint8_t kAdminCapability = 3;        // no >2 GB messages on the admin port
constexpr uint64_t kAdminMessageMax = 1 << 20; // admin queries are one-liners
constexpr std::size_t kReadChunk = std::size_t{64} * 1024;
constexpr int kSendTimeoutS = 2;
// Room for a burst of connects beyond admin.clients_max: each is accepted (displacing an idle
// one) rather than left to the kernel's SYN-ACK retransmits while a flood holds the queue.
constexpr int kListenBacklog = 128;

bool send_all(int fd, const uint8_t* p, std::size_t n) {
    while (n > 0) {
        const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

uint64_t now_ms() {
    using namespace std::chrono;
    return uint64_t(duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
}

// Single writer (the admin thread): a plain add published with a relaxed store.
void inc(std::atomic<uint64_t>& c) {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

}  // namespace

struct admin_server::impl {
    int listen_fd = -1;
    int wake[2] = {-1, -1};
    uint16_t port = 0;
    config auth;  // only users, limits.handshake_bytes_max and admin_limits are copied in
    admin_counters counts;
    std::function<stat_list()> stats;
    admin_control control;
    std::thread thread;
    std::vector<admin_client> clients;

    void run();
    void accept_one();
    void close_client(std::size_t i);
    void expire(uint64_t now);
    bool serve(admin_client& c);  // false: close the client
    bool handshake(admin_client& c);
    bool answer(admin_client& c, std::span<const uint8_t> msg,
                const qipc::frame_header& h) const;
    void close_fds();
};

void admin_server::impl::run() {
    std::vector<pollfd> fds;
    for (;;) {
        fds.assign({{wake[0], POLLIN, 0}, {listen_fd, POLLIN, 0}});
        for (const admin_client& c : clients) fds.push_back({c.fd, POLLIN, 0});
        const int timeout = admin_poll_timeout(clients, auth.admin_limits, now_ms());
        if (::poll(fds.data(), fds.size(), timeout) < 0) {
            if (errno == EINTR) continue;
            QGATE_LOG_ERROR("admin: poll: %s", std::strerror(errno));
            break;
        }
        if (fds[0].revents != 0) break;
        // Serve existing clients first: indices in fds[2..] match `clients` only until accept.
        for (std::size_t i = clients.size(); i-- > 0;) {
            if (fds[i + 2].revents == 0 || serve(clients[i])) continue;
            close_client(i);
        }
        expire(now_ms());
        if (fds[1].revents != 0) accept_one();
    }
    for (admin_client& c : clients) ::close(c.fd);
    clients.clear();
    counts.clients.store(0, std::memory_order_relaxed);
}

void admin_server::impl::close_client(std::size_t i) {
    ::close(clients[i].fd);
    clients.erase(clients.begin() + static_cast<std::ptrdiff_t>(i));
    counts.clients.store(clients.size(), std::memory_order_relaxed);
}

// Closes every client past its deadline: a handshake not done in time, or an idle admin.
void admin_server::impl::expire(uint64_t now) {
    for (std::size_t i = clients.size(); i-- > 0;) {
        if (admin_deadline(clients[i], auth.admin_limits) > now) continue;
        inc(clients[i].ready ? counts.idle_closed : counts.handshake_timeouts);
        close_client(i);
    }
}

void admin_server::impl::accept_one() {
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, ECONNABORTED, EMFILE: nothing to do until the next poll
    if (!clients.empty() && clients.size() >= auth.admin_limits.clients_max) {
        // Refusing the newcomer would let idle connections lock every admin out.
        const std::size_t victim = admin_victim(clients);
        QGATE_LOG_DEBUG("admin: %zu clients connected; closing one %s to admit a new one",
                        clients.size(), clients[victim].ready ? "idle" : "in its handshake");
        inc(counts.evicted);
        close_client(victim);
    }
    const timeval tv{kSendTimeoutS, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    const uint64_t now = now_ms();
    admin_client c;
    c.fd = fd;
    c.accepted_ms = now;
    c.active_ms = now;
    clients.push_back(std::move(c));
    counts.clients.store(clients.size(), std::memory_order_relaxed);
}

bool admin_server::impl::serve(admin_client& c) {
    const std::size_t old = c.in.size();
    c.in.resize(old + kReadChunk);
    const ssize_t n = ::recv(c.fd, c.in.data() + old, kReadChunk, 0);
    if (n <= 0) return n < 0 && (errno == EINTR || errno == EAGAIN);
    c.in.resize(old + static_cast<std::size_t>(n));
    c.active_ms = now_ms();
    if (!c.ready && !handshake(c)) return false;
    while (c.ready && c.in.size() >= qipc::kHeaderSize) {
        qipc::frame_header h;
        const qipc::header_limits lim{kAdminMessageMax, c.capability};
        if (!qipc::parse_header(c.in, h, lim)) return false;  // hostile or broken: close
        if (c.in.size() < h.length) break;
        if (!answer(c, std::span(c.in).first(h.length), h)) return false;
        c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(h.length));
    }
    return true;
}

bool admin_server::impl::handshake(admin_client& c) {
    qipc::handshake hs;
    const qipc::status st = qipc::parse_handshake(c.in, hs, auth.limits.handshake_bytes_max);
    if (st.code == qipc::errc::truncated) return true;  // wait for the NUL
    if (!st) {
        inc(counts.auth_fail);
        return false;
    }
    if (!authenticate(auth, hs.user, hs.password)) {
        inc(counts.auth_fail);
        QGATE_LOG_WARN("admin: access denied for user '%.*s'", int(hs.user.size()),
                       hs.user.data());
        return false;
    }
    c.capability = qipc::negotiate_capability(hs.capability, kAdminCapability);
    if (!send_all(c.fd, &c.capability, 1)) return false;  // its own write: node-q needs it
    c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(hs.length));
    c.ready = true;
    return true;
}

bool admin_server::impl::answer(admin_client& c, std::span<const uint8_t> msg,
                                const qipc::frame_header& h) const {
    if (h.type != qipc::msg_type::sync) return true;  // async and stray responses: ignored
    std::vector<uint8_t> plain;
    if (h.compressed) {
        uint64_t ulen = 0;
        if (!qipc::uncompressed_length(msg, kAdminMessageMax, ulen)) return false;
        plain.resize(ulen);
        if (!qipc::decompress(msg, plain)) return false;
        msg = plain;
    }
    const std::vector<uint8_t> reply =
        admin_reply(msg.subspan(qipc::kHeaderSize), h.little_endian, stats, &control);
    return send_all(c.fd, reply.data(), reply.size());
}

void admin_server::impl::close_fds() {
    for (int* fd : {&listen_fd, &wake[0], &wake[1]}) {
        if (*fd >= 0) ::close(*fd);
        *fd = -1;
    }
}

admin_server::admin_server() : impl_(std::make_unique<impl>()) {}

admin_server::~admin_server() { stop(); }

bool admin_server::start(const config& cfg, std::function<stat_list()> stats,
                         std::string& error) {
    impl& s = *impl_;
    if (s.thread.joinable()) {
        error = "admin: already started";
        return false;
    }
    sockaddr_storage sa{};
    socklen_t len = 0;
    const std::string where = format_endpoint(cfg.admin);
    if (!endpoint_to_sockaddr(cfg.admin, sa, len)) {
        error = "admin: cannot listen on " + where + ": not a numeric address";
        return false;
    }
    s.listen_fd = ::socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    if (s.listen_fd < 0 ||
        ::setsockopt(s.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        ::bind(s.listen_fd, reinterpret_cast<sockaddr*>(&sa), len) != 0 ||
        ::listen(s.listen_fd, kListenBacklog) != 0 ||
        ::getsockname(s.listen_fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0 ||
        ::pipe2(s.wake, O_CLOEXEC) != 0) {
        error = "admin: cannot listen on " + where + ": " + std::strerror(errno);
        s.close_fds();
        return false;
    }
    s.port = ntohs(sa.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&sa)->sin_port
                                           : reinterpret_cast<sockaddr_in6*>(&sa)->sin6_port);
    s.auth.users = cfg.users;
    s.auth.limits.handshake_bytes_max = cfg.limits.handshake_bytes_max;
    s.auth.admin_limits = cfg.admin_limits;
    s.stats = std::move(stats);
    s.thread = std::thread([&s] { s.run(); });
    return true;
}

void admin_server::set_control(admin_control c) { impl_->control = std::move(c); }

uint16_t admin_server::port() const { return impl_->port; }

const admin_counters& admin_server::counters() const { return impl_->counts; }

void admin_server::stop() {
    impl& s = *impl_;
    if (s.thread.joinable()) {
        const char byte = 1;
        while (::write(s.wake[1], &byte, 1) < 0 && errno == EINTR) {
        }
        s.thread.join();
    }
    s.close_fds();
}

}  // namespace qgate::ctl

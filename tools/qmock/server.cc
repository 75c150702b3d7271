// qmock's process-level half: listener, epoll loop, deferred-response timers, users file,
// port file. Per-connection I/O lives in conn.cc.
//
// One thread, one level-triggered epoll loop, like q's main loop: each readable connection's
// complete messages are handled one after another, to the end, before the loop moves on. Each
// loop turn is: wait (until the next timer at most) → handle events → fire due timers → write
// every connection that has new output (one writev per connection per turn, so a pipelined
// batch of requests is answered with one write) → free closed connections.
// Connections are owned by conns_ (keyed by fd) and freed only in reap(), so raw conn pointers
// stay valid for the rest of a loop turn.
#include "server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <fstream>

#include <openssl/ssl.h>

#include "net/socket_util.h"

namespace qmock {
namespace {

std::string g_log_name = "qmock";  // NOLINT: set once before the loop starts

std::string peer_text(const sockaddr_storage& ss) {
    char host[INET6_ADDRSTRLEN] = "?";
    uint16_t port = 0;
    if (ss.ss_family == AF_INET) {
        const auto& a = reinterpret_cast<const sockaddr_in&>(ss);
        inet_ntop(AF_INET, &a.sin_addr, host, sizeof host);
        port = ntohs(a.sin_port);
    } else if (ss.ss_family == AF_INET6) {
        const auto& a = reinterpret_cast<const sockaddr_in6&>(ss);
        inet_ntop(AF_INET6, &a.sin6_addr, host, sizeof host);
        port = ntohs(a.sin6_port);
    }
    return std::string(host) + ":" + std::to_string(port);
}

}  // namespace

uint64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

void log_line(const char* fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "qmock[%s]: %s\n", g_log_name.c_str(), line);
}

server::server(options opt) : opt_(std::move(opt)) {
    g_log_name = opt_.name;
    if (opt_.tp.enabled) tp_ = std::make_unique<tickerplant>(*this, opt_.tp);
    if (opt_.reg.any()) reg_ = std::make_unique<registrar>(*this, opt_.reg);
    if (opt_.disc.enabled) disc_ = std::make_unique<discovery_service>(*this, opt_.disc);
}

conn* server::find_conn(uint64_t id) {
    auto it = by_id_.find(id);
    return it == by_id_.end() || it->second->dead ? nullptr : it->second;
}

server::~server() {
    for (auto& [fd, c] : conns_) {
        tls_free(*c);
        close(fd);
    }
    SSL_CTX_free(tls_ctx_);
    if (listen_fd_ >= 0) close(listen_fd_);
    if (epoll_fd_ >= 0) close(epoll_fd_);
    if (record_fd_ >= 0) close(record_fd_);
}

bool server::load_users(std::string& error) {
    if (opt_.users_file.empty()) return true;
    std::ifstream in(opt_.users_file);
    if (!in) {
        error = "cannot read users file " + opt_.users_file;
        return false;
    }
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || line[0] == '#') continue;
        std::size_t colon = line.find(':');
        if (colon == std::string::npos) users_[line] = "";
        else users_[line.substr(0, colon)] = line.substr(colon + 1);
    }
    if (users_.empty()) {
        error = "users file " + opt_.users_file + " has no user:password line";
        return false;
    }
    return true;
}

bool server::write_port_file(uint16_t port, std::string& error) {
    if (opt_.port_file.empty()) return true;
    std::string tmp = opt_.port_file + ".tmp." + std::to_string(getpid());
    FILE* f = fopen(tmp.c_str(), "w");
    if (!f) {
        error = "cannot write " + tmp + ": " + strerror(errno);
        return false;
    }
    bool ok = fprintf(f, "%u\n", port) > 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp.c_str(), opt_.port_file.c_str()) != 0) {
        error = "cannot write port file " + opt_.port_file + ": " + strerror(errno);
        unlink(tmp.c_str());
        return false;
    }
    return true;
}

bool server::open_record(std::string& error) {
    if (opt_.record_file.empty()) return true;
    record_fd_ = open(opt_.record_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (record_fd_ < 0) error = "cannot open record file " + opt_.record_file + ": " +
                                strerror(errno);
    return record_fd_ >= 0;
}

// Written before the message is handled, so the bytes are in the file before any reply leaves:
// a client that has its answer can read the record without waiting.
void server::record(std::span<const uint8_t> msg) {
    if (record_fd_ < 0) return;
    std::size_t done = 0;
    while (done < msg.size()) {
        ssize_t n = write(record_fd_, msg.data() + done, msg.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            log_line("cannot write record file: %s", strerror(errno));
            close(record_fd_);
            record_fd_ = -1;  // a truncated record must not look whole: stop recording
            return;
        }
        done += static_cast<std::size_t>(n);
    }
}

bool server::start(std::string& error) {
    if (!load_users(error) || !open_record(error) || !tls_start(error)) return false;
    if (opt_.work_us > 0) prctl(PR_SET_TIMERSLACK, 1UL);  // see work(): 50 us must mean 50
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    std::string port = std::to_string(opt_.port);
    int rc = getaddrinfo(opt_.host.c_str(), port.c_str(), &hints, &res);
    if (rc != 0) {
        error = "cannot resolve " + opt_.host + ": " + gai_strerror(rc);
        return false;
    }
    for (addrinfo* ai = res; ai && listen_fd_ < 0; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 4096) == 0) listen_fd_ = fd;
        else error = std::string("cannot listen on ") + opt_.host + ":" + port + ": " +
                     strerror(errno);
        if (listen_fd_ < 0) close(fd);
    }
    freeaddrinfo(res);
    if (listen_fd_ < 0) return false;

    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    uint16_t bound = ntohs(ss.ss_family == AF_INET6
                               ? reinterpret_cast<sockaddr_in6&>(ss).sin6_port
                               : reinterpret_cast<sockaddr_in&>(ss).sin_port);
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listen_fd_;
    if (epoll_fd_ < 0 || epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev) != 0) {
        error = std::string("epoll: ") + strerror(errno);
        return false;
    }
    bound_port_ = bound;
    if (!write_port_file(bound, error)) return false;
    log_line("listening on %s:%u (compress %s, %zu users, tls mode %d)", opt_.host.c_str(), bound,
             opt_.compress == compress_mode::always  ? "always"
             : opt_.compress == compress_mode::never ? "never"
                                                     : "auto",
             users_.size(), opt_.tls_mode);
    return true;
}

void server::accept_all() {
    for (;;) {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno != EAGAIN) log_line("accept: %s", strerror(errno));
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        auto c = std::make_unique<conn>();
        c->fd = fd;
        c->id = next_conn_id_++;
        c->loopback = qgate::net::is_loopback(ss);
        c->peer = peer_text(ss);
        c->events = EPOLLIN;
        c->tls_pending = opt_.tls_mode != 0;  // tls.cc: its first byte decides
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
            log_line("epoll_ctl: %s", strerror(errno));
            close(fd);
            continue;
        }
        if (opt_.verbose) log_line("connection %llu from %s", (unsigned long long)c->id,
                                   c->peer.c_str());
        by_id_[c->id] = c.get();
        conns_[fd] = std::move(c);
    }
}

void server::defer_response(conn& c, uint64_t delay_ms, std::vector<uint8_t> body,
                            bool is_error) {
    timers_.push(timer{now_ns() + delay_ms * 1000000u, timer_seq_++, c.id, is_error,
                       std::move(body)});
}

// --work-us: the request's work as time the process is not serving, like a q busy on a query.
// A sleep, not a CPU spin: on a small machine the clients, the gateway and several backends
// share the cores, and spinning backends would compete for them, so that four backends could
// never beat one. The replies already made go out first, as q writes a reply when its query
// ends. An absolute deadline, so a signal (EINTR) does not restart the wait from zero; the
// timer slack is 1 ns (set in start()), else Linux's default 50 us would double a 50 us wait.
void server::work() {
    flush_all();
    timespec due{};
    clock_gettime(CLOCK_MONOTONIC, &due);
    const int64_t ns = due.tv_nsec + opt_.work_us * 1000;
    due.tv_sec += static_cast<time_t>(ns / 1000000000);
    due.tv_nsec = static_cast<long>(ns % 1000000000);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, nullptr) == EINTR) {
    }
}

void server::fire_timers() {
    uint64_t now = now_ns();
    while (!timers_.empty() && timers_.top().due_ns <= now) {
        // Moving out of top() is safe: the ordering fields are scalars, left unchanged.
        timer t = std::move(const_cast<timer&>(timers_.top()));
        timers_.pop();
        auto it = by_id_.find(t.conn_id);
        if (it == by_id_.end() || it->second->dead) continue;  // the client has gone
        if (t.is_error)
            send_error(*it->second, std::string_view(reinterpret_cast<const char*>(t.body.data()),
                                                     t.body.size()));
        else
            send(*it->second, qgate::qipc::msg_type::response, t.body);
    }
}

int server::next_timeout_ms() const {
    uint64_t now = now_ns();
    // The soonest of the tickerplant's, the registrar's and the deferred responses' (-1: none).
    int soonest = tp_ ? tp_->next_timeout_ms(now) : -1;
    if (const int reg = reg_ ? reg_->next_timeout_ms(now) : -1; reg >= 0)
        soonest = soonest < 0 ? reg : std::min(soonest, reg);
    if (timers_.empty()) return soonest;
    uint64_t due = timers_.top().due_ns;
    if (due <= now) return 0;
    const int ms = static_cast<int>((due - now + 999999) / 1000000);
    return soonest < 0 ? ms : std::min(ms, soonest);
}

void server::reap() {
    for (int fd : dead_fds_) {
        auto it = conns_.find(fd);
        if (it == conns_.end()) continue;
        by_id_.erase(it->second->id);
        tls_free(*it->second);
        close(fd);
        conns_.erase(it);
    }
    dead_fds_.clear();
}

int server::run() {
    constexpr int kEventsMax = 256;
    epoll_event evs[kEventsMax];
    for (;;) {
        int n = epoll_wait(epoll_fd_, evs, kEventsMax, next_timeout_ms());
        if (n < 0 && errno != EINTR) {
            log_line("epoll_wait: %s", strerror(errno));
            return 1;
        }
        for (int i = 0; i < n; ++i) {
            if (evs[i].data.fd == listen_fd_) {
                accept_all();
                continue;
            }
            auto it = conns_.find(evs[i].data.fd);
            if (it != conns_.end() && !it->second->dead) on_event(*it->second, evs[i].events);
        }
        fire_timers();
        if (tp_) tp_->tick(now_ns());
        if (reg_) reg_->tick(now_ns());
        flush_dirty();
        reap();
    }
}

}  // namespace qmock

// qbench's load engine.
//
// Each worker thread owns a subset of the connections and one level-triggered epoll set.
// Requests are never copied: every connection sends the same prebuilt request, so its output
// "queue" is a count of whole requests plus an offset into the first one, written with one
// writev of up to 64 iovecs that all point at the shared request. Responses are parsed as a
// stream of headers and skipped bodies through a fixed scratch buffer (a 1 MiB reply is never
// stored). Responses come back in request order on a connection, so each connection keeps a
// FIFO of send times; latency is receive time minus send time (closed loop) or minus the
// *intended* send time (open loop, so a stalled server is charged for the whole stall and
// the measurement does not suffer coordinated omission).
// Over TLS (--tls) a connection's pending requests are written with SSL_write from one
// prebuilt batch (the request repeated, contiguous, as many times as fit in 16 KiB: one TLS
// record for a pipelined burst, as writev gives one segment), and replies are read with
// SSL_read through the same scratch buffer and parser.
// Timeline: connect all → t0 → warmup → [t_start, t_end) measured → close all.
#include "load.h"

#include <openssl/ssl.h>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "qgate/openssl_errors.h"
#include "tls_client.h"

namespace qbench {
namespace {

constexpr std::size_t kScratch = 256 * 1024;
constexpr int kIovMax = 64;
constexpr uint64_t kLateNs = 1000000;
constexpr std::size_t kTlsBatch = 16384;  ///< one TLS record's worth of requests

/// One client connection's state.
struct qconn {
    int fd = -1;
    SSL* ssl = nullptr;            ///< over TLS; nullptr for plain
    uint64_t wire0 = 0;            ///< TLS: socket bytes the SSL had read before the run
    std::deque<uint64_t> sent;     ///< send (or intended send) times of requests in flight
    uint64_t pending = 0;          ///< whole requests not yet written
    std::size_t partial = 0;       ///< bytes of the first pending request already written
    bool out_armed = false;        ///< EPOLLOUT registered
    uint8_t hdr[8] = {};
    int hdr_have = 0;
    uint64_t remaining = 0;        ///< body bytes of the current message still to come
    uint64_t msg_len = 0;
    uint8_t msg_type = 0;
    bool first_body = false;
    uint64_t next_send = 0;        ///< open loop: intended time of the next request
};

double cpu_of_self() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

class worker {
  public:
    worker(const load_spec& spec, const std::vector<uint8_t>& req,
           const std::vector<uint8_t>& batch, const std::vector<std::pair<int, SSL*>>& fds,
           uint32_t index)
        : spec_(spec), req_(req), batch_(batch), index_(index), scratch_(new uint8_t[kScratch]) {
        for (auto [fd, ssl] : fds) {
            conns_.emplace_back();
            conns_.back().fd = fd;
            conns_.back().ssl = ssl;
            if (ssl) conns_.back().wire0 = BIO_number_read(SSL_get_rbio(ssl));
        }
    }
    /// TLS: socket bytes read since construction, over every connection.
    uint64_t wire_in() const {
        uint64_t n = 0;
        for (const qconn& c : conns_)
            if (c.ssl) n += BIO_number_read(SSL_get_rbio(c.ssl)) - c.wire0;
        return n;
    }
    ~worker() {
        if (ep_ >= 0) close(ep_);
    }

    /// Runs until t_end. Worker 0 also samples CPU at t_start and t_end into `res`.
    void run(uint64_t t0, uint64_t t_start, uint64_t t_end, load_result& res);

    histogram hist;
    uint64_t rts = 0, bytes = 0, errors = 0, late = 0;
    uint64_t plain_in = 0;  ///< TLS: plaintext bytes received over the whole run
    std::string error;

  private:
    void queue(qconn& c, uint64_t when, uint64_t n);
    bool flush(qconn& c);
    bool flush_tls(qconn& c);
    bool on_readable(qconn& c, uint64_t now);
    bool on_readable_tls(qconn& c, uint64_t now);
    bool consume(qconn& c, const uint8_t* p, std::size_t left, uint64_t now);
    void complete(qconn& c, uint64_t now);
    void set_out(qconn& c, bool on);
    void open_loop_sends(uint64_t now);

    const load_spec& spec_;
    const std::vector<uint8_t>& req_;
    const std::vector<uint8_t>& batch_;  ///< TLS: req_ repeated, written from one buffer
    uint32_t index_;
    std::unique_ptr<uint8_t[]> scratch_;
    std::vector<qconn> conns_;
    int ep_ = -1;
    uint64_t t_start_ = 0, t_end_ = 0, interval_ns_ = 0;
    bool closed_loop_ = true;
};

void worker::queue(qconn& c, uint64_t when, uint64_t n) {
    c.pending += n;
    for (uint64_t i = 0; i < n; ++i) c.sent.push_back(when);
}

void worker::set_out(qconn& c, bool on) {
    if (c.out_armed == on) return;
    epoll_event ev{};
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
    ev.data.ptr = &c;
    epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
    c.out_armed = on;
}

bool worker::flush(qconn& c) {
    if (c.ssl) return flush_tls(c);
    iovec iov[kIovMax];
    while (c.pending > 0) {
        int n = 0;
        for (; n < kIovMax && uint64_t(n) < c.pending; ++n) {
            std::size_t off = n == 0 ? c.partial : 0;
            iov[n].iov_base = const_cast<uint8_t*>(req_.data() + off);
            iov[n].iov_len = req_.size() - off;
        }
        ssize_t w = writev(c.fd, iov, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) break;
            error = std::string("write: ") + strerror(errno);
            return false;
        }
        auto done = static_cast<uint64_t>(w) + c.partial;
        c.pending -= done / req_.size();
        c.partial = done % req_.size();
    }
    set_out(c, c.pending > 0);
    return true;
}

// SSL_write from the batch: the bytes of the pending requests from `partial` on are the same
// bytes at batch_ + partial (every request is the same), so a write resumed after EAGAIN
// passes the same bytes again, and at least as many (pending only grows meanwhile).
bool worker::flush_tls(qconn& c) {
    while (c.pending > 0) {
        uint64_t left = c.pending * req_.size() - c.partial;
        auto n = int(std::min<uint64_t>(left, batch_.size() - c.partial));
        int w = SSL_write(c.ssl, batch_.data() + c.partial, n);
        if (w <= 0) {
            int e = SSL_get_error(c.ssl, w);
            if (e == SSL_ERROR_WANT_WRITE) return set_out(c, true), true;
            if (e == SSL_ERROR_WANT_READ) break;  // the next EPOLLIN retries the write
            return error = "SSL_write: " + qgate::openssl_errors(), false;
        }
        auto done = static_cast<uint64_t>(w) + c.partial;
        c.pending -= done / req_.size();
        c.partial = done % req_.size();
    }
    set_out(c, false);
    return true;
}

void worker::complete(qconn& c, uint64_t now) {
    if (c.msg_type != 2) return;  // an async push, not an answer to a request
    uint64_t sent = c.sent.empty() ? now : c.sent.front();
    if (!c.sent.empty()) c.sent.pop_front();
    if (now >= t_start_ && now < t_end_) {
        hist.record(now - sent);
        ++rts;
        bytes += req_.size() + c.msg_len;
    }
    if (closed_loop_ && now < t_end_) queue(c, now, 1);
}

bool worker::on_readable(qconn& c, uint64_t now) {
    if (c.ssl) return on_readable_tls(c, now);
    for (;;) {
        ssize_t n = read(c.fd, scratch_.get(), kScratch);
        if (n == 0) return error = "connection closed by the target", false;
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return true;
            return error = std::string("read: ") + strerror(errno), false;
        }
        if (!consume(c, scratch_.get(), static_cast<std::size_t>(n), now)) return false;
        if (static_cast<std::size_t>(n) < kScratch) return true;
    }
}

bool worker::on_readable_tls(qconn& c, uint64_t now) {
    for (;;) {
        int n = SSL_read(c.ssl, scratch_.get(), int(kScratch));
        if (n <= 0) {
            int e = SSL_get_error(c.ssl, n);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return true;
            if (e == SSL_ERROR_ZERO_RETURN) return error = "TLS closed by the target", false;
            return error = "SSL_read: " + qgate::openssl_errors(), false;
        }
        plain_in += static_cast<uint64_t>(n);
        if (!consume(c, scratch_.get(), static_cast<std::size_t>(n), now)) return false;
    }
}

/// Parses `left` received bytes: headers, skipped bodies, a completion per reply.
bool worker::consume(qconn& c, const uint8_t* p, std::size_t left, uint64_t now) {
    while (left > 0) {
        if (c.remaining == 0) {
            std::size_t take = std::min<std::size_t>(8 - c.hdr_have, left);
            std::memcpy(c.hdr + c.hdr_have, p, take);
            c.hdr_have += int(take), p += take, left -= take;
            if (c.hdr_have < 8) break;
            c.hdr_have = 0;
            uint32_t lo;
            std::memcpy(&lo, c.hdr + 4, 4);
            c.msg_len = lo | (uint64_t(c.hdr[3]) << 32);
            c.msg_type = c.hdr[1];
            if (c.hdr[0] != 1 || c.msg_len < 10)
                return error = "malformed response header", false;
            c.remaining = c.msg_len - 8;
            c.first_body = true;
            continue;
        }
        std::size_t take = std::min<uint64_t>(c.remaining, left);
        if (c.first_body && c.hdr[2] == 0 && p[0] == 0x80) ++errors;
        c.first_body = false;
        c.remaining -= take, p += take, left -= take;
        if (c.remaining == 0) complete(c, now);
    }
    return true;
}

void worker::open_loop_sends(uint64_t now) {
    for (qconn& c : conns_) {
        uint64_t before = c.pending;
        while (c.next_send <= now && c.next_send < t_end_) {
            if (now - c.next_send > kLateNs && c.next_send >= t_start_) ++late;
            queue(c, c.next_send, 1);
            c.next_send += interval_ns_;
        }
        if (c.pending != before && !flush(c)) return;
    }
}

void worker::run(uint64_t t0, uint64_t t_start, uint64_t t_end, load_result& res) {
    t_start_ = t_start, t_end_ = t_end;
    closed_loop_ = spec_.rate <= 0;
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (!closed_loop_) interval_ns_ = uint64_t(1e9 * spec_.conns / spec_.rate);
    for (std::size_t i = 0; i < conns_.size(); ++i) {
        qconn& c = conns_[i];
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = &c;
        epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
        if (closed_loop_) queue(c, t0, spec_.depth);
        else c.next_send = t0 + interval_ns_ * (index_ + i * spec_.threads) / spec_.conns;
    }
    for (qconn& c : conns_)
        if (!flush(c)) return;
    bool sampled_start = index_ != 0, sampled_end = index_ != 0;
    double cpu0 = 0, self0 = 0;
    epoll_event evs[256];
    for (;;) {
        uint64_t now = now_ns();
        if (!sampled_start && now >= t_start) {
            sampled_start = true;
            cpu0 = spec_.proxy_pid ? process_cpu_s(spec_.proxy_pid) : -1;
            self0 = cpu_of_self();
        }
        if (now >= t_end) break;
        uint64_t wake = sampled_start ? t_end : t_start;
        if (!closed_loop_)
            for (const qconn& c : conns_) wake = std::min(wake, c.next_send);
        uint64_t wait = wake > now ? wake - now : 0;
        timespec ts{time_t(wait / 1000000000u), long(wait % 1000000000u)};
        int n = epoll_pwait2(ep_, evs, 256, &ts, nullptr);
        if (n < 0 && errno != EINTR) return void(error = strerror(errno));
        now = now_ns();
        for (int i = 0; i < n; ++i) {
            auto& c = *static_cast<qconn*>(evs[i].data.ptr);
            if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !on_readable(c, now)) return;
            if (c.pending > 0 && !flush(c)) return;
        }
        if (!closed_loop_) open_loop_sends(now);
        if (!error.empty()) return;
    }
    if (!sampled_end && sampled_start) {
        double cpu1 = spec_.proxy_pid ? process_cpu_s(spec_.proxy_pid) : -1;
        res.proxy_cpu_s = (cpu0 >= 0 && cpu1 >= 0) ? cpu1 - cpu0 : -1;
        res.client_cpu_s = cpu_of_self() - self0;
    }
}

void put_u32(std::vector<uint8_t>& v, std::size_t at, uint32_t x) {
    for (int i = 0; i < 4; ++i) v[at + i] = uint8_t(x >> (8 * i));
}

}  // namespace

uint64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

double process_cpu_s(int pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(f, line)) return -1;
    std::size_t rp = line.rfind(')');  // the command name may hold spaces and parentheses
    if (rp == std::string::npos) return -1;
    std::istringstream rest(line.substr(rp + 2));
    std::string field;
    unsigned long long ut = 0, st = 0;
    for (int i = 3; i < 14 && rest >> field; ++i) {
    }
    if (!(rest >> ut >> st)) return -1;  // fields 14 and 15: utime, stime (clock ticks)
    return double(ut + st) / double(sysconf(_SC_CLK_TCK));
}

double process_cpu_fine_s(int pid) {
    std::error_code ec;
    std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/task", ec);
    if (ec) return process_cpu_s(pid);
    unsigned long long total = 0;
    bool any = false;
    for (const auto& task : it) {
        std::ifstream f(task.path() / "schedstat");
        unsigned long long ns = 0;
        if (f >> ns) total += ns, any = true;
    }
    return any ? double(total) / 1e9 : process_cpu_s(pid);
}

std::vector<uint8_t> make_request(uint64_t size, bool text) {
    std::vector<uint8_t> m;
    if (text) {  // char vector: echo "xxx…"
        uint64_t n = size > 21 ? size - 21 : 0;
        m.assign(14, 0);
        std::string t = "echo \"" + std::string(n, 'x') + "\"";
        m.insert(m.end(), t.begin(), t.end());
        m[8] = 10;
        put_u32(m, 10, uint32_t(t.size()));
    } else {  // (`echo; 0x…)
        uint64_t n = size > 26 ? size - 26 : 0;
        const uint8_t head[] = {0, 0, 2, 0, 0, 0, 0xf5, 'e', 'c', 'h', 'o', 0, 4, 0};
        m.assign(8, 0);
        m.insert(m.end(), std::begin(head), std::end(head));
        m.resize(m.size() + 4);
        put_u32(m, 22, uint32_t(n));
        for (uint64_t i = 0; i < n; ++i) m.push_back(uint8_t(i % 251));
    }
    m[0] = 1;
    m[1] = 1;  // sync
    put_u32(m, 4, uint32_t(m.size()));
    return m;
}

bool resolve(const std::string& host, uint16_t port, sockaddr_storage& addr, unsigned& len,
             std::string& error) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0)
        return error = std::string("resolve ") + host + ": " + gai_strerror(rc), false;
    std::memcpy(&addr, res->ai_addr, res->ai_addrlen);
    len = res->ai_addrlen;
    freeaddrinfo(res);
    return true;
}

int connect_q(const std::string& host, uint16_t port, const std::string& credentials,
              std::string& error, int timeout_ms, SSL_CTX* tls, SSL** ssl_out) {
    sockaddr_storage addr{};
    unsigned alen = 0;
    if (!resolve(host, port, addr, alen, error)) return -1;
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int rc = fd < 0 ? -1 : connect(fd, reinterpret_cast<sockaddr*>(&addr), alen);
    if (fd < 0) return error = std::string("socket: ") + strerror(errno), -1;
    SSL* ssl = nullptr;
    auto fail = [&](const std::string& what) {
        error = what;
        tls_free(ssl);
        close(fd);
        return -1;
    };
    pollfd pfd{fd, POLLOUT, 0};
    if (rc != 0 && errno != EINPROGRESS) return fail(std::string("connect: ") + strerror(errno));
    if (rc != 0 && poll(&pfd, 1, timeout_ms) != 1) return fail("connect: timeout");
    int soerr = 0;
    socklen_t len = sizeof soerr;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
    if (soerr != 0) return fail(std::string("connect: ") + strerror(soerr));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::string hs = credentials + '\3' + '\0';
    uint8_t cap = 0;
    if (tls) {
        ssl = tls_connect(tls, fd, timeout_ms, error);
        if (ssl == nullptr) return fail(error);
        if (!tls_write_all(ssl, fd, hs.data(), hs.size(), timeout_ms))
            return fail("handshake: TLS write failed");
        if (tls_read_some(ssl, fd, &cap, 1, timeout_ms) != 1)
            return fail("handshake refused or timed out (no capability byte)");
        *ssl_out = ssl;
        return fd;
    }
    if (send(fd, hs.data(), hs.size(), MSG_NOSIGNAL) != ssize_t(hs.size()))
        return fail("handshake: send failed");
    pfd.events = POLLIN;
    if (poll(&pfd, 1, timeout_ms) != 1 || read(fd, &cap, 1) != 1)
        return fail("handshake refused or timed out (no capability byte)");
    return fd;
}

namespace {

/// The request repeated as many times as fit in one TLS record (at least once).
std::vector<uint8_t> make_batch(const std::vector<uint8_t>& req) {
    std::size_t k = std::max<std::size_t>(1, kTlsBatch / req.size());
    std::vector<uint8_t> b;
    b.reserve(k * req.size());
    for (std::size_t i = 0; i < k; ++i) b.insert(b.end(), req.begin(), req.end());
    return b;
}

using conn_list = std::vector<std::vector<std::pair<int, SSL*>>>;

void close_all(conn_list& fds) {
    for (auto& v : fds)
        for (auto [fd, ssl] : v) tls_free(ssl), close(fd);
}

}  // namespace

load_result run_load(const load_spec& spec) {
    if (spec.handshakes) return run_handshakes(spec);
    load_result res;
    std::vector<uint8_t> req = make_request(spec.size, spec.text);
    std::vector<uint8_t> batch = spec.tls ? make_batch(req) : std::vector<uint8_t>{};
    SSL_CTX* ctx = spec.tls ? tls_client_ctx(spec.tls_ca, res.error) : nullptr;
    if (spec.tls && ctx == nullptr) return res;
    uint32_t threads = std::max<uint32_t>(1, std::min(spec.threads, spec.conns));
    conn_list fds(threads);
    for (uint32_t i = 0; i < spec.conns; ++i) {
        SSL* ssl = nullptr;
        int fd = connect_q(spec.host, spec.port, spec.credentials, res.error, 5000, ctx, &ssl);
        if (fd < 0) {
            close_all(fds);
            tls_free_ctx(ctx);
            return res;
        }
        if (ssl && res.tls_info.empty()) res.tls_info = tls_describe(ssl);
        fds[i % threads].emplace_back(fd, ssl);
    }
    std::vector<std::unique_ptr<worker>> workers;
    for (uint32_t t = 0; t < threads; ++t)
        workers.push_back(std::make_unique<worker>(spec, req, batch, fds[t], t));
    uint64_t t0 = now_ns() + 1000000;
    uint64_t t_start = t0 + uint64_t(spec.warmup_s * 1e9);
    uint64_t t_end = t_start + uint64_t(spec.duration_s * 1e9);
    std::vector<std::thread> pool;
    for (uint32_t t = 1; t < threads; ++t)
        pool.emplace_back([&, t] { workers[t]->run(t0, t_start, t_end, res); });
    workers[0]->run(t0, t_start, t_end, res);
    for (auto& th : pool) th.join();
    uint64_t wire = 0, plain = 0;
    for (auto& w : workers) wire += w->wire_in(), plain += w->plain_in;
    res.tls_wire_ratio = plain ? double(wire) / double(plain) : 0;
    close_all(fds);
    tls_free_ctx(ctx);
    res.seconds = double(t_end - t_start) / 1e9;
    for (auto& w : workers) {
        if (!w->error.empty() && res.error.empty()) res.error = w->error;
        res.latency.merge(w->hist);
        res.round_trips += w->rts;
        res.bytes += w->bytes;
        res.errors += w->errors;
        res.late += w->late;
    }
    res.ok = res.error.empty();
    return res;
}

}  // namespace qbench

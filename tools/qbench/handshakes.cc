// qbench --handshakes: connection set-up rate (load.h). One thread, one epoll set, every
// step non-blocking: each of the `conns` slots connects, runs the TLS handshake (--tls), sends
// the q credentials, waits for the capability byte, closes, and starts again at once. Closing
// first leaves the client's side in TIME_WAIT; loopback connects may reuse those ports
// (net.ipv4.tcp_tw_reuse = 2, the default), so a run of tens of thousands of set-ups does not
// run out of them.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>

#include "load.h"
#include "tls_client.h"

namespace qbench {
namespace {

enum class step : uint8_t { connecting, tls, qsend, qrecv };

struct slot {
    int fd = -1;
    SSL* ssl = nullptr;
    step st = step::connecting;
    uint32_t events = 0;   ///< registered with epoll (0: not registered)
    std::size_t sent = 0;  ///< credentials bytes written
    uint64_t t0 = 0;       ///< connect() time
};

class setup_loop {
  public:
    setup_loop(const load_spec& spec, SSL_CTX* ctx, load_result& res)
        : spec_(spec), ctx_(ctx), res_(res), hs_(spec.credentials + '\3' + '\0') {}
    ~setup_loop() {
        for (slot& s : slots_) drop(s);
        if (ep_ >= 0) close(ep_);
    }
    void run();

  private:
    void start(slot& s);
    void advance(slot& s);
    bool want(slot& s, uint32_t ev);
    /// Counts the set-up, closes it and starts the next (`restart`; else the slot idles until
    /// the loop restarts it: a set-up that fails inside start() must not recurse).
    void finish(slot& s, bool ok, const char* why, bool restart = true);
    void drop(slot& s);
    /// The next move of a TLS call that did not complete: wait (true) or fail (false).
    bool tls_wait(slot& s, int rc);

    const load_spec& spec_;
    SSL_CTX* ctx_;
    load_result& res_;
    const std::string hs_;
    std::vector<slot> slots_;
    sockaddr_storage addr_{};
    unsigned alen_ = 0;
    int ep_ = -1;
    uint64_t t_start_ = 0, t_end_ = 0;
};

void setup_loop::drop(slot& s) {
    tls_free(s.ssl);
    if (s.fd >= 0) close(s.fd);  // also leaves the epoll set
    s.ssl = nullptr, s.fd = -1, s.events = 0;
}

bool setup_loop::want(slot& s, uint32_t ev) {
    if (s.events == ev) return true;
    epoll_event e{};
    e.events = ev;
    e.data.ptr = &s;
    int rc = epoll_ctl(ep_, s.events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s.fd, &e);
    s.events = ev;
    return rc == 0;
}

void setup_loop::finish(slot& s, bool ok, const char* why, bool restart) {
    uint64_t now = now_ns();
    bool counted = now >= t_start_ && now < t_end_;
    if (ok && counted) {
        ++res_.round_trips;
        res_.latency.record(now - s.t0);
    } else if (!ok) {
        ++res_.errors;
        if (res_.error.empty()) res_.error = why;
    }
    if (ok && s.ssl && res_.tls_info.empty()) res_.tls_info = tls_describe(s.ssl);
    drop(s);
    if (restart && now < t_end_) start(s);
}

void setup_loop::start(slot& s) {
    s.st = step::connecting, s.sent = 0, s.t0 = now_ns();
    s.fd = socket(addr_.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s.fd < 0) return finish(s, false, "socket failed", false);
    int rc = connect(s.fd, reinterpret_cast<sockaddr*>(&addr_), alen_);
    if (rc != 0 && errno != EINPROGRESS) return finish(s, false, "connect failed", false);
    if (!want(s, EPOLLOUT)) return finish(s, false, "epoll_ctl failed", false);
}

bool setup_loop::tls_wait(slot& s, int rc) {
    int e = SSL_get_error(s.ssl, rc);
    if (e == SSL_ERROR_WANT_READ) return want(s, EPOLLIN);
    if (e == SSL_ERROR_WANT_WRITE) return want(s, EPOLLOUT);
    return false;
}

// Runs the slot's steps as far as the socket allows.
void setup_loop::advance(slot& s) {
    if (s.st == step::connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) return finish(s, false, "connect refused");
        int one = 1;
        setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        s.st = step::qsend;
        if (ctx_) {
            s.ssl = SSL_new(ctx_);
            if (s.ssl == nullptr || SSL_set_fd(s.ssl, s.fd) != 1)
                return finish(s, false, "SSL_new failed");
            SSL_set_connect_state(s.ssl);
            s.st = step::tls;
        }
    }
    if (s.st == step::tls) {
        int rc = SSL_do_handshake(s.ssl);
        if (rc != 1) {
            if (!tls_wait(s, rc)) finish(s, false, "TLS handshake failed");
            return;
        }
        s.st = step::qsend;
    }
    if (s.st == step::qsend) {
        const char* p = hs_.data() + s.sent;
        auto n = int(hs_.size() - s.sent);
        int w = s.ssl ? SSL_write(s.ssl, p, n) : int(send(s.fd, p, n, MSG_NOSIGNAL));
        if (w <= 0) {
            bool wait = s.ssl ? tls_wait(s, w) : (errno == EAGAIN && want(s, EPOLLOUT));
            if (!wait) finish(s, false, "sending the q credentials failed");
            return;
        }
        s.sent += std::size_t(w);
        if (s.sent < hs_.size()) return void(want(s, EPOLLOUT));
        s.st = step::qrecv;
    }
    uint8_t cap = 0;
    int r = s.ssl ? SSL_read(s.ssl, &cap, 1) : int(read(s.fd, &cap, 1));
    if (r == 1) return finish(s, true, "");
    bool wait = s.ssl ? tls_wait(s, r) : r < 0 && errno == EAGAIN && want(s, EPOLLIN);
    if (!wait) finish(s, false, "q handshake refused (no capability byte)");
}

void setup_loop::run() {
    if (!resolve(spec_.host, spec_.port, addr_, alen_, res_.error)) return;
    res_.error.clear();
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    uint64_t t0 = now_ns();
    t_start_ = t0 + uint64_t(spec_.warmup_s * 1e9);
    t_end_ = t_start_ + uint64_t(spec_.duration_s * 1e9);
    slots_.resize(spec_.conns);  // started by the loop's first turn
    bool sampled = false;
    double cpu0 = -1;
    epoll_event evs[256];
    for (uint64_t now = now_ns(); now < t_end_; now = now_ns()) {
        if (!sampled && now >= t_start_) {
            sampled = true;
            cpu0 = spec_.proxy_pid ? process_cpu_s(spec_.proxy_pid) : -1;
        }
        bool idle = false;  // a slot whose start failed: retried here, 1 ms apart
        for (slot& s : slots_)
            if (s.fd < 0) start(s), idle = idle || s.fd < 0;
        uint64_t wait = std::min<uint64_t>((sampled ? t_end_ : t_start_) - now,
                                           idle ? 1000000 : UINT64_MAX);
        timespec ts{time_t(wait / 1000000000u), long(wait % 1000000000u)};
        int n = epoll_pwait2(ep_, evs, 256, &ts, nullptr);
        for (int i = 0; i < n; ++i) advance(*static_cast<slot*>(evs[i].data.ptr));
    }
    double cpu1 = spec_.proxy_pid ? process_cpu_s(spec_.proxy_pid) : -1;
    res_.proxy_cpu_s = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;
}

}  // namespace

load_result run_handshakes(const load_spec& spec) {
    load_result res;
    SSL_CTX* ctx = spec.tls ? tls_client_ctx(spec.tls_ca, res.error) : nullptr;
    if (spec.tls && ctx == nullptr) return res;
    {
        setup_loop loop(spec, ctx, res);
        loop.run();
    }
    tls_free_ctx(ctx);
    res.seconds = spec.duration_s;
    // A few failed set-ups (a refused connect under load) are reported, not fatal; none
    // completed at all is.
    res.ok = res.round_trips > 0;
    if (res.ok && res.errors == 0) res.error.clear();
    return res;
}

}  // namespace qbench

// The epoll backend: same interface and completion records as io_uring, for hosts where
// io_uring is blocked (Docker seccomp, kernel.io_uring_disabled, memlock).
//
// Design note. Sockets are non-blocking and registered once, edge-triggered, for
// IN|OUT|RDHUP. The backend emulates the uring operations on top of readiness:
//  * multishot recv: on readability, read into a pool buffer and emit a recv completion with
//    kFlagMore|kFlagBuffer. A full buffer may mean more data, so the fd stays on a ready list
//    (edge-triggered epoll will not report it again) and is read again on the next wait(),
//    at most kReadsPerWait buffers per fd per wait so one fast peer cannot starve the others.
//    An empty pool ends the "multishot" with -ENOBUFS, exactly like the kernel's buffer ring.
//  * recv_into: the same ready-list machinery, reading once into the caller's memory and
//    ending the operation (no kFlagMore). Completes with what one read() returns, even when
//    `all` asked for more: callers handle short reads anyway. A read that came back short
//    drained the socket (TCP returns less than asked only when its queue ran dry, which the
//    multishot emulation relies on too), so the next recv_into on that fd waits for the next
//    EPOLLIN edge instead of trying at once: a pool connection re-arms right after each reply
//    and would otherwise pay one read() returning EAGAIN per reply.
//  * sendmsg: attempted at once; EAGAIN parks the msghdr until EPOLLOUT. Results are queued
//    and delivered by the next wait(), never re-entrantly.
//  * connect: EINPROGRESS, then EPOLLOUT + SO_ERROR.
//  * wake / notify: one eventfd per backend.
// Per-fd state lives in a table indexed by fd (grown on demand: fds are small integers).
// Shard thread only, except notify().

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "io/backend.h"

namespace qgate::io {

namespace {

constexpr int kReadsPerWait = 4;
constexpr int kAcceptsPerWait = 64;
constexpr int kEvents = 256;
constexpr uint64_t kEventfdTag = ~uint64_t{0};

struct fd_state {
    uint64_t recv_ud = 0;
    uint64_t send_ud = 0;
    uint64_t connect_ud = 0;
    uint64_t accept_ud = 0;
    const msghdr* send_msg = nullptr;
    uint8_t* into = nullptr;  ///< recv_into target (nullptr: the armed recv is multishot)
    uint32_t into_len = 0;
    bool readable = true;  ///< recv_into: no read found the socket drained since the last edge
    /// The peer shut down its write side (RDHUP, HUP or an error was reported): its EOF comes
    /// after the data still queued, and no new edge will announce it, so a short read does not
    /// mean "wait for the next edge" any more: read on until read() says EOF.
    bool rdhup = false;
    bool registered = false;
    bool recv_armed = false;
    bool on_ready = false;
    bool connecting = false;
    bool listening = false;
};

class epoll_backend final : public io_backend {
  public:
    epoll_backend() = default;
    epoll_backend(const epoll_backend&) = delete;  // owns the epoll fd, eventfd and buffers
    epoll_backend& operator=(const epoll_backend&) = delete;
    ~epoll_backend() override;
    bool init(const backend_options& o, std::string& error);

    backend_kind kind() const override { return backend_kind::epoll; }
    const char* name() const override { return "epoll"; }
    void accept_multishot(int fd, uint64_t ud) override;
    void recv_multishot(int fd, uint64_t ud) override;
    void recv_into(int fd, uint64_t ud, uint8_t* buf, uint32_t len, bool all) override;
    void send_msg(int fd, uint64_t ud, const msghdr* msg) override;
    void connect(int fd, uint64_t ud, const sockaddr* sa, socklen_t len) override;
    void cancel(int fd, uint64_t ud) override;
    void cancel_fd(int fd) override;
    void close_fd(int fd) override;
    int wait(completion* out, int cap, int timeout_ms) override;
    void wake_peer(io_backend& peer) override { peer.notify(); }
    void notify() override;

  private:
    fd_state& st(int fd);
    void ensure_registered(int fd, uint32_t events);
    void post(uint64_t ud, int32_t res, uint32_t flags) { pending_.push_back({ud, res, flags}); }
    void on_event(int fd, uint32_t ev);
    void try_send(int fd, fd_state& s);
    void do_accepts(int fd, fd_state& s);
    bool read_some(int fd, fd_state& s);
    void read_into(int fd, fd_state& s);
    void run_ready();

    int epfd_ = -1;
    int efd_ = -1;
    std::vector<fd_state> fds_;
    std::vector<int> ready_;
    std::vector<int> ready_next_;
    std::vector<completion> pending_;
    size_t pending_head_ = 0;
};

epoll_backend::~epoll_backend() {
    if (epfd_ >= 0) ::close(epfd_);
    if (efd_ >= 0) ::close(efd_);
}

bool epoll_backend::init(const backend_options& o, std::string& error) {
    if (!pool_.init(o.buf_entries, o.buf_size)) {
        error = "cannot allocate the receive buffer pool";
        return false;
    }
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    efd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (epfd_ < 0 || efd_ < 0) {
        error = std::string("epoll/eventfd: ") + strerror(errno);
        return false;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kEventfdTag;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, efd_, &ev);
    fds_.resize(1024);
    pending_.reserve(4096);
    ready_.reserve(1024);
    ready_next_.reserve(1024);
    return true;
}

fd_state& epoll_backend::st(int fd) {
    if (static_cast<size_t>(fd) >= fds_.size()) fds_.resize(static_cast<size_t>(fd) * 2 + 1);
    return fds_[static_cast<size_t>(fd)];
}

void epoll_backend::ensure_registered(int fd, uint32_t events) {
    fd_state& s = st(fd);
    if (s.registered) return;
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = static_cast<uint64_t>(fd);
    epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
    s.registered = true;
}

void epoll_backend::accept_multishot(int fd, uint64_t ud) {
    fd_state& s = st(fd);
    s.accept_ud = ud;
    s.listening = true;
    ensure_registered(fd, EPOLLIN);  // level-triggered: a backlog left over is reported again
}

void epoll_backend::recv_multishot(int fd, uint64_t ud) {
    ensure_registered(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
    fd_state& s = st(fd);
    s.recv_ud = ud;
    s.recv_armed = true;
    s.into = nullptr;
    // Data may already be waiting (re-arm after ENOBUFS or a pause): the edge is gone, so try.
    if (!s.on_ready) {
        s.on_ready = true;
        ready_.push_back(fd);
    }
}

void epoll_backend::recv_into(int fd, uint64_t ud, uint8_t* buf, uint32_t len, bool) {
    ensure_registered(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
    fd_state& s = st(fd);
    s.recv_ud = ud;
    s.recv_armed = true;
    s.into = buf;
    s.into_len = len;
    if (s.readable && !s.on_ready) {
        s.on_ready = true;
        ready_.push_back(fd);
    }
}

void epoll_backend::send_msg(int fd, uint64_t ud, const msghdr* msg) {
    ensure_registered(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
    fd_state& s = st(fd);
    s.send_ud = ud;
    s.send_msg = msg;
    try_send(fd, s);
}

void epoll_backend::try_send(int fd, fd_state& s) {
    const msghdr* m = s.send_msg;
    // One iovec: send() spares the kernel the msghdr copy and iovec import.
    ssize_t n = m->msg_iovlen == 1 && m->msg_name == nullptr && m->msg_controllen == 0
                    ? ::send(fd, m->msg_iov[0].iov_base, m->msg_iov[0].iov_len,
                             MSG_NOSIGNAL | MSG_DONTWAIT)
                    : ::sendmsg(fd, m, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // wait for EPOLLOUT
    post(s.send_ud, n < 0 ? -errno : static_cast<int32_t>(n), 0);
    s.send_msg = nullptr;
}

void epoll_backend::connect(int fd, uint64_t ud, const sockaddr* sa, socklen_t len) {
    int r = ::connect(fd, sa, len);
    if (r == 0 || errno != EINPROGRESS) {
        post(ud, r == 0 ? 0 : -errno, 0);
        return;
    }
    ensure_registered(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
    fd_state& s = st(fd);
    s.connect_ud = ud;
    s.connecting = true;
}

void epoll_backend::cancel(int fd, uint64_t ud) {
    fd_state& s = st(fd);
    if (s.recv_armed && s.recv_ud == ud) {
        s.recv_armed = false;
        s.into = nullptr;
        post(ud, -ECANCELED, 0);
    }
}

void epoll_backend::cancel_fd(int fd) {
    fd_state& s = st(fd);
    if (s.recv_armed) post(s.recv_ud, -ECANCELED, 0);
    if (s.send_msg != nullptr) post(s.send_ud, -ECANCELED, 0);
    if (s.connecting) post(s.connect_ud, -ECANCELED, 0);
    if (s.listening) post(s.accept_ud, -ECANCELED, 0);
    s.recv_armed = s.connecting = s.listening = false;
    s.send_msg = nullptr;
    s.into = nullptr;
}

void epoll_backend::close_fd(int fd) {
    fd_state& s = st(fd);
    if (s.registered) epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
    s = fd_state{};
    ::close(fd);  // an fd still on ready_ is skipped there: recv_armed is now false
}

void epoll_backend::notify() {
    uint64_t one = 1;
    ssize_t r = ::write(efd_, &one, sizeof one);
    (void)r;
}

void epoll_backend::do_accepts(int fd, fd_state& s) {
    for (int i = 0; i < kAcceptsPerWait && s.listening; ++i) {
        int c = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            post(s.accept_ud, -errno, kFlagMore);
            return;
        }
        post(s.accept_ud, c, kFlagMore);
    }
}

// Reads one buffer. Returns true when the fd may have more to read right now.
bool epoll_backend::read_some(int fd, fd_state& s) {
    int bid = pool_.acquire();
    if (bid < 0) {
        s.recv_armed = false;
        post(s.recv_ud, -ENOBUFS, 0);
        return false;
    }
    ssize_t n = ::read(fd, pool_.data(static_cast<uint16_t>(bid)), pool_.size());
    if (n > 0) {
        post(s.recv_ud, static_cast<int32_t>(n),
             kFlagMore | kFlagBuffer | static_cast<uint32_t>(bid) << kBufferShift);
        return static_cast<uint32_t>(n) == pool_.size() || s.rdhup;
    }
    pool_.release(static_cast<uint16_t>(bid));
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
    s.recv_armed = false;
    post(s.recv_ud, n == 0 ? 0 : -errno, 0);
    return false;
}

// One read into the recv_into target; ends the operation unless nothing was there yet.
void epoll_backend::read_into(int fd, fd_state& s) {
    ssize_t n = ::read(fd, s.into, s.into_len);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        s.readable = false;
        return;  // wait for the edge
    }
    if (n >= 0 && static_cast<uint32_t>(n) < s.into_len && !s.rdhup) s.readable = false;  // drained
    s.recv_armed = false;
    s.into = nullptr;
    post(s.recv_ud, n < 0 ? -errno : static_cast<int32_t>(n), 0);
}

void epoll_backend::run_ready() {
    ready_next_.clear();
    for (int fd : ready_) {
        fd_state& s = st(fd);
        s.on_ready = false;
        bool more = false;
        if (s.recv_armed && s.into != nullptr) {
            read_into(fd, s);
            continue;
        }
        for (int i = 0; i < kReadsPerWait && s.recv_armed; ++i) {
            more = read_some(fd, s);
            if (!more) break;
        }
        if (more && s.recv_armed) {
            s.on_ready = true;
            ready_next_.push_back(fd);
        }
    }
    ready_.swap(ready_next_);
}

void epoll_backend::on_event(int fd, uint32_t ev) {
    fd_state& s = st(fd);
    if (s.listening) {
        do_accepts(fd, s);
        return;
    }
    const bool err = (ev & (EPOLLERR | EPOLLHUP)) != 0;
    if (s.connecting && (err || (ev & EPOLLOUT) != 0)) {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        s.connecting = false;
        post(s.connect_ud, -soerr, 0);
    }
    if (s.send_msg != nullptr && (err || (ev & EPOLLOUT) != 0)) try_send(fd, s);
    if (err || (ev & (EPOLLIN | EPOLLRDHUP)) != 0) s.readable = true;  // a new edge
    if (err || (ev & EPOLLRDHUP) != 0) s.rdhup = true;
    if (s.recv_armed && !s.on_ready && (err || (ev & (EPOLLIN | EPOLLRDHUP)) != 0)) {
        s.on_ready = true;
        ready_.push_back(fd);
    }
}

int epoll_backend::wait(completion* out, int cap, int timeout_ms) {
    const bool busy = pending_head_ < pending_.size() || !ready_.empty();
    epoll_event evs[kEvents];
    ++stats_.enters;
    int n = epoll_wait(epfd_, evs, kEvents, busy ? 0 : timeout_ms);
    for (int i = 0; i < n; ++i) {
        if (evs[i].data.u64 == kEventfdTag) {
            uint64_t v = 0;
            ssize_t r = ::read(efd_, &v, sizeof v);
            (void)r;
            post(pack_ud(op::notify, 0, 0), 0, 0);
            continue;
        }
        on_event(static_cast<int>(evs[i].data.u64), evs[i].events);
    }
    run_ready();
    int k = 0;
    while (k < cap && pending_head_ < pending_.size()) out[k++] = pending_[pending_head_++];
    if (pending_head_ == pending_.size()) {
        pending_.clear();
        pending_head_ = 0;
    }
    stats_.cqes += static_cast<uint64_t>(k);
    return k;
}

}  // namespace

std::unique_ptr<io_backend> make_epoll_backend(const backend_options& o, std::string& error) {
    auto b = std::make_unique<epoll_backend>();
    if (!b->init(o, error)) return nullptr;
    return b;
}

}  // namespace qgate::io

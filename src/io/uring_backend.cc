// The io_uring backend: one ring per shard, created on the shard's thread.
//
// Design note. Setup follows PERFORMANCE.md's minimum viable ring:
//  * SINGLE_ISSUER (6.0): only this thread submits, which lets the kernel skip locking;
//    this is why the ring must be created on the shard thread, never handed over.
//  * DEFER_TASKRUN (6.1): completions are produced only when we enter with GETEVENTS, in
//    batches, instead of interrupting the thread with task work. Every wait() therefore enters
//    with GETEVENTS (submit_and_get_events / submit_and_wait*), never a bare submit, or
//    completions would stall (pitfall 8). Kernels that refuse it get EINVAL and we retry
//    without it (COOP_TASKRUN is the next best: no IPI, task work at the next transition).
//  * CQSIZE 4096 vs SQ 256: multishot ops post many CQEs per SQE. SUBMIT_ALL: one bad SQE does
//    not strand the rest of the batch.
//  * register_ring_fd: saves an fdget/fdput per enter.
//  * Provided buffers: one ring (group 0) shared by every multishot recv of the shard; buffers
//    return through buf_pool::release and become visible in one tail store per wait().
//  * Cross-shard wake: IORING_OP_MSG_RING posts a CQE (op::wake) straight into the peer's CQ.
//    Outside threads (signal handling, tests) write an eventfd that a pending READ watches.
// Our own cancel and MSG_RING SQEs use CQE_SKIP_SUCCESS so they cost no CQE when they work.

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "io/backend.h"
#include "io/uring_compat.h"

namespace qgate::io {

namespace {

constexpr int kBufGroup = 0;

class uring_backend final : public io_backend {
  public:
    uring_backend() = default;
    uring_backend(const uring_backend&) = delete;  // owns the ring and its buffer ring
    uring_backend& operator=(const uring_backend&) = delete;
    ~uring_backend() override;
    bool init(const backend_options& o, std::string& error);

    backend_kind kind() const override { return backend_kind::uring; }
    const char* name() const override {
        return defer_ ? "io_uring" : "io_uring (no DEFER_TASKRUN)";
    }
    void accept_multishot(int fd, uint64_t ud) override;
    void recv_multishot(int fd, uint64_t ud) override;
    void recv_into(int fd, uint64_t ud, uint8_t* buf, uint32_t len, bool all) override;
    void send_msg(int fd, uint64_t ud, const msghdr* msg) override;
    void connect(int fd, uint64_t ud, const sockaddr* sa, socklen_t len) override;
    void cancel(int fd, uint64_t ud) override;
    void cancel_fd(int fd) override;
    void close_fd(int fd) override { ::close(fd); }
    int wait(completion* out, int cap, int timeout_ms) override;
    void wake_peer(io_backend& peer) override;
    void notify() override;

  private:
    io_uring_sqe* get_sqe();
    void arm_notify();
    int enter(int timeout_ms);
    int drain(completion* out, int cap);

    io_uring ring_{};
    bool ring_ok_ = false;
    bool defer_ = false;
    io_uring_buf_ring* br_ = nullptr;
    uint32_t br_entries_ = 0;
    int efd_ = -1;
    uint64_t efd_value_ = 0;
};

int create_ring(io_uring& ring, const backend_options& o, bool& defer) {
    io_uring_params p{};
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE |
              IORING_SETUP_SUBMIT_ALL;
    p.cq_entries = o.cq_entries;
    int ret = io_uring_queue_init_params(o.sq_entries, &ring, &p);
    defer = ret == 0;
    if (ret == -EINVAL) {
        io_uring_params q{};
        q.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_CQSIZE |
                  IORING_SETUP_SUBMIT_ALL;
        q.cq_entries = o.cq_entries;
        ret = io_uring_queue_init_params(o.sq_entries, &ring, &q);
    }
    return ret;
}

int io_uring_disabled_sysctl() {
    FILE* f = fopen("/proc/sys/kernel/io_uring_disabled", "r");
    if (f == nullptr) return -1;
    int v = -1;
    if (fscanf(f, "%d", &v) != 1) v = -1;
    fclose(f);
    return v;
}

std::string explain_ring_error(int err) {
    std::string s = "io_uring_setup failed: ";
    s += strerror(-err);
    switch (-err) {
    case EPERM: {
        int d = io_uring_disabled_sysctl();
        if (d > 0) {
            s += " (kernel.io_uring_disabled=" + std::to_string(d) +
                 "; remedy: sysctl -w kernel.io_uring_disabled=0, or run as a member of "
                 "kernel.io_uring_group)";
        } else {
            s += " (blocked by a seccomp profile, e.g. Docker's default; remedy: "
                 "--security-opt seccomp=<profile allowing io_uring_*>)";
        }
        break;
    }
    case ENOSYS:
        s += " (kernel without io_uring, or seccomp returns ENOSYS; remedy: kernel >= 6.1 "
             "with CONFIG_IO_URING, or allow io_uring_* syscalls)";
        break;
    case ENOMEM:
        s += " (locked-memory limit too low for the rings; remedy: ulimit -l 65536, or docker "
             "--ulimit memlock=-1)";
        break;
    case EINVAL:
        s += " (kernel too old for SINGLE_ISSUER/SUBMIT_ALL; remedy: kernel >= 6.1)";
        break;
    default:
        break;
    }
    return s;
}

uring_backend::~uring_backend() {
    if (!ring_ok_) return;
    if (br_ != nullptr) compat::free_buf_ring(&ring_, br_, br_entries_, kBufGroup);
    io_uring_queue_exit(&ring_);
    if (efd_ >= 0) ::close(efd_);
}

bool uring_backend::init(const backend_options& o, std::string& error) {
    int ret = create_ring(ring_, o, defer_);
    if (ret < 0) {
        error = explain_ring_error(ret);
        return false;
    }
    ring_ok_ = true;
    io_uring_register_ring_fd(&ring_);  // optional: failure only costs an fdget per enter
    if (!pool_.init(o.buf_entries, o.buf_size)) {
        error = "cannot allocate the receive buffer pool";
        return false;
    }
    int err = 0;
    br_ = compat::setup_buf_ring(&ring_, o.buf_entries, kBufGroup, err);
    if (br_ == nullptr) {
        error = std::string("provided-buffer ring registration failed: ") + strerror(-err) +
                " (needs kernel >= 5.19)";
        return false;
    }
    br_entries_ = o.buf_entries;
    pool_.attach_ring(br_);
    efd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd_ < 0) {
        error = std::string("eventfd: ") + strerror(errno);
        return false;
    }
    arm_notify();
    return true;
}

io_uring_sqe* uring_backend::get_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    while (sqe == nullptr) {
        // SQ full: submit what we have (no wait) and try again. Completions stay queued.
        ++stats_.sq_full;
        ++stats_.enters;
        int ret = io_uring_submit(&ring_);
        if (ret == -EBUSY) ++stats_.cq_overflow;
        sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
}

void uring_backend::arm_notify() {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_read(sqe, efd_, &efd_value_, sizeof efd_value_, 0);
    io_uring_sqe_set_data64(sqe, pack_ud(op::notify, 0, 0));
}

void uring_backend::accept_multishot(int fd, uint64_t ud) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_multishot_accept(sqe, fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, ud);
}

void uring_backend::recv_multishot(int fd, uint64_t ud) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = kBufGroup;
    io_uring_sqe_set_data64(sqe, ud);
}

void uring_backend::recv_into(int fd, uint64_t ud, uint8_t* buf, uint32_t len, bool all) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_recv(sqe, fd, buf, len, all ? MSG_WAITALL : 0);
    io_uring_sqe_set_data64(sqe, ud);
}

// One iovec (a closed-loop reply, a handshake byte) goes out as IORING_OP_SEND: the kernel
// then skips copying and checking the msghdr and importing the iovec array (~2 % of the CPU
// per message in a 32-connection closed loop).
void uring_backend::send_msg(int fd, uint64_t ud, const msghdr* msg) {
    io_uring_sqe* sqe = get_sqe();
    if (msg->msg_iovlen == 1 && msg->msg_name == nullptr && msg->msg_controllen == 0) {
        const iovec& v = msg->msg_iov[0];
        io_uring_prep_send(sqe, fd, v.iov_base, v.iov_len, MSG_NOSIGNAL);
    } else {
        io_uring_prep_sendmsg(sqe, fd, msg, MSG_NOSIGNAL);
    }
    io_uring_sqe_set_data64(sqe, ud);
}

void uring_backend::connect(int fd, uint64_t ud, const sockaddr* sa, socklen_t len) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_connect(sqe, fd, sa, len);
    io_uring_sqe_set_data64(sqe, ud);
}

void uring_backend::cancel(int, uint64_t ud) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_cancel64(sqe, ud, 0);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, pack_ud(op::cancel, 0, 0));
}

void uring_backend::cancel_fd(int fd) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, pack_ud(op::cancel, 0, 0));
}

void uring_backend::wake_peer(io_backend& peer) {
    // Every shard of a process runs the same backend kind (io_backend::wake_peer).
    auto& p = static_cast<uring_backend&>(peer);  // NOLINT(*-static-cast-downcast)
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_msg_ring(sqe, p.ring_.ring_fd, 0, pack_ud(op::wake, 0, 0), 0);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, pack_ud(op::cancel, 0, 0));
}

void uring_backend::notify() {
    uint64_t one = 1;
    ssize_t r = ::write(efd_, &one, sizeof one);
    (void)r;  // EAGAIN means the counter is already non-zero: the wake is pending anyway
}

int uring_backend::enter(int timeout_ms) {
    const bool sq_pending = io_uring_sq_ready(&ring_) > 0;
    const bool cq_pending = io_uring_cq_ready(&ring_) > 0;
    if (cq_pending && !sq_pending) return 0;  // nothing to tell the kernel, work to do
    ++stats_.enters;
    if (timeout_ms == 0 || cq_pending) return io_uring_submit_and_get_events(&ring_);
    if (timeout_ms < 0) return io_uring_submit_and_wait(&ring_, 1);
    __kernel_timespec ts{};
    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = static_cast<long long>(timeout_ms % 1000) * 1000000;
    io_uring_cqe* cqe = nullptr;
    return io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
}

int uring_backend::drain(completion* out, int cap) {
    int n = 0;
    unsigned seen = 0;
    unsigned head = 0;  // both set by io_uring_for_each_cqe
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&ring_, head, cqe) {
        if (n == cap) break;
        ++seen;
        const op o = ud_op(cqe->user_data);
        if (o == op::cancel) continue;
        if (o == op::notify) arm_notify();
        if ((cqe->flags & IORING_CQE_F_BUFFER) != 0) {
            pool_.note_taken(static_cast<uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT));
        }
        out[n++] = completion{cqe->user_data, cqe->res, cqe->flags};
    }
    io_uring_cq_advance(&ring_, seen);
    stats_.cqes += static_cast<uint64_t>(n);
    return n;
}

int uring_backend::wait(completion* out, int cap, int timeout_ms) {
    pool_.publish();
    int ret = enter(timeout_ms);
    if (ret == -EBUSY) {
        // CQ overflowed (kernel kept the CQEs: FEAT_NODROP); drain, the caller comes back.
        ++stats_.cq_overflow;
    }
    return drain(out, cap);
}

}  // namespace

std::unique_ptr<io_backend> make_uring_backend(const backend_options& o, std::string& error) {
    auto b = std::make_unique<uring_backend>();
    if (!b->init(o, error)) return nullptr;
    return b;
}

bool probe_uring(std::string& reason) {
    io_uring ring{};
    bool defer = false;
    backend_options o;
    int ret = create_ring(ring, o, defer);
    if (ret < 0) {
        reason = explain_ring_error(ret);
        return false;
    }
    bool ok = true;
    io_uring_probe* probe = io_uring_get_probe_ring(&ring);
    if (probe == nullptr) {
        reason = "io_uring opcode probe failed (kernel < 5.6)";
        ok = false;
    } else {
        const int ops[] = {IORING_OP_ACCEPT, IORING_OP_RECV, IORING_OP_SENDMSG, IORING_OP_CONNECT,
                           IORING_OP_ASYNC_CANCEL, IORING_OP_MSG_RING, IORING_OP_READ};
        for (int opc : ops) {
            if (!io_uring_opcode_supported(probe, opc)) {
                reason = "kernel lacks io_uring opcode " + std::to_string(opc) + " (need >= 6.1)";
                ok = false;
            }
        }
        io_uring_free_probe(probe);
    }
    if (ok) {
        int err = 0;
        io_uring_buf_ring* br = compat::setup_buf_ring(&ring, 8, 1, err);
        if (br == nullptr) {
            reason = std::string("provided-buffer rings unavailable: ") + strerror(-err);
            ok = false;
        } else {
            compat::free_buf_ring(&ring, br, 8, 1);
        }
    }
    if (ok) {
        reason = defer ? "io_uring available (SINGLE_ISSUER|DEFER_TASKRUN, multishot, buf rings)"
                       : "io_uring available without DEFER_TASKRUN (COOP_TASKRUN fallback)";
    }
    io_uring_queue_exit(&ring);
    return ok;
}

}  // namespace qgate::io

// The fault-injecting io backend (fault_backend.h).

#include "fault_backend.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace qgate::testing {

using io::completion;
using io::kFlagBuffer;
using io::kFlagMore;

namespace {
constexpr uint64_t kOpMask = uint64_t{0xff} << 56;

uint16_t port_of(const sockaddr_storage& ss) {
    if (ss.ss_family == AF_INET) {
        return ntohs(reinterpret_cast<const sockaddr_in&>(ss).sin_port);
    }
    return ntohs(reinterpret_cast<const sockaddr_in6&>(ss).sin6_port);
}
}  // namespace

fault_backend::fault_backend(std::unique_ptr<io::io_backend> inner, const fault_plan& plan)
    : inner_(std::move(inner)), plan_(plan), rng_(plan.seed * 0x9e3779b97f4a7c15ull + 1) {
    pool_.init(inner_->pool().entries(), inner_->pool().size());
    reaped_.resize(4096);
}

// xorshift64*: a fault sequence that depends on the seed alone.
bool fault_backend::roll(uint32_t per_mille) {
    if (per_mille == 0) return false;
    rng_ ^= rng_ >> 12;
    rng_ ^= rng_ << 25;
    rng_ ^= rng_ >> 27;
    return (rng_ * 0x2545f4914f6cdd1dull >> 33) % 1000 < per_mille;
}

uint64_t fault_backend::submit(int fd, uint64_t outer, bool is_recv) {
    const uint64_t id = (outer & kOpMask) | next_id_++;
    op_rec& r = ops_[id];
    r.outer = outer;
    r.fd = fd;
    r.is_recv = is_recv;
    return id;
}

void fault_backend::note_reset(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
        log_.reset_ports.insert(port_of(ss));
    }
    len = sizeof ss;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
        log_.reset_ports.insert(port_of(ss));
    }
}

// A reset on `fd` if the plan allows one more: the socket is shut down both ways, so the peer
// sees its connection end and nothing more is read or written on it.
bool fault_backend::reset_now(int fd) {
    if (!roll(plan_.reset) || log_.resets >= plan_.resets_max) return false;
    note_reset(fd);
    ::shutdown(fd, SHUT_RDWR);
    ++log_.resets;
    return true;
}

void fault_backend::accept_multishot(int fd, uint64_t ud) {
    inner_->accept_multishot(fd, submit(fd, ud, false));
}

void fault_backend::connect(int fd, uint64_t ud, const sockaddr* sa, socklen_t len) {
    inner_->connect(fd, submit(fd, ud, false), sa, len);
}

void fault_backend::recv_into(int fd, uint64_t ud, uint8_t* buf, uint32_t len, bool all) {
    if (roll(plan_.eagain_into)) {
        ++log_.eagain_into;
        inject(ud, -EAGAIN);
        return;
    }
    if (reset_now(fd)) {
        inject(ud, -ECONNRESET);
        return;
    }
    inner_->recv_into(fd, submit(fd, ud, false), buf, len, all);
}

int32_t fault_backend::recv_now(int fd, uint8_t* buf, uint32_t len) {
    if (roll(plan_.eagain)) {
        ++log_.eagain;
        return -EAGAIN;
    }
    if (reset_now(fd)) return -ECONNRESET;
    return inner_->recv_now(fd, buf, len);
}

void fault_backend::send_msg(int fd, uint64_t ud, const msghdr* msg) {
    if (reset_now(fd)) {
        inject(ud, -ECONNRESET);
        return;
    }
    const uint64_t id = submit(fd, ud, false);
    size_t total = 0;
    for (size_t i = 0; i < msg->msg_iovlen; ++i) total += msg->msg_iov[i].iov_len;
    if (total < 2 || !roll(plan_.short_send)) {
        inner_->send_msg(fd, id, msg);
        return;
    }
    // A short send: the same iovecs cut to 1..total-1 bytes, from a copy kept with the op.
    op_rec& r = ops_[id];
    size_t keep = 1 + (rng_ >> 7) % (total - 1);
    for (size_t i = 0; i < msg->msg_iovlen && keep > 0; ++i) {
        iovec v = msg->msg_iov[i];
        v.iov_len = v.iov_len < keep ? v.iov_len : keep;
        keep -= v.iov_len;
        r.iov.push_back(v);
    }
    r.msg = *msg;
    r.msg.msg_iov = r.iov.data();
    r.msg.msg_iovlen = r.iov.size();
    ++log_.short_sends;
    inner_->send_msg(fd, id, &r.msg);
}

void fault_backend::recv_multishot(int fd, uint64_t ud) {
    rx_stream& s = rx_[fd];
    if (s.outer != 0 || s.closing) ++log_.contract;  // a second recv armed on one socket
    s.outer = ud;  // pump() delivers the stash, then (re)arms the inner recv
}

// Ends the engine's multishot recv with `res`; the inner one is cancelled (bytes it still
// reads wait in the stash for the next arm).
void fault_backend::detach(int fd, rx_stream& s, int32_t res) {
    inject(s.outer, res);
    s.outer = 0;
    if (s.inner != 0 && !s.inner_cancelled) {
        s.inner_cancelled = true;
        inner_->cancel(fd, s.inner);
    }
}

void fault_backend::cancel(int fd, uint64_t ud) {
    auto it = rx_.find(fd);
    if (it != rx_.end() && it->second.outer == ud) {
        detach(fd, it->second, -ECANCELED);
        return;
    }
    for (const auto& [id, r] : ops_) {
        if (r.fd == fd && r.outer == ud && !r.is_recv) {
            inner_->cancel(fd, id);
            return;
        }
    }
}

void fault_backend::cancel_fd(int fd) {
    auto it = rx_.find(fd);
    if (it != rx_.end() && it->second.outer != 0) detach(fd, it->second, -ECANCELED);
    inner_->cancel_fd(fd);
}

void fault_backend::close_fd(int fd) {
    for (const auto& [id, r] : ops_) {
        if (r.fd == fd && !r.is_recv) ++log_.contract;  // closed with an operation in flight
    }
    auto it = rx_.find(fd);
    if (it != rx_.end()) {
        rx_stream& s = it->second;
        if (s.outer != 0) ++log_.contract;
        s.stash.clear();
        if (s.inner != 0) {  // our own recv is still ending: close after its final
            s.closing = true;
            if (!s.inner_cancelled) {
                s.inner_cancelled = true;
                inner_->cancel(fd, s.inner);
            }
            return;
        }
        rx_.erase(it);
    }
    inner_->close_fd(fd);
}

void fault_backend::on_inner(const completion& c) {
    const io::op o = io::ud_op(c.user_data);
    if (o == io::op::wake || o == io::op::notify) {
        out_.push_back(c);
        return;
    }
    auto it = ops_.find(c.user_data);
    if (it == ops_.end()) {
        if (o != io::op::cancel) ++log_.contract;
        if (c.has_buffer()) inner_->pool().release(c.buffer_id());
        return;
    }
    if (it->second.is_recv) {
        on_inner_recv(it->second, c);
    } else {
        out_.push_back({it->second.outer, c.res, c.flags});
    }
    if (!c.more()) ops_.erase(it);
}

void fault_backend::on_inner_recv(op_rec& r, const completion& c) {
    const int fd = r.fd;
    rx_stream& s = rx_[fd];
    std::string bytes;
    if (c.has_buffer()) {
        const uint8_t* p = inner_->pool().data(c.buffer_id());
        if (c.res > 0) bytes.assign(reinterpret_cast<const char*>(p), static_cast<size_t>(c.res));
        inner_->pool().release(c.buffer_id());
    }
    if (!bytes.empty() && !s.closing) s.stash.push_back({std::move(bytes), 0});
    if (c.more()) return;
    const bool ours = s.inner_cancelled;
    s.inner = 0;
    s.inner_cancelled = false;
    if (s.closing) {
        rx_.erase(fd);
        inner_->close_fd(fd);
        return;
    }
    // Ends we caused, or the inner pool running dry, are not the stream's end: pump() re-arms.
    const bool transient = c.res > 0 || c.res == -ENOBUFS || (c.res == -ECANCELED && ours);
    if (!transient) s.stash.push_back({{}, c.res});
}

// Delivers the front of the stash to the engine's armed recv. False once that recv has ended.
bool fault_backend::pump_one(int fd, rx_stream& s) {
    chunk& front = s.stash.front();
    if (front.bytes.empty()) {  // EOF or an error: the stream's last word
        const int32_t res = front.res;
        s.stash.pop_front();
        detach(fd, s, res);
        return false;
    }
    if (reset_now(fd)) {
        s.stash.clear();
        detach(fd, s, -ECONNRESET);
        return false;
    }
    const bool end = roll(plan_.end_recv);
    const uint32_t how = static_cast<uint32_t>(rng_ >> 40) % 3;
    if (end && how < 2) {
        ++(how == 0 ? log_.enobufs : log_.ecanceled);
        detach(fd, s, how == 0 ? -ENOBUFS : -ECANCELED);
        return false;
    }
    const int bid = pool_.acquire();
    if (bid < 0) {
        ++log_.pool_empty;
        detach(fd, s, -ENOBUFS);
        return false;
    }
    const size_t n = front.bytes.size() < pool_.size() ? front.bytes.size() : pool_.size();
    std::memcpy(pool_.data(static_cast<uint16_t>(bid)), front.bytes.data(), n);
    if (n < front.bytes.size()) {
        front.bytes.erase(0, n);
    } else {
        s.stash.pop_front();
    }
    const uint32_t flags = kFlagBuffer | static_cast<uint32_t>(bid) << io::kBufferShift;
    if (end) {  // the kernel may end a multishot on a completion that still carries data
        ++log_.ended_with_data;
        out_.push_back({s.outer, static_cast<int32_t>(n), flags});
        s.outer = 0;
        if (s.inner != 0 && !s.inner_cancelled) {
            s.inner_cancelled = true;
            inner_->cancel(fd, s.inner);
        }
        return false;
    }
    out_.push_back({s.outer, static_cast<int32_t>(n), flags | kFlagMore});
    return true;
}

void fault_backend::arm_inner(int fd, rx_stream& s) {
    s.inner = submit(fd, s.outer, true);
    inner_->recv_multishot(fd, s.inner);
}

void fault_backend::pump(int fd, rx_stream& s) {
    while (s.outer != 0 && !s.stash.empty()) {
        if (!pump_one(fd, s)) return;
    }
    if (s.outer != 0 && s.inner == 0 && !s.closing) arm_inner(fd, s);
}

int fault_backend::wait(completion* out, int cap, int timeout_ms) {
    for (auto& [fd, s] : rx_) pump(fd, s);
    const int n = inner_->wait(reaped_.data(), cap < 4096 ? cap : 4096,
                               out_.empty() ? timeout_ms : 0);
    for (int i = 0; i < n; ++i) on_inner(reaped_[static_cast<size_t>(i)]);
    for (auto& [fd, s] : rx_) pump(fd, s);
    int k = 0;
    while (k < cap && !out_.empty()) {
        out[k++] = out_.front();
        out_.pop_front();
    }
    stats_ = inner_->stats();
    return k;
}

}  // namespace qgate::testing

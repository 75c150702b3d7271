// DESIGN: one TorQ discovery process, seen from qgate (discovery_link.h has the states). Owned
// and driven by the discovery thread (src/ctl/discovery.cc) alone; it may allocate and block,
// but never waits: the socket is non-blocking and every state has a deadline.
//
// Why each rule: TorQ's discovery pushes new and changed processes (register) but never a
// removal, so getservices is asked again every refresh_ms and its answer replaces the view. A
// lost link keeps the view (TorQ's own gateway keeps the servers it knows when discovery dies;
// their pools notice a dead backend themselves) and reconnects with backoff. A sync call from
// the discovery process (TorQ's sends none to a subscriber) is answered with a q error so it
// never hangs there. A message over kMessageBytesMax closes the link.
#include "ctl/discovery_link.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "qgate/ctl.h"
#include "qgate/log.h"
#include "qgate/qipc/compress.h"
#include "qgate/qipc/writer.h"

namespace qgate::ctl::disc {
namespace {

constexpr uint64_t kMessageBytesMax = uint64_t{64} << 20;
// Error replies owed to a discovery process that sends calls and does not read the answers.
constexpr std::size_t kOutBytesMax = std::size_t{64} * 1024;
constexpr std::size_t kReadChunk = std::size_t{64} * 1024;
constexpr uint8_t kCapability = 3;  // 2 GB messages, no 40-bit lengths: what TorQ's q speaks

}  // namespace

link::link(std::string address, const config& cfg, discovery_counters& counters)
    : address_(std::move(address)),
      owner_("discovery " + address_),
      cfg_(cfg),
      counters_(counters),
      view_(cfg.discovery.proctypes),
      call_(getservices_message(cfg.discovery.proctypes)) {
    std::string err;
    if (!parse_endpoint(address_, ep_, err)) ep_.port = 0;  // validated with the config
}

link::~link() { close_fd(); }

short link::events() const {
    if (state_ == link_state::connecting) return POLLOUT;
    return static_cast<short>(POLLIN | (out_.empty() ? 0 : POLLOUT));
}

int64_t link::deadline_ms() const {
    if (state_ == link_state::open && !awaiting_reply_) return refresh_at_ms_;
    return deadline_ms_;
}

void link::close_fd() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    in_.clear();
    out_.clear();
    awaiting_reply_ = false;
}

void link::fail(const char* what, int64_t now_ms) {
    counters_.failures.fetch_add(1, std::memory_order_relaxed);
    // The first failure of a run is worth a warning; the retries of a process that stays
    // away are not (the failures counter keeps counting them).
    if (backoff_ms_ == 0) {
        QGATE_LOG_WARN("discovery %s: %s; keeping its %zu process(es), reconnecting",
                       address_.c_str(), what, view_.size());
    } else {
        QGATE_LOG_DEBUG("discovery %s: %s", address_.c_str(), what);
    }
    close_fd();
    const limits_conf& l = cfg_.limits;
    backoff_ms_ = backoff_ms_ == 0 ? l.reconnect_min_ms
                                   : std::min(backoff_ms_ * 2, l.reconnect_max_ms);
    state_ = link_state::waiting;
    deadline_ms_ = now_ms + backoff_ms_;
}

void link::start_connect(int64_t now_ms) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (ep_.port == 0 || !endpoint_to_sockaddr(ep_, ss, len)) {
        fail("not a numeric host:port", now_ms);
        return;
    }
    fd_ = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
        fail(strerror(errno), now_ms);
        return;
    }
    const int one = 1;
    (void)setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd_, reinterpret_cast<const sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
        fail(strerror(errno), now_ms);
        return;
    }
    state_ = link_state::connecting;
    deadline_ms_ = now_ms + cfg_.limits.connect_timeout_ms;
}

void link::on_connected(int64_t now_ms) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) {
        fail(strerror(err), now_ms);
        return;
    }
    // As for a backend: the "qgate" user when no credentials are set.
    const std::string& set = cfg_.discovery.credentials;
    const std::string c = set.empty() ? "qgate" : set;
    out_.assign(c.begin(), c.end());
    out_.push_back(kCapability);
    out_.push_back(0);
    state_ = link_state::handshake;
    deadline_ms_ = now_ms + cfg_.limits.handshake_timeout_ms;
    if (!flush()) fail("send failed in the handshake", now_ms);
}

void link::on_handshake(int64_t now_ms) {
    uint8_t cap = 0;
    const ssize_t n = recv(fd_, &cap, 1, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n != 1) {
        fail(n == 0 ? "closed in the handshake (credentials refused?)" : strerror(errno), now_ms);
        return;
    }
    counters_.connects.fetch_add(1, std::memory_order_relaxed);
    QGATE_LOG_INFO("discovery %s: connected (capability %u)", address_.c_str(), unsigned{cap});
    state_ = link_state::open;
    send_getservices(now_ms);
}

void link::send_getservices(int64_t now_ms) {
    out_.insert(out_.end(), call_.begin(), call_.end());
    awaiting_reply_ = true;
    deadline_ms_ = now_ms + cfg_.limits.connect_timeout_ms + cfg_.discovery.refresh_ms;
    if (!flush()) fail("send failed", now_ms);
}

// Sends what it can; false on a socket error.
bool link::flush() {
    while (!out_.empty()) {
        const ssize_t n = send(fd_, out_.data(), out_.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno == EAGAIN;
        out_.erase(out_.begin(), out_.begin() + n);
    }
    return true;
}

void link::step(short revents, int64_t now_ms) {
    if (state_ == link_state::waiting) {
        if (now_ms >= deadline_ms_) start_connect(now_ms);
        return;
    }
    if (state_ == link_state::connecting) {
        if ((revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
            on_connected(now_ms);
        } else if (now_ms >= deadline_ms_) {
            fail("connect timed out", now_ms);
        }
        return;
    }
    if ((revents & POLLOUT) != 0 && !flush()) return fail("send failed", now_ms);
    if ((revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
        if (state_ == link_state::handshake) return on_handshake(now_ms);
        if (!read_messages(now_ms)) return;  // failed: waiting now
    }
    if (state_ == link_state::handshake && now_ms >= deadline_ms_) {
        fail("handshake timed out", now_ms);
    } else if (state_ == link_state::open && awaiting_reply_ && now_ms >= deadline_ms_) {
        fail("getservices not answered in time", now_ms);
    } else if (state_ == link_state::open && !awaiting_reply_ && now_ms >= refresh_at_ms_) {
        send_getservices(now_ms);
    }
}

// Reads what the socket has and handles every whole message; false after fail().
bool link::read_messages(int64_t now_ms) {
    for (;;) {
        const std::size_t had = in_.size();
        in_.resize(had + kReadChunk);
        const ssize_t n = recv(fd_, in_.data() + had, kReadChunk, 0);
        in_.resize(had + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        if (n <= 0) {
            fail(n == 0 ? "connection closed" : strerror(errno), now_ms);
            return false;
        }
    }
    const qipc::header_limits hl{kMessageBytesMax, kCapability};
    while (in_.size() >= qipc::kHeaderSize) {
        qipc::frame_header h;
        if (!qipc::parse_header(in_, h, hl).ok()) {
            fail("bad message header", now_ms);
            return false;
        }
        if (in_.size() < h.length) break;
        const std::vector<uint8_t> msg(in_.begin(), in_.begin() + static_cast<long>(h.length));
        in_.erase(in_.begin(), in_.begin() + static_cast<long>(h.length));
        if (!on_message(msg, now_ms)) return false;
    }
    return true;
}

// One whole message; false after fail().
bool link::on_message(const std::vector<uint8_t>& msg, int64_t now_ms) {
    std::vector<uint8_t> plain;
    if (msg.size() > 2 && msg[2] == 1) {  // compressed (q compresses to a remote peer)
        uint64_t ulen = 0;
        const qipc::inflate_limits il{kMessageBytesMax, 0};
        if (!qipc::inflate_length(msg, kMessageBytesMax, il, ulen).ok()) {
            fail("bad compressed message", now_ms);
            return false;
        }
        plain.resize(ulen);
        if (!qipc::decompress(msg, plain).ok()) {
            fail("bad compressed message", now_ms);
            return false;
        }
    }
    qipc::frame_header h;
    qipc::value v;
    const qipc::header_limits hl{kMessageBytesMax, kCapability};
    if (!qipc::decode_message(plain.empty() ? msg : plain, h, v, {}, hl).ok()) {
        fail("undecodable message", now_ms);
        return false;
    }
    if (h.type == qipc::msg_type::sync) {
        const std::string_view text = "qgate: a discovery client answers no calls";
        std::vector<uint8_t> err(qipc::error_message_size(text));
        (void)qipc::write_error_message(text, qipc::msg_type::response, err);
        out_.insert(out_.end(), err.begin(), err.end());
        if (out_.size() > kOutBytesMax || !flush()) {
            fail("sync calls sent and answers not read", now_ms);
            return false;
        }
        return true;
    }
    if (h.type == qipc::msg_type::async) {
        on_push(v);
        return true;
    }
    if (!awaiting_reply_) return true;  // no call of ours is owed an answer: ignored
    if (!on_reply(v)) {
        fail("getservices failed", now_ms);
        return false;
    }
    awaiting_reply_ = false;
    refresh_at_ms_ = now_ms + cfg_.discovery.refresh_ms;
    backoff_ms_ = 0;  // a full round trip: the process is back
    return true;
}

// The getservices answer replaces the view; false (logged) when it is not a table.
bool link::on_reply(const qipc::value& v) {
    std::vector<row> rows;
    std::string err;
    if (v.type == qipc::qtype::kError) {
        err = "'" + (v.syms.empty() ? std::string() : v.syms[0]);
    } else if (read_rows(v, rows, err)) {
        uint64_t skipped = 0;
        changed_ = view_.replace(rows, skipped) || changed_;
        counters_.skipped.fetch_add(skipped, std::memory_order_relaxed);
        counters_.refreshes.fetch_add(1, std::memory_order_relaxed);
        return true;
    }
    QGATE_LOG_WARN("discovery %s: getservices answered %s", address_.c_str(), err.c_str());
    return false;
}

// A message pushed to us: a procupdate merges into the view; anything else is ignored.
void link::on_push(const qipc::value& v) {
    std::vector<row> rows;
    std::string err;
    switch (read_push(v, rows, err)) {
    case push_kind::procupdate: {
        uint64_t skipped = 0;
        changed_ = view_.merge(rows, skipped) || changed_;
        counters_.skipped.fetch_add(skipped, std::memory_order_relaxed);
        counters_.updates.fetch_add(1, std::memory_order_relaxed);
        QGATE_LOG_DEBUG("discovery %s: procupdate of %zu row(s)", address_.c_str(), rows.size());
        return;
    }
    case push_kind::bad:
        QGATE_LOG_WARN("discovery %s: procupdate ignored: %s", address_.c_str(), err.c_str());
        return;
    case push_kind::other:
        QGATE_LOG_DEBUG("discovery %s: async message ignored", address_.c_str());
        return;
    }
}

bool link::take_change(std::vector<backend_conf>& out) {
    if (!changed_) return false;
    changed_ = false;
    out = view_.backends(cfg_.discovery);
    return true;
}

}  // namespace qgate::ctl::disc

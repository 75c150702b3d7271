// qmock's per-connection I/O: handshake, framing, message handling and output.
//
// Input: bytes accumulate in conn::in. While a message is incomplete the buffer is grown to
// hold all of it (bounded by options::message_bytes_max), so a multi-hundred-MB request is read
// straight into place. Complete messages are handled in order, one at a time (serial, as q).
// Output: replies are queued on conn::out and written by flush_dirty() at the end of the loop
// turn. When more than kOutHigh bytes are unsent the connection stops being read (q itself
// would buffer without limit; qmock prefers back-pressure) until the queue falls below kOutLow.
// Malformed input closes the connection, as q does after 'badmsg.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "qgate/qipc/compress.h"
#include "qgate/qipc/frame.h"
#include "qgate/qipc/handshake.h"
#include "qgate/qipc/walker.h"
#include "qgate/qipc/writer.h"
#include "request.h"
#include "server.h"

namespace qmock {
namespace {

namespace qipc = qgate::qipc;

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kReadBudget = 16u << 20;  ///< bytes read per event before yielding
constexpr std::size_t kOutHigh = 64u << 20;
constexpr std::size_t kOutLow = 16u << 20;
constexpr int kIovMax = 64;
/// Highest capability qmock answers: q 3.x semantics (compression, timestamps, guids).
constexpr uint8_t kServerCapability = 3;
/// Longest message a peer below capability 5 may be sent (q signals 'limit beyond).
constexpr uint64_t kSmallLimit = (uint64_t{1} << 31) - 1;

/// A peer that goes away with data in flight is an ordinary disconnect, logged only with -v.
bool quiet_errno(int e) { return e == ECONNRESET || e == EPIPE; }

}  // namespace

void server::on_event(conn& c, uint32_t events) {
    if (c.connecting) return finish_connect(c);  // connect.cc; errors show in SO_ERROR
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
    if (!c.dead && (events & EPOLLOUT)) on_writable(c);
}

std::size_t server::bytes_needed(conn& c) {
    if (!c.handshaken || c.in.readable() < qipc::kHeaderSize) return kReadChunk;
    qipc::frame_header h;
    if (!qipc::parse_header({c.in.read_ptr(), c.in.readable()}, h).ok()) return kReadChunk;
    if (h.length > opt_.message_bytes_max || h.length <= c.in.readable()) return kReadChunk;
    std::size_t rest = static_cast<std::size_t>(h.length) - c.in.readable();
    return rest > kReadChunk ? rest : kReadChunk;
}

// A TLS connection reads on until OpenSSL says EAGAIN: a record it has decrypted waits in the
// SSL object, where epoll cannot see it (so no short-read break, no budget).
void server::on_readable(conn& c) {
    if (c.tls_pending && !tls_accepted(c)) return;
    std::size_t total = 0;
    while (!c.dead && !c.read_paused && (total < kReadBudget || c.ssl != nullptr)) {
        if (!c.in.reserve(bytes_needed(c))) return close_conn(c, "out of memory");
        std::size_t room = c.in.writable();
        ssize_t n = conn_read(c, c.in.write_ptr(), room);
        if (n > 0) {
            c.in.produced(static_cast<std::size_t>(n));
            total += static_cast<std::size_t>(n);
            process_input(c);
            if (c.ssl == nullptr && static_cast<std::size_t>(n) < room) break;  // drained
        } else if (n == 0) {
            return close_conn(c, nullptr);
        } else if (errno == EINTR) {
            continue;
        } else {
            if (errno != EAGAIN) close_conn(c, quiet_errno(errno) ? nullptr : strerror(errno));
            return;
        }
    }
}

void server::process_input(conn& c) {
    while (!c.dead && !c.read_paused) {
        bool progressed = c.handshaken  ? process_frame(c)
                          : c.outbound ? process_capability(c)
                                       : process_handshake(c);
        if (!progressed) break;
    }
    c.in.shrink_if_idle(4u << 20);
}

bool server::process_handshake(conn& c) {
    qipc::handshake hs;
    qipc::status st = qipc::parse_handshake({c.in.read_ptr(), c.in.readable()}, hs);
    if (st.code == qipc::errc::truncated) return false;
    if (!st.ok()) {
        close_conn(c, qipc::errc_name(st.code));
        return false;
    }
    if (!users_.empty()) {
        auto it = users_.find(std::string(hs.user));
        if (it == users_.end() || it->second != hs.password) {
            if (opt_.verbose) log_line("access denied for user '%.*s'",
                                       static_cast<int>(hs.user.size()), hs.user.data());
            close_conn(c, nullptr);  // q closes without a byte
            return false;
        }
    }
    c.user.assign(hs.user);
    c.capability = qipc::negotiate_capability(hs.capability, kServerCapability);
    c.in.consume(hs.length);
    // The answer is one byte in a write of its own (node-q needs it alone in its first chunk).
    const iovec one{&c.capability, 1};
    if (conn_writev(c, &one, 1) != 1) {
        close_conn(c, "handshake reply failed");
        return false;
    }
    c.handshaken = true;
    return true;
}

bool server::process_frame(conn& c) {
    if (c.in.readable() < qipc::kHeaderSize) return false;
    qipc::frame_header h;
    qipc::header_limits lim;
    lim.length_max = opt_.message_bytes_max;
    lim.capability = c.capability;
    qipc::status st = qipc::parse_header({c.in.read_ptr(), c.in.readable()}, h, lim);
    if (!st.ok()) {
        log_line("badmsg from %s: header %s", c.peer.c_str(), qipc::errc_name(st.code));
        close_conn(c, nullptr);
        return false;
    }
    if (c.in.readable() < h.length) return false;
    record({c.in.read_ptr(), static_cast<std::size_t>(h.length)});
    handle_message(c, {c.in.read_ptr(), static_cast<std::size_t>(h.length)});
    c.in.consume(static_cast<std::size_t>(h.length));
    if (c.out.bytes() > kOutHigh) {
        c.read_paused = true;
        update_interest(c);
        return false;
    }
    return true;
}

void server::handle_message(conn& c, std::span<const uint8_t> msg) {
    qipc::frame_header h;
    (void)qipc::parse_header(msg, h);
    std::vector<uint8_t> plain;
    std::span<const uint8_t> body = msg.subspan(qipc::kHeaderSize);
    if (h.compressed) {
        uint64_t ulen = 0;
        qipc::status st = qipc::uncompressed_length(msg, opt_.message_bytes_max, ulen);
        if (st.ok()) {
            plain.resize(static_cast<std::size_t>(ulen));
            st = qipc::decompress(msg, plain);
        }
        if (!st.ok()) {
            log_line("badmsg from %s: compressed %s", c.peer.c_str(), qipc::errc_name(st.code));
            return close_conn(c, nullptr);
        }
        body = std::span<const uint8_t>(plain).subspan(qipc::kHeaderSize);
    }
    qipc::walker w(body, h.little_endian);
    qipc::status st = w.validate();
    if (!st.ok()) {
        log_line("badmsg from %s: %s at body offset %llu", c.peer.c_str(),
                 qipc::errc_name(st.code), static_cast<unsigned long long>(st.offset));
        return close_conn(c, nullptr);
    }
    std::vector<uint8_t> little;
    if (!h.little_endian) {  // functions see little-endian bytes only
        qipc::value v;
        if (!qipc::decode(body, false, v).ok()) return close_conn(c, "badmsg (big-endian)");
        little = encode_body(v);
        body = little;
    }
    if (h.type == qipc::msg_type::response) {
        if (disc_ && disc_->on_response(c, body)) return;  // a getdetails answer
        if (opt_.verbose) log_line("ignoring an unexpected response from %s", c.peer.c_str());
        return;
    }
    if (opt_.work_us > 0) work();
    if (tp_ && tp_->handle(c, h.type, body)) return;  // --tickerplant: .u.sub, .u.endofday, ...
    call ctx{*this, c, h.type};
    reply r;
    run_request(ctx, body, r);
    if (h.type == qipc::msg_type::sync) {
        if (r.k == reply::kind::value) send(c, qipc::msg_type::response, r.body);
        else if (r.k == reply::kind::error) send_error(c, r.error);
    } else if (r.k == reply::kind::error && opt_.verbose) {
        log_line("async error (kept on the server, as q): '%s", r.error.c_str());
    }
}

bool server::should_compress(const conn& c) const {
    if (c.capability < 1) return false;
    switch (opt_.compress) {
    case compress_mode::always: return true;
    case compress_mode::never: return false;
    default: return !c.loopback;
    }
}

void server::send(conn& c, qipc::msg_type type, std::span<const uint8_t> body) {
    if (c.dead) return;
    uint64_t total = qipc::kHeaderSize + body.size();
    if (total > opt_.message_bytes_max || (c.capability < 5 && total > kSmallLimit)) {
        if (type == qipc::msg_type::response) send_error(c, "limit");
        else log_line("dropping a %llu-byte async message: 'limit", (unsigned long long)total);
        return;
    }
    qipc::frame_header h;
    h.type = type;
    h.length = total;
    if (total > qipc::kCompressThreshold && should_compress(c)) {
        std::vector<uint8_t> plain(total);
        qipc::write_header(h, plain.data());
        std::memcpy(plain.data() + qipc::kHeaderSize, body.data(), body.size());
        std::vector<uint8_t> packed(total / 2 + 1);
        uint64_t n = qipc::compress(plain, packed);
        const std::vector<uint8_t>& wire = n > 0 ? packed : plain;
        std::size_t size = n > 0 ? static_cast<std::size_t>(n) : plain.size();
        std::memcpy(c.out.append(size), wire.data(), size);
    } else {
        uint8_t* p = c.out.append(total);
        qipc::write_header(h, p);
        if (!body.empty()) std::memcpy(p + qipc::kHeaderSize, body.data(), body.size());
    }
    mark_dirty(c);
}

void server::send_error(conn& c, std::string_view text) {
    std::vector<uint8_t> body(text.size() + 2);
    body[0] = static_cast<uint8_t>(qipc::qtype::kError);
    std::memcpy(body.data() + 1, text.data(), text.size());
    body.back() = 0;
    send(c, qipc::msg_type::response, body);
}

void server::mark_dirty(conn& c) {
    if (c.dirty) return;
    c.dirty = true;
    dirty_.push_back(&c);
}

void server::flush(conn& c) {
    iovec iov[kIovMax];
    while (!c.dead && !c.out.empty()) {
        int n = c.out.gather(iov, kIovMax);
        ssize_t w = conn_writev(c, iov, n);
        if (w > 0) {
            c.out.written(static_cast<std::size_t>(w));
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else {
            if (w < 0 && errno != EAGAIN)
                close_conn(c, quiet_errno(errno) ? nullptr : strerror(errno));
            break;
        }
    }
    if (!c.dead) update_interest(c);
}

void server::flush_all() {
    for (conn* c : dirty_) flush(*c);
}

void server::flush_dirty() {
    while (!dirty_.empty()) {
        flushing_.clear();
        flushing_.swap(dirty_);
        for (conn* c : flushing_) {
            c->dirty = false;
            if (c->dead) continue;
            flush(*c);
            maybe_resume(*c);
        }
    }
}

void server::maybe_resume(conn& c) {
    if (c.dead || !c.read_paused || c.out.bytes() > kOutLow) return;
    c.read_paused = false;
    update_interest(c);
    process_input(c);  // messages that arrived while paused are already buffered
    if (c.ssl != nullptr) on_readable(c);  // and records OpenSSL decrypted meanwhile
}

void server::on_writable(conn& c) {
    flush(c);
    maybe_resume(c);
}

void server::update_interest(conn& c) {
    uint32_t want = (c.read_paused ? 0u : uint32_t{EPOLLIN}) | (c.out.empty() ? 0u : EPOLLOUT);
    if (want == c.events) return;
    epoll_event ev{};
    ev.events = want;
    ev.data.fd = c.fd;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev) != 0) return close_conn(c, strerror(errno));
    c.events = want;
}

void server::close_conn(conn& c, const char* why) {
    if (c.dead) return;
    c.dead = true;
    if (tp_) tp_->drop(c.id);
    if (disc_) disc_->drop(c.id);
    if (reg_) reg_->on_closed(c.id);
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
    if (why || opt_.verbose)
        log_line("closing connection %llu (%s): %s", (unsigned long long)c.id, c.peer.c_str(),
                 why ? why : "closed by peer");
    dead_fds_.push_back(c.fd);
}

}  // namespace qmock

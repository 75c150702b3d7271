// DESIGN: the admin endpoint's socket loop. One control-plane thread owns the listening
// socket, every admin client socket and their input and output buffers; it reaches the shards
// only through the admin_model (qgate/admin_api.h: relaxed-atomic counters, and the per-shard
// control slots of src/proxy/admin_link.h, waited on for at most a bounded time).
// poll() over the listener, the clients and a stop pipe. Client sockets are non-blocking: a
// readable client is read once, every complete request in its buffer is answered into its
// output buffer, and that is sent as far as the kernel takes it; the rest waits for POLLOUT.
// So a client that stops reading holds only its own buffer (bounded by kOutMax, past which it
// is closed and counted in admin_out_overflow), never the thread (issue 17: the blocking send
// of issue 16 stalled every admin for SO_SNDTIMEO). stop() writes the pipe and joins; the
// thread closes every socket it owns before returning.
// The first bytes decide what a connection speaks (admin_http.h): HTTP (GET /metrics, no
// authentication, unless admin.http = false) or q. Handshake as q: credentials + capability +
// NUL, checked against config::users (the running configuration's: a reload swaps them in,
// set_users, under auth_mu), and with a users file only a user with the admin role
// (`user:secret:admin`) gets in; on success one byte min(client, 3) in its own write; on
// failure the socket is closed with no reply.
// Nobody can lock the admins out without a password (issue 16): a connection must
// authenticate (q) or send a first request (HTTP) within admin.handshake_timeout_ms (counted
// from accept, so trickling bytes does not extend it), a ready one silent for
// admin.idle_timeout_ms is closed, and at admin.clients_max a newcomer displaces one
// (admin_clients.h): poll() sleeps only until the earliest deadline.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>

#include "ctl/admin_clients.h"
#include "ctl/admin_http.h"
#include "ctl/admin_query.h"
#include "qgate/admin.h"
#include "qgate/ctl.h"
#include "qgate/log.h"
#include "qgate/qipc/compress.h"
#include "qgate/qipc/frame.h"

namespace qgate::ctl {
namespace {

constexpr uint8_t kAdminCapability = 3;        // no >2 GB messages on the admin port
constexpr uint64_t kAdminMessageMax = 1 << 20; // admin queries are one-liners
constexpr std::size_t kReadChunk = std::size_t{64} * 1024;
// Replies a client may leave unread: a metrics page is tens of KiB, a q reply of the stats
// dictionary less; past this the client is not reading and is closed (admin_out_overflow).
constexpr std::size_t kOutMax = std::size_t{16} << 20;

void warn_no_admin(const std::vector<user_entry>& users) {
    bool any_admin = users.empty();
    for (const user_entry& u : users) any_admin = any_admin || u.admin;
    if (!any_admin) {
        QGATE_LOG_WARN("admin: the users file gives no user the admin role (a line "
                       "user:secret:admin): the admin port will refuse every login");
    }
}

}  // namespace

struct admin_server::impl {
    int listen_fd = -1;
    int wake[2] = {-1, -1};
    uint16_t port = 0;
    config auth;  // only users, limits.handshake_bytes_max and admin_limits are copied in
    admin_counters counts;
    std::unique_ptr<stats_only_model> own_model;  ///< start() with a stats callback only
    admin_model* model = nullptr;
    admin_control control;
    std::mutex auth_mu;  // auth.users: the admin thread reads, a reload (set_users) writes
    std::thread thread;
    std::vector<admin_client> clients;

    void run();
    void accept_one();
    void close_client(std::size_t i);
    void expire(uint64_t now);
    bool serve(admin_client& c);  // false: close the client
    bool serve_q(admin_client& c);
    bool serve_http(admin_client& c);
    bool handshake(admin_client& c);
    bool answer(admin_client& c, std::span<const uint8_t> msg, const qipc::frame_header& h);
    bool queue(admin_client& c, std::string_view bytes);
    void close_fds();
};

void admin_server::impl::run() {
    std::vector<pollfd> fds;
    for (;;) {
        const int timeout = admin_poll_timeout(clients, auth.admin_limits, ctl_now_ms());
        if (!ctl_poll("admin", wake[0], listen_fd, clients, timeout, fds)) break;
        // Serve existing clients first: indices in fds[2..] match `clients` only until accept.
        serve_clients(
            fds, clients, [this](std::size_t i) { return serve(clients[i]); },
            [this](std::size_t i) { close_client(i); });
        expire(ctl_now_ms());
        if (fds[1].revents != 0) accept_one();
    }
    for (admin_client& c : clients) ::close(c.fd);
    clients.clear();
    counts.clients.store(0, std::memory_order_relaxed);
}

// The count drops before the close: whoever sees the EOF sees the count that goes with it.
void admin_server::impl::close_client(std::size_t i) {
    const int fd = clients[i].fd;
    clients.erase(clients.begin() + static_cast<std::ptrdiff_t>(i));
    counts.clients.store(clients.size(), std::memory_order_relaxed);
    ::close(fd);
}

// Closes every client past its deadline: a handshake not done in time, or an idle admin.
void admin_server::impl::expire(uint64_t now) {
    for (std::size_t i = clients.size(); i-- > 0;) {
        if (admin_deadline(clients[i], auth.admin_limits) > now) continue;
        ctl_inc(clients[i].ready ? counts.idle_closed : counts.handshake_timeouts);
        close_client(i);
    }
}

void admin_server::impl::accept_one() {
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;  // EAGAIN, ECONNABORTED, EMFILE: nothing to do until the next poll
    if (!clients.empty() && clients.size() >= auth.admin_limits.clients_max) {
        // Refusing the newcomer would let idle connections lock every admin out.
        const std::size_t victim = admin_victim(clients);
        QGATE_LOG_DEBUG("admin: %zu clients connected; closing one %s to admit a new one",
                        clients.size(), clients[victim].ready ? "idle" : "in its handshake");
        ctl_inc(counts.evicted);
        close_client(victim);
    }
    clients.push_back(accepted_client(fd));
    counts.clients.store(clients.size(), std::memory_order_relaxed);
}

bool admin_server::impl::serve(admin_client& c) {
    const std::size_t old = c.in.size();
    c.in.resize(old + kReadChunk);
    const ssize_t n = ::recv(c.fd, c.in.data() + old, kReadChunk, 0);
    if (n <= 0) {
        c.in.resize(old);
        if (n < 0) return (errno == EINTR || errno == EAGAIN) && client_flush(c);
        // Half-closed after its requests (printf ... | nc): its replies are still sent.
        c.close_after = true;
        return c.out_pending() != 0;
    }
    c.in.resize(old + static_cast<std::size_t>(n));
    c.active_ms = ctl_now_ms();
    if (c.proto == admin_protocol::undecided) {
        c.proto = auth.admin_limits.http ? admin_protocol_of(c.in) : admin_protocol::q;
    }
    switch (c.proto) {
    case admin_protocol::undecided: return true;
    case admin_protocol::http: return serve_http(c) && client_flush(c);
    case admin_protocol::q: return serve_q(c) && client_flush(c);
    }
    return false;
}

bool admin_server::impl::serve_q(admin_client& c) {
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

// Every complete request in the buffer, answered in order (pipelining is allowed). A head
// past kHttpHeadMax or a broken one gets its error, then the connection closes.
bool admin_server::impl::serve_http(admin_client& c) {
    while (!c.close_after) {
        http_request req;
        const http_parse p = parse_http_request(c.in, req);
        if (p == http_parse::incomplete) return true;
        ctl_inc(counts.http_requests);
        if (p != http_parse::ok) {
            c.close_after = true;
            return queue(c, http_error(p == http_parse::too_large ? 431 : 400));
        }
        c.ready = true;
        const http_context ctx{*model, &control};
        const http_answer a = http_respond(req, ctx);
        c.close_after = a.close;
        if (!queue(c, a.bytes)) return false;
        c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(req.length));
    }
    c.in.clear();  // nothing more is read from a connection that is closing
    return true;
}

bool admin_server::impl::queue(admin_client& c, std::string_view bytes) {
    if (client_queue(c, bytes, kOutMax)) return true;
    ctl_inc(counts.out_overflow);
    QGATE_LOG_DEBUG("admin: a client left %zu bytes unread; closing it", c.out_pending());
    return false;
}

bool admin_server::impl::handshake(admin_client& c) {
    const login_rules rules{"admin", auth, auth_mu, true, kAdminCapability};
    const login_step step = client_login(c, rules);
    if (step == login_step::refused) ctl_inc(counts.auth_fail);
    return step != login_step::refused;
}

bool admin_server::impl::answer(admin_client& c, std::span<const uint8_t> msg,
                                const qipc::frame_header& h) {
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
        admin_reply(msg.subspan(qipc::kHeaderSize), h.little_endian, *model, &control);
    return queue(c, {reinterpret_cast<const char*>(reply.data()), reply.size()});
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
    impl_->own_model = std::make_unique<stats_only_model>(std::move(stats));
    return start(cfg, *impl_->own_model, error);
}

bool admin_server::start(const config& cfg, admin_model& model, std::string& error) {
    impl& s = *impl_;
    if (s.thread.joinable()) {
        error = "admin: already started";
        return false;
    }
    if (!ctl_listen("admin", cfg.admin, s.listen_fd, s.port, s.wake, error)) {
        s.close_fds();
        return false;
    }
    s.auth.users = cfg.users;
    warn_no_admin(cfg.users);
    s.auth.limits.handshake_bytes_max = cfg.limits.handshake_bytes_max;
    s.auth.admin_limits = cfg.admin_limits;
    s.model = &model;
    s.thread = std::thread([&s] { s.run(); });
    return true;
}

void admin_server::set_control(admin_control c) { impl_->control = std::move(c); }

void admin_server::set_users(const std::vector<user_entry>& users) {
    warn_no_admin(users);
    std::vector<user_entry> copy = users;  // copied outside the lock: the admin thread waits less
    const std::lock_guard<std::mutex> lock(impl_->auth_mu);
    impl_->auth.users.swap(copy);
}

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

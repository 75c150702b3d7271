// DESIGN: the registration listener's socket loop (qgate/register.h), the admin endpoint's
// shape (admin.cc) with the client table and socket helpers of admin_clients.h: poll() over a
// stop pipe, the listener and the connections; non-blocking sockets; a login as clients log
// in (any user of the users file) within admin.handshake_timeout_ms of the accept; at most
// register.backends_max + kSpareConns connections (a newcomer past it displaces one still in
// its handshake, else is closed). An authenticated connection is never timed out: it is the
// service's lifeline (KX: the load balancer's .z.pc removes the service when it closes).
// Each connection is one owner of the backend_sink ("register <peer> fd N") with the list of
// services it registered; every registration hands the sink the whole new list, and a closed
// connection hands it an empty one, so its backends drain as removed ones do. The sink builds
// and publishes a generation and waits (bounded) for the shards: this thread may block there.
#include "qgate/register.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <span>
#include <thread>

#include "ctl/admin_clients.h"
#include "ctl/register_call.h"
#include "qgate/log.h"
#include "qgate/qipc/frame.h"
#include "qgate/qipc/value.h"
#include "qgate/qipc/writer.h"

namespace qgate::ctl {
namespace {

using qipc::value;

constexpr uint8_t kCapability = 3;             // no >2 GB messages here
constexpr uint64_t kMessageMax = uint64_t{64} * 1024;  // a registration is a one-liner
constexpr std::size_t kReadChunk = 4096;
constexpr std::size_t kOutMax = std::size_t{64} * 1024;  // replies: a symbol or an error each
// Connections beyond register.backends_max (each service needs one): room for ones logging in
// or not registered yet.
constexpr std::size_t kSpareConns = 16;

// "ip:port" of the connection's peer, for the owner's name and the log.
std::string peer_of(int fd) {
    sockaddr_storage sa{};
    socklen_t len = sizeof sa;
    char host[INET6_ADDRSTRLEN] = "?";
    uint16_t port = 0;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0) {
        if (sa.ss_family == AF_INET) {
            const auto* in = reinterpret_cast<const sockaddr_in*>(&sa);
            ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
            port = ntohs(in->sin_port);
        } else if (sa.ss_family == AF_INET6) {
            const auto* in = reinterpret_cast<const sockaddr_in6*>(&sa);
            ::inet_ntop(AF_INET6, &in->sin6_addr, host, sizeof host);
            port = ntohs(in->sin6_port);
        }
    }
    return std::string(host) + ":" + std::to_string(port);
}

bool has(const std::vector<std::string>& names, const std::string& n) {
    return std::find(names.begin(), names.end(), n) != names.end();
}

// The sink's reason for leaving `name` out ("name: why" in refused).
std::string reason_for(const sink_result& r, const std::string& name) {
    for (const std::string& line : r.refused) {
        if (line.compare(0, name.size() + 2, name + ": ") == 0) return line;
    }
    return name + ": not applied";
}

}  // namespace

struct register_server::impl {
    /// What one connection registered: its owner name at the sink and its services.
    struct owned {
        std::string owner;
        std::vector<backend_conf> services;
        bool warned = false;  ///< a dropped async message was logged as a warning
    };

    int listen_fd = -1;
    int wake[2] = {-1, -1};
    uint16_t port = 0;
    config auth;         // users and limits.handshake_bytes_max
    admin_conf lim;      // the handshake deadline; no idle deadline
    register_conf rc;
    backend_sink* sink = nullptr;
    register_counters counts;
    std::mutex auth_mu;  // auth.users: this thread reads, a reload (set_users) writes
    std::atomic<bool> withdraw{true};
    std::thread thread;
    std::vector<admin_client> clients;  // parallel to `owners`
    std::vector<owned> owners;

    void run();
    void accept_one();
    void close_client(std::size_t i);
    void expire(uint64_t now);
    bool serve(std::size_t i);  // false: close the connection
    bool on_message(std::size_t i, std::span<const uint8_t> msg, bool sync);
    value register_one(std::size_t i, const register_request& r);
    value refuse(const register_request& r, const std::string& why);
    void close_fds();
};

void register_server::impl::run() {
    std::vector<pollfd> fds;
    for (;;) {
        const int timeout = admin_poll_timeout(clients, lim, ctl_now_ms());
        if (!ctl_poll("register", wake[0], listen_fd, clients, timeout, fds)) break;
        serve_clients(
            fds, clients, [this](std::size_t i) { return serve(i); },
            [this](std::size_t i) { close_client(i); });
        expire(ctl_now_ms());
        if (fds[1].revents != 0) accept_one();
    }
    while (!clients.empty()) close_client(clients.size() - 1);
}

// The connection's services leave the sink (and drain) before its socket closes.
void register_server::impl::close_client(std::size_t i) {
    owned& o = owners[i];
    if (!o.services.empty()) {
        QGATE_LOG_INFO("%s closed; its %zu service(s) %s", o.owner.c_str(),
                       o.services.size(), withdraw ? "drain" : "stop with qgate");
        if (withdraw) sink->set_backends(o.owner, {});
        counts.backends.fetch_sub(o.services.size(), std::memory_order_relaxed);
    }
    const int fd = clients[i].fd;
    clients.erase(clients.begin() + static_cast<std::ptrdiff_t>(i));
    owners.erase(owners.begin() + static_cast<std::ptrdiff_t>(i));
    counts.conns.store(clients.size(), std::memory_order_relaxed);
    ctl_inc(counts.closed);
    ::close(fd);
}

// Closes every connection that has not logged in within the handshake timeout.
void register_server::impl::expire(uint64_t now) {
    for (std::size_t i = clients.size(); i-- > 0;) {
        if (admin_deadline(clients[i], lim) > now) continue;
        ctl_inc(counts.auth_fail);
        close_client(i);
    }
}

void register_server::impl::accept_one() {
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;  // EAGAIN, ECONNABORTED, EMFILE: nothing to do until the next poll
    if (clients.size() >= rc.backends_max + kSpareConns) {
        const std::size_t victim = admin_victim(clients);
        if (clients[victim].ready) {  // every slot holds a live service connection: refuse
            QGATE_LOG_WARN("register: %zu connections open (register.backends_max + %zu); "
                           "refusing one", clients.size(), kSpareConns);
            ctl_inc(counts.closed);
            ::close(fd);
            return;
        }
        close_client(victim);  // one still in its handshake makes room
    }
    clients.push_back(accepted_client(fd));
    owners.push_back({"register " + peer_of(fd) + " fd " + std::to_string(fd), {}, false});
    counts.conns.store(clients.size(), std::memory_order_relaxed);
}

bool register_server::impl::serve(std::size_t i) {
    admin_client& c = clients[i];
    const std::size_t old = c.in.size();
    c.in.resize(old + kReadChunk);
    const ssize_t n = ::recv(c.fd, c.in.data() + old, kReadChunk, 0);
    c.in.resize(old + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
    if (n < 0) return (errno == EINTR || errno == EAGAIN) && client_flush(c);
    if (n == 0) return false;  // the service went away: its backends drain
    if (!c.ready) {
        const login_rules rules{"register", auth, auth_mu, false, kCapability};
        const login_step step = client_login(c, rules);
        if (step == login_step::refused) ctl_inc(counts.auth_fail);
        if (step != login_step::done) return step == login_step::waiting;
    }
    while (c.in.size() >= qipc::kHeaderSize) {
        qipc::frame_header h;
        if (!qipc::parse_header(c.in, h, {kMessageMax, c.capability})) return false;  // broken
        if (c.in.size() < h.length) break;
        const bool sync = h.type == qipc::msg_type::sync;
        if (!on_message(i, std::span(c.in).first(h.length), sync)) return false;
        c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(h.length));
    }
    return client_flush(c);
}

// One message: a registration (answered when sync), else a q error to a sync caller, and an
// async one dropped and counted. False: the reply could not be queued (not reading): close.
bool register_server::impl::on_message(std::size_t i, std::span<const uint8_t> msg,
                                       bool sync) {
    qipc::frame_header h;
    value v;
    register_request r;
    std::string error;
    value reply;
    const qipc::status st = qipc::decode_message(msg, h, v, {}, {kMessageMax, kCapability});
    if (!st) {
        error = std::string("qgate: malformed message: ") + qipc::errc_name(st.code);
    } else if (parse_register_call(v, r, error)) {
        reply = register_one(i, r);
    }
    if (!error.empty()) {
        ctl_inc(counts.bad_messages);
        // An async sender hears nothing back, so the log says it: once per connection, so
        // that a flood of them does not flood the log.
        if (!sync && !owners[i].warned) {
            owners[i].warned = true;
            QGATE_LOG_WARN("%s: an async message dropped (and any more, counted in "
                           "register_bad_messages): %s", owners[i].owner.c_str(), error.c_str());
        } else {
            QGATE_LOG_DEBUG("%s: %s", owners[i].owner.c_str(), error.c_str());
        }
        reply = value::error(std::move(error));
    }
    if (!sync) return true;  // async: logged, counted, no reply
    const std::vector<uint8_t> out = qipc::encode_message(reply, qipc::msg_type::response);
    return client_queue(clients[i], {reinterpret_cast<const char*>(out.data()), out.size()},
                        kOutMax);
}

value register_server::impl::refuse(const register_request& r, const std::string& why) {
    ctl_inc(counts.refused);
    QGATE_LOG_WARN("register: %s refused: %s", registered_name(r).c_str(), why.c_str());
    return value::error("qgate: registerResource: " + why);
}

value register_server::impl::register_one(std::size_t i, const register_request& r) {
    owned& o = owners[i];
    const std::string name = registered_name(r);
    if (!rc.groups.empty() && !has(rc.groups, r.name)) return refuse(r, "name not allowed");
    const auto same = [&name](const backend_conf& b) { return b.name == name; };
    if (std::any_of(o.services.begin(), o.services.end(), same)) return value::symbol(name);
    if (counts.backends.load(std::memory_order_relaxed) >= rc.backends_max) {
        return refuse(r, "registrations full (register.backends_max " +
                             std::to_string(rc.backends_max) + ")");
    }
    backend_conf b;
    b.name = name;
    b.group = r.name;
    b.addr = r.addr;
    b.credentials = rc.credentials;
    b.conns = rc.conns;
    b.source = backend_source::registered;
    std::vector<backend_conf> next = o.services;
    next.push_back(std::move(b));
    const sink_result res = sink->set_backends(o.owner, next);
    if (!has(res.accepted, name)) {
        sink->set_backends(o.owner, o.services);  // the sink holds exactly what we count
        return refuse(r, reason_for(res, name));
    }
    o.services = std::move(next);
    counts.backends.fetch_add(1, std::memory_order_relaxed);
    ctl_inc(counts.accepted);
    QGATE_LOG_INFO("register: %s registered by %s (group %s, generation %llu)", name.c_str(),
                   o.owner.c_str(), r.name.c_str(),
                   static_cast<unsigned long long>(res.generation));
    return value::symbol(name);
}

void register_server::impl::close_fds() {
    for (int* fd : {&listen_fd, &wake[0], &wake[1]}) {
        if (*fd >= 0) ::close(*fd);
        *fd = -1;
    }
}

register_server::register_server() : impl_(std::make_unique<impl>()) {}

register_server::~register_server() { stop(false); }

bool register_server::start(const config& cfg, backend_sink& sink, std::string& error) {
    impl& s = *impl_;
    if (s.thread.joinable()) {
        error = "register: already started";
        return false;
    }
    if (!ctl_listen("register", cfg.registration.listen, s.listen_fd, s.port, s.wake, error)) {
        s.close_fds();
        return false;
    }
    s.auth.users = cfg.users;
    s.auth.limits.handshake_bytes_max = cfg.limits.handshake_bytes_max;
    s.lim.handshake_timeout_ms = cfg.admin_limits.handshake_timeout_ms;
    s.lim.idle_timeout_ms = 0;  // a registration connection is silent by design
    s.rc = cfg.registration;
    s.sink = &sink;
    s.thread = std::thread([&s] { s.run(); });
    return true;
}

void register_server::set_users(const std::vector<user_entry>& users) {
    std::vector<user_entry> copy = users;
    const std::lock_guard<std::mutex> lock(impl_->auth_mu);
    impl_->auth.users.swap(copy);
}

uint16_t register_server::port() const { return impl_->port; }

const register_counters& register_server::counters() const { return impl_->counts; }

void register_server::stop(bool withdraw) {
    impl& s = *impl_;
    if (s.thread.joinable()) {
        s.withdraw.store(withdraw, std::memory_order_relaxed);
        const char byte = 1;
        while (::write(s.wake[1], &byte, 1) < 0 && errno == EINTR) {
        }
        s.thread.join();
    }
    s.close_fds();
}

}  // namespace qgate::ctl

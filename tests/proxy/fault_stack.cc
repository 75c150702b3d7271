// The engine thread, qmock processes and q client of the io fault tests (fault_stack.h).

#include "fault_stack.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "net/socket_util.h"
#include "proxy/engine.h"
#include "proxy/pubsub_state.h"
#include "proxy/request.h"
#include "proxy/upstreams.h"
#include "qgate/qipc/writer.h"
#include "shard/shard.h"

#ifndef QGATE_QMOCK
#error "QGATE_QMOCK (the qmock binary's path) is set by tests/proxy/meson.build"
#endif

namespace qgate::testing {

namespace {
constexpr int kBatch = 256;
using clock_type = std::chrono::steady_clock;
}  // namespace

// ---- qmock ----

bool qmock_proc::start(const std::string& name, std::string& error) {
    char tmpl[] = "/tmp/qgate-faults-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
        error = "mkdtemp failed";
        return false;
    }
    dir_ = tmpl;
    const std::string pf = dir_ + "/port";
    pid_ = fork();
    if (pid_ == 0) {
        const int null = ::open("/dev/null", O_WRONLY);
        if (null >= 0) dup2(null, STDOUT_FILENO);
        execl(QGATE_QMOCK, "qmock", "--port", "0", "--port-file", pf.c_str(), "--name",
              name.c_str(), "--compress", "never", static_cast<char*>(nullptr));
        _exit(127);
    }
    // The port file appears once qmock listens (written atomically): bounded wait for it.
    const auto deadline = clock_type::now() + std::chrono::seconds(10);
    while (clock_type::now() < deadline) {
        std::ifstream in(pf);
        unsigned p = 0;
        if (in >> p && p > 0) {
            port_ = static_cast<uint16_t>(p);
            return true;
        }
        int st = 0;
        if (waitpid(pid_, &st, WNOHANG) == pid_) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling for the file
    }
    error = "qmock did not start: " + std::string(QGATE_QMOCK);
    return false;
}

void qmock_proc::stop() {
    if (pid_ > 0) {
        kill(pid_, SIGTERM);
        int st = 0;
        waitpid(pid_, &st, 0);
        pid_ = -1;
    }
    if (!dir_.empty()) {
        std::remove((dir_ + "/port").c_str());
        rmdir(dir_.c_str());
        dir_.clear();
    }
}

// ---- the engine on its thread ----

fault_gateway::fault_gateway(config_ptr cfg, io::backend_kind kind, const fault_plan& plan)
    : cfg_(std::move(cfg)), kind_(kind), plan_(plan) {}

fault_gateway::~fault_gateway() {
    if (thread_.joinable()) stop();
    for (int fd : lfds_) {
        if (fd >= 0) ::close(fd);  // only those the engine never took (start failed)
    }
}

bool fault_gateway::start(std::string& error) {
    ups_ = std::make_unique<proxy::upstream_table>();
    ups_->build(*cfg_);
    gens_ = std::make_unique<proxy::gen_holder>(1);
    if (!proxy::start_generation(cfg_, *ups_, *gens_, error)) return false;
    for (const listener_conf& l : cfg_->listeners) {
        if (l.mode == conn_mode::request && plane_ == nullptr) {
            plane_ = std::make_unique<proxy::route_plane>();
            plane_->build(*cfg_, 1);
        }
        if (l.mode == conn_mode::pubsub && ps_ == nullptr) {
            ps_ = std::make_unique<proxy::pubsub_plane>(1, *cfg_);
        }
        net::sock_addr a;
        if (!net::resolve(l.addr, a, error)) return false;
        const int fd = net::listen_reuseport(a, 128, error);
        if (fd < 0) return false;
        lfds_.push_back(fd);
        ports_.push_back(net::local_port(fd));
    }
    thread_ = std::thread([this] { run(); });
    while (state_.load(std::memory_order_acquire) == 0) std::this_thread::yield();
    if (state_.load() < 0) {
        thread_.join();
        error = error_;
        return false;
    }
    lfds_.clear();  // the engine owns them now
    return true;
}

void fault_gateway::run() {
    io::backend_options bo;
    bo.buf_entries = cfg_->limits.buf_ring_entries;
    bo.buf_size = cfg_->limits.buf_size;
    std::string err;
    auto real = kind_ == io::backend_kind::uring ? io::make_uring_backend(bo, err)
                                                 : io::make_epoll_backend(bo, err);
    if (real == nullptr) {
        error_ = err;
        state_.store(-1, std::memory_order_release);
        return;
    }
    fault_backend fb(std::move(real), plan_);
    {
        proxy::engine_options o;
        o.cfg = cfg_;
        o.upstreams = ups_.get();
        o.listener_fds = lfds_;
        o.stop = &stop_;
        o.plane = plane_.get();
        o.pubsub = ps_.get();
        o.gens = gens_.get();
        proxy::engine eng(fb, ctr_, o);
        be_.store(&fb, std::memory_order_release);
        state_.store(1, std::memory_order_release);
        io::completion cq[kBatch];
        while (!eng.finished()) {
            const uint64_t now = shard::shard::now_ms();
            eng.on_turn(now);
            if (eng.finished()) break;
            const int n = fb.wait(cq, kBatch, eng.sleep_budget_ms(now));
            for (int i = 0; i < n; ++i) {
                const io::op op = io::ud_op(cq[i].user_data);
                if (op == io::op::wake) continue;
                if (op == io::op::notify) {
                    eng.on_notify();
                } else {
                    eng.on_completion(cq[i]);
                }
            }
        }
        out_.bufs_held = fb.pool().held();
        out_.inner_bufs_held = fb.inner().pool().held();
        be_.store(nullptr, std::memory_order_release);
    }
    // Let the operations the wrapper still runs inside (recvs being cancelled) end.
    io::completion cq[kBatch];
    for (int i = 0; i < 100 && fb.inner_ops() != 0; ++i) fb.wait(cq, kBatch, 10);
    out_.inner_ops = fb.inner_ops();
    out_.log = fb.log();
}

gw_outcome fault_gateway::stop() {
    stop_.store(true, std::memory_order_release);
    // The engine looks at the flag when notified; it drains only after that, so the backend
    // is still there.
    io::io_backend* be = be_.load(std::memory_order_acquire);
    if (be != nullptr) be->notify();
    if (thread_.joinable()) thread_.join();
    return out_;
}

// ---- q client ----

bool q_client::open(uint16_t port, int timeout_ms) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    timeval tv{timeout_ms / 1000, static_cast<suseconds_t>(timeout_ms % 1000) * 1000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return false;
    local_ = net::local_port(fd_);
    const char hs[] = "faults:pw\x03";  // + its NUL
    if (::send(fd_, hs, sizeof hs, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof hs)) return false;
    uint8_t cap = 0;
    got why{};
    return fill(&cap, 1, why);
}

bool q_client::send(const qipc::value& v, qipc::msg_type t) const {
    const std::vector<uint8_t> m = qipc::encode_message(v, t);
    size_t off = 0;
    while (off < m.size()) {
        const ssize_t n = ::send(fd_, m.data() + off, m.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return false;
        off += static_cast<size_t>(n);
    }
    return true;
}

bool q_client::fill(uint8_t* p, size_t n, got& why) const {
    size_t off = 0;
    while (off < n) {
        const ssize_t r = ::recv(fd_, p + off, n - off, 0);
        if (r > 0) {
            off += static_cast<size_t>(r);
            continue;
        }
        why = r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? got::timeout : got::closed;
        return false;
    }
    return true;
}

q_client::got q_client::read(qipc::msg_type& type, qipc::value& v) {
    std::vector<uint8_t> m(qipc::kHeaderSize);
    got why = got::closed;
    if (!fill(m.data(), m.size(), why)) return why;
    qipc::frame_header h;
    if (!qipc::parse_header(m, h).ok() || h.length > (1u << 26)) return got::closed;
    m.resize(h.length);
    if (!fill(m.data() + qipc::kHeaderSize, h.length - qipc::kHeaderSize, why)) return why;
    if (!qipc::decode_message(m, h, v).ok()) return got::closed;
    type = h.type;
    return got::msg;
}

void q_client::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

}  // namespace qgate::testing

// What io_faults_test.cc runs on: the real engine on its own thread over a fault_backend
// (fault_backend.h) wrapping a real io_uring or epoll backend, spawned qmock backends, and a
// blocking q client. Loopback only, ports bound to 0, every wait bounded.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fault_backend.h"
#include "io/backend.h"
#include "qgate/config.h"
#include "qgate/qipc/value.h"
#include "shard/counters.h"

namespace qgate::proxy {
class upstream_table;
class route_plane;
class gen_holder;
class pubsub_plane;
}  // namespace qgate::proxy

namespace qgate::testing {

/// A qmock process (tools/qmock), listening on a port of its own choosing.
class qmock_proc {
  public:
    qmock_proc() = default;
    ~qmock_proc() { stop(); }
    qmock_proc(const qmock_proc&) = delete;
    qmock_proc& operator=(const qmock_proc&) = delete;
    bool start(const std::string& name, std::string& error);
    void stop();
    uint16_t port() const { return port_; }

  private:
    pid_t pid_ = -1;
    uint16_t port_ = 0;
    std::string dir_;
};

/// What one run of the gateway left behind, read after its thread ended.
struct gw_outcome {
    fault_log log;
    uint64_t bufs_held = 0;        ///< the engine's pool (the wrapper's): 0 when nothing leaked
    uint64_t inner_bufs_held = 0;  ///< the real backend's pool
    size_t inner_ops = 0;          ///< operations still running inside after the engine ended
};

/// The engine on its own thread, one shard, over a fault_backend.
class fault_gateway {
  public:
    fault_gateway(config_ptr cfg, io::backend_kind kind, const fault_plan& plan);
    ~fault_gateway();
    fault_gateway(const fault_gateway&) = delete;
    fault_gateway& operator=(const fault_gateway&) = delete;
    bool start(std::string& error);
    uint16_t port(size_t listener) const { return ports_[listener]; }
    /// Drains (as on SIGTERM), joins, and returns what was left.
    gw_outcome stop();
    shard::counters& counters() { return ctr_; }

  private:
    void run();

    config_ptr cfg_;
    io::backend_kind kind_;
    fault_plan plan_;
    std::unique_ptr<proxy::upstream_table> ups_;
    std::unique_ptr<proxy::route_plane> plane_;
    std::unique_ptr<proxy::gen_holder> gens_;
    std::unique_ptr<proxy::pubsub_plane> ps_;
    std::vector<int> lfds_;
    std::vector<uint16_t> ports_;
    shard::counters ctr_;
    std::atomic<bool> stop_{false};
    std::atomic<int> state_{0};  ///< 0 starting, 1 running, -1 failed
    std::atomic<io::io_backend*> be_{nullptr};
    std::string error_;
    gw_outcome out_;
    std::thread thread_;
};

/// A blocking q client with a receive timeout: every wait is bounded.
class q_client {
  public:
    enum class got { msg, closed, timeout };
    q_client() = default;
    ~q_client() { close(); }
    q_client(const q_client&) = delete;
    q_client& operator=(const q_client&) = delete;
    /// Connects and does the handshake (capability 3). False: refused or closed at once.
    bool open(uint16_t port, int timeout_ms);
    bool send(const qipc::value& v, qipc::msg_type t) const;
    /// One whole message; its type and decoded body.
    got read(qipc::msg_type& type, qipc::value& v);
    uint16_t local_port() const { return local_; }
    void close();

  private:
    bool fill(uint8_t* p, size_t n, got& why) const;
    int fd_ = -1;
    uint16_t local_ = 0;
};

}  // namespace qgate::testing

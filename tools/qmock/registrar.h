// qmock registering itself with something that keeps a list of backends: a KX-style load
// balancer (--register-resource, the query-routing whitepaper's service.q) and a TorQ
// discovery service (--discovery-register, TorQ's trackservers.q). Each target is one
// outbound connection that qmock keeps open; when it cannot be opened or closes, qmock tries
// again after the target's retry interval and registers again. See README.md, "Registering".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qmock {

class server;
struct conn;

struct reg_options {
    std::string kx_target;     ///< --register-resource HOST:PORT (empty: none)
    std::string service;       ///< --service NAME: the service name registered with it
    int64_t kx_retry_ms = 10000;  ///< --register-retry-ms (the whitepaper's `\t 10000`)
    std::string torq_target;   ///< --discovery-register HOST:PORT (empty: none)
    std::string proctype;      ///< --proctype
    std::string procname;      ///< --procname (default: --name)
    int64_t torq_retry_ms = 300000;  ///< --discovery-retry-ms (TorQ's DISCOVERYRETRY 0D00:05)
    std::string user;          ///< --register-user user:pass, sent in both handshakes
    bool any() const { return !kx_target.empty() || !torq_target.empty(); }
};

/// Splits "host:port" (or "[v6]:port") at its last colon. False when it does not parse.
bool split_host_port(const std::string& text, std::string& host, uint16_t& port);

class registrar {
  public:
    registrar(server& srv, reg_options opt);

    /// Opens the connections that are due (at start, and a retry interval after a loss).
    void tick(uint64_t now_ns);
    /// Milliseconds until tick() has work, -1 for none.
    int next_timeout_ms(uint64_t now_ns) const;
    /// An outbound connection finished its handshake: sends its registration.
    void on_ready(conn& c);
    /// A connection closed (any connection; ignored unless it is one of ours).
    void on_closed(uint64_t conn_id);

  private:
    enum class kind : uint8_t { kx, torq };
    struct target {
        kind k;
        std::string host;
        uint16_t port = 0;
        uint64_t retry_ns = 0;
        uint64_t conn_id = 0;  ///< the open (or opening) connection, 0 for none
        uint64_t due_ns = 0;   ///< when to try to connect next (0: at once)
    };
    void send_registration(conn& c, const target& t);

    server& srv_;
    reg_options opt_;
    std::vector<target> targets_;
};

}  // namespace qmock

// The registration listener (issue 17, KX whitepaper style): a service connects, logs in as
// any user of the users file, and calls registerResource[`name;`:host:port] (sync or async);
// it is then a backend of group `name` until that connection closes, when it drains. A
// control-plane thread (src/ctl/register.cc) that hands the backends to a backend_sink (the
// hot reloader); it never touches the data plane.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "qgate/backend_sink.h"
#include "qgate/config.h"

namespace qgate::ctl {

/// Written by the registration thread only; relaxed atomics any thread may read. Reported as
/// the register_* stats.
struct register_counters {
    std::atomic<uint64_t> conns{0};         ///< registration connections open now
    std::atomic<uint64_t> backends{0};      ///< services registered now
    std::atomic<uint64_t> accepted{0};      ///< registrations accepted
    std::atomic<uint64_t> refused{0};       ///< registrations refused (name, cap, address)
    std::atomic<uint64_t> bad_messages{0};  ///< messages that were no registerResource call
    std::atomic<uint64_t> auth_fail{0};     ///< logins refused (credentials, handshake)
    std::atomic<uint64_t> closed{0};        ///< registration connections closed, any reason
};

class register_server {
  public:
    register_server();
    ~register_server();
    register_server(const register_server&) = delete;
    register_server& operator=(const register_server&) = delete;

    /// Binds cfg.registration.listen (port 0 = any) and serves in its own thread, handing
    /// registrations to `sink` (which must outlive stop()). False with `error` set on failure.
    bool start(const config& cfg, backend_sink& sink, std::string& error);
    /// The users a login is checked against from now on (a reload changed the users file).
    void set_users(const std::vector<user_entry>& users);
    uint16_t port() const;
    const register_counters& counters() const;
    /// Closes the listener and every connection. The services' backends are withdrawn from
    /// the sink first unless `withdraw` is false (qgate exiting: the shards are gone, nothing
    /// is left to drain).
    void stop(bool withdraw = true);

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace qgate::ctl

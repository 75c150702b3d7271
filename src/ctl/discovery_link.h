// One connection to one TorQ discovery process (the discovery thread's state machine,
// src/ctl/discovery_link.cc). Non-blocking socket; every state has a deadline, so the thread
// never waits on one process: it polls fd()/events() of every link and calls step() when the
// socket is ready or deadline_ms() has passed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ctl/discovery_rows.h"
#include "qgate/config.h"
#include "qgate/discovery.h"

namespace qgate::ctl::disc {

/// The link's states, in order of a normal start:
///   waiting     no socket; reconnect at deadline (backoff reconnect_min_ms .. max_ms)
///   connecting  non-blocking connect in progress, until connect_timeout_ms
///   handshake   credentials sent, the capability byte awaited until handshake_timeout_ms
///   open        logged in: getservices sent every refresh_ms (its answer awaited until
///               connect_timeout_ms + refresh_ms), procupdate pushes applied as they come
/// Any failure closes the socket, counts, keeps the view and goes back to waiting.
enum class link_state : uint8_t { waiting, connecting, handshake, open };

class link {
  public:
    link(std::string address, const config& cfg, discovery_counters& counters);
    ~link();
    link(const link&) = delete;
    link& operator=(const link&) = delete;

    /// -1 while waiting.
    int fd() const { return fd_; }
    short events() const;
    int64_t deadline_ms() const;
    /// The socket is ready (`revents`, 0 when only the time passed) at `now_ms`.
    void step(short revents, int64_t now_ms);
    /// True once after the view changed: `out` is what the sink should now hold.
    bool take_change(std::vector<backend_conf>& out);

    const std::string& owner() const { return owner_; }
    link_state state() const { return state_; }

  private:
    void start_connect(int64_t now_ms);
    void on_connected(int64_t now_ms);
    void on_handshake(int64_t now_ms);
    void send_getservices(int64_t now_ms);
    bool flush();
    bool read_messages(int64_t now_ms);
    bool on_message(const std::vector<uint8_t>& msg, int64_t now_ms);
    bool on_reply(const qipc::value& v);
    void on_push(const qipc::value& v);
    void fail(const char* what, int64_t now_ms);
    void close_fd();

    std::string address_;  // "host:port" from the config
    std::string owner_;    // "discovery host:port": the sink's owner
    endpoint ep_;
    const config& cfg_;
    discovery_counters& counters_;
    view view_;
    std::vector<uint8_t> call_;  // the getservices message, built once

    link_state state_ = link_state::waiting;
    int fd_ = -1;
    int64_t deadline_ms_ = 0;     // of the current state (waiting: the next connect)
    int64_t refresh_at_ms_ = 0;   // open: the next getservices
    bool awaiting_reply_ = false;
    uint32_t backoff_ms_ = 0;
    bool changed_ = false;
    std::vector<uint8_t> in_;
    std::vector<uint8_t> out_;
};

}  // namespace qgate::ctl::disc

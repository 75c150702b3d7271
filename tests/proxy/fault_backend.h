// A test-only io backend that wraps a real one (io_uring or epoll) and injects, from a seed,
// the faults a kernel produces under stress or on a broken network: short sends, a multishot
// recv ended early with -ENOBUFS or -ECANCELED (or by a final completion that still carries
// data), -EAGAIN from recv_now and recv_into, and -ECONNRESET on a recv or send (the socket is
// shut down too, so its peer sees the reset). Used by io_faults_test.cc to run the real engine
// over real loopback sockets.
//
// Design note. Faults must not break the backend contract the engine relies on (backend.h):
// exactly one final completion per operation, buffers named by kFlagBuffer owned by the
// engine until released, no byte lost or reordered on a stream that was not reset. So:
//  * The wrapper has its own buffer pool (stack mode): the engine sees and releases only it.
//    Every byte the inner backend receives is copied out of the inner pool (given back at
//    once) into a per-fd stash, and from there into the wrapper's buffers. An empty wrapper
//    pool ends the multishot with -ENOBUFS, as the kernel's buffer ring does.
//  * Operations get inner user_data of their own (same op byte, a private id), so an
//    operation the wrapper ended early (its final reported to the engine) may still be
//    running inside while the engine re-arms one with the same user_data. Bytes it still
//    reads wait in the stash for the next recv the engine arms on that fd, in order.
//  * A close_fd while an inner recv is still ending is deferred until that recv's final.
//  * A truncated send goes out from a copy of the msghdr kept with the operation.
// Faults are drawn from a PRNG seeded per run, in the order operations happen; the io itself
// is real, so a seed replays the same fault sequence but not necessarily the same schedule.
// Thread: the engine's (the shard's), except notify() and the counters read after the run.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "io/backend.h"

namespace qgate::testing {

/// Which faults, how often (per mille of the operations each applies to).
struct fault_plan {
    uint64_t seed = 1;
    uint32_t short_send = 0;   ///< a send submitted with fewer bytes than asked
    uint32_t end_recv = 0;     ///< a multishot recv ends: -ENOBUFS, -ECANCELED or data, no F_MORE
    uint32_t eagain = 0;       ///< recv_now returns -EAGAIN without reading
    uint32_t eagain_into = 0;  ///< recv_into completes -EAGAIN without reading
    uint32_t reset = 0;        ///< a recv or send fails -ECONNRESET and the socket is shut down
    uint32_t resets_max = 0;   ///< at most this many resets per run
};

/// What was injected (read after the engine's thread has ended).
struct fault_log {
    uint64_t short_sends = 0, enobufs = 0, ecanceled = 0, ended_with_data = 0, eagain = 0;
    uint64_t eagain_into = 0;
    uint64_t resets = 0;
    uint64_t pool_empty = 0;  ///< genuine -ENOBUFS: the wrapper's pool had no free buffer
    uint64_t contract = 0;    ///< the engine broke the backend contract (must stay 0)
    std::set<uint16_t> reset_ports;  ///< both ports of every reset socket
};

class fault_backend final : public io::io_backend {
  public:
    fault_backend(std::unique_ptr<io::io_backend> inner, const fault_plan& plan);
    ~fault_backend() override = default;
    fault_backend(const fault_backend&) = delete;
    fault_backend& operator=(const fault_backend&) = delete;

    io::backend_kind kind() const override { return inner_->kind(); }
    const char* name() const override { return "fault"; }
    void accept_multishot(int fd, uint64_t ud) override;
    void recv_multishot(int fd, uint64_t ud) override;
    void recv_into(int fd, uint64_t ud, uint8_t* buf, uint32_t len, bool all) override;
    int32_t recv_now(int fd, uint8_t* buf, uint32_t len) override;
    void send_msg(int fd, uint64_t ud, const msghdr* msg) override;
    void connect(int fd, uint64_t ud, const sockaddr* sa, socklen_t len) override;
    void cancel(int fd, uint64_t ud) override;
    void cancel_fd(int fd) override;
    void close_fd(int fd) override;
    int wait(io::completion* out, int cap, int timeout_ms) override;
    void wake_peer(io::io_backend& peer) override { peer.notify(); }
    void notify() override { inner_->notify(); }

    const fault_log& log() const { return log_; }
    io::io_backend& inner() { return *inner_; }
    /// Operations submitted inside and not yet ended (0 once everything is closed).
    size_t inner_ops() const { return ops_.size(); }

  private:
    struct op_rec {
        uint64_t outer = 0;
        int fd = -1;
        bool is_recv = false;  ///< a multishot recv of rx_[fd]
        std::vector<iovec> iov;  ///< a truncated send's copy
        msghdr msg{};
    };
    struct chunk {
        std::string bytes;  ///< data; empty: a final result
        int32_t res = 0;
    };
    struct rx_stream {
        uint64_t outer = 0;        ///< the engine's armed recv; 0: none armed
        uint64_t inner = 0;        ///< our inner recv; 0: none running
        bool inner_cancelled = false;
        bool closing = false;      ///< close_fd deferred until the inner recv ends
        std::deque<chunk> stash;
    };

    bool roll(uint32_t per_mille);
    uint64_t submit(int fd, uint64_t outer, bool is_recv);
    void inject(uint64_t ud, int32_t res) { out_.push_back({ud, res, 0}); }
    bool reset_now(int fd);
    void note_reset(int fd);
    void detach(int fd, rx_stream& s, int32_t res);
    void on_inner(const io::completion& c);
    void on_inner_recv(op_rec& r, const io::completion& c);
    void pump(int fd, rx_stream& s);
    bool pump_one(int fd, rx_stream& s);
    void arm_inner(int fd, rx_stream& s);

    std::unique_ptr<io::io_backend> inner_;
    fault_plan plan_;
    uint64_t rng_;
    fault_log log_;
    uint64_t next_id_ = 1;
    std::unordered_map<uint64_t, op_rec> ops_;  ///< by inner user_data (node-stable)
    std::unordered_map<int, rx_stream> rx_;     ///< multishot receive state per fd
    std::deque<io::completion> out_;            ///< completions for the engine's next wait
    std::vector<io::completion> reaped_;
};

}  // namespace qgate::testing

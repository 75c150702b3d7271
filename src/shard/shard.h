// A shard: one thread, one io backend created on that thread, one event loop. What runs on it
// (the session engine) plugs in through shard_hooks, so the loop knows nothing about q.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "io/backend.h"
#include "shard/counters.h"
#include "shard/mailbox.h"

namespace qgate::shard {

class shard;

/// Implemented by the layer above (src/proxy). All calls come from the shard's thread.
class shard_hooks {
  public:
    virtual ~shard_hooks() = default;
    virtual void on_completion(const io::completion& c) = 0;
    virtual void on_message(uint32_t from, const xmsg& m) = 0;
    /// Once per loop turn, after completions and messages: timers, deferred sends, re-arms.
    virtual void on_turn(uint64_t now_ms) = 0;
    /// The outside world poked this shard (notify()).
    virtual void on_notify() = 0;
    /// Milliseconds the loop may sleep (-1 = until an event).
    virtual int sleep_budget_ms(uint64_t now_ms) = 0;
    virtual bool finished() const = 0;
};

/// Builds the hooks once the backend exists (on the shard thread).
using hooks_factory = std::function<std::unique_ptr<shard_hooks>(shard&)>;

class shard {
  public:
    shard(uint32_t id, mailbox_mesh& mesh, io::backend_kind kind, io::backend_options opts);
    ~shard();
    shard(const shard&) = delete;
    shard& operator=(const shard&) = delete;

    /// Starts the thread; blocks until the backend is created (or failed: returns false).
    bool start(hooks_factory factory, std::string& error);
    void join();

    uint32_t id() const { return id_; }
    io::io_backend& backend() { return *backend_; }
    counters& stats() { return counters_; }
    const counters& stats() const { return counters_; }
    mailbox_mesh& mesh() { return mesh_; }

    /// Queues a message for shard `to` (flushed, and the peer woken, at the end of the turn).
    bool send(uint32_t to, const xmsg& m);
    /// Peers, for wakes (set once before any thread starts sending).
    void set_peers(shard** peers) { peers_ = peers; }
    /// Any thread: wake this shard's loop.
    void notify();
    /// An eventfd the thread adds 1 to as it ends (after its loop and hooks are gone), so the
    /// signal thread can wait for the shards and for a second signal at once. Set before
    /// start(); -1 = none.
    void set_exit_fd(int fd) { exit_fd_ = fd; }

    static uint64_t now_ms();

  private:
    void run(const hooks_factory& factory);
    void loop();
    void flush_outbound();

    uint32_t id_;
    mailbox_mesh& mesh_;
    io::backend_kind kind_;
    io::backend_options opts_;
    std::unique_ptr<io::io_backend> backend_;
    std::unique_ptr<shard_hooks> hooks_;
    counters counters_;
    shard** peers_ = nullptr;
    int exit_fd_ = -1;
    uint64_t dirty_peers_ = 0;  ///< bit per peer with unflushed messages (<= 64 shards)
    std::thread thread_;
    std::atomic<int> started_{0};  ///< 0 starting, 1 running, -1 failed
    std::string start_error_;
};

}  // namespace qgate::shard

// The admin thread's way into a shard (.qgate.clients[], .backends[], .listeners[], .kick):
// one command slot per shard, never a lock and never a wait on the shard's side.
//
// Protocol (one producer, the admin thread; one consumer, the shard):
//   idle --admin: fill the command, store posted (release), shard::notify()--> posted
//   posted --shard, at the end of a turn: CAS posted->busy (acquire)--> busy
//   busy --shard: answer into the command's own buffers, store done (release)--> done
//   done --admin: read the answer (acquire); the next prepare() stores idle--> idle
// The admin waits for done with a bounded deadline (kAdminWaitMs): a shard that does not get
// there in time (stuck in a long turn, or its thread gone after a drain) makes the admin answer
// 'qgate: shard N busy', never hang. On that timeout the admin takes a command still `posted`
// back (CAS posted->idle: the shard never saw it); one already `busy` is left to the shard,
// and the next post first waits for it to reach done. The command and its buffers live in the
// slot, which outlives both threads (run_gateway owns it), so a late answer writes to memory
// that is still there.
// The shard never allocates: the admin reserves the client rows' capacity before posting
// (limits.conns_per_shard_max) and sizes the backend rows; a shard with more clients than
// that marks the answer truncated.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <ctime>
#include <vector>

namespace qgate::proxy {

/// How long the admin waits for a shard's answer.
inline constexpr uint64_t kAdminWaitMs = 1000;
inline constexpr size_t kUserShownMax = 64;  ///< bytes of a client's user name reported

/// Client ids: (per-shard sequence << kShardBits) | shard, unique for the process's life and
/// naming the shard that owns the client (kick goes there).
inline constexpr uint32_t kShardBits = 6;  // run_gateway's kShardsMax (64)

/// Wall-clock now in Unix nanoseconds (vDSO, no syscall): when a client was accepted.
inline int64_t unix_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

/// A client connection as its shard sees it.
struct client_snap {
    uint64_t id = 0;
    int64_t since_ns = 0;  ///< Unix ns at accept
    uint64_t calls = 0;
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;
    uint64_t inflight = 0;
    uint32_t listener = 0;
    uint32_t user_len = 0;
    char user[kUserShownMax] = {};
    sockaddr_storage peer{};  ///< ss_family AF_UNSPEC when unknown
};

/// One backend as one shard sees it (sessions on this shard; its pool when this is its home).
struct backend_snap {
    uint32_t conns = 0;     ///< sessions to it on this shard + ready pool connections
    uint32_t inflight = 0;  ///< calls sent, not answered
    uint32_t queued = 0;    ///< home shard: its queue
    bool home = false;      ///< this shard is its request-mode home (pool and queue here)
    bool ejected = false;   ///< home shard: ejected after failed connects
    uint64_t fail_ms = 0;   ///< last failed connect or lost link (monotonic ms; 0 = never)
    uint64_t ok_ms = 0;     ///< last successful handshake (monotonic ms; 0 = never)
    char error[96] = {};    ///< what failed at fail_ms
};

struct shard_command {
    /// snapshot: clients and backends; backends: the backends only (no walk of the clients'
    /// peers); kick: close client `id`.
    enum class kind : uint8_t { snapshot, backends, kick };
    kind what = kind::snapshot;
    uint64_t id = 0;  ///< kick: the client
    // ---- the answer (written by the shard between busy and done)
    std::vector<client_snap> clients;    ///< capacity reserved by the admin, never grown
    std::vector<backend_snap> backends;  ///< sized by the admin, one per backend
    bool truncated = false;              ///< more clients than the capacity
    bool found = false;                  ///< kick: the client was there (clients[0] is it)
};

class admin_link {
  public:
    enum : uint32_t { kIdle = 0, kPosted = 1, kBusy = 2, kDone = 3 };

    // ---- admin thread
    /// The command to fill, or nullptr while the shard still works on an earlier one.
    shard_command* prepare() {
        const uint32_t s = state_.load(std::memory_order_acquire);
        if (s == kBusy || s == kPosted) return nullptr;
        state_.store(kIdle, std::memory_order_relaxed);  // a late answer nobody waits for
        return &cmd_;
    }
    void post() { state_.store(kPosted, std::memory_order_release); }
    bool done() const { return state_.load(std::memory_order_acquire) == kDone; }
    /// The answer, once done() (it stays put until the next prepare()).
    const shard_command& command() const { return cmd_; }
    /// Gives up on a posted command: true when the shard never took it.
    bool withdraw() {
        uint32_t s = kPosted;
        return state_.compare_exchange_strong(s, kIdle, std::memory_order_acq_rel);
    }

    // ---- shard thread
    /// The posted command, now busy, or nullptr (one relaxed load when there is none).
    shard_command* take() {
        if (state_.load(std::memory_order_relaxed) != kPosted) return nullptr;
        uint32_t s = kPosted;
        if (!state_.compare_exchange_strong(s, kBusy, std::memory_order_acquire)) return nullptr;
        return &cmd_;
    }
    void answered() { state_.store(kDone, std::memory_order_release); }

  private:
    alignas(64) std::atomic<uint32_t> state_{kIdle};
    shard_command cmd_;
};

}  // namespace qgate::proxy

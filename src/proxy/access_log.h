// The access log: one line per request-mode sync call, off the hot path.
//
// Design note. A shard fills a fixed-size access_record (no allocation: the user and the error
// text are truncated into arrays) and pushes it into its own spsc_ring (shard/spsc_ring.h): no
// lock, no syscall on the shard. A full ring drops the record (access_log_dropped). One logger
// thread drains every ring each kPassMs (or at once when stopped), formats each record into a
// line and writes the lines with stdio's buffering, one fflush per pass. Time on the shard is
// CLOCK_MONOTONIC (vDSO, read only when the log is on); the logger turns it into UTC with one
// offset per pass. reopen() (any thread, e.g. SIGHUP for logrotate) asks the logger to reopen
// the file by path at its next pass.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "qgate/config.h"
#include "shard/spsc_ring.h"

namespace qgate::proxy {

enum class access_status : uint8_t {
    ok,       ///< the backend's answer
    error,    ///< a q error: the backend's ('text) or qgate's ('qgate: backend B disconnected)
    timeout,  ///< the route's timeout_ms ('qgate: timeout after Nms)
    refused,  ///< qgate refused the call: no route, no backend, busy, too large, malformed
};

inline constexpr uint32_t kAccessNone = UINT32_MAX;  ///< no backend / no route in a record

/// One call, as a shard hands it to the logger. Fixed size (no pointers): it is copied into a
/// ring slot as it is.
struct access_record {
    uint64_t end_ns = 0;    ///< CLOCK_MONOTONIC when the answer was queued for the client
    uint32_t dur_us = 0;    ///< from the call read whole to its answer queued
    uint32_t bytes_in = 0;  ///< the call's frame, header included
    uint32_t bytes_out = 0; ///< the answer's frame
    uint32_t client = 0;    ///< the client's slot on its shard (with `shard`: the client id)
    uint32_t backend = kAccessNone;  ///< backend id (generation.h; start-up: config order)
    uint32_t route = kAccessNone;    ///< index of the [[route]]; none = the listener's group
    uint16_t listener = 0;
    uint16_t shard = 0;
    access_status status = access_status::ok;
    uint8_t user_len = 0;
    uint8_t text_len = 0;
    static constexpr size_t kUserMax = 32;
    static constexpr size_t kTextMax = 96;
    char user[kUserMax]{};
    char text[kTextMax]{};  ///< the q error's text (no quote), when status != ok
};

/// A backend id's name ("" = unknown), asked by the logger thread. A reload adds ids while the
/// log runs, so the names are looked up, not copied at start (the gateway reads the
/// upstream_table, whose record for an id is written before any shard can route to it).
using backend_namer = std::function<std::string_view(uint32_t)>;

/// Formats `r` as one line, newline included, into `out` (at most `cap` bytes; the line is
/// cut, newline kept, when it does not fit). `real_minus_mono_ns` turns end_ns into UTC;
/// `name` names backend ids. Returns the line's length.
size_t format_access_line(const access_record& r, int64_t real_minus_mono_ns,
                          const backend_namer& name, char* out, size_t cap);
/// The same with the names in a vector indexed by id.
size_t format_access_line(const access_record& r, int64_t real_minus_mono_ns,
                          const std::vector<std::string>& backends, char* out, size_t cap);

/// Fills the status and text of `r` from an answer frame (a response; type -128 = q error,
/// whose text names the kind). A compressed frame is taken as a plain answer.
void classify_answer(access_record& r, const uint8_t* frame, size_t n);

/// CLOCK_MONOTONIC in ns (the clock end_ns and dur_us are read from).
uint64_t access_clock_ns();

class access_log {
  public:
    using ring = shard::spsc_ring<access_record>;
    access_log(const access_log_conf& c, uint32_t shards, backend_namer names);
    access_log(const access_log_conf& c, uint32_t shards, std::vector<std::string> backends);
    ~access_log();
    access_log(const access_log&) = delete;
    access_log& operator=(const access_log&) = delete;

    /// Opens the file (append) and starts the logger thread. False with `error` set.
    bool start(std::string& error);
    /// Stops the logger after a last pass (every record pushed before is written).
    void stop();
    /// Any thread: reopen the file by its path at the logger's next pass (logrotate).
    void reopen();

    /// Shard `s` only: queues a record; false (record dropped) when the ring is full.
    bool push(uint32_t s, const access_record& r) { return rings_[s]->push(r); }
    /// Calls at least this slow are logged (0 = all).
    uint32_t slow_us() const { return slow_us_; }
    uint64_t lines_written() const { return lines_.load(std::memory_order_relaxed); }

  private:
    static constexpr int kPassMs = 100;
    void run();
    void pass();
    bool open_file();

    std::string path_;
    uint32_t slow_us_;
    backend_namer names_;
    std::vector<std::unique_ptr<ring>> rings_;
    FILE* f_ = nullptr;
    std::atomic<bool> reopen_{false};
    std::atomic<uint64_t> lines_{0};
    std::mutex mu_;  // logger thread <-> stop() only, never a shard
    std::condition_variable cv_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace qgate::proxy

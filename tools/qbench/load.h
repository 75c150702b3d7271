// The load generator: K connections × D sync requests in flight (closed loop), or a fixed
// request rate (open loop), against one q-IPC endpoint.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

#include "histogram.h"

struct ssl_ctx_st;
struct ssl_st;

namespace qbench {

struct load_spec {
    std::string host = "127.0.0.1";
    uint16_t port = 0;
    std::string credentials = "qbench:";
    uint32_t conns = 1;
    uint32_t depth = 1;          ///< requests in flight per connection (closed loop)
    uint64_t size = 64;          ///< request message size in bytes, header included
    double rate = 0;             ///< open loop: requests/s over all connections; 0 = closed
    bool text = false;           ///< send `echo "…"` as q text instead of (`echo;bytes)
    double warmup_s = 1;
    double duration_s = 5;
    uint32_t threads = 1;
    int proxy_pid = 0;           ///< CPU of this process is sampled over the measured window
    bool tls = false;            ///< --tls: TLS (then the q handshake inside it)
    std::string tls_ca;          ///< --tls-ca: check the server's certificate against it
    bool handshakes = false;     ///< --handshakes: connection set-up rate (handshakes.cc)
};

struct load_result {
    bool ok = false;
    std::string error;
    double seconds = 0;          ///< measured window
    uint64_t round_trips = 0;    ///< responses received in the window
    uint64_t bytes = 0;          ///< request + response bytes in the window
    uint64_t errors = 0;         ///< q error responses (any time)
    uint64_t late = 0;           ///< open loop: sends that were behind schedule by > 1 ms
    double proxy_cpu_s = -1;     ///< -1 when no proxy pid was given
    double client_cpu_s = 0;
    histogram latency;           ///< ns
    std::string tls_info;        ///< --tls: protocol and cipher of the first connection
    /// --tls: ciphertext bytes read from the sockets per plaintext byte of the replies, over
    /// the whole run after the handshakes (record framing and tags: ~1.03 for full 16 KiB
    /// records and for a pipelined burst in one record, ~1.4 for a 52-byte reply per record)
    double tls_wire_ratio = 0;

    double rt_per_s() const { return seconds > 0 ? double(round_trips) / seconds : 0; }
    double bytes_per_s() const { return seconds > 0 ? double(bytes) / seconds : 0; }
    double proxy_cpu_us_per_rt() const {
        return proxy_cpu_s >= 0 && round_trips ? proxy_cpu_s * 1e6 / double(round_trips) : -1;
    }
};

/// Builds the request: a general list (`echo; byte vector) or the text `echo "…"`, padded
/// so that the whole message is `size` bytes (at least the smallest such message).
std::vector<uint8_t> make_request(uint64_t size, bool text);

/// Runs one load and returns its measurements (result.ok false with error on failure).
/// With spec.handshakes, run_handshakes.
load_result run_load(const load_spec& spec);

/// --handshakes (handshakes.cc): `conns` connections opened, handshaken (TLS with spec.tls,
/// then q) and closed, each again at once, for the duration: round_trips counts the set-ups
/// completed in the measured window, latency is connect() to the capability byte, errors
/// counts failed set-ups, proxy CPU as for a load (per set-up).
load_result run_handshakes(const load_spec& spec);

/// Connects and completes a q handshake (bounded by `timeout_ms`). Returns the fd or -1 with
/// `error`. With `tls`, a TLS handshake first and the q handshake inside it; the SSL is
/// returned in `*ssl` (the caller frees it before closing the fd).
int connect_q(const std::string& host, uint16_t port, const std::string& credentials,
              std::string& error, int timeout_ms = 5000, ssl_ctx_st* tls = nullptr,
              ssl_st** ssl = nullptr);

/// Resolves `host` (first address) into `addr`; false with `error`.
bool resolve(const std::string& host, uint16_t port, sockaddr_storage& addr,
             unsigned& len, std::string& error);

/// utime + stime of a process in seconds (/proc/PID/stat, clock-tick resolution), or -1.
double process_cpu_s(int pid);

/// On-CPU time of a process's live threads in seconds, with nanosecond resolution (sum of
/// /proc/PID/task/*/schedstat); falls back to process_cpu_s. For short, nearly idle windows.
double process_cpu_fine_s(int pid);

/// Monotonic clock in nanoseconds.
uint64_t now_ns();

}  // namespace qbench

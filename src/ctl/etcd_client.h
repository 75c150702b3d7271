// A client for etcd's v3 API through its JSON gateway (/v3/kv/*, /v3/lease/*, /v3/watch), over
// libcurl. Every call has a bounded timeout; on a failure the next endpoint is tried on the
// next call. One object is used by one thread at a time (its calls are serialised by a mutex;
// the watch, which blocks for as long as the stream lasts, runs on its own object). Control
// threads only (src/ctl/fleet.cc), never a shard.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace qgate::ctl::fleet {

struct etcd_kv {
    std::string key;
    std::string value;
    int64_t mod_revision = 0;
    int64_t lease = 0;
};

struct etcd_event {
    bool put = true;  ///< false: a delete (value empty)
    etcd_kv kv;
};

class etcd_client {
  public:
    /// `endpoints` are "host:port" (http); `timeout_ms` bounds each call, connect included.
    etcd_client(std::vector<std::string> endpoints, int timeout_ms);
    ~etcd_client();
    etcd_client(const etcd_client&) = delete;
    etcd_client& operator=(const etcd_client&) = delete;

    bool put(const std::string& key, const std::string& value, int64_t lease, std::string& err);
    bool del(const std::string& key, std::string& err);
    /// Every key starting with `prefix`, and the store's revision they were read at.
    bool range_prefix(const std::string& prefix, std::vector<etcd_kv>& out, int64_t& revision,
                      std::string& err);
    bool lease_grant(int64_t ttl_s, int64_t& id, std::string& err);
    /// `ttl` 0: the lease is gone (expired or revoked): grant a new one.
    bool lease_keepalive(int64_t id, int64_t& ttl, std::string& err);
    bool lease_revoke(int64_t id, std::string& err);

    using on_events = std::function<void(const std::vector<etcd_event>&, int64_t revision)>;
    /// Streams the changes under `prefix` from `start_revision` on to `on` until the stream
    /// ends (etcd gone: false), `stop()` turns true (checked at least every second: true), or
    /// etcd cancels the watch (compacted past start_revision: false). Blocks meanwhile.
    bool watch(const std::string& prefix, int64_t start_revision, const on_events& on,
               const std::function<bool()>& stop, std::string& err);

    /// The endpoint the next call goes to.
    std::string endpoint() const;

  private:
    bool post(const char* path, const std::string& body, std::string& reply, std::string& err);
    void next_endpoint();

    std::vector<std::string> endpoints_;
    int timeout_ms_;
    std::size_t at_ = 0;
    void* curl_ = nullptr;  ///< CURL*: one easy handle, reused (keeps the connection)
    mutable std::mutex mu_;
};

/// The events of one watch message (a line of the stream); false when it is not one. A
/// canceled watch sets `canceled`.
bool read_watch_message(const std::string& line, std::vector<etcd_event>& out,
                        int64_t& revision, bool& canceled, std::string& err);

}  // namespace qgate::ctl::fleet

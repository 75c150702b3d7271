// DESIGN: see etcd_client.h. Requests are JSON POSTs with keys and values in base64 (etcd's
// gateway maps the protobuf messages to JSON, int64 fields as strings); replies are read with
// fleet_json's strict parser. The watch is a streaming POST whose body is one JSON message per
// line; libcurl's progress callback (called at least once a second while idle) ends it when
// the caller asks. libcurl's global state is set up once (curl_global_init is not
// thread-safe, so it runs under a once flag before the first handle).
#include "ctl/etcd_client.h"

#include <curl/curl.h>

#include <mutex>

#include "ctl/fleet_json.h"

namespace qgate::ctl::fleet {
namespace {

// libcurl's global state, set up once before the first handle (not thread-safe by itself).
void init_curl() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t append_body(char* data, size_t size, size_t n, void* user) {
    static_cast<std::string*>(user)->append(data, size * n);
    return size * n;
}

struct watch_state {
    const etcd_client::on_events* on = nullptr;
    const std::function<bool()>* stop = nullptr;
    std::string pending;
    std::string error;
    bool canceled = false;
    bool stopped = false;
};

// Complete lines of the stream are messages; a partial one waits for its end.
size_t watch_body(char* data, size_t size, size_t n, void* user) {
    auto& w = *static_cast<watch_state*>(user);
    w.pending.append(data, size * n);
    std::size_t nl = 0;
    while ((nl = w.pending.find('\n')) != std::string::npos) {
        const std::string line = w.pending.substr(0, nl);
        w.pending.erase(0, nl + 1);
        if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
        std::vector<etcd_event> events;
        int64_t rev = 0;
        if (!read_watch_message(line, events, rev, w.canceled, w.error)) return 0;
        if (w.canceled) return 0;
        if (!events.empty()) (*w.on)(events, rev);
    }
    return size * n;
}

int watch_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto& w = *static_cast<watch_state*>(user);
    if ((*w.stop)()) {
        w.stopped = true;
        return 1;  // aborts the transfer
    }
    return 0;
}

std::string key_json(const std::string& key) { return quote(base64_encode(key)); }

bool header_ok(const std::string& reply, std::optional<json>& doc, std::string& err) {
    doc = parse_json(reply, err);
    if (!doc) return false;
    if (doc->get("error") != nullptr || doc->get("code") != nullptr) {
        err = "etcd: " + doc->str("error", doc->str("message", "error"));
        return false;
    }
    return true;
}

bool read_kv(const json& j, etcd_kv& out) {
    const std::optional<std::string> k = base64_decode(j.str("key"));
    const std::optional<std::string> v = base64_decode(j.str("value"));
    if (!k || !v) return false;
    out.key = *k;
    out.value = *v;
    out.mod_revision = j.int_of("mod_revision");
    out.lease = j.int_of("lease");
    return true;
}

}  // namespace

bool read_watch_message(const std::string& line, std::vector<etcd_event>& out,
                        int64_t& revision, bool& canceled, std::string& err) {
    const std::optional<json> doc = parse_json(line, err);
    if (!doc) return false;
    const json* r = doc->get("result");
    if (r == nullptr) {
        err = "etcd watch: " + doc->str("error", "no result");
        return false;
    }
    if (const json* c = r->get("canceled"); c != nullptr && c->b) {
        canceled = true;
        err = "etcd watch canceled: " + r->str("cancel_reason", "compacted");
        return true;
    }
    if (const json* h = r->get("header"); h != nullptr) revision = h->int_of("revision");
    if (const json* evs = r->get("events"); evs != nullptr) {
        for (const json& e : evs->items) {
            etcd_event ev;
            ev.put = e.str("type", "PUT") != "DELETE";
            const json* kv = e.get("kv");
            if (kv == nullptr || !read_kv(*kv, ev.kv)) {
                err = "etcd watch: bad event";
                return false;
            }
            out.push_back(std::move(ev));
        }
    }
    return true;
}

etcd_client::etcd_client(std::vector<std::string> endpoints, int timeout_ms)
    : endpoints_(std::move(endpoints)), timeout_ms_(timeout_ms),
      curl_((init_curl(), curl_easy_init())) {}

etcd_client::~etcd_client() {
    if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

std::string etcd_client::endpoint() const {
    const std::lock_guard<std::mutex> lock(mu_);
    return endpoints_.empty() ? std::string() : endpoints_[at_ % endpoints_.size()];
}

void etcd_client::next_endpoint() {
    if (!endpoints_.empty()) at_ = (at_ + 1) % endpoints_.size();
}

bool etcd_client::post(const char* path, const std::string& body, std::string& reply,
                       std::string& err) {
    auto* c = static_cast<CURL*>(curl_);
    if (c == nullptr || endpoints_.empty()) {
        err = "etcd: no client";
        return false;
    }
    const std::string url = "http://" + endpoints_[at_ % endpoints_.size()] + path;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms_));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout_ms_));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
    const CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK) {
        err = "etcd " + endpoints_[at_ % endpoints_.size()] + ": " + curl_easy_strerror(rc);
        next_endpoint();
        return false;
    }
    if (status != 200) {
        err = "etcd: HTTP " + std::to_string(status) + ": " + reply.substr(0, 200);
        return false;
    }
    return true;
}

bool etcd_client::put(const std::string& key, const std::string& value, int64_t lease,
                      std::string& err) {
    std::string body = "{\"key\":" + key_json(key) + ",\"value\":" + key_json(value);
    if (lease != 0) body += R"(,"lease":")" + std::to_string(lease) + "\"";
    body += "}";
    const std::lock_guard<std::mutex> lock(mu_);
    std::string reply;
    std::optional<json> doc;
    return post("/v3/kv/put", body, reply, err) && header_ok(reply, doc, err);
}

bool etcd_client::del(const std::string& key, std::string& err) {
    const std::lock_guard<std::mutex> lock(mu_);
    std::string reply;
    std::optional<json> doc;
    return post("/v3/kv/deleterange", "{\"key\":" + key_json(key) + "}", reply, err) &&
           header_ok(reply, doc, err);
}

bool etcd_client::range_prefix(const std::string& prefix, std::vector<etcd_kv>& out,
                               int64_t& revision, std::string& err) {
    const std::string body =
        "{\"key\":" + key_json(prefix) + ",\"range_end\":" + key_json(prefix_end(prefix)) + "}";
    const std::lock_guard<std::mutex> lock(mu_);
    std::string reply;
    std::optional<json> doc;
    if (!post("/v3/kv/range", body, reply, err) || !header_ok(reply, doc, err)) return false;
    const json* h = doc->get("header");
    revision = h != nullptr ? h->int_of("revision") : 0;
    out.clear();
    if (const json* kvs = doc->get("kvs"); kvs != nullptr) {
        for (const json& j : kvs->items) {
            etcd_kv kv;
            if (!read_kv(j, kv)) {
                err = "etcd: bad key or value in a range reply";
                return false;
            }
            out.push_back(std::move(kv));
        }
    }
    return true;
}

bool etcd_client::lease_grant(int64_t ttl_s, int64_t& id, std::string& err) {
    const std::lock_guard<std::mutex> lock(mu_);
    std::string reply;
    std::optional<json> doc;
    if (!post("/v3/lease/grant", R"({"TTL":")" + std::to_string(ttl_s) + "\"}", reply, err) ||
        !header_ok(reply, doc, err)) {
        return false;
    }
    id = doc->int_of("ID");
    if (id == 0) err = "etcd: lease not granted: " + doc->str("error", "no ID");
    return id != 0;
}

bool etcd_client::lease_keepalive(int64_t id, int64_t& ttl, std::string& err) {
    const std::lock_guard<std::mutex> lock(mu_);
    std::string reply;
    std::optional<json> doc;
    // The gateway answers a stream of one message: {"result":{...,"TTL":"n"}} (no TTL: gone).
    if (!post("/v3/lease/keepalive", R"({"ID":")" + std::to_string(id) + "\"}", reply, err)) {
        return false;
    }
    const std::size_t nl = reply.find('\n');
    if (nl != std::string::npos) reply.resize(nl);
    if (!header_ok(reply, doc, err)) return false;
    const json* r = doc->get("result");
    if (r == nullptr) {
        err = "etcd: keepalive: no result";
        return false;
    }
    ttl = r->int_of("TTL");
    return true;
}

bool etcd_client::lease_revoke(int64_t id, std::string& err) {
    const std::lock_guard<std::mutex> lock(mu_);
    std::string reply;
    std::optional<json> doc;
    return post("/v3/lease/revoke", R"({"ID":")" + std::to_string(id) + "\"}", reply, err) &&
           header_ok(reply, doc, err);
}

bool etcd_client::watch(const std::string& prefix, int64_t start_revision, const on_events& on,
                        const std::function<bool()>& stop, std::string& err) {
    const std::lock_guard<std::mutex> lock(mu_);
    auto* c = static_cast<CURL*>(curl_);
    if (c == nullptr || endpoints_.empty()) {
        err = "etcd: no client";
        return false;
    }
    const std::string body = R"({"create_request":{"key":)" + key_json(prefix) +
                             ",\"range_end\":" + key_json(prefix_end(prefix)) +
                             R"(,"start_revision":")" + std::to_string(start_revision) + "\"}}";
    const std::string url = "http://" + endpoints_[at_ % endpoints_.size()] + "/v3/watch";
    watch_state w;
    w.on = &on;
    w.stop = &stop;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout_ms_));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, watch_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &w);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, watch_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &w);
    const CURLcode rc = curl_easy_perform(c);
    if (w.stopped) return true;
    if (!w.error.empty()) {
        err = w.error;
    } else {
        err = std::string("etcd watch ended: ") + curl_easy_strerror(rc);
        next_endpoint();
    }
    return false;
}

}  // namespace qgate::ctl::fleet

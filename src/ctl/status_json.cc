// DESIGN: /status.json, the data behind the status page. Built from the admin_model's rows (the
// q tables' source), written by hand: the shapes are flat (objects of strings and numbers,
// lists of strings) and a JSON library would be a dependency for forty lines.
#include "ctl/status_json.h"

#include <cstdio>
#include <vector>

namespace qgate::ctl {
namespace {

// One JSON object written field by field.
class object {
  public:
    explicit object(std::string& out) : out_(out) { out_ += '{'; }
    ~object() { out_ += '}'; }
    object(const object&) = delete;
    object& operator=(const object&) = delete;

    void str(std::string_view k, std::string_view v) { key(k) += json_string(v); }
    void num(std::string_view k, int64_t v) {
        key(k) += v == kLongNull ? std::string("null") : std::to_string(v);
    }
    void strs(std::string_view k, const std::vector<std::string>& v) {
        std::string& o = key(k);
        o += '[';
        for (std::size_t i = 0; i < v.size(); ++i) o += (i == 0 ? "" : ",") + json_string(v[i]);
        o += ']';
    }

  private:
    std::string& key(std::string_view k) {
        if (!first_) out_ += ',';
        first_ = false;
        out_ += json_string(k);
        out_ += ':';
        return out_;
    }
    std::string& out_;
    bool first_ = true;
};

void write(std::string& o, const listener_row& r) {
    object w(o);
    w.num("index", r.index);
    w.str("address", r.address);
    w.num("port", r.port);
    w.str("mode", r.mode);
    w.str("group", r.group);
    w.num("shards", r.shards);
    w.num("conns", r.conns);
}

void write(std::string& o, const backend_row& r) {
    object w(o);
    w.str("name", r.name);
    w.str("group", r.group);
    w.str("address", r.address);
    w.str("source", r.source);
    w.str("state", r.state);
    w.num("conns", r.conns);
    w.num("inflight", r.inflight);
    w.num("queued", r.queued);
    w.num("calls", r.calls);
    w.num("errors", r.errors);
    w.num("p50_us", r.p50_us);
    w.num("p99_us", r.p99_us);
    w.str("lasterror", r.lasterror);
}

void write(std::string& o, const client_row& r) {
    object w(o);
    w.num("id", r.id);
    w.str("user", r.user);
    w.str("address", r.address);
    w.num("listener", r.listener);
    w.num("shard", r.shard);
    w.num("since_ns", r.since_ns);
    w.num("calls", r.calls);
    w.num("bytesin", r.bytes_in);
    w.num("bytesout", r.bytes_out);
    w.num("inflight", r.inflight);
}

void write(std::string& o, const route_row& r) {
    object w(o);
    w.num("order", r.order);
    w.strs("match", r.match);
    w.strs("users", r.users);
    w.strs("target", r.target);
    w.str("policy", r.policy);
    w.num("hits", r.hits);
}

// "name":[rows...]; a model error leaves the list empty and is collected in `errors`.
template <typename Row, typename Read>
void table(std::string& o, std::string_view name, Read read, std::vector<std::string>& errors) {
    std::vector<Row> rows;
    std::string error;
    if (!read(rows, error)) {
        errors.push_back(std::string(name) + ": " + error);
        rows.clear();
    }
    o += json_string(name) + ":[";
    for (std::size_t i = 0; i < rows.size(); ++i) {
        if (i != 0) o += ',';
        write(o, rows[i]);
    }
    o += "],";
}

}  // namespace

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20) {
            char esc[8];
            std::snprintf(esc, sizeof esc, "\\u%04x", unsigned{c});
            out += esc;
        } else {
            out += ch;
        }
    }
    return out + "\"";
}

// "fleet":[{instance,address,generation,seen_ms,self}],"etcd":"up" or "down: why".
void fleet_json(std::string& o, const std::vector<fleet_row>& rows) {
    o += "\"fleet\":[";
    std::string etcd = "down: not listed in etcd yet";
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const fleet_row& r = rows[i];
        o += (i == 0 ? "{" : ",{");
        o += "\"instance\":" + json_string(r.instance) + ",\"address\":" + json_string(r.address) +
             ",\"generation\":" + std::to_string(r.generation) +
             ",\"seen_ms\":" + std::to_string(r.seen_ns / 1'000'000) +
             ",\"self\":" + (r.self ? "true" : "false") + "}";
        etcd = r.etcd;
    }
    o += "],\"etcd\":" + json_string(etcd) + ",";
}

std::string status_json(admin_model& model, const std::optional<std::vector<fleet_row>>& fleet) {
    std::vector<std::string> errors;
    std::string o = "{";
    table<listener_row>(o, "listeners", [&](auto& r, auto& e) { return model.listeners(r, e); },
                        errors);
    table<backend_row>(o, "backends", [&](auto& r, auto& e) { return model.backends(r, e); },
                       errors);
    table<client_row>(o, "clients", [&](auto& r, auto& e) { return model.clients(r, e); },
                      errors);
    table<route_row>(o, "routes", [&](auto& r, auto& e) { return model.routes(r, e); }, errors);
    if (fleet) fleet_json(o, *fleet);
    o += "\"stats\":{";
    bool first = true;
    for (const stat_sample& s : model.stats()) {
        if (s.desc.kind == stat_kind::histogram) continue;  // /metrics has the buckets
        o += (first ? "" : ",") + json_string(s.flat_name()) + ":" + std::to_string(s.value);
        first = false;
    }
    o += "},\"errors\":[";
    for (std::size_t i = 0; i < errors.size(); ++i) {
        o += (i == 0 ? "" : ",") + json_string(errors[i]);
    }
    return o + "]}";
}

}  // namespace qgate::ctl

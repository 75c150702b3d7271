// The access log (access_log.h): record classification and formatting (pure, unit-tested) and
// the logger thread. Thread: classify_answer runs on the shards; the rest on the logger thread
// and the control plane (start, stop, reopen).
//
// A line (fields space-separated, key=value after the time; user and error text quoted with
// \" and \\ escaped and control bytes as \xHH, so a line is always one line):
//   2026-12-06T21:30:00.123456Z user="alice" client=1.12 listener=0 route=2 backend=rdb1
//     us=1234 in=45 out=120 status=ok
//   ... status=error err="type"  |  status=timeout err="qgate: timeout after 500ms"
// route=- is a listener's own group (no [[route]] table); backend=- a call no backend took
// (refused, or a fan-out over several).

#include "proxy/access_log.h"

#include <cerrno>
#include <cstring>
#include <ctime>

namespace qgate::proxy {

namespace {

constexpr size_t kHeader = 8;
constexpr uint8_t kErrorType = 0x80;  // -128: a q error response

bool starts(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

access_status error_kind(std::string_view t) {
    if (starts(t, "qgate: timeout")) return access_status::timeout;
    if (starts(t, "qgate: no route") || starts(t, "qgate: no backend") ||
        starts(t, "qgate: busy") || starts(t, "qgate: request too large") ||
        starts(t, "badmsg") || starts(t, "qgate: no reducer")) {
        return access_status::refused;
    }
    return access_status::error;
}

const char* status_name(access_status s) {
    switch (s) {
    case access_status::ok: return "ok";
    case access_status::error: return "error";
    case access_status::timeout: return "timeout";
    case access_status::refused: return "refused";
    }
    return "?";
}

// A bounded writer: appends while there is room, then drops the rest.
struct line_buf {
    char* p = nullptr;
    size_t cap = 0;
    size_t n = 0;
    void put(char c) {
        if (n < cap) p[n++] = c;
    }
    void put(std::string_view s) {
        for (char c : s) put(c);
    }
    void num(uint64_t v) {
        char tmp[24];
        size_t k = 0;
        do {
            tmp[k++] = static_cast<char>('0' + v % 10);
            v /= 10;
        } while (v != 0);
        while (k > 0) put(tmp[--k]);
    }
    void quoted(const char* s, size_t len) {
        static constexpr char kHex[] = "0123456789abcdef";
        put('"');
        for (size_t i = 0; i < len; ++i) {
            const auto c = static_cast<unsigned char>(s[i]);
            if (c == '"' || c == '\\') {
                put('\\');
                put(static_cast<char>(c));
            } else if (c < 0x20 || c == 0x7f) {
                put("\\x");
                put(kHex[c >> 4]);
                put(kHex[c & 15]);
            } else {
                put(static_cast<char>(c));
            }
        }
        put('"');
    }
    void time_utc(uint64_t real_ns) {
        const auto secs = static_cast<time_t>(real_ns / 1000000000);
        tm t{};
        gmtime_r(&secs, &t);
        char tmp[40];
        const size_t k = strftime(tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%S", &t);
        put(std::string_view(tmp, k));
        put('.');
        const uint64_t us = real_ns / 1000 % 1000000;
        for (uint64_t d = 100000; d != 0; d /= 10) put(static_cast<char>('0' + us / d % 10));
        put('Z');
    }
};

}  // namespace

void classify_answer(access_record& r, const uint8_t* frame, size_t n) {
    r.status = access_status::ok;
    r.text_len = 0;
    if (n <= kHeader || frame[2] != 0 || frame[kHeader] != kErrorType) return;
    const auto* t = reinterpret_cast<const char*>(frame + kHeader + 1);
    size_t len = 0;
    while (kHeader + 1 + len < n && t[len] != '\0') ++len;
    r.status = error_kind({t, len});
    r.text_len = static_cast<uint8_t>(len < access_record::kTextMax ? len
                                                                    : access_record::kTextMax);
    std::memcpy(r.text, t, r.text_len);
}

uint64_t access_clock_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000 + static_cast<uint64_t>(ts.tv_nsec);
}

size_t format_access_line(const access_record& r, int64_t real_minus_mono_ns,
                          const std::vector<std::string>& backends, char* out, size_t cap) {
    const backend_namer name = [&backends](uint32_t b) -> std::string_view {
        return b < backends.size() ? std::string_view(backends[b]) : std::string_view();
    };
    return format_access_line(r, real_minus_mono_ns, name, out, cap);
}

size_t format_access_line(const access_record& r, int64_t real_minus_mono_ns,
                          const backend_namer& name, char* out, size_t cap) {
    if (cap == 0) return 0;
    line_buf b{out, cap - 1};  // room kept for the newline
    b.time_utc(static_cast<uint64_t>(static_cast<int64_t>(r.end_ns) + real_minus_mono_ns));
    b.put(" user=");
    b.quoted(r.user, r.user_len);
    b.put(" client=");
    b.num(r.shard);
    b.put('.');
    b.num(r.client);
    b.put(" listener=");
    b.num(r.listener);
    b.put(" route=");
    if (r.route == kAccessNone) b.put('-'); else b.num(r.route);
    b.put(" backend=");
    const std::string_view bname = r.backend == kAccessNone ? std::string_view() : name(r.backend);
    if (!bname.empty()) b.put(bname); else b.put('-');
    b.put(" us=");
    b.num(r.dur_us);
    b.put(" in=");
    b.num(r.bytes_in);
    b.put(" out=");
    b.num(r.bytes_out);
    b.put(" status=");
    b.put(status_name(r.status));
    if (r.status != access_status::ok) {
        b.put(" err=");
        b.quoted(r.text, r.text_len);
    }
    out[b.n] = '\n';
    return b.n + 1;
}

access_log::access_log(const access_log_conf& c, uint32_t shards,
                       std::vector<std::string> backends)
    : access_log(c, shards, [names = std::move(backends)](uint32_t b) -> std::string_view {
          return b < names.size() ? std::string_view(names[b]) : std::string_view();
      }) {}

access_log::access_log(const access_log_conf& c, uint32_t shards, backend_namer names)
    : path_(c.path), slow_us_(c.slow_ms * 1000), names_(std::move(names)) {
    for (uint32_t s = 0; s < shards; ++s) {
        // publish_every 1: each record is visible at once, one release store (no syscall).
        rings_.push_back(std::make_unique<ring>(c.ring_entries, 1));
    }
}

access_log::~access_log() { stop(); }

bool access_log::open_file() {
    FILE* f = std::fopen(path_.c_str(), "ae");
    if (f == nullptr) return false;
    if (f_ != nullptr) std::fclose(f_);
    f_ = f;
    return true;
}

bool access_log::start(std::string& error) {
    if (!open_file()) {
        error = "access log " + path_ + ": " + std::strerror(errno);
        return false;
    }
    thread_ = std::thread([this] { run(); });
    return true;
}

void access_log::stop() {
    if (!thread_.joinable()) return;
    {
        std::lock_guard<std::mutex> g(mu_);
        stopping_ = true;
    }
    cv_.notify_one();
    thread_.join();
    if (f_ != nullptr) std::fclose(f_);
    f_ = nullptr;
}

void access_log::reopen() { reopen_.store(true, std::memory_order_release); }

void access_log::run() {
    std::unique_lock<std::mutex> g(mu_);
    for (;;) {
        const bool last = cv_.wait_for(g, std::chrono::milliseconds(kPassMs),
                                       [this] { return stopping_; });
        g.unlock();
        pass();
        g.lock();
        if (last) return;
    }
}

void access_log::pass() {
    if (reopen_.exchange(false, std::memory_order_acq_rel)) {
        std::fflush(f_);
        (void)open_file();  // on failure the old file stays open: lines still go somewhere
    }
    timespec real{};
    clock_gettime(CLOCK_REALTIME, &real);
    const int64_t offset = static_cast<int64_t>(real.tv_sec) * 1000000000 + real.tv_nsec -
                           static_cast<int64_t>(access_clock_ns());
    uint64_t n = 0;
    char line[512];
    for (auto& r : rings_) {
        n += r->drain([&](access_record& rec) {
            const size_t len = format_access_line(rec, offset, names_, line, sizeof line);
            std::fwrite(line, 1, len, f_);
        });
    }
    if (n != 0) {
        std::fflush(f_);
        lines_.fetch_add(n, std::memory_order_relaxed);
    }
}

}  // namespace qgate::proxy

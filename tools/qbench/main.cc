// qbench entry point: command line, then either one load run against --target or the
// --compare harness (compare.cc).
#include "net/socket_util.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "compare.h"
#include "load.h"

namespace {

constexpr const char* kUsage =
    "usage: qbench --target HOST:PORT [--conns N] [--depth D] [--size BYTES] [--rate MSGS/S]\n"
    "              [--duration S] [--warmup S] [--threads T] [--proxy-pid PID] [--user U:P]\n"
    "              [--text] [--tls] [--tls-ca FILE] [--handshakes] [--json]\n"
    "       qbench --compare [--qgate PATH] [--qmock PATH] [--haproxy PATH] [--rounds N]\n"
    "              [--seconds S] [--warmup S] [--idle-conns N] [--idle-seconds S]\n"
    "              [--only G1,G2,G4,G5,G6,G8] [--threads T] [--quick] [--keep]\n"
    "              [--json|--markdown] [--mode session|request|both] [--pool-conns N]\n"
    "              [--work-us N] [--baseline PATH] [--plot FILE.png|FILE.svg] [--tls]\n"
    "See tools/qbench/README.md.\n";

struct cli {
    qbench::load_spec load;
    qbench::compare_options cmp;
    bool compare = false;
    bool json = false;
    bool have_target = false;
};

bool number(std::string_view v, double lo, double hi, double& out) {
    std::string s(v);
    char* end = nullptr;
    double x = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0' || !(x >= lo && x <= hi)) return false;
    out = x;
    return true;
}

bool parse_target(std::string_view v, qbench::load_spec& spec) {
    std::size_t colon = v.rfind(':');
    double port = 0;
    if (colon == std::string_view::npos || !number(v.substr(colon + 1), 1, 65535, port))
        return false;
    spec.host = std::string(v.substr(0, colon));
    spec.port = uint16_t(port);
    return true;
}

/// Applies one flag with its value; false when the flag or value is bad.
bool apply(cli& c, std::string_view f, std::string_view v) {
    double x = 0;
    auto& l = c.load;
    auto& o = c.cmp;
    if (f == "--target") return c.have_target = parse_target(v, l);
    if (f == "--conns") return number(v, 1, 100000, x) && (l.conns = uint32_t(x), true);
    if (f == "--depth") return number(v, 1, 100000, x) && (l.depth = uint32_t(x), true);
    if (f == "--size") return number(v, 0, 1 << 30, x) && (l.size = uint64_t(x), true);
    if (f == "--rate") return number(v, 0, 1e8, x) && (l.rate = x, true);
    if (f == "--duration") return number(v, 0.01, 86400, x) && (l.duration_s = x, true);
    if (f == "--seconds") return number(v, 0.01, 3600, x) && (o.seconds = x, true);
    if (f == "--warmup") return number(v, 0, 3600, x) && (l.warmup_s = o.warmup = x, true);
    if (f == "--threads")
        return number(v, 1, 256, x) && (l.threads = o.threads = uint32_t(x), true);
    if (f == "--proxy-pid") return number(v, 1, 1e9, x) && (l.proxy_pid = int(x), true);
    if (f == "--user") return l.credentials = v, true;
    if (f == "--tls-ca") return l.tls_ca = v, l.tls = !v.empty();
    if (f == "--qgate") return o.qgate = v, true;
    if (f == "--qmock") return o.qmock = v, true;
    if (f == "--haproxy") return o.haproxy = v, true;
    if (f == "--rounds") return number(v, 1, 1000, x) && (o.rounds = uint32_t(x), true);
    if (f == "--idle-conns") return number(v, 1, 100000, x) && (o.idle_conns = uint32_t(x), true);
    if (f == "--idle-seconds") return number(v, 0.1, 3600, x) && (o.idle_seconds = x, true);
    if (f == "--only") return o.only = v, true;
    if (f == "--mode") return o.mode = v, v == "session" || v == "request" || v == "both";
    if (f == "--pool-conns") return number(v, 1, 256, x) && (o.pool_conns = uint32_t(x), true);
    if (f == "--work-us") return number(v, 1, 1000000, x) && (o.work_us = uint32_t(x), true);
    if (f == "--baseline") return o.baseline = v, !v.empty();
    if (f == "--plot") return o.plot = v, v.ends_with(".png") || v.ends_with(".svg");
    return false;
}

/// --quick only changes defaults: flags given explicitly still win, wherever they appear.
void quick_defaults(qbench::compare_options& o) {
    o.quick = true;
    o.rounds = 1;
    o.seconds = 0.5;
    o.warmup = 0.2;
    o.idle_seconds = 1;
    o.idle_conns = 200;
}

bool parse(int argc, char** argv, cli& c) {
    for (int i = 1; i < argc; ++i)
        if (std::string_view(argv[i]) == "--quick") quick_defaults(c.cmp);
    for (int i = 1; i < argc; ++i) {
        std::string_view f = argv[i];
        c.cmp.command_line += (i > 1 ? " " : "qbench ") + std::string(f);
        if (f == "--compare") c.compare = true;
        else if (f == "--json") c.json = c.cmp.json = true;
        else if (f == "--markdown") c.cmp.markdown = true;
        else if (f == "--text") c.load.text = true;
        else if (f == "--keep") c.cmp.keep = true;
        else if (f == "--tls") c.load.tls = c.cmp.tls = true;
        else if (f == "--handshakes") c.load.handshakes = true;
        else if (f == "--quick") continue;  // applied before the loop
        else if (f == "--help" || f == "-h") return fputs(kUsage, stdout), exit(0), false;
        else {
            std::string_view v;
            if (std::size_t eq = f.find('='); eq != std::string_view::npos) {
                v = f.substr(eq + 1), f = f.substr(0, eq);
            } else if (i + 1 < argc) {
                v = argv[++i];
                c.cmp.command_line += " " + std::string(v);
            }
            if (!apply(c, f, v))
                return fprintf(stderr, "qbench: bad flag or value: %s\n%s", argv[i], kUsage), false;
        }
    }
    return true;
}

void print_setups(const qbench::load_spec& s, const qbench::load_result& r) {
    auto us = [&](double q) { return double(r.latency.quantile(q)) / 1e3; };
    printf("%s:%u  %u conns, connection set-ups (connect, %sq handshake, close), %.1f s\n",
           s.host.c_str(), s.port, s.conns, s.tls ? "TLS handshake, " : "", r.seconds);
    if (!r.tls_info.empty()) printf("  %s\n", r.tls_info.c_str());
    printf("  %.0f handshakes/s  set-up p50 %.1f us  p99 %.1f us  max %.1f us\n", r.rt_per_s(),
           us(0.5), us(0.99), double(r.latency.max()) / 1e3);
    if (r.proxy_cpu_us_per_rt() >= 0)
        printf("  proxy CPU %.2f us per handshake (pid %d)\n", r.proxy_cpu_us_per_rt(),
               s.proxy_pid);
    if (r.errors) printf("  %llu failed set-ups (first: %s)\n", (unsigned long long)r.errors,
                         r.error.c_str());
}

void print_load(const qbench::load_spec& s, const qbench::load_result& r, bool json) {
    auto us = [&](double q) { return double(r.latency.quantile(q)) / 1e3; };
    if (json) {
        printf("{\"ok\":%s,\"error\":\"%s\",\"conns\":%u,\"depth\":%u,\"size\":%llu,\"rate\":%.1f,"
               "\"seconds\":%.3f,\"round_trips\":%llu,\"rt_per_s\":%.1f,\"bytes_per_s\":%.0f,"
               "\"p50_us\":%.3f,\"p99_us\":%.3f,\"p999_us\":%.3f,\"max_us\":%.3f,"
               "\"errors\":%llu,\"late\":%llu,\"proxy_cpu_us_per_rt\":%s,\"client_cpu_s\":%.3f}\n",
               r.ok ? "true" : "false", r.error.c_str(), s.conns, s.depth,
               (unsigned long long)s.size, s.rate, r.seconds, (unsigned long long)r.round_trips,
               r.rt_per_s(), r.bytes_per_s(), us(0.5), us(0.99), us(0.999),
               double(r.latency.max()) / 1e3, (unsigned long long)r.errors,
               (unsigned long long)r.late,
               r.proxy_cpu_us_per_rt() >= 0 ? std::to_string(r.proxy_cpu_us_per_rt()).c_str()
                                            : "null",
               r.client_cpu_s);
        return;
    }
    if (!r.ok) fprintf(stderr, "qbench: %s\n", r.error.c_str());
    if (s.handshakes) return print_setups(s, r);
    printf("%s:%u  %u conns x %u %s, %llu B requests, %.1f s%s\n", s.host.c_str(), s.port,
           s.conns, s.depth, s.rate > 0 ? "(open loop)" : "in flight",
           (unsigned long long)s.size, r.seconds, s.tls ? ", TLS" : "");
    if (!r.tls_info.empty())
        printf("  %s, %.3f wire bytes per reply byte\n", r.tls_info.c_str(), r.tls_wire_ratio);
    printf("  %.0f rt/s  %.1f MB/s  p50 %.1f us  p99 %.1f us  p999 %.1f us  max %.1f us\n",
           r.rt_per_s(), r.bytes_per_s() / 1e6, us(0.5), us(0.99), us(0.999),
           double(r.latency.max()) / 1e3);
    if (r.proxy_cpu_us_per_rt() >= 0)
        printf("  proxy CPU %.2f us per rt (pid %d)\n", r.proxy_cpu_us_per_rt(), s.proxy_pid);
    if (r.errors || r.late)
        printf("  %llu q error replies, %llu sends late by > 1 ms\n",
               (unsigned long long)r.errors, (unsigned long long)r.late);
}

}  // namespace

int main(int argc, char** argv) {
    cli c;
    if (!parse(argc, argv, c)) return 2;
    if (!c.compare && !c.cmp.plot.empty())
        return fprintf(stderr, "qbench: --plot needs --compare\n%s", kUsage), 2;
    if (c.compare && c.cmp.tls && c.cmp.mode == "session") c.cmp.mode = "both";
    if (c.compare) return qbench::run_compare(c.cmp);
    if (!c.have_target) return fprintf(stderr, "qbench: --target is required\n%s", kUsage), 2;
    qgate::net::raise_fd_limit();  // many connections need many descriptors
    qbench::load_result r = qbench::run_load(c.load);
    print_load(c.load, r, c.json);
    return r.ok ? 0 : 1;
}

// One measured run of a scenario against one target, and the G8 idle-connections probe.
// For qgate targets the admin counters are read before and after the run, so that
// io_uring_enter calls per forwarded message (G7) cover exactly this run's traffic (plus its
// warm-up).
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "compare.h"
#include "load.h"
#include "proc.h"

namespace qbench {
namespace {

void sleep_s(double s) {
    timespec ts{time_t(s), long((s - double(time_t(s))) * 1e9)};
    nanosleep(&ts, nullptr);
}

/// Δenters / Δmessages between two counter snapshots, or -1. The messages are msgs_fwd in
/// session mode (both directions); a request-mode qgate counts calls instead, and each routed
/// call is two messages through qgate (the call and its reply), so the two modes compare.
double enters_per_msg(const stat_map& a, const stat_map& b) {
    auto d = [&](const char* k) -> double {
        auto ia = a.find(k), ib = b.find(k);
        return (ia == a.end() || ib == b.end()) ? -1 : double(ib->second - ia->second);
    };
    double enters = d("enters"), msgs = d("msgs_fwd");
    if (msgs <= 0) msgs = 2 * d("requests_routed");
    return enters >= 0 && msgs > 0 ? enters / msgs : -1;
}

}  // namespace

run_stats run_one(const scenario& s, const target& t, const compare_options& opt,
                  histogram& latency) {
    run_stats out;
    if (!t.up || (t.pid > 0 && !alive(t.pid))) return out.error = t.name + " is not running", out;
    load_spec spec;
    spec.port = t.port;
    spec.conns = s.conns;
    spec.depth = s.depth;
    spec.size = s.size;
    spec.warmup_s = opt.warmup;
    spec.duration_s = opt.seconds;
    spec.threads = opt.threads;
    spec.proxy_pid = t.pid;
    spec.tls = t.tls;
    spec.tls_ca = t.tls_ca;
    spec.handshakes = s.id == "HS";
    stat_map before, after;
    std::string err;
    bool counters = t.admin_port && read_stats(t.admin_port, before, err);
    load_result r = run_load(spec);
    if (counters && read_stats(t.admin_port, after, err))
        out.enters_per_msg = enters_per_msg(before, after);
    if (!r.ok) return out.error = r.error, out;
    out.ok = r.round_trips > 0;
    if (!out.ok) out.error = "no round trips completed";
    out.rt_per_s = r.rt_per_s();
    out.bytes_per_s = r.bytes_per_s();
    out.p50_us = double(r.latency.quantile(0.50)) / 1e3;
    out.p99_us = double(r.latency.quantile(0.99)) / 1e3;
    out.p999_us = double(r.latency.quantile(0.999)) / 1e3;
    out.cpu_us_per_rt = r.proxy_cpu_us_per_rt();
    out.errors = r.errors;
    if (r.errors)
        out.error = std::to_string(r.errors) +
                    (spec.handshakes ? " failed set-ups (" + r.error + ")" : " q error replies");
    if (out.ok) latency.merge(r.latency);
    return out;
}

idle_stats run_idle(const target& t, const compare_options& opt) {
    idle_stats out;
    out.conns = opt.idle_conns;
    out.seconds = opt.idle_seconds;
    if (!t.up || t.pid <= 0 || !alive(t.pid)) return out.error = t.name + " is not running", out;
    std::vector<int> fds;
    for (uint32_t i = 0; i < opt.idle_conns; ++i) {
        int fd = connect_q("127.0.0.1", t.port, "qbench:", out.error);
        if (fd < 0) break;
        fds.push_back(fd);
    }
    if (fds.size() == opt.idle_conns) {
        sleep_s(1);  // let connection set-up work finish before measuring
        double c0 = process_cpu_fine_s(t.pid);
        uint64_t t0 = now_ns();
        sleep_s(opt.idle_seconds);
        double c1 = process_cpu_fine_s(t.pid);
        double wall = double(now_ns() - t0) / 1e9;
        out.ok = c0 >= 0 && c1 >= 0;
        out.cpu_percent = out.ok ? (c1 - c0) / wall * 100 : 0;
        if (!out.ok) out.error = "cannot read the CPU time of pid " + std::to_string(t.pid);
    } else {
        out.error = "opened only " + std::to_string(fds.size()) + " connections: " + out.error;
    }
    for (int fd : fds) close(fd);
    return out;
}

}  // namespace qbench

// The PERFORMANCE.md targets as ratios. Each ratio is computed per round from runs taken
// minutes apart at most (the VM drifts, so only same-round numbers are compared), then
// summarised as median and min–max over the rounds. A verdict compares the median with the
// target; a round missing any run a ratio needs is left out of that ratio.
#include <algorithm>
#include <cmath>

#include "compare.h"

namespace qbench {
namespace {

const run_stats* get(const compare_report& r, const std::string& scn, const std::string& var,
                     uint32_t round) {
    auto is = r.results.find(scn);
    if (is == r.results.end()) return nullptr;
    auto iv = is->second.find(var);
    if (iv == is->second.end() || round >= iv->second.size()) return nullptr;
    const run_stats& st = iv->second[round];
    return st.ok ? &st : nullptr;
}

using ratio_fn = double (*)(const run_stats& a, const run_stats& b, const run_stats* c);

/// Builds a metric from fn(a, b[, c]) over the rounds where the runs exist.
metric ratio(const compare_report& r, std::string id, std::string what, std::string op,
             double target, const std::string& scn, const std::string& va,
             const std::string& vb, const std::string& vc, ratio_fn fn) {
    metric m{std::move(id), std::move(what), std::move(op), target, {}, 0, 0, 0, ""};
    for (uint32_t round = 0; round < r.opt.rounds; ++round) {
        const run_stats* a = get(r, scn, va, round);
        const run_stats* b = get(r, scn, vb, round);
        const run_stats* c = vc.empty() ? nullptr : get(r, scn, vc, round);
        if (!a || !b || (!vc.empty() && !c)) continue;
        double x = fn(*a, *b, c);
        if (std::isfinite(x)) m.values.push_back(x);
    }
    return m;
}

/// A per-round value of one target (not a ratio), e.g. enters per message.
metric single(const compare_report& r, std::string id, std::string what, std::string op,
              double target, const std::string& scn, const std::string& var,
              double (*fn)(const run_stats&)) {
    metric m{std::move(id), std::move(what), std::move(op), target, {}, 0, 0, 0, ""};
    for (uint32_t round = 0; round < r.opt.rounds; ++round) {
        const run_stats* a = get(r, scn, var, round);
        if (a && fn(*a) >= 0) m.values.push_back(fn(*a));
    }
    return m;
}

double nan() { return std::nan(""); }
/// (a − direct) / (b − direct) for a latency field; NaN when b adds nothing.
double added(double a, double b, double direct) {
    return b - direct > 0 ? (a - direct) / (b - direct) : nan();
}

void summarise(metric& m) {
    if (m.values.empty()) {
        m.verdict = "n/a";
        return;
    }
    m.median = median_of(m.values);
    m.lo = *std::min_element(m.values.begin(), m.values.end());
    m.hi = *std::max_element(m.values.begin(), m.values.end());
    if (m.op.empty()) m.verdict = "info";
    else if (m.op == "<=") m.verdict = m.median <= m.target ? "PASS" : "FAIL";
    else m.verdict = m.median >= m.target ? "PASS" : "FAIL";
}

}  // namespace

double median_of(std::vector<double> v) {
    if (v.empty()) return nan();
    std::sort(v.begin(), v.end());
    std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::vector<metric> compute_metrics(const compare_report& r) {
    std::vector<metric> out;
    const std::string q = "qgate", h = "haproxy", d = "direct", e = "qgate-epoll";
    out.push_back(ratio(r, "G1", "added p50 latency, qgate / HAProxy (1x1, 64 B)", "<=", 0.9,
                        "G1", q, h, d, [](const run_stats& a, const run_stats& b,
                                          const run_stats* c) {
                            return added(a.p50_us, b.p50_us, c->p50_us);
                        }));
    out.push_back(ratio(r, "G1", "added p99 latency, qgate / HAProxy (1x1, 64 B)", "<=", 1.0,
                        "G1", q, h, d, [](const run_stats& a, const run_stats& b,
                                          const run_stats* c) {
                            return added(a.p99_us, b.p99_us, c->p99_us);
                        }));
    auto cpu = [](const run_stats& a, const run_stats& b, const run_stats*) {
        return a.cpu_us_per_rt > 0 && b.cpu_us_per_rt > 0 ? a.cpu_us_per_rt / b.cpu_us_per_rt
                                                           : nan();
    };
    auto rt = [](const run_stats& a, const run_stats& b, const run_stats*) {
        return a.rt_per_s / b.rt_per_s;
    };
    auto bytes = [](const run_stats& a, const run_stats& b, const run_stats*) {
        return a.bytes_per_s / b.bytes_per_s;
    };
    out.push_back(ratio(r, "G2", "proxy CPU-us per rt, qgate / HAProxy (32x1)", "<=", 0.7, "G2",
                        q, h, "", cpu));
    out.push_back(ratio(r, "G3", "rt/s, qgate / HAProxy (32x1)", ">=", 1.2, "G2", q, h, "", rt));
    out.push_back(ratio(r, "G3", "rt/s, qgate / direct (32x1)", ">=", 0.45, "G2", q, d, "", rt));
    out.push_back(ratio(r, "G4", "msgs/s, qgate / HAProxy (8x16)", ">=", 2.0, "G4", q, h, "", rt));
    out.push_back(ratio(r, "G4", "msgs/s, qgate / direct (8x16)", ">=", 0.66, "G4", q, d, "", rt));
    out.push_back(ratio(r, "G5", "bytes/s, qgate / direct (4x1 MiB)", ">=", 0.5, "G5", q, d, "",
                        bytes));
    out.push_back(ratio(r, "G5", "bytes/s, qgate / HAProxy (4x1 MiB)", "", 0, "G5", q, h, "",
                        bytes));
    auto enters = [](const run_stats& a) { return a.enters_per_msg; };
    out.push_back(single(r, "G7", "io_uring_enter per msg, pipelined (8x16)", "<=", 0.25, "G4", q,
                         enters));
    out.push_back(single(r, "G7", "io_uring_enter per msg, closed loop (32x1)", "<=", 1.0, "G2",
                         q, enters));
    metric idle{"G8", "qgate CPU % with idle connections (1 shard)", "<=", 1.0, {}, 0, 0, 0, ""};
    if (auto it = r.idle.find(q); it != r.idle.end() && it->second.ok)
        idle.values.push_back(it->second.cpu_percent);
    out.push_back(idle);
    out.push_back(ratio(r, "G9", "rt/s, qgate epoll / io_uring (32x1)", ">=", 0.8, "G2", e, q, "",
                        rt));
    out.push_back(ratio(r, "G9", "CPU efficiency, epoll vs io_uring: cpu(uring)/cpu(epoll)", ">=",
                        0.8, "G2", q, e, "", cpu));
    for (metric& m : out) summarise(m);
    return out;
}

}  // namespace qbench

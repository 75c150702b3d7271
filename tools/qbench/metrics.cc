// The PERFORMANCE.md targets as ratios. Each ratio is computed per round from runs taken
// minutes apart at most (the VM drifts, so only same-round numbers are compared), then
// summarised as median and min–max over the rounds. A verdict compares the median with the
// target; a round missing any run a ratio needs is left out of that ratio.
// With --baseline the "before" build (target qgate-base) gets every ratio qgate gets, each line
// right after qgate's, and each scenario gets after/before lines (qgate / qgate-base, per
// round): their verdict says whether every round fell on the same side of 1. With --mode both
// qgate-req (and qgate-base-req) get qgate's lines too, and each scenario request/session
// lines (qgate-req / qgate). G6 (backend-bound) has lines of its own.
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

/// Rounds an after/before ratio needs before its verdict says more than "info": with every one
/// of 5 rounds on the same side of 1 by chance alone in 2 of 32 cases (a sign test), a
/// direction seen in fewer rounds is not evidence.
constexpr std::size_t kAfterBeforeRounds = 5;

/// An after/before ratio: "noise" when the rounds' spread includes 1, else the direction all
/// rounds agree on (for a CPU ratio below 1 is better).
std::string after_before_verdict(const metric& m) {
    if (m.values.size() < kAfterBeforeRounds) return "info";
    if (m.lo <= 1 && m.hi >= 1) return "noise";
    bool above = m.lo > 1;
    return above != m.lower_is_better ? "better" : "WORSE";
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
    else if (m.op == "~") m.verdict = after_before_verdict(m);
    else if (m.op == "<=") m.verdict = m.median <= m.target ? "PASS" : "FAIL";
    else m.verdict = m.median >= m.target ? "PASS" : "FAIL";
}

double cpu_ratio(const run_stats& a, const run_stats& b, const run_stats*) {
    return a.cpu_us_per_rt > 0 && b.cpu_us_per_rt > 0 ? a.cpu_us_per_rt / b.cpu_us_per_rt : nan();
}
double rt_ratio(const run_stats& a, const run_stats& b, const run_stats*) {
    return a.rt_per_s / b.rt_per_s;
}
double bytes_ratio(const run_stats& a, const run_stats& b, const run_stats*) {
    return a.bytes_per_s / b.bytes_per_s;
}

/// What a qgate target's G-lines are judged against: PERFORMANCE.md's targets (session mode),
/// or issue 15's where it sets its own for request mode: added p50 at 1x1 at most HAProxy's,
/// CPU per call <= 0.8x HAProxy's, >= 1.0x HAProxy pipelined and with 1 MiB messages.
struct gate_goals {
    double g1_p50 = 0.9, g2_cpu = 0.7, g4_haproxy = 2.0;
    std::string g5_haproxy_op;  ///< "": information only
    double g5_haproxy = 0;
};

gate_goals goals_of(const compare_options& opt, const std::string& q) {
    if (!is_request_gate(opt, q)) return {};
    return gate_goals{1.0, 0.8, 1.0, ">=", 1.0};
}

/// G1–G8 for one qgate target: "qgate", "qgate-base" (the --baseline build), "qgate-req" or
/// "qgate-base-req" (--mode both), whose lines read the same with its name in them.
std::vector<metric> gate_metrics(const compare_report& r, const std::string& q) {
    std::vector<metric> out;
    const std::string h = "haproxy", d = "direct";
    const gate_goals g = goals_of(r.opt, q);
    out.push_back(ratio(r, "G1", "added p50 latency, " + q + " / HAProxy (1x1, 64 B)", "<=",
                        g.g1_p50, "G1", q, h, d, [](const run_stats& a, const run_stats& b,
                                                   const run_stats* c) {
                            return added(a.p50_us, b.p50_us, c->p50_us);
                        }));
    out.push_back(ratio(r, "G1", "added p99 latency, " + q + " / HAProxy (1x1, 64 B)", "<=", 1.0,
                        "G1", q, h, d, [](const run_stats& a, const run_stats& b,
                                          const run_stats* c) {
                            return added(a.p99_us, b.p99_us, c->p99_us);
                        }));
    out.push_back(ratio(r, "G2", "proxy CPU-us per rt, " + q + " / HAProxy (32x1)", "<=",
                        g.g2_cpu, "G2", q, h, "", cpu_ratio));
    out.push_back(ratio(r, "G3", "rt/s, " + q + " / HAProxy (32x1)", ">=", 1.2, "G2", q, h, "",
                        rt_ratio));
    out.push_back(ratio(r, "G3", "rt/s, " + q + " / direct (32x1)", ">=", 0.45, "G2", q, d, "",
                        rt_ratio));
    out.push_back(ratio(r, "G4", "msgs/s, " + q + " / HAProxy (8x16)", ">=", g.g4_haproxy, "G4",
                        q, h, "", rt_ratio));
    out.push_back(ratio(r, "G4", "msgs/s, " + q + " / direct (8x16)", ">=", 0.66, "G4", q, d, "",
                        rt_ratio));
    out.push_back(ratio(r, "G5", "bytes/s, " + q + " / direct (4x1 MiB)", ">=", 0.5, "G5", q, d,
                        "", bytes_ratio));
    out.push_back(ratio(r, "G5", "bytes/s, " + q + " / HAProxy (4x1 MiB)", g.g5_haproxy_op,
                        g.g5_haproxy, "G5", q, h, "", bytes_ratio));
    auto enters = [](const run_stats& a) { return a.enters_per_msg; };
    std::string who = q == "qgate" ? "" : ", " + q;  // qgate's lines read as they always have
    out.push_back(single(r, "G7", "io_uring_enter per msg" + who + ", pipelined (8x16)", "<=",
                         0.25, "G4", q, enters));
    out.push_back(single(r, "G7", "io_uring_enter per msg" + who + ", closed loop (32x1)", "<=",
                         1.0, "G2", q, enters));
    metric idle{"G8", q + " CPU % with idle connections (1 shard)", "<=", 1.0, {}, 0, 0, 0, ""};
    if (auto it = r.idle.find(q); it != r.idle.end() && it->second.ok)
        idle.values.push_back(it->second.cpu_percent);
    out.push_back(idle);
    return out;
}

/// The echo scenarios (G1–G5): the ones every qgate target runs in.
/// (HS, connection set-ups, has lines of its own: tls_metrics.)
bool echo_scenario(const scenario& s) { return s.group == "echo" && s.id != "HS"; }

/// The scenario's throughput field's name: bytes/s for 1 MiB (as in G5), msgs/s pipelined.
std::string rate_name(const scenario& s) {
    return s.size >= 4096 ? "bytes/s" : s.depth > 1 ? "msgs/s" : "rt/s";
}
ratio_fn rate_ratio(const scenario& s) { return s.size >= 4096 ? bytes_ratio : rt_ratio; }

/// Per scenario: throughput and proxy CPU per round trip, a / b (after / before), round by
/// round.
void after_before(const compare_report& r, const std::string& a, const std::string& b,
                  std::vector<metric>& out) {
    for (const scenario& s : r.scenarios) {
        if (!echo_scenario(s)) continue;
        std::string who = " after/before, " + a + " / " + b + " (" + s.tag + ")";
        out.push_back(ratio(r, s.id, rate_name(s) + who, "~", 1, s.id, a, b, "", rate_ratio(s)));
        metric cpu = ratio(r, s.id, "CPU-us per rt" + who, "~", 1, s.id, a, b, "", cpu_ratio);
        cpu.lower_is_better = true;
        out.push_back(cpu);
    }
}

/// --mode both, per scenario: request mode against session mode, the same binary in the same
/// round. Issue 15: request mode >= 0.8x session mode's throughput in every scenario; the CPU
/// ratio is information (each one's CPU per call is in the per-target table).
void request_vs_session(const compare_report& r, std::vector<metric>& out) {
    const std::string a = "qgate-req", b = "qgate";
    for (const scenario& s : r.scenarios) {
        if (!echo_scenario(s)) continue;
        std::string who = ", " + a + " / " + b + " (session) (" + s.tag + ")";
        out.push_back(ratio(r, s.id, rate_name(s) + who, ">=", 0.8, s.id, a, b, "",
                            rate_ratio(s)));
        out.push_back(ratio(r, s.id, "CPU-us per rt" + who, "", 0, s.id, a, b, "", cpu_ratio));
    }
}

/// G6, backend-bound: four backends that each wait --work-us per call behind one request-mode
/// qgate against one such backend alone (issue 15: >= 3.5x); and one backend behind qgate
/// against itself, where the backend, not qgate, should set the pace (qbench's own bar: 0.9).
void backend_bound(const compare_report& r, std::vector<metric>& out) {
    if (!scenario_selected(r.opt, "G6")) return;
    std::string work = std::to_string(r.opt.work_us) + " us work";
    out.push_back(ratio(r, "G6", "rt/s, qgate-req4 (4 backends) / direct (1), 32x1, " + work,
                        ">=", 3.5, "G6", "qgate-req4", "direct", "", rt_ratio));
    out.push_back(ratio(r, "G6", "rt/s, qgate-req (1 backend) / direct, 32x1, " + work, ">=",
                        0.9, "G6", "qgate-req", "direct", "", rt_ratio));
}

/// T1 lines of one TLS qgate `q` (plain twin `plain`): against HAProxy terminating the same
/// TLS, >= 1.0 in every scenario (issue 18); against itself without TLS, >= 0.7 at 32x1 and
/// information elsewhere; CPU per call against HAProxy-TLS's, information.
void tls_gate(const compare_report& r, const std::string& q, const std::string& plain,
              std::vector<metric>& out) {
    const std::string h = "haproxy-tls";
    for (const scenario& s : r.scenarios) {
        if (!echo_scenario(s)) continue;
        std::string tag = " (" + s.tag + ")";
        out.push_back(ratio(r, "T1", rate_name(s) + ", " + q + " / " + h + tag, ">=", 1.0, s.id,
                            q, h, "", rate_ratio(s)));
        bool g2 = s.id == "G2";
        out.push_back(ratio(r, "T1", rate_name(s) + ", " + q + " / " + plain + " (plain)" + tag,
                            g2 ? ">=" : "", g2 ? 0.7 : 0, s.id, q, plain, "", rate_ratio(s)));
        out.push_back(ratio(r, "T1", "CPU-us per rt, " + q + " / " + h + tag, "", 0, s.id, q, h,
                            "", cpu_ratio));
    }
}

/// Connection set-ups per second (HS): each TLS target against HAProxy-TLS and against its
/// plain twin, and the CPU each spends per set-up; information (no target in issue 18).
void setup_rates(const compare_report& r, std::vector<metric>& out) {
    if (!scenario_selected(r.opt, "HS")) return;
    const std::string h = "haproxy-tls";
    const std::pair<const char*, const char*> pairs[] = {
        {"qgate-tls", "qgate"}, {"qgate-req-tls", "qgate-req"}, {"haproxy-tls", "haproxy"}};
    for (auto [q, plain] : pairs) {
        std::string sq = q, sp = plain;
        if (sq != h) {
            out.push_back(ratio(r, "HS", "set-ups/s, " + sq + " / " + h, "", 0, "HS", sq, h, "",
                                rt_ratio));
            out.push_back(ratio(r, "HS", "CPU-us per set-up, " + sq + " / " + h, "", 0, "HS", sq,
                                h, "", cpu_ratio));
        }
        out.push_back(ratio(r, "HS", "set-ups/s, " + sq + " / " + sp + " (plain)", "", 0, "HS",
                            sq, sp, "", rt_ratio));
    }
}

}  // namespace

void tls_metrics(const compare_report& r, std::vector<metric>& out) {
    tls_gate(r, "qgate-tls", "qgate", out);
    tls_gate(r, "qgate-req-tls", "qgate-req", out);
    setup_rates(r, out);
}

double median_of(std::vector<double> v) {
    if (v.empty()) return nan();
    std::sort(v.begin(), v.end());
    std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::vector<metric> compute_metrics(const compare_report& r) {
    std::vector<metric> out;
    const std::string q = "qgate", e = "qgate-epoll";
    const bool base = !r.opt.baseline.empty(), both = r.opt.mode == "both";
    // One list of lines per qgate target, then interleaved line by line: each G-line of qgate
    // is followed by the same line for qgate-base, qgate-req and qgate-base-req.
    std::vector<std::string> gates = {q};
    if (base) gates.push_back("qgate-base");
    if (both) gates.push_back("qgate-req");
    if (both && base) gates.push_back("qgate-base-req");
    std::vector<std::vector<metric>> lines;
    for (const std::string& g : gates) lines.push_back(gate_metrics(r, g));
    for (std::size_t i = 0; i < lines[0].size(); ++i)
        for (const auto& l : lines) out.push_back(l[i]);
    if (!r.opt.tls) {  // --tls runs no qgate-epoll
        out.push_back(ratio(r, "G9", "rt/s, qgate epoll / io_uring (32x1)", ">=", 0.8, "G2", e, q,
                            "", rt_ratio));
        out.push_back(ratio(r, "G9", "CPU efficiency, epoll vs io_uring: cpu(uring)/cpu(epoll)",
                            ">=", 0.8, "G2", q, e, "", cpu_ratio));
    }
    if (both) request_vs_session(r, out);
    if (r.opt.tls) tls_metrics(r, out);
    backend_bound(r, out);
    if (base) after_before(r, q, "qgate-base", out);
    if (base && both) after_before(r, "qgate-req", "qgate-base-req", out);
    if (base && r.opt.tls) after_before(r, "qgate-tls", "qgate-base-tls", out);
    for (metric& m : out) summarise(m);
    return out;
}

}  // namespace qbench

// qbench --compare: direct vs qgate vs HAProxy, interleaved rounds, PERFORMANCE.md ratios.
// Shared types of the compare driver (env.cc: processes, rounds.cc: runs, metrics.cc: ratios,
// report.cc: output, plot.cc: the figure).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "histogram.h"

namespace qbench {

struct compare_options {
    std::string qgate;            ///< path; empty = default location
    std::string qmock;            ///< path; empty = next to qbench in the build tree
    std::string haproxy = "haproxy";
    uint32_t rounds = 5;
    double seconds = 2;           ///< measured time per run
    double warmup = 0.5;          ///< unmeasured time per run
    uint32_t idle_conns = 1000;   ///< G8
    double idle_seconds = 5;      ///< G8
    uint32_t threads = 1;         ///< load-generator threads
    std::string only;             ///< comma-separated scenario ids; empty = the default set
    bool json = false;
    bool markdown = false;
    bool quick = false;
    bool keep = false;            ///< keep the work directory (configs, logs)
    /// qgate's listener mode: session, request (routed calls), or both (qgate in session mode
    /// and qgate-req in request mode, side by side)
    std::string mode = "session";
    uint32_t pool_conns = 0;      ///< --pool-conns: request-mode backend.conns; 0 = default
    uint32_t work_us = 50;        ///< G6: qmock --work-us of the backend-bound group
    std::string baseline;         ///< --baseline: a "before" qgate, run as target qgate-base
    std::string plot;             ///< --plot: a .png or .svg to draw (plot.cc); empty = none
    /// --tls: TLS-terminating targets beside the plain ones (qgate-tls, qgate-req-tls,
    /// haproxy-tls; tls_env.cc) and the connection set-up scenario HS; implies --mode both
    bool tls = false;
    std::string command_line;
};

/// One process behind a port: the backend itself (direct) or a proxy in front of it.
struct target {
    /// direct, qgate, haproxy, qgate-epoll, qgate-req (--mode both, and G6), qgate-base and
    /// qgate-base-req (--baseline), qgate-req4 (G6), qgate-tls, qgate-req-tls and
    /// haproxy-tls (--tls)
    std::string name;
    uint16_t port = 0;
    int pid = 0;             ///< proxy pid (CPU accounting); 0 for direct
    uint16_t admin_port = 0; ///< qgate's admin endpoint (counters); 0 = none
    bool up = false;
    std::string log;
    std::string group = "echo";  ///< the backends behind it: echo (G1-G8) or work (G6)
    bool tls = false;            ///< clients speak TLS to it (--tls)
    std::string tls_ca;          ///< the certificate its clients check it against
};

/// The measurements of one run, reduced to what the report needs.
struct run_stats {
    bool ok = false;
    std::string error;
    double rt_per_s = 0;
    double bytes_per_s = 0;
    double p50_us = 0, p99_us = 0, p999_us = 0;
    double cpu_us_per_rt = -1;     ///< proxy CPU per round trip; -1 when unknown
    double enters_per_msg = -1;    ///< qgate counters; -1 when unknown
    uint64_t errors = 0;
};

struct scenario {
    std::string id;      ///< G1, G2, G4, G5, G6, HS (connection set-ups, --tls)
    std::string label;   ///< "1 conn x 1, 64 B"
    std::string tag;     ///< "1x1, 64 B": the short form in metric names
    uint32_t conns = 1;
    uint32_t depth = 1;
    uint64_t size = 64;
    std::vector<std::string> variants;
    std::string group = "echo";  ///< which targets: the echo backend's, or G6's work group
};

/// results[scenario id][variant][round]
using result_table = std::map<std::string, std::map<std::string, std::vector<run_stats>>>;

/// latency[scenario id][variant]: the latency histograms (ns) of the successful runs, merged
/// over the rounds; --plot draws their CDFs.
using latency_table = std::map<std::string, std::map<std::string, histogram>>;

/// G8: CPU of a proxy holding idle connections.
struct idle_stats {
    bool ok = false;
    std::string error;
    uint32_t conns = 0;
    double seconds = 0;
    double cpu_percent = 0;
};

struct metric {
    std::string id;          ///< G1 … G9
    std::string what;
    std::string op;          ///< "<=", ">=", "" (information only) or "~" (after/before, ~1)
    double target = 0;
    std::vector<double> values;  ///< one per round with complete data
    double median = 0, lo = 0, hi = 0;
    std::string verdict;     ///< PASS, FAIL, info, n/a; for "~": noise, better, WORSE
    bool lower_is_better = false;  ///< "~" only: a CPU ratio, where below 1 is the gain
};

struct machine_info {
    std::string date, kernel, cpu_model, haproxy_version;
    long cpus = 0;
};

struct compare_report {
    compare_options opt;
    machine_info machine;
    std::vector<std::string> notes;
    std::vector<scenario> scenarios;
    result_table results;
    latency_table latency;
    std::map<std::string, idle_stats> idle;  ///< by variant
    std::vector<metric> metrics;
};

int run_compare(const compare_options& opt);
/// Whether scenario `id` (G1 … G8) runs: the ones --only lists, else the default set (every
/// one, but G6 only when a mode has request-mode qgates: request or both).
bool scenario_selected(const compare_options& opt, const std::string& id);
/// Whether a target name is a TLS one (--tls): qgate-tls, qgate-req-tls, haproxy-tls.
bool is_tls_target(const std::string& name);
/// Whether target `name` is a qgate with a request listener.
bool is_request_gate(const compare_options& opt, const std::string& name);
/// The directory of the qbench binary (tools/qbench in the build tree).
std::string self_dir();

// rounds.cc
/// One run; when it succeeds its latency histogram is merged into `latency`.
run_stats run_one(const scenario& s, const target& t, const compare_options& opt,
                  histogram& latency);
idle_stats run_idle(const target& t, const compare_options& opt);
// metrics.cc
std::vector<metric> compute_metrics(const compare_report& r);
double median_of(std::vector<double> v);
/// --tls: TLS against HAProxy-TLS and against plain, per scenario, and the set-up rates.
void tls_metrics(const compare_report& r, std::vector<metric>& out);
// report.cc
void print_text(const compare_report& r);
void print_markdown(const compare_report& r);
void print_json(const compare_report& r);
machine_info probe_machine(const std::string& haproxy);
std::string json_escape(const std::string& s);
// plot.cc
/// Checks early that --plot can work (script found, matplotlib imports); "" or why not.
std::string plot_preflight();
/// Writes the plot data to `dir`/plot.json and runs plot.py on it; false with a message on
/// stderr when no plot was drawn.
bool draw_plot(const compare_report& r, const std::string& dir);

}  // namespace qbench

// qbench --compare driver: sets up the processes (env.cc: qmock backends, qgates, HAProxy),
// then runs every scenario against every target, interleaved: each round runs each scenario
// once per target, the target order rotating from round to round, so slow drift of this shared
// VM spreads over all targets alike (over before and after, session and request mode alike).
// Everything started is stopped on return, on error and on SIGINT/SIGTERM (proc.cc).
#include <limits.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "compare.h"
#include "env.h"
#include "net/socket_util.h"
#include "proc.h"

namespace qbench {

namespace fs = std::filesystem;

std::string self_dir() {
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return ".";
    buf[n] = 0;
    return fs::path(buf).parent_path().string();
}

namespace {

/// The scenario's targets, in the order of the first round: each qgate-base right after the
/// qgate it is the before build of, so the rotation gives both every position in turn.
std::vector<std::string> variants_of(const compare_options& opt, bool epoll) {
    std::vector<std::string> v = {"direct", "qgate"};
    bool base = !opt.baseline.empty(), both = opt.mode == "both";
    if (base) v.push_back("qgate-base");
    if (both) v.push_back("qgate-req");
    if (both && base) v.push_back("qgate-base-req");
    v.push_back("haproxy");
    if (opt.tls) v.push_back("qgate-tls");
    if (opt.tls && base) v.push_back("qgate-base-tls");
    if (opt.tls) v.insert(v.end(), {"qgate-req-tls", "haproxy-tls"});
    if (epoll && !opt.tls) v.push_back("qgate-epoll");  // --tls: G9 is not what it measures
    return v;
}

std::vector<scenario> make_scenarios(const compare_options& opt) {
    std::vector<scenario> all = {
        {"G1", "1 conn x 1, 64 B", "1x1, 64 B", 1, 1, 64, variants_of(opt, false)},
        {"G2", "32 conns x 1, 64 B", "32x1", 32, 1, 64, variants_of(opt, true)},
        {"G4", "8 conns x 16 pipelined, 64 B", "8x16", 8, 16, 64, variants_of(opt, false)},
        {"G5", "4 conns x 1, 1 MiB", "4x1 MiB", 4, 1, 1 << 20, variants_of(opt, false)},
        {"G6", "4 backends x " + std::to_string(opt.work_us) + " us, 32x1",
         "32x1, " + std::to_string(opt.work_us) + " us work", 32, 1, 64,
         {"direct", "qgate-req", "qgate-req4"}, "work"},
        {"HS", "8 conns, connection set-ups", "set-ups", 8, 1, 0,
         variants_of(opt, false)},
    };
    std::vector<scenario> out;
    for (auto& s : all)
        if (scenario_selected(opt, s.id)) out.push_back(s);
    return out;
}

const target* find_target(const std::vector<target>& ts, const std::string& name,
                          const std::string& group) {
    for (const auto& t : ts)
        if (t.name == name && t.group == group) return &t;
    return nullptr;
}

void run_rounds(compare_report& rep, const std::vector<target>& targets) {
    for (uint32_t round = 0; round < rep.opt.rounds; ++round) {
        for (const scenario& s : rep.scenarios) {
            std::size_t n = s.variants.size();
            for (std::size_t k = 0; k < n; ++k) {
                const std::string& v = s.variants[(k + round) % n];
                const target* t = find_target(targets, v, s.group);
                if (!t) continue;
                if (!rep.opt.json)
                    fprintf(stderr, "round %u/%u  %-3s %-30s %-14s", round + 1, rep.opt.rounds,
                            s.id.c_str(), s.label.c_str(), v.c_str());
                run_stats st = run_one(s, *t, rep.opt, rep.latency[s.id][v]);
                if (!rep.opt.json) {
                    if (st.ok) fprintf(stderr, "%10.0f rt/s  p50 %7.1f us  p99 %7.1f us\n",
                                       st.rt_per_s, st.p50_us, st.p99_us);
                    else fprintf(stderr, "FAILED: %s\n", st.error.c_str());
                }
                auto& runs = rep.results[s.id][v];
                runs.resize(rep.opt.rounds);
                runs[round] = st;
            }
        }
    }
}

void run_idle_probes(compare_report& rep, const std::vector<target>& targets) {
    if (!scenario_selected(rep.opt, "G8")) return;
    // qgate-base and qgate-base-req: --baseline; qgate-req: --mode both.
    for (const char* name : {"qgate", "qgate-base", "qgate-req", "qgate-base-req", "haproxy"}) {
        const target* t = find_target(targets, name, "echo");
        if (!t) continue;
        if (!rep.opt.json)
            fprintf(stderr, "G8  %u idle connections through %s for %.0f s ...", rep.opt.idle_conns,
                    name, rep.opt.idle_seconds);
        idle_stats st = run_idle(*t, rep.opt);
        if (!rep.opt.json) {
            if (st.ok) fprintf(stderr, " %.2f %% CPU\n", st.cpu_percent);
            else fprintf(stderr, " FAILED: %s\n", st.error.c_str());
        }
        rep.idle[name] = st;
    }
}

}  // namespace

bool scenario_selected(const compare_options& opt, const std::string& id) {
    if (opt.only.empty()) {
        if (id == "HS") return opt.tls;
        return id != "G6" || (opt.mode != "session" && !opt.tls);
    }
    return ("," + opt.only + ",").find("," + id + ",") != std::string::npos;
}

bool is_tls_target(const std::string& name) { return name.ends_with("-tls"); }

bool is_request_gate(const compare_options& opt, const std::string& name) {
    if (name == "qgate-req" || name == "qgate-base-req" || name == "qgate-req4" ||
        name == "qgate-req-tls")
        return true;
    return opt.mode == "request" && (name == "qgate" || name == "qgate-base" ||
                                     name == "qgate-epoll");
}

int run_compare(const compare_options& opt) {
    install_child_cleanup();
    qgate::net::raise_fd_limit();
    compare_report rep;
    rep.opt = opt;
    rep.machine = probe_machine(opt.haproxy);
    rep.scenarios = make_scenarios(opt);
    // Minutes of runs before finding out the plot cannot be drawn would be a waste: say so now
    // (the runs still go on; the table is printed and qbench exits 1 at the end).
    if (!opt.plot.empty())
        if (std::string why = plot_preflight(); !why.empty())
            fprintf(stderr, "qbench: --plot %s will fail: %s\n", opt.plot.c_str(),
                    why.c_str());
    environment env(opt);
    std::string error;
    if (!env.start(rep.notes, error)) {
        fprintf(stderr, "qbench --compare: %s\n", error.c_str());
        return 1;
    }
    if (opt.tls) describe_tls(env.targets, rep.notes);
    if (!opt.json)
        for (const auto& n : rep.notes) fprintf(stderr, "note: %s\n", n.c_str());
    run_rounds(rep, env.targets);
    run_idle_probes(rep, env.targets);
    for (const auto& t : env.targets)
        if (t.pid > 0 && !alive(t.pid))
            rep.notes.push_back(t.name + (t.group == "work" ? " (G6)" : "") +
                                " exited during the runs");
    rep.metrics = compute_metrics(rep);
    if (opt.json) print_json(rep);
    else if (opt.markdown) print_markdown(rep);
    else print_text(rep);
    fflush(stdout);  // the table first, whatever the plot does
    if (!opt.plot.empty() && !draw_plot(rep, env.dir())) return 1;
    return 0;
}

}  // namespace qbench

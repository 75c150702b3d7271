// Output of qbench --compare: a text report (per-target medians, then the G1–G9 table), the
// same table as Markdown for bench/RESULTS.md, or JSON with every run for machines. With
// --baseline, qgate-base is one more target everywhere and its lines sit among qgate's.
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include "compare.h"

namespace qbench {

std::string json_escape(const std::string& s) {
    std::string out;
    for (char ch : s) {
        if (ch == '"' || ch == '\\') out += '\\', out += ch;
        else if (ch == '\n') out += "\\n";
        else if (static_cast<unsigned char>(ch) < 0x20) out += ' ';
        else out += ch;
    }
    return out;
}

namespace {

std::string num(double x, int prec = 3) {
    if (!std::isfinite(x)) return "null";
    char buf[64];
    snprintf(buf, sizeof buf, "%.*f", prec, x);
    return buf;
}

/// A table cell: "-" for an unknown (non-finite) value.
std::string cell(double x, int prec) { return std::isfinite(x) ? num(x, prec) : "-"; }

/// Median of one field over a target's successful runs.
double med(const std::vector<run_stats>& runs, double run_stats::*field) {
    std::vector<double> v;
    for (const auto& r : runs)
        if (r.ok && r.*field >= 0) v.push_back(r.*field);
    return median_of(v);
}

/// A target's medians over its runs, one row of the per-target tables.
struct row_medians {
    double rt, p50, p99, p999, cpu, mb_per_s, enters;
};

/// Calls fn(scenario, variant, medians) for every target that ran, in scenario order.
template <class Fn>
void for_each_target(const compare_report& r, Fn fn) {
    for (const scenario& s : r.scenarios) {
        auto is = r.results.find(s.id);
        if (is == r.results.end()) continue;
        for (const std::string& v : s.variants) {
            auto iv = is->second.find(v);
            if (iv == is->second.end()) continue;
            const auto& runs = iv->second;
            fn(s, v,
               row_medians{med(runs, &run_stats::rt_per_s), med(runs, &run_stats::p50_us),
                           med(runs, &run_stats::p99_us), med(runs, &run_stats::p999_us),
                           med(runs, &run_stats::cpu_us_per_rt),
                           med(runs, &run_stats::bytes_per_s) / 1e6,
                           med(runs, &run_stats::enters_per_msg)});
        }
    }
}

std::string target_text(const metric& m) {
    if (m.op.empty()) return "info";
    return m.op + " " + num(m.target, 2);  // "~ 1.00": an after/before ratio (--baseline)
}

std::string range_text(const metric& m, int prec) {
    if (m.values.empty()) return "-";
    if (m.values.size() == 1) return num(m.median, prec);
    return num(m.median, prec) + " (" + num(m.lo, prec) + "-" + num(m.hi, prec) + ")";
}

/// G8's small percentages and after/before ratios (a few % matter) get a third digit.
int precision(const metric& m) { return m.id == "G8" || m.op == "~" ? 3 : 2; }

/// Which target runs which listener mode (--mode request and both).
std::string mode_text(const compare_options& o) {
    std::string s = o.mode == "both" ? "qgate session, qgate-req request" : "qgate request";
    if (!o.baseline.empty())
        s += o.mode == "both" ? ", qgate-base session, qgate-base-req request"
                              : ", qgate-base request";
    if (scenario_selected(o, "G6"))
        s += "; G6: qgate-req and qgate-req4 request, 4 qmocks --work-us " +
             std::to_string(o.work_us);
    return s;
}

std::string pool_text(const compare_options& o) {
    if (o.pool_conns == 0) return "qgate's default pool (backend.conns, pipeline, pipeline_depth)";
    return "backend.conns = " + std::to_string(o.pool_conns) + " (--pool-conns)";
}

void print_header(const compare_report& r, FILE* out) {
    const auto& m = r.machine;
    fprintf(out, "qbench --compare  %s\n", m.date.c_str());
    fprintf(out, "machine: %ld CPUs, kernel %s, %s\n", m.cpus, m.kernel.c_str(),
            m.cpu_model.c_str());
    fprintf(out, "method: %u rounds, %.1f s per run (+%.1f s warm-up), targets interleaved; "
                 "backend qmock (echo); HAProxy %s mode tcp nbthread 1; qgate 1 shard\n",
            r.opt.rounds, r.opt.seconds, r.opt.warmup, m.haproxy_version.c_str());
    if (r.opt.mode != "session")
        fprintf(out, "qgate modes: %s; request mode with %s\n", mode_text(r.opt).c_str(),
                pool_text(r.opt).c_str());
    for (const auto& n : r.notes) fprintf(out, "note: %s\n", n.c_str());
}

}  // namespace

machine_info probe_machine(const std::string& haproxy) {
    machine_info m;
    m.cpus = sysconf(_SC_NPROCESSORS_ONLN);
    utsname u{};
    if (uname(&u) == 0) m.kernel = u.release;
    std::ifstream cpu("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpu, line))
        if (line.rfind("model name", 0) == 0) {
            m.cpu_model = line.substr(line.find(':') + 2);
            break;
        }
    time_t now = time(nullptr);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%d", localtime(&now));
    m.date = buf;
    std::string cmd = haproxy + " -v 2>/dev/null";
    if (FILE* p = popen(cmd.c_str(), "r")) {
        char vbuf[256] = {};
        if (fgets(vbuf, sizeof vbuf, p)) {
            std::string v = vbuf;  // "HAProxy version 2.6.12-1+deb12u4 2026/10/17 - ..."
            std::size_t at = v.find("version ");
            if (at != std::string::npos)
                m.haproxy_version = v.substr(at + 8, v.find(' ', at + 8) - at - 8);
        }
        pclose(p);
    }
    return m;
}

void print_text(const compare_report& r) {
    print_header(r, stdout);
    printf("\n%-4s %-30s %-14s %10s %9s %9s %9s %10s %9s %8s\n", "", "scenario", "target", "rt/s",
           "p50 us", "p99 us", "p999 us", "cpu us/rt", "MB/s", "enter/msg");
    for_each_target(r, [](const scenario& s, const std::string& v, const row_medians& m) {
        printf("%-4s %-30s %-14s %10.0f %9.1f %9.1f %9.1f %10s %9.1f %8s\n", s.id.c_str(),
               s.label.c_str(), v.c_str(), m.rt, m.p50, m.p99, m.p999, cell(m.cpu, 2).c_str(),
               m.mb_per_s, cell(m.enters, 3).c_str());
    });
    for (const auto& [name, st] : r.idle)
        printf("G8   %u idle conns, %.0f s         %-14s cpu %s %%\n", st.conns, st.seconds,
               name.c_str(), st.ok ? num(st.cpu_percent, 3).c_str() : st.error.c_str());
    printf("\n%-4s %-66s %-8s %-24s %s\n", "", "metric", "target", "median (min-max)", "result");
    for (const metric& m : r.metrics)
        printf("%-4s %-66s %-8s %-24s %s\n", m.id.c_str(), m.what.c_str(), target_text(m).c_str(),
               range_text(m, precision(m)).c_str(), m.verdict.c_str());
}

void print_markdown(const compare_report& r) {
    const auto& m = r.machine;
    printf("Date: %s. Machine: %ld CPUs (shared VM), kernel %s, %s. HAProxy %s.\n\n",
           m.date.c_str(), m.cpus, m.kernel.c_str(), m.cpu_model.c_str(),
           m.haproxy_version.c_str());
    printf("Command: `%s`\n\n", r.opt.command_line.c_str());
    for (const auto& n : r.notes) printf("Note: %s\n\n", n.c_str());
    printf("| # | metric | target | measured: median (min-max over %u rounds) | result |\n",
           r.opt.rounds);
    printf("|---|---|---|---|---|\n");
    for (const metric& x : r.metrics)
        printf("| %s | %s | %s | %s | %s |\n", x.id.c_str(), x.what.c_str(),
               target_text(x).c_str(), range_text(x, precision(x)).c_str(), x.verdict.c_str());
    printf("\n| scenario | target | rt/s | p50 us | p99 us | proxy CPU us/rt | MB/s | "
           "enters/msg |\n|---|---|---|---|---|---|---|---|\n");
    for_each_target(r, [](const scenario& s, const std::string& v, const row_medians& m) {
        printf("| %s %s | %s | %.0f | %.1f | %.1f | %s | %.1f | %s |\n", s.id.c_str(),
               s.label.c_str(), v.c_str(), m.rt, m.p50, m.p99, cell(m.cpu, 2).c_str(), m.mb_per_s,
               cell(m.enters, 3).c_str());
    });
}

void print_json(const compare_report& r) {
    const auto& m = r.machine;
    printf("{\"date\":\"%s\",\"machine\":{\"cpus\":%ld,\"kernel\":\"%s\",\"cpu\":\"%s\","
           "\"haproxy\":\"%s\"},\n",
           m.date.c_str(), m.cpus, json_escape(m.kernel).c_str(),
           json_escape(m.cpu_model).c_str(), json_escape(m.haproxy_version).c_str());
    printf("\"rounds\":%u,\"seconds\":%s,\"warmup\":%s,\"notes\":[", r.opt.rounds,
           num(r.opt.seconds).c_str(), num(r.opt.warmup).c_str());
    for (std::size_t i = 0; i < r.notes.size(); ++i)
        printf("%s\"%s\"", i ? "," : "", json_escape(r.notes[i]).c_str());
    printf("],\n\"runs\":{");
    bool first_s = true;
    for (const auto& [sid, vars] : r.results) {
        printf("%s\n \"%s\":{", first_s ? "" : ",", sid.c_str());
        first_s = false;
        bool first_v = true;
        for (const auto& [vname, runs] : vars) {
            printf("%s\"%s\":[", first_v ? "" : ",", vname.c_str());
            first_v = false;
            for (std::size_t i = 0; i < runs.size(); ++i) {
                const run_stats& s = runs[i];
                printf("%s{\"ok\":%s,\"rt_per_s\":%s,\"bytes_per_s\":%s,\"p50_us\":%s,"
                       "\"p99_us\":%s,\"p999_us\":%s,\"cpu_us_per_rt\":%s,\"enters_per_msg\":%s,"
                       "\"error\":\"%s\"}",
                       i ? "," : "", s.ok ? "true" : "false", num(s.rt_per_s, 1).c_str(),
                       num(s.bytes_per_s, 0).c_str(), num(s.p50_us).c_str(), num(s.p99_us).c_str(),
                       num(s.p999_us).c_str(),
                       s.cpu_us_per_rt >= 0 ? num(s.cpu_us_per_rt).c_str() : "null",
                       s.enters_per_msg >= 0 ? num(s.enters_per_msg, 4).c_str() : "null",
                       json_escape(s.error).c_str());
            }
            printf("]");
        }
        printf("}");
    }
    printf("},\n\"idle\":{");
    bool first_i = true;
    for (const auto& [name, st] : r.idle) {
        printf("%s\"%s\":{\"ok\":%s,\"conns\":%u,\"seconds\":%s,\"cpu_percent\":%s}",
               first_i ? "" : ",", name.c_str(), st.ok ? "true" : "false", st.conns,
               num(st.seconds).c_str(), st.ok ? num(st.cpu_percent, 4).c_str() : "null");
        first_i = false;
    }
    printf("},\n\"metrics\":[");
    for (std::size_t i = 0; i < r.metrics.size(); ++i) {
        const metric& x = r.metrics[i];
        printf("%s\n {\"id\":\"%s\",\"what\":\"%s\",\"op\":\"%s\",\"target\":%s,\"median\":%s,"
               "\"min\":%s,\"max\":%s,\"rounds\":%zu,\"verdict\":\"%s\"}",
               i ? "," : "", x.id.c_str(), json_escape(x.what).c_str(), x.op.c_str(),
               num(x.target).c_str(), x.values.empty() ? "null" : num(x.median, 4).c_str(),
               x.values.empty() ? "null" : num(x.lo, 4).c_str(),
               x.values.empty() ? "null" : num(x.hi, 4).c_str(), x.values.size(),
               x.verdict.c_str());
    }
    printf("\n]}\n");
}

}  // namespace qbench

// qbench --compare driver: sets up the processes (qmock echo backend; qgate with io_uring and
// with epoll; with --baseline a second qgate binary, the "before" build, started exactly like
// the first as qgate-base; HAProxy `mode tcp`, nbthread 1), all on 127.0.0.1 in a private work
// directory, then runs every scenario against every target, interleaved: each round runs each
// scenario once per target, the target order rotating from round to round, so slow drift of
// this shared VM spreads over all targets alike (and over before and after alike). Everything
// started here is stopped on return, on error and on SIGINT/SIGTERM (proc.cc).
#include <limits.h>
#include <stdlib.h>
#include "net/socket_util.h"
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "compare.h"
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

std::string find_qgate(const compare_options& opt) {
    if (!opt.qgate.empty()) return opt.qgate;
    if (const char* b = getenv("QGATE_BUILD"); b && fs::exists(fs::path(b) / "src/app/qgate"))
        return (fs::path(b) / "src/app/qgate").string();
    return (fs::path(self_dir()) / "../../src/app/qgate").lexically_normal().string();
}

std::string find_qmock(const compare_options& opt) {
    if (!opt.qmock.empty()) return opt.qmock;
    return (fs::path(self_dir()) / "../qmock/qmock").lexically_normal().string();
}

/// The port after `prefix` in a port file ("listener 0 41234").
uint16_t port_after(const std::string& text, const std::string& prefix) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(prefix, 0) == 0) return uint16_t(std::stoi(line.substr(prefix.size())));
    return 0;
}

bool write_text(const std::string& path, const std::string& text) {
    std::ofstream f(path);
    f << text;
    return bool(f);
}

class environment {
  public:
    explicit environment(const compare_options& opt) : opt_(opt) {}
    ~environment() {
        for (int pid : pids_) stop(pid);
        if (!opt_.keep && !dir_.empty()) fs::remove_all(dir_);
    }

    bool start(std::vector<std::string>& notes, std::string& error);
    const std::string& dir() const { return dir_; }
    std::vector<target> targets;

  private:
    bool start_qmock(std::string& error);
    bool start_gates(std::vector<std::string>& notes, std::string& error);
    bool start_qgate(const std::string& name, const std::string& binary, const std::string& io,
                     std::string& why);
    void start_haproxy(std::vector<std::string>& notes);

    const compare_options& opt_;
    std::string dir_;
    uint16_t backend_port_ = 0;
    std::vector<int> pids_;
};

bool environment::start_qmock(std::string& error) {
    std::string qmock = find_qmock(opt_);
    std::string port_file = dir_ + "/qmock.port", log = dir_ + "/qmock.log";
    int pid = spawn({qmock, "--port", "0", "--port-file", port_file, "--name", "echo1",
                     "--compress", "never"},
                    log, error);
    if (pid < 0) return false;
    pids_.push_back(pid);
    std::string text = wait_for_file(port_file, {""}, pid, 10000);
    if (text.empty())
        return error = "qmock did not start (" + qmock + ")\n" + tail_file(log), false;
    backend_port_ = uint16_t(std::stoi(text));
    targets.push_back(target{"direct", backend_port_, 0, 0, true, log});
    return true;
}

// Request mode: as many pooled connections as the largest scenario has clients (32), so a
// routed call never waits for a connection that HAProxy or a direct client would not.
std::string pool_conns(const std::string& mode) {
    return mode == "request" ? "conns = 32\n" : "";
}

/// Starts `binary` as target `name` with a config of its own generated from the options alone,
/// so qgate and qgate-base (--baseline) get the same one. False with the reason in `why` (its
/// first line, then the log's tail) when it did not come up.
bool environment::start_qgate(const std::string& name, const std::string& binary,
                              const std::string& io, std::string& why) {
    std::string conf = dir_ + "/" + name + ".toml", ports = dir_ + "/" + name + ".ports";
    std::string log = dir_ + "/" + name + ".log";
    write_text(conf, "[server]\nshards = 1\nio = \"" + io + "\"\nport_file = \"" + ports +
                         "\"\n\n[admin]\nlisten = \"127.0.0.1:0\"\n\n[[listener]]\n"
                         "listen = \"127.0.0.1:0\"\nmode = \"" +
                         opt_.mode +
                         "\"\ngroup = \"echo\"\n\n"
                         "[[backend]]\nname = \"echo1\"\ngroup = \"echo\"\naddress = \"127.0.0.1:" +
                         std::to_string(backend_port_) + "\"\n" + pool_conns(opt_.mode));
    std::string error;
    int pid = spawn({binary, "-c", conf, "--io=" + io}, log, error);
    if (pid < 0) return why = name + ": " + error, false;
    pids_.push_back(pid);
    std::string text = wait_for_file(ports, {"listener 0 ", "admin "}, pid, 10000);
    uint16_t port = port_after(text, "listener 0 ");
    if (port == 0)
        return why = name + " did not start (no listener in " + ports + ")\n" + tail_file(log),
               false;
    targets.push_back(target{name, port, pid, port_after(text, "admin "), true, log});
    return true;
}

/// A start failure as a note: the run goes on without that target.
std::string skipped(const std::string& why) {
    std::size_t nl = why.find('\n');
    if (nl == std::string::npos) return why + ": skipped";
    return why.substr(0, nl) + ": skipped" + why.substr(nl);
}

/// qgate (io_uring), then the --baseline build beside it. A qgate that does not start is a
/// note (direct vs HAProxy still run); a baseline that does not start is an error, since the
/// run was asked for to compare the two.
bool environment::start_gates(std::vector<std::string>& notes, std::string& error) {
    std::string qgate = find_qgate(opt_), why;
    if (!fs::exists(qgate)) notes.push_back("qgate not found at " + qgate + ": qgate runs skipped");
    else if (start_qgate("qgate", qgate, "uring", why)) notes.push_back("qgate binary: " + qgate);
    else notes.push_back(skipped(why));
    if (opt_.baseline.empty()) return true;
    if (!fs::exists(opt_.baseline)) return error = "--baseline: no file " + opt_.baseline, false;
    if (!start_qgate("qgate-base", opt_.baseline, "uring", why))
        return error = "--baseline: " + why, false;
    notes.push_back("qgate-base binary (--baseline, the before build): " + opt_.baseline);
    return true;
}

void environment::start_haproxy(std::vector<std::string>& notes) {
    uint16_t port = free_port();
    std::string conf = dir_ + "/haproxy.cfg", log = dir_ + "/haproxy.log";
    write_text(conf, "global\n    nbthread 1\n    maxconn 8000\n\ndefaults\n    mode tcp\n"
                     "    timeout connect 5s\n    timeout client 10m\n    timeout server 10m\n\n"
                     "listen qbench\n    bind 127.0.0.1:" +
                         std::to_string(port) + "\n    server echo1 127.0.0.1:" +
                         std::to_string(backend_port_) + "\n");
    std::string error;
    int pid = spawn({opt_.haproxy, "-f", conf, "-db"}, log, error);
    if (pid < 0) return notes.push_back("haproxy: " + error + ": HAProxy runs skipped");
    pids_.push_back(pid);
    if (!wait_for_port(port, pid, 10000))
        return notes.push_back("haproxy did not start: skipped\n" + tail_file(log));
    targets.push_back(target{"haproxy", port, pid, 0, true, log});
}

bool environment::start(std::vector<std::string>& notes, std::string& error) {
    char tmpl[] = "/tmp/qbench-XXXXXX";
    if (!mkdtemp(tmpl)) return error = "mkdtemp failed", false;
    dir_ = tmpl;
    if (!opt_.keep) remove_on_signal(dir_);
    for (const char* f : {"qmock.port", "qmock.log", "qgate.toml", "qgate.ports", "qgate.log",
                          "qgate-epoll.toml", "qgate-epoll.ports", "qgate-epoll.log",
                          "qgate-base.toml", "qgate-base.ports", "qgate-base.log",
                          "haproxy.cfg", "haproxy.log", "plot.json"})
        if (!opt_.keep) remove_on_signal(dir_ + "/" + f);
    if (opt_.keep) notes.push_back("work directory kept: " + dir_);
    if (!start_qmock(error) || !start_gates(notes, error)) return false;
    start_haproxy(notes);
    std::string qgate = find_qgate(opt_), why;
    if (fs::exists(qgate) && !start_qgate("qgate-epoll", qgate, "epoll", why))
        notes.push_back(skipped(why));
    return true;
}

std::vector<scenario> make_scenarios(const compare_options& opt) {
    std::vector<scenario> all = {
        {"G1", "1 conn x 1, 64 B", "1x1, 64 B", 1, 1, 64, {"direct", "qgate", "haproxy"}},
        {"G2", "32 conns x 1, 64 B", "32x1", 32, 1, 64,
         {"direct", "qgate", "haproxy", "qgate-epoll"}},
        {"G4", "8 conns x 16 pipelined, 64 B", "8x16", 8, 16, 64, {"direct", "qgate", "haproxy"}},
        {"G5", "4 conns x 1, 1 MiB", "4x1 MiB", 4, 1, 1 << 20, {"direct", "qgate", "haproxy"}},
    };
    std::vector<scenario> out;
    for (auto& s : all) {
        if (!opt.only.empty() && ("," + opt.only + ",").find("," + s.id + ",") == std::string::npos)
            continue;
        // The before build right after qgate in the list: the rotation below then gives both
        // every position in turn, like every other target.
        if (!opt.baseline.empty()) s.variants.insert(s.variants.begin() + 2, "qgate-base");
        out.push_back(s);
    }
    return out;
}

const target* find_target(const std::vector<target>& ts, const std::string& name) {
    for (const auto& t : ts)
        if (t.name == name) return &t;
    return nullptr;
}

void run_rounds(compare_report& rep, const std::vector<target>& targets) {
    for (uint32_t round = 0; round < rep.opt.rounds; ++round) {
        for (const scenario& s : rep.scenarios) {
            std::size_t n = s.variants.size();
            for (std::size_t k = 0; k < n; ++k) {
                const std::string& v = s.variants[(k + round) % n];
                const target* t = find_target(targets, v);
                if (!t) continue;
                if (!rep.opt.json)
                    fprintf(stderr, "round %u/%u  %-3s %-30s %-12s", round + 1, rep.opt.rounds,
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
    bool wanted = rep.opt.only.empty() ||
                  ("," + rep.opt.only + ",").find(",G8,") != std::string::npos;
    if (!wanted) return;
    for (const char* name : {"qgate", "qgate-base", "haproxy"}) {  // qgate-base: --baseline
        const target* t = find_target(targets, name);
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
    if (!opt.json)
        for (const auto& n : rep.notes) fprintf(stderr, "note: %s\n", n.c_str());
    run_rounds(rep, env.targets);
    run_idle_probes(rep, env.targets);
    for (const auto& t : env.targets)
        if (t.pid > 0 && !alive(t.pid)) rep.notes.push_back(t.name + " exited during the runs");
    rep.metrics = compute_metrics(rep);
    if (opt.json) print_json(rep);
    else if (opt.markdown) print_markdown(rep);
    else print_text(rep);
    fflush(stdout);  // the table first, whatever the plot does
    if (!opt.plot.empty() && !draw_plot(rep, env.dir())) return 1;
    return 0;
}

}  // namespace qbench

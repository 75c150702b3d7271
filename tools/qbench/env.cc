// qbench --compare's processes (see env.h). What runs, by target name and backend group:
//
//   group "echo" (G1-G5, G8): the qmock echo backend `echo1` (target direct); qgate in front of
//     it, io_uring, in the --mode's listener mode (session for --mode both); with --mode both
//     qgate-req, the same binary with a request listener; qgate-epoll (like qgate, epoll); with
//     --baseline, qgate-base (and qgate-base-req with --mode both) from the before build;
//     HAProxy mode tcp.
//   group "work" (G6, only when selected): four qmocks w1..w4 that wait --work-us per request;
//     direct is w1, qgate-req a request-mode qgate in front of w1 alone, qgate-req4 one in
//     front of all four (one group, least-busy).
//
// Every qgate's config is generated from the options alone, so qgate and qgate-base get the
// same one. Request-mode qgates keep qgate's default pool (backend.conns, pipeline = auto,
// limits.pipeline_depth): issue 15 wants the defaults to be fast. --pool-conns N overrides
// backend.conns for experiments.
#include "env.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "proc.h"

namespace qbench {

namespace fs = std::filesystem;

std::string find_qgate(const compare_options& opt) {
    if (!opt.qgate.empty()) return opt.qgate;
    if (const char* b = getenv("QGATE_BUILD"); b && fs::exists(fs::path(b) / "src/app/qgate"))
        return (fs::path(b) / "src/app/qgate").string();
    return (fs::path(self_dir()) / "../../src/app/qgate").lexically_normal().string();
}

namespace {

constexpr int kStartMs = 10000;  ///< longest wait for a process to be ready
constexpr int kWorkBackends = 4;  ///< G6's backends

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

/// A start failure as a note: the run goes on without that target.
std::string skipped(const std::string& why) {
    std::size_t nl = why.find('\n');
    if (nl == std::string::npos) return why + ": skipped";
    return why.substr(0, nl) + ": skipped" + why.substr(nl);
}

/// One qgate's configuration: one shard, admin on port 0, one listener on port 0 in `mode`
/// serving `group`, the backends in that group.
std::string qgate_config(const compare_options& opt, const std::string& io,
                         const std::string& mode, const std::string& ports,
                         const std::string& group, const std::vector<backend_ref>& backends,
                         const std::string& listener_extra) {
    std::string c = "[server]\nshards = 1\nio = \"" + io + "\"\nport_file = \"" + ports +
                    "\"\n\n[admin]\nlisten = \"127.0.0.1:0\"\n\n[[listener]]\n"
                    "listen = \"127.0.0.1:0\"\nmode = \"" + mode + "\"\ngroup = \"" + group +
                    "\"\n" + listener_extra;
    for (const backend_ref& b : backends) {
        c += "\n[[backend]]\nname = \"" + b.name + "\"\ngroup = \"" + group +
             "\"\naddress = \"127.0.0.1:" + std::to_string(b.port) + "\"\n";
        if (mode == "request" && opt.pool_conns > 0)
            c += "conns = " + std::to_string(opt.pool_conns) + "\n";
    }
    return c;
}

}  // namespace

environment::~environment() {
    for (int pid : pids_) stop(pid);
    if (!opt_.keep && !dir_.empty()) fs::remove_all(dir_);
}

std::string environment::file(const std::string& name) {
    std::string path = dir_ + "/" + name;
    if (!opt_.keep) remove_on_signal(path);
    return path;
}

bool environment::start_qmock(const std::string& name, int64_t work_us, uint16_t& port,
                              std::string& error) {
    std::string qmock = find_qmock(opt_);
    std::string port_file = file(name + ".port"), log = file(name + ".log");
    std::vector<std::string> argv = {qmock, "--port", "0", "--port-file", port_file,
                                     "--name", name, "--compress", "never"};
    if (work_us > 0) argv.insert(argv.end(), {"--work-us", std::to_string(work_us)});
    int pid = spawn(argv, log, error);
    if (pid < 0) return false;
    pids_.push_back(pid);
    std::string text = wait_for_file(port_file, {""}, pid, kStartMs);
    if (text.empty())
        return error = "qmock " + name + " did not start (" + qmock + ")\n" + tail_file(log),
               false;
    port = uint16_t(std::stoi(text));
    return true;
}

/// False with the reason in `why` (its first line, then the log's tail) when it did not come up.
bool environment::start_qgate(const std::string& name, const std::string& stem,
                              const std::string& binary, const std::string& io,
                              const std::string& mode, const std::string& group,
                              const std::vector<backend_ref>& backends, std::string& why,
                              const std::string& listener_extra) {
    std::string conf = file(stem + ".toml"), ports = file(stem + ".ports");
    std::string log = file(stem + ".log");
    write_text(conf, qgate_config(opt_, io, mode, ports, group, backends, listener_extra));
    std::string error;
    int pid = spawn({binary, "-c", conf, "--io=" + io}, log, error);
    if (pid < 0) return why = name + ": " + error, false;
    pids_.push_back(pid);
    std::string text = wait_for_file(ports, {"listener 0 ", "admin "}, pid, kStartMs);
    uint16_t port = port_after(text, "listener 0 ");
    if (port == 0)
        return why = stem + " did not start (no listener in " + ports + ")\n" + tail_file(log),
               false;
    targets.push_back(target{name, port, pid, port_after(text, "admin "), true, log, group,
                             !listener_extra.empty(), cert_});
    return true;
}

/// qgate (io_uring), with --mode both qgate-req beside it, then the --baseline build likewise.
/// A qgate that does not start is a note (direct vs HAProxy still run); a baseline that does
/// not start is an error, since the run was asked for to compare the two.
bool environment::start_gates(std::vector<std::string>& notes, std::string& error) {
    const std::vector<backend_ref> echo = {{"echo1", echo_port_}};
    const bool both = opt_.mode == "both";
    const std::string mode = both ? "session" : opt_.mode;
    std::string qgate = find_qgate(opt_), why;
    if (!fs::exists(qgate)) {
        notes.push_back("qgate not found at " + qgate + ": qgate runs skipped");
    } else {
        if (start_qgate("qgate", "qgate", qgate, "uring", mode, "echo", echo, why))
            notes.push_back("qgate binary: " + qgate);
        else notes.push_back(skipped(why));
        if (both && !start_qgate("qgate-req", "qgate-req", qgate, "uring", "request", "echo",
                                 echo, why))
            notes.push_back(skipped(why));
    }
    if (opt_.baseline.empty()) return true;
    if (!fs::exists(opt_.baseline)) return error = "--baseline: no file " + opt_.baseline, false;
    if (!start_qgate("qgate-base", "qgate-base", opt_.baseline, "uring", mode, "echo", echo, why))
        return error = "--baseline: " + why, false;
    if (both && !start_qgate("qgate-base-req", "qgate-base-req", opt_.baseline, "uring",
                             "request", "echo", echo, why))
        return error = "--baseline: " + why, false;
    notes.push_back("qgate-base binary (--baseline, the before build): " + opt_.baseline);
    return true;
}

/// G6: the backend-bound group. Its qmocks are our own tool, so one that does not start is an
/// error like the echo backend; its qgates are notes like qgate.
bool environment::start_work(std::vector<std::string>& notes, std::string& error) {
    std::vector<backend_ref> work;
    for (int i = 1; i <= kWorkBackends; ++i) {
        backend_ref b{"w" + std::to_string(i), 0};
        if (!start_qmock(b.name, opt_.work_us, b.port, error)) return false;
        work.push_back(b);
    }
    targets.push_back(target{"direct", work[0].port, 0, 0, true, dir_ + "/w1.log", "work",
                             false, ""});
    std::string qgate = find_qgate(opt_), why;
    if (!fs::exists(qgate)) return true;  // noted by start_gates
    if (!start_qgate("qgate-req", "qgate-req-w1", qgate, "uring", "request", "work", {work[0]},
                     why))
        notes.push_back(skipped(why));
    if (!start_qgate("qgate-req4", "qgate-req4", qgate, "uring", "request", "work", work, why))
        notes.push_back(skipped(why));
    return true;
}

void environment::start_haproxy(std::vector<std::string>& notes) {
    uint16_t port = free_port();
    std::string conf = file("haproxy.cfg"), log = file("haproxy.log");
    write_text(conf, "global\n    nbthread 1\n    maxconn 8000\n\ndefaults\n    mode tcp\n"
                     "    timeout connect 5s\n    timeout client 10m\n    timeout server 10m\n\n"
                     "listen qbench\n    bind 127.0.0.1:" +
                         std::to_string(port) + "\n    server echo1 127.0.0.1:" +
                         std::to_string(echo_port_) + "\n");
    std::string error;
    int pid = spawn({opt_.haproxy, "-f", conf, "-db"}, log, error);
    if (pid < 0) return notes.push_back("haproxy: " + error + ": HAProxy runs skipped");
    pids_.push_back(pid);
    if (!wait_for_port(port, pid, kStartMs))
        return notes.push_back("haproxy did not start: skipped\n" + tail_file(log));
    targets.push_back(target{"haproxy", port, pid, 0, true, log, "echo", false, ""});
}

bool environment::start(std::vector<std::string>& notes, std::string& error) {
    char tmpl[] = "/tmp/qbench-XXXXXX";
    if (!mkdtemp(tmpl)) return error = "mkdtemp failed", false;
    dir_ = tmpl;
    if (!opt_.keep) remove_on_signal(dir_);
    file("plot.json");
    if (opt_.keep) notes.push_back("work directory kept: " + dir_);
    if (!start_qmock("echo1", 0, echo_port_, error)) return false;
    targets.push_back(target{"direct", echo_port_, 0, 0, true, dir_ + "/echo1.log", "echo",
                             false, ""});
    if (!start_gates(notes, error)) return false;
    start_haproxy(notes);
    if (opt_.tls) start_tls(notes);
    std::string qgate = find_qgate(opt_), why;
    const std::string mode = opt_.mode == "both" ? "session" : opt_.mode;
    // --tls runs no qgate-epoll: G9 (epoll vs io_uring) is not what it measures.
    if (!opt_.tls && fs::exists(qgate) &&
        !start_qgate("qgate-epoll", "qgate-epoll", qgate, "epoll", mode, "echo",
                     {{"echo1", echo_port_}}, why))
        notes.push_back(skipped(why));
    if (scenario_selected(opt_, "G6") && !start_work(notes, error)) return false;
    return true;
}

}  // namespace qbench

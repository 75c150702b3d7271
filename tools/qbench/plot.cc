// qbench --compare --plot FILE: hands the run to tools/qbench/plot.py (matplotlib) to draw.
// qbench writes what the figure needs as JSON into its work directory (plot.json, kept with
// --keep so the script can be re-run by hand), then runs
//   $QBENCH_PYTHON | /usr/bin/python3 | python3   <dir of qbench>/plot.py plot.json FILE
// /usr/bin/python3 before PATH's python3 because Debian's python3-matplotlib (what
// tools/lib/setup.sh installs) is installed for that interpreter, and a pyenv or venv python3
// earlier on PATH usually lacks it. The build copies plot.py next to the qbench binary
// (meson configure_file), so the script is found from any working directory.
// Main thread, after the runs; the child's stdout goes to stderr (stdout may be JSON).
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "compare.h"

namespace qbench {
namespace {

namespace fs = std::filesystem;

constexpr int kNoMatplotlib = 3;  ///< plot.py's exit code when matplotlib does not import

std::string python() {
    if (const char* p = getenv("QBENCH_PYTHON"); p && *p) return p;
    return fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

std::string script() { return (fs::path(self_dir()) / "plot.py").string(); }

/// Runs python on plot.py with `args`; the exit status, or -1 with `error` when it did not run.
int run_script(const std::vector<std::string>& args, std::string& error) {
    std::vector<std::string> argv = {python(), script()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    cargv.reserve(argv.size() + 1);
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, 2, 1);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid = 0;
    int err = posix_spawnp(&pid, argv[0].c_str(), &fa, nullptr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err != 0) return error = "cannot run " + argv[0] + ": " + strerror(err), -1;
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return error = "waitpid failed", -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return error = argv[0] + " killed by signal " + std::to_string(WTERMSIG(status)), -1;
}

/// The rounds' values of one field as a JSON array, null for a failed run.
std::string rounds_json(const std::vector<run_stats>& runs, double run_stats::*field) {
    std::string out = "[";
    for (std::size_t i = 0; i < runs.size(); ++i) {
        char buf[32] = "null";
        if (runs[i].ok) snprintf(buf, sizeof buf, "%.1f", runs[i].*field);
        out += (i ? "," : "") + std::string(buf);
    }
    return out + "]";
}

/// The non-empty buckets as [upper edge ns (inclusive), count]: the CDF's steps.
std::string histogram_json(const histogram& h) {
    std::string out = "{\"count\":" + std::to_string(h.count()) +
                      ",\"min\":" + std::to_string(h.min()) +
                      ",\"max\":" + std::to_string(h.max()) + ",\"buckets\":[";
    bool first = true;
    for (int i = 0; i < histogram::kBuckets; ++i) {
        uint64_t n = h.bucket_count(i);
        if (n == 0) continue;
        uint64_t upper = histogram::lower(i) + histogram::width(i) - 1;
        if (upper > h.max()) upper = h.max();  // the last step ends at the largest sample
        out += (first ? "[" : ",[") + std::to_string(upper) + "," + std::to_string(n) + "]";
        first = false;
    }
    return out + "]}";
}

std::string scenario_json(const compare_report& r, const scenario& s) {
    std::string out = "{\"id\":\"" + s.id + "\",\"label\":\"" + json_escape(s.label) +
                      "\",\"size\":" + std::to_string(s.size) + ",\"targets\":[";
    auto is = r.results.find(s.id);
    auto il = r.latency.find(s.id);
    bool first = true;
    for (const std::string& v : s.variants) {
        if (is == r.results.end() || !is->second.contains(v)) continue;  // target not running
        const auto& runs = is->second.at(v);
        static const histogram kEmpty;
        const histogram& h =
            il != r.latency.end() && il->second.contains(v) ? il->second.at(v) : kEmpty;
        out += std::string(first ? "" : ",") + "\n  {\"name\":\"" + v +
               "\",\"rt_per_s\":" + rounds_json(runs, &run_stats::rt_per_s) +
               ",\"bytes_per_s\":" + rounds_json(runs, &run_stats::bytes_per_s) +
               ",\"latency_ns\":" + histogram_json(h) + "}";
        first = false;
    }
    return out + "]}";
}

std::string plot_json(const compare_report& r) {
    const auto& m = r.machine;
    char head[256];
    snprintf(head, sizeof head, "{\"rounds\":%u,\"seconds\":%.3f,", r.opt.rounds, r.opt.seconds);
    std::string out = head;
    out += "\"date\":\"" + m.date + "\",\"mode\":\"" + r.opt.mode + "\",\"machine\":\"" +
           std::to_string(m.cpus) + " CPUs, " + json_escape(m.cpu_model) + "\",\"command\":\"" +
           json_escape(r.opt.command_line) + "\",\n\"scenarios\":[";
    for (std::size_t i = 0; i < r.scenarios.size(); ++i)
        out += (i ? ",\n" : "\n") + scenario_json(r, r.scenarios[i]);
    return out + "]}\n";
}

}  // namespace

std::string plot_preflight() {
    if (!fs::exists(script()))
        return "no plot script at " + script() + " (the build copies tools/qbench/plot.py there)";
    std::string error;
    int rc = run_script({"--check"}, error);
    if (rc == kNoMatplotlib) return "matplotlib is missing (see above)";
    if (rc != 0) return error.empty() ? "plot.py --check exited " + std::to_string(rc) : error;
    return "";
}

bool draw_plot(const compare_report& r, const std::string& dir) {
    std::string data = dir + "/plot.json", error;
    int rc = -1;
    if (!fs::exists(script())) error = "no plot script at " + script();
    else if (!(std::ofstream(data) << plot_json(r))) error = "cannot write " + data;
    else rc = run_script({data, r.opt.plot}, error);
    if (rc == 0) {
        if (!r.opt.json) fprintf(stderr, "plot: %s\n", r.opt.plot.c_str());
        return true;
    }
    if (rc == kNoMatplotlib) error = "matplotlib is missing (see above)";
    else if (rc > 0) error = "plot.py exited " + std::to_string(rc);
    fprintf(stderr, "qbench: --plot %s: not drawn: %s\n", r.opt.plot.c_str(), error.c_str());
    return false;
}

}  // namespace qbench

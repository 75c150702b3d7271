// Child-process management for qbench --compare. The registry of running children is a fixed
// array of pids so that the signal handler can read it without locks or allocation; it is
// written only by the main thread.
#include "proc.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>

namespace qbench {
namespace {

constexpr int kChildrenMax = 16;
volatile sig_atomic_t g_children[kChildrenMax] = {};  // 0 = free slot

constexpr int kPathsMax = 64;
constexpr std::size_t kPathLen = 256;
char g_paths[kPathsMax][kPathLen] = {};  // written by the main thread before use
volatile sig_atomic_t g_path_count = 0;

void remember(int pid) {
    for (auto& slot : g_children)
        if (slot == 0) return void(slot = pid);
}
void forget(int pid) {
    for (auto& slot : g_children)
        if (slot == pid) slot = 0;
}

void on_signal(int sig) {
    for (auto& slot : g_children)
        if (slot > 0) kill(slot, SIGKILL);
    for (int i = g_path_count - 1; i >= 0; --i)  // unlink and rmdir are async-signal-safe
        if (unlink(g_paths[i]) != 0) rmdir(g_paths[i]);
    signal(sig, SIG_DFL);
    raise(sig);
}

void sleep_ms(int ms) {
    timespec ts{ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, nullptr);
}

[[noreturn]] void exec_child(const std::vector<std::string>& argv, const std::string& log_path,
                             int report_fd, pid_t parent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died before prctl took effect
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log >= 0) dup2(log, 1), dup2(log, 2);
    if (null >= 0) dup2(null, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    int err = errno;
    (void)!write(report_fd, &err, sizeof err);
    _exit(127);
}

}  // namespace

int spawn(const std::vector<std::string>& argv, const std::string& log_path, std::string& error) {
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) return error = strerror(errno), -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(pipefd[0]), close(pipefd[1]);
        return error = std::string("fork: ") + strerror(errno), -1;
    }
    if (pid == 0) exec_child(argv, log_path, pipefd[1], parent);
    close(pipefd[1]);
    int err = 0;
    ssize_t n = read(pipefd[0], &err, sizeof err);  // EOF (0) means exec succeeded
    close(pipefd[0]);
    if (n == sizeof err) {
        waitpid(pid, nullptr, 0);
        return error = "cannot run " + argv[0] + ": " + strerror(err), -1;
    }
    remember(pid);
    return pid;
}

void remove_on_signal(const std::string& path) {
    if (g_path_count >= kPathsMax || path.size() >= kPathLen) return;
    std::memcpy(g_paths[g_path_count], path.c_str(), path.size() + 1);
    g_path_count = g_path_count + 1;
}

bool alive(int pid) {
    if (pid <= 0) return false;
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
        forget(pid);
        return false;
    }
    return r == 0;
}

void stop(int pid, int grace_ms) {
    if (pid <= 0) return;
    if (kill(pid, SIGTERM) != 0) return forget(pid);
    for (int waited = 0; waited < grace_ms; waited += 10) {
        if (waitpid(pid, nullptr, WNOHANG) == pid) return forget(pid);
        sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    forget(pid);
}

void stop_all() {
    for (auto& slot : g_children)
        if (slot > 0) stop(slot, 1000);
}

void install_child_cleanup() {
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    std::atexit(stop_all);
}

std::string wait_for_file(const std::string& path, const std::vector<std::string>& prefixes,
                          int pid, int timeout_ms) {
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        std::ifstream f(path);
        if (f) {
            std::stringstream ss;
            ss << f.rdbuf();
            std::string text = ss.str();
            bool all = true;
            for (const auto& p : prefixes)
                all = all && (text.rfind(p, 0) == 0 || text.find("\n" + p) != std::string::npos);
            if (all) return text;
        }
        if (pid > 0 && !alive(pid)) return "";
        sleep_ms(20);
    }
    return "";
}

bool wait_for_port(uint16_t port, int pid, int timeout_ms) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        close(fd);
        if (ok) return true;
        if (pid > 0 && !alive(pid)) return false;
        sleep_ms(20);
    }
    return false;
}

uint16_t free_port() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    uint16_t port = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

std::string tail_file(const std::string& path, int n) {
    std::ifstream f(path);
    std::deque<std::string> lines;
    std::string line;
    while (std::getline(f, line)) {
        lines.push_back(line);
        if (int(lines.size()) > n) lines.pop_front();
    }
    std::string out;
    for (const auto& l : lines) out += "    | " + l + "\n";
    return out;
}

}  // namespace qbench

// Child processes for qbench --compare (qmock, qgate, HAProxy): start, wait for readiness,
// stop. Every child is killed when qbench exits, normally, on error, on SIGINT/SIGTERM, and
// (PR_SET_PDEATHSIG) even when qbench itself is killed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qbench {

/// Starts `argv` with stdout and stderr appended to `log_path`. Returns the pid, or -1 with
/// `error` (including an exec failure, reported through a close-on-exec pipe).
int spawn(const std::vector<std::string>& argv, const std::string& log_path, std::string& error);

/// SIGTERM, then SIGKILL after `grace_ms`; reaps the child.
void stop(int pid, int grace_ms = 2000);

/// Stops every child still running (also called from the signal handler and atexit).
void stop_all();

/// Installs SIGINT/SIGTERM handlers that stop all children and exit, and an atexit hook.
void install_child_cleanup();

/// Remembers a file or (empty) directory to delete when a signal ends qbench; paths are
/// removed in reverse order of registration. Normal exits clean up themselves.
void remove_on_signal(const std::string& path);

/// True while `pid` runs (reaps it when it has exited).
bool alive(int pid);

/// Polls until `path` exists and holds a line starting with every one of `prefixes`;
/// gives up when `pid` dies or after `timeout_ms`. Returns the file's text ("" on failure).
std::string wait_for_file(const std::string& path, const std::vector<std::string>& prefixes,
                          int pid, int timeout_ms);

/// Polls until a TCP connect to 127.0.0.1:port succeeds.
bool wait_for_port(uint16_t port, int pid, int timeout_ms);

/// A port that was free a moment ago (bind port 0, read it, close).
uint16_t free_port();

/// The last `n` lines of a file, for error messages.
std::string tail_file(const std::string& path, int n = 15);

}  // namespace qbench

// qbench --compare's processes: the backends (qmock), the qgates and HAProxy it starts for one
// run, all on 127.0.0.1 in a private work directory, and the targets they make. Main thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compare.h"

namespace qbench {

/// A qmock a qgate forwards to.
struct backend_ref {
    std::string name;  ///< qgate's backend name (qmock --name)
    uint16_t port = 0;
};

/// Starts everything in start() and stops it all when destroyed (and on SIGINT/SIGTERM or
/// qbench's death, proc.cc). Which processes run follows the options: `--mode`, `--baseline`,
/// and whether G6 is selected (its backend-bound qmocks and request-mode qgates).
class environment {
  public:
    explicit environment(const compare_options& opt) : opt_(opt) {}
    ~environment();
    environment(const environment&) = delete;
    environment& operator=(const environment&) = delete;

    /// False with `error` when a backend (or the --baseline binary) does not start; a qgate
    /// or HAProxy that does not start is a note and its runs are skipped.
    bool start(std::vector<std::string>& notes, std::string& error);
    const std::string& dir() const { return dir_; }
    std::vector<target> targets;

  private:
    /// The work directory's file `name`, removed on a signal unless --keep.
    std::string file(const std::string& name);
    bool start_qmock(const std::string& name, int64_t work_us, uint16_t& port,
                     std::string& error);
    bool start_gates(std::vector<std::string>& notes, std::string& error);
    bool start_work(std::vector<std::string>& notes, std::string& error);
    /// Starts `binary` as target `name` (files named after `stem`) in front of `backends`.
    bool start_qgate(const std::string& name, const std::string& stem, const std::string& binary,
                     const std::string& io, const std::string& mode, const std::string& group,
                     const std::vector<backend_ref>& backends, std::string& why,
                     const std::string& listener_extra = "");
    void start_haproxy(std::vector<std::string>& notes);
    // tls_env.cc (--tls)
    /// The certificate (EC P-256, self-signed for 127.0.0.1) both TLS proxies serve.
    bool make_certificate(std::string& error);
    /// qgate-tls, qgate-req-tls and haproxy-tls, all in front of the echo backend.
    void start_tls(std::vector<std::string>& notes);
    void start_haproxy_tls(std::vector<std::string>& notes);

    const compare_options& opt_;
    std::string dir_;
    uint16_t echo_port_ = 0;
    std::string cert_, key_, pem_;  ///< --tls: certificate, key, both in one (HAProxy's)
    std::vector<int> pids_;
};

/// The qgate binary to run: --qgate, else $QGATE_BUILD's, else the build tree's.
std::string find_qgate(const compare_options& opt);

/// --tls: one note per TLS target with the protocol and cipher a connection negotiates.
void describe_tls(const std::vector<target>& targets, std::vector<std::string>& notes);

}  // namespace qbench

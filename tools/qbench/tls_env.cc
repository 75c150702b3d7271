// qbench --compare --tls: the TLS-terminating targets (env.h). One certificate, made with the
// openssl CLI in the work directory at start (EC P-256, self-signed for 127.0.0.1 and
// localhost), served by all three:
//   qgate-tls      qgate, session listener with tls_cert/tls_key, io_uring;
//   qgate-req-tls  the same with a request listener;
//   qgate-base-tls with --baseline: the before build, configured as qgate-tls;
//   haproxy-tls    HAProxy `bind ... ssl crt <cert+key in one PEM>`, mode tcp, nbthread 1;
// each forwarding plain q-IPC to the same echo backend as the plain targets. Both proxies run
// OpenSSL with its defaults and the client offers its defaults, so both negotiate the same
// TLS 1.3 suite (describe_tls puts the one each negotiated in the notes, for the report).
#include <openssl/ssl.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "env.h"
#include "load.h"
#include "proc.h"
#include "tls_client.h"

namespace qbench {

namespace {

constexpr int kTlsStartMs = 10000;

bool write_file(const std::string& path, const std::string& text) {
    std::ofstream f(path);
    f << text;
    return bool(f);
}

std::string slurp(const std::string& path) {
    std::ifstream f(path);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace

bool environment::make_certificate(std::string& error) {
    cert_ = file("tls-cert.pem"), key_ = file("tls-key.pem"), pem_ = file("tls-haproxy.pem");
    std::string log = file("openssl.log");
    // The work directory is mkdtemp's: no quoting needed.
    std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
                      "-nodes -days 2 -subj /CN=localhost "
                      "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
                      key_ + " -out " + cert_ + " >" + log + " 2>&1";
    if (std::system(cmd.c_str()) != 0)
        return error = "openssl req failed (" + cmd + ")\n" + tail_file(log), false;
    return write_file(pem_, slurp(cert_) + slurp(key_)) ||
           (error = "cannot write " + pem_, false);
}

void environment::start_haproxy_tls(std::vector<std::string>& notes) {
    uint16_t port = free_port();
    std::string conf = file("haproxy-tls.cfg"), log = file("haproxy-tls.log");
    write_file(conf, "global\n    nbthread 1\n    maxconn 8000\n\ndefaults\n    mode tcp\n"
                     "    timeout connect 5s\n    timeout client 10m\n    timeout server 10m\n\n"
                     "listen qbench_tls\n    bind 127.0.0.1:" +
                         std::to_string(port) + " ssl crt " + pem_ +
                         "\n    server echo1 127.0.0.1:" + std::to_string(echo_port_) + "\n");
    std::string error;
    int pid = spawn({opt_.haproxy, "-f", conf, "-db"}, log, error);
    if (pid < 0) return notes.push_back("haproxy-tls: " + error + ": skipped");
    pids_.push_back(pid);
    if (!wait_for_port(port, pid, kTlsStartMs))
        return notes.push_back("haproxy-tls did not start: skipped\n" + tail_file(log));
    targets.push_back(target{"haproxy-tls", port, pid, 0, true, log, "echo", true, cert_});
}

void environment::start_tls(std::vector<std::string>& notes) {
    std::string error;
    if (!make_certificate(error))
        return notes.push_back("--tls: " + error + "\nTLS targets skipped");
    notes.push_back("--tls: certificate EC P-256 (prime256v1), self-signed, " + cert_);
    const std::string keys = "tls_cert = \"" + cert_ + "\"\ntls_key = \"" + key_ + "\"\n";
    const std::vector<backend_ref> echo = {{"echo1", echo_port_}};
    std::string qgate = find_qgate(opt_), why;
    if (!std::filesystem::exists(qgate)) {
        notes.push_back("--tls: no qgate at " + qgate + ": qgate TLS runs skipped");
    } else {
        if (!start_qgate("qgate-tls", "qgate-tls", qgate, "uring", "session", "echo", echo, why,
                         keys))
            notes.push_back(why + ": skipped");
        if (!start_qgate("qgate-req-tls", "qgate-req-tls", qgate, "uring", "request", "echo",
                         echo, why, keys))
            notes.push_back(why + ": skipped");
    }
    if (!opt_.baseline.empty() &&
        !start_qgate("qgate-base-tls", "qgate-base-tls", opt_.baseline, "uring", "session", "echo",
                     echo, why, keys))
        notes.push_back(why + ": skipped");
    start_haproxy_tls(notes);
}

void describe_tls(const std::vector<target>& targets, std::vector<std::string>& notes) {
    std::string error;
    SSL_CTX* ctx = nullptr;
    for (const target& t : targets) {
        if (!t.tls || !t.up) continue;
        if (!ctx && !(ctx = tls_client_ctx(t.tls_ca, error)))
            return notes.push_back("--tls: " + error);
        SSL* ssl = nullptr;
        int fd = connect_q("127.0.0.1", t.port, "qbench:", error, 5000, ctx, &ssl);
        if (fd < 0) {
            notes.push_back(t.name + ": TLS connection failed: " + error);
            continue;
        }
        notes.push_back(t.name + " negotiates " + tls_describe(ssl) +
                        " (server certificate checked)");
        tls_free(ssl);
        close(fd);
    }
    tls_free_ctx(ctx);
}

}  // namespace qbench

// qmock entry point: command line, signals, file-descriptor limit, then the server loop.
// SIGTERM / SIGINT end the process at once (a handler that calls _exit(0)), even while a
// `sleep` request blocks it; SIGPIPE is ignored (writes use errors instead).
#include <malloc.h>
#include <signal.h>
#include "net/socket_util.h"
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

#include "server.h"

namespace {

constexpr const char* kUsage =
    "usage: qmock --port N [--host 127.0.0.1] [--port-file PATH] [--name NAME]\n"
    "             [--users FILE] [--compress auto|always|never] [--rows N]\n"
    "             [--work-ms N] [--work-us N] [--zpg none|defer] [--max-bytes N]\n"
    "             [--record FILE] [--verbose]\n"
    "             [--tickerplant [--tp-rate N] [--tp-rows N] [--tp-syms A,B,..]\n"
    "              [--tp-end-ms N] [--tp-max N]]\n"
    "             [--register-resource HOST:PORT --service NAME [--register-retry-ms N]]\n"
    "             [--discovery-register HOST:PORT --proctype T [--procname N]\n"
    "              [--discovery-retry-ms N]] [--register-user USER:PASS]\n"
    "             [--discovery [--discovery-keep-closed]]\n"
    "             [--tls-cert F --tls-key F [--tls-mode 1|2] [--tls-verify-client CA]]\n"
    "A fake q process: serial, one thread. See tools/qmock/README.md for its functions.\n";

void on_terminate(int) { _exit(0); }

bool parse_number(std::string_view text, int64_t lo, int64_t hi, int64_t& out) {
    if (text.empty()) return false;
    char* end = nullptr;
    std::string s(text);
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (*end != '\0' || v < lo || v > hi) return false;
    out = v;
    return true;
}

/// The --tickerplant flags (tools/qmock/README.md, "Tickerplant mode").
bool parse_tp(std::string_view flag, std::string_view val, qmock::tp_options& tp) {
    int64_t n = 0;
    if (flag == "--tickerplant") return tp.enabled = true;
    if (flag == "--tp-rows") return parse_number(val, 1, 1 << 24, n) && (tp.rows = n, true);
    if (flag == "--tp-end-ms") return parse_number(val, 0, INT32_MAX, n) && (tp.end_ms = n, true);
    if (flag == "--tp-max") return parse_number(val, 0, INT64_MAX, n) && (tp.updates_max = n, true);
    if (flag == "--tp-rate") {
        std::string s(val);
        char* end = nullptr;
        tp.rate = std::strtod(s.c_str(), &end);
        return !s.empty() && *end == '\0' && tp.rate >= 0 && tp.rate <= 1e7;
    }
    if (flag == "--tp-syms") {
        tp.syms.clear();
        for (size_t pos = 0; pos <= val.size();) {
            size_t comma = std::min(val.find(',', pos), val.size());
            if (comma > pos) tp.syms.emplace_back(val.substr(pos, comma - pos));
            pos = comma + 1;
        }
        return !tp.syms.empty();
    }
    return false;
}

/// The registration and discovery flags (tools/qmock/README.md, "Registering").
bool parse_reg(std::string_view flag, std::string_view val, qmock::options& opt) {
    qmock::reg_options& r = opt.reg;
    int64_t n = 0;
    std::string host;
    uint16_t port = 0;
    if (flag == "--discovery") return opt.disc.enabled = true;
    if (flag == "--discovery-keep-closed") return opt.disc.keep_closed = true;
    if (flag == "--service") return r.service = val, !val.empty();
    if (flag == "--proctype") return r.proctype = val, true;
    if (flag == "--procname") return r.procname = val, true;
    if (flag == "--register-user") return r.user = val, true;
    if (flag == "--register-retry-ms")
        return parse_number(val, 1, 86400000, n) && (r.kx_retry_ms = n, true);
    if (flag == "--discovery-retry-ms")
        return parse_number(val, 1, 86400000, n) && (r.torq_retry_ms = n, true);
    const bool ok = qmock::split_host_port(std::string(val), host, port);
    if (flag == "--register-resource") return r.kx_target = val, ok;
    if (flag == "--discovery-register") return r.torq_target = val, ok;
    return false;
}

bool is_reg_flag(std::string_view flag) {
    return flag.starts_with("--register") || flag.starts_with("--discovery") ||
           flag == "--service" || flag == "--proctype" || flag == "--procname";
}

/// Flags that take no value.
bool is_switch(std::string_view flag) {
    return flag == "--verbose" || flag == "-v" || flag == "--help" || flag == "-h" ||
           flag == "--tickerplant" || flag == "--discovery" || flag == "--discovery-keep-closed";
}

/// q's KX_SSL_* variables fill what the --tls-* flags leave out; a certificate alone means
/// --tls-mode 2. TLS is on only with --tls-mode or --tls-cert (as q's -E: the variables alone
/// do not turn it on).
bool check_tls(qmock::options& opt) {
    const auto env = [](const char* name) {
        const char* v = std::getenv(name);
        return std::string(v != nullptr ? v : "");
    };
    if (opt.tls_mode == 0 && !opt.tls_cert.empty()) opt.tls_mode = 2;
    if (opt.tls_mode == 0) return true;
    if (opt.tls_cert.empty()) opt.tls_cert = env("KX_SSL_CERT_FILE");
    if (opt.tls_key.empty()) opt.tls_key = env("KX_SSL_KEY_FILE");
    if (opt.tls_verify_ca.empty() && env("KX_SSL_VERIFY_CLIENT") == "YES") {
        opt.tls_verify_ca = env("KX_SSL_CA_CERT_FILE");
    }
    if (opt.tls_cert.empty() || opt.tls_key.empty()) {
        return fputs("qmock: TLS needs --tls-cert and --tls-key (or KX_SSL_CERT_FILE and "
                     "KX_SSL_KEY_FILE)\n", stderr), false;
    }
    return true;
}

/// Flags that need one another; fills defaults that depend on other flags.
bool check_args(qmock::options& opt) {
    if (opt.port < 0) return fprintf(stderr, "qmock: --port is required\n%s", kUsage), false;
    if (!opt.reg.kx_target.empty() && opt.reg.service.empty())
        return fputs("qmock: --register-resource needs --service\n", stderr), false;
    if (!opt.reg.torq_target.empty() && opt.reg.proctype.empty())
        return fputs("qmock: --discovery-register needs --proctype\n", stderr), false;
    if (opt.reg.procname.empty()) opt.reg.procname = opt.name;
    return check_tls(opt);
}

/// Parses argv into `opt`; prints the problem and returns false on a bad command line.
bool parse_args(int argc, char** argv, qmock::options& opt) {
    for (int i = 1; i < argc; ++i) {
        std::string_view flag = argv[i];
        std::string_view val;
        if (std::size_t eq = flag.find('='); eq != std::string_view::npos && flag[1] == '-') {
            val = flag.substr(eq + 1);
            flag = flag.substr(0, eq);
        } else if (!is_switch(flag)) {
            if (i + 1 >= argc) return fprintf(stderr, "qmock: %s needs a value\n", argv[i]), false;
            val = argv[++i];
        }
        int64_t n = 0;
        bool ok = true;
        if (flag == "--port") ok = parse_number(val, 0, 65535, n), opt.port = int(n);
        else if (flag == "--host") opt.host = val;
        else if (flag == "--port-file") opt.port_file = val;
        else if (flag == "--name") opt.name = val;
        else if (flag == "--users") opt.users_file = val;
        else if (flag == "--record") opt.record_file = val;
        else if (flag == "--tls-cert") opt.tls_cert = val;
        else if (flag == "--tls-key") opt.tls_key = val;
        else if (flag == "--tls-verify-client") opt.tls_verify_ca = val;
        else if (flag == "--tls-mode") ok = parse_number(val, 0, 2, n), opt.tls_mode = int(n);
        else if (flag == "--rows") ok = parse_number(val, 0, INT32_MAX, n), opt.rows = n;
        else if (flag == "--work-ms") ok = parse_number(val, 0, 3600000, n), opt.work_ms = n;
        else if (flag == "--work-us") ok = parse_number(val, 0, 1000000, n), opt.work_us = n;
        else if (flag == "--max-bytes")
            ok = parse_number(val, 1024, int64_t{1} << 40, n), opt.message_bytes_max = n;
        else if (flag == "--verbose" || flag == "-v") opt.verbose = true;
        else if (flag.substr(0, 5) == "--tp-" || flag == "--tickerplant")
            ok = parse_tp(flag, val, opt.tp);
        else if (is_reg_flag(flag)) ok = parse_reg(flag, val, opt);
        else if (flag == "--help" || flag == "-h") return fputs(kUsage, stdout), exit(0), false;
        else if (flag == "--compress") {
            if (val == "auto") opt.compress = qmock::compress_mode::auto_;
            else if (val == "always") opt.compress = qmock::compress_mode::always;
            else if (val == "never") opt.compress = qmock::compress_mode::never;
            else ok = false;
        } else if (flag == "--zpg") {
            if (val == "none") opt.zpg = qmock::zpg_mode::none;
            else if (val == "defer") opt.zpg = qmock::zpg_mode::defer;
            else ok = false;
        } else {
            return fprintf(stderr, "qmock: unknown flag %s\n%s", argv[i], kUsage), false;
        }
        if (!ok) {
            fprintf(stderr, "qmock: bad value '%.*s' for %.*s\n", int(val.size()), val.data(),
                    int(flag.size()), flag.data());
            return false;
        }
    }
    return check_args(opt);
}

}  // namespace

int main(int argc, char** argv) {
    qmock::options opt;
    if (!parse_args(argc, argv, opt)) return 2;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_terminate);
    signal(SIGINT, on_terminate);
    qgate::net::raise_fd_limit();
    // Reply buffers up to 32 MB come from the heap and are reused, instead of being fresh
    // mmap()s whose page faults cost more than the copy itself (~5 ms per MiB reply on this
    // VM); and the heap must not shrink and regrow with brk on every reply.
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 128 << 20);
    mallopt(M_TOP_PAD, 4 << 20);
    qmock::server srv(opt);
    std::string error;
    if (!srv.start(error)) {
        qmock::log_line("%s", error.c_str());
        return 1;
    }
    return srv.run();
}

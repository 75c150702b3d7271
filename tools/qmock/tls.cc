// qmock's TLS, as q's `-E` (issue 18: qgate's tls = true backends are tested against it):
// --tls-mode 1 serves plain and TLS clients on the one port, told apart by the first byte a
// client sends (0x16, a TLS handshake record, or a q handshake's text), as q's -E 1 does;
// --tls-mode 2 serves TLS only and closes a plain client. The certificate and key come from
// --tls-cert / --tls-key, else from q's KX_SSL_CERT_FILE / KX_SSL_KEY_FILE; --tls-verify-client
// CA (else KX_SSL_CA_CERT_FILE with KX_SSL_VERIFY_CLIENT=YES) requires a client certificate.
// OpenSSL runs on the connection's non-blocking fd itself (SSL_set_fd): a read or write that
// would block says EAGAIN, and the epoll loop goes on as for a plain connection. The q
// handshake then runs inside TLS, so .z.u (`whoami`) is the user as ever.

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "qgate/openssl_errors.h"
#include "server.h"

namespace qmock {
namespace {

constexpr uint8_t kTlsRecord = 0x16;

}  // namespace

bool server::tls_start(std::string& error) {
    if (opt_.tls_mode == 0) return true;
    SSL_CTX* c = SSL_CTX_new(TLS_server_method());
    if (c == nullptr) return error = "SSL_CTX_new: " + qgate::openssl_errors(), false;
    tls_ctx_ = c;
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_use_certificate_chain_file(c, opt_.tls_cert.c_str()) != 1) {
        return error = "tls cert " + opt_.tls_cert + ": " + qgate::openssl_errors(), false;
    }
    if (SSL_CTX_use_PrivateKey_file(c, opt_.tls_key.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(c) != 1) {
        return error = "tls key " + opt_.tls_key + ": " + qgate::openssl_errors(), false;
    }
    if (!opt_.tls_verify_ca.empty()) {
        if (SSL_CTX_load_verify_locations(c, opt_.tls_verify_ca.c_str(), nullptr) != 1) {
            error = "tls verify CA " + opt_.tls_verify_ca + ": " + qgate::openssl_errors();
            return false;
        }
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    return true;
}

// Before the first read of a connection while TLS is on: peeks at its first byte. False while
// nothing has arrived, or when the connection was closed (a plain client under -E 2).
bool server::tls_accepted(conn& c) {
    uint8_t b = 0;
    const ssize_t n = recv(c.fd, &b, 1, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return false;
    if (n <= 0) {
        close_conn(c, nullptr);
        return false;
    }
    c.tls_pending = false;
    if (b != kTlsRecord) {
        if (opt_.tls_mode == 1) return true;  // plain q-IPC on a -E 1 port
        close_conn(c, "plain client on a TLS-only port (--tls-mode 2)");
        return false;
    }
    c.ssl = SSL_new(tls_ctx_);
    if (c.ssl == nullptr || SSL_set_fd(c.ssl, c.fd) != 1) {
        close_conn(c, "SSL_new failed");
        return false;
    }
    SSL_set_accept_state(c.ssl);
    return true;
}

ssize_t server::conn_read(conn& c, uint8_t* p, std::size_t n) {
    if (c.ssl == nullptr) return read(c.fd, p, n);
    ERR_clear_error();
    const int r = SSL_read(c.ssl, p, n > INT_MAX ? INT_MAX : static_cast<int>(n));
    if (r > 0) return r;
    const int e = SSL_get_error(c.ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    const unsigned long why = ERR_peek_error();
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && why == 0) ||
        ERR_GET_REASON(why) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        return 0;  // close_notify, or the peer just closed (as q's peers mostly do)
    }
    log_line("TLS from %s: %s", c.peer.c_str(), qgate::openssl_errors().c_str());
    errno = ECONNRESET;  // logged above; closed quietly
    return -1;
}

ssize_t server::conn_writev(conn& c, const iovec* iov, int n) {
    if (c.ssl == nullptr) return writev(c.fd, iov, n);
    ssize_t total = 0;
    for (int i = 0; i < n; ++i) {
        const auto* p = static_cast<const uint8_t*>(iov[i].iov_base);
        std::size_t off = 0;
        while (off < iov[i].iov_len) {
            const std::size_t want = iov[i].iov_len - off;
            ERR_clear_error();
            const int w = SSL_write(c.ssl, p + off, want > INT_MAX ? INT_MAX : int(want));
            if (w > 0) {
                off += static_cast<std::size_t>(w);
                total += w;
                continue;
            }
            if (total > 0) return total;
            const int e = SSL_get_error(c.ssl, w);
            errno = e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? EAGAIN : EPIPE;
            return -1;
        }
    }
    return total;
}

void server::tls_free(conn& c) {
    SSL_free(c.ssl);
    c.ssl = nullptr;
}

}  // namespace qmock

// qbench's TLS client (tls_client.h).
#include "tls_client.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>

#include <ctime>

#include "load.h"
#include "qgate/openssl_errors.h"

namespace qbench {
namespace {

/// Waits until `fd` is ready for what the last SSL call wanted; false on timeout or error.
bool wait_for(SSL* ssl, int rc, int fd, uint64_t deadline_ns) {
    int e = SSL_get_error(ssl, rc);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) return false;
    uint64_t now = now_ns();
    if (now >= deadline_ns) return false;
    pollfd p{fd, short(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
    return poll(&p, 1, int((deadline_ns - now) / 1000000 + 1)) == 1;
}

uint64_t deadline(int timeout_ms) { return now_ns() + uint64_t(timeout_ms) * 1000000; }

}  // namespace

SSL_CTX* tls_client_ctx(const std::string& ca, std::string& error) {
    SSL_CTX* c = SSL_CTX_new(TLS_client_method());
    if (c == nullptr) return error = "SSL_CTX_new: " + qgate::openssl_errors(), nullptr;
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    // Partial writes and a moving buffer: a write resumed after EAGAIN may start at a
    // different address of the same bytes and take more of them (load.cc's batch).
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    // Read ahead into a 64 KiB buffer: one read brings several records, not a header and a
    // body per record (the client's CPU is the proxies' on a 2-core box). The workers call
    // SSL_read until it wants the socket, so nothing waits in the buffer unseen by epoll.
    SSL_CTX_set_read_ahead(c, 1);
    SSL_CTX_set_default_read_buffer_len(c, 65536);
    if (!ca.empty()) {
        if (SSL_CTX_load_verify_locations(c, ca.c_str(), nullptr) != 1) {
            error = "--tls-ca " + ca + ": " + qgate::openssl_errors();
            SSL_CTX_free(c);
            return nullptr;
        }
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
    }
    return c;
}

void tls_free_ctx(SSL_CTX* ctx) { SSL_CTX_free(ctx); }

SSL* tls_connect(SSL_CTX* ctx, int fd, int timeout_ms, std::string& error) {
    SSL* ssl = SSL_new(ctx);
    if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
        error = "SSL_new: " + qgate::openssl_errors();
        SSL_free(ssl);
        return nullptr;
    }
    SSL_set_connect_state(ssl);
    const uint64_t end = deadline(timeout_ms);
    for (;;) {
        int rc = SSL_do_handshake(ssl);
        if (rc == 1) return ssl;
        if (!wait_for(ssl, rc, fd, end)) {
            error = "TLS handshake: " + qgate::openssl_errors();
            SSL_free(ssl);
            return nullptr;
        }
    }
}

bool tls_write_all(SSL* ssl, int fd, const void* p, std::size_t n, int timeout_ms) {
    const uint64_t end = deadline(timeout_ms);
    const auto* b = static_cast<const uint8_t*>(p);
    while (n > 0) {
        int rc = SSL_write(ssl, b, int(n));
        if (rc > 0) {
            b += rc, n -= std::size_t(rc);
            continue;
        }
        if (!wait_for(ssl, rc, fd, end)) return false;
    }
    return true;
}

int tls_read_some(SSL* ssl, int fd, void* out, std::size_t cap, int timeout_ms) {
    const uint64_t end = deadline(timeout_ms);
    for (;;) {
        int rc = SSL_read(ssl, out, int(cap));
        if (rc > 0) return rc;
        if (!wait_for(ssl, rc, fd, end)) return -1;
    }
}

std::string tls_describe(SSL* ssl) {
    return std::string(SSL_get_version(ssl)) + " " + SSL_get_cipher_name(ssl);
}

void tls_free(SSL* ssl) { SSL_free(ssl); }

}  // namespace qbench

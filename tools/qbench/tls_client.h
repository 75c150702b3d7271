// qbench's TLS client (--tls): OpenSSL straight over the socket fd. qbench is the load
// generator, not qgate, so it may let OpenSSL own the socket I/O (SSL_set_fd): requests are
// written with SSL_write from one prebuilt batch, replies read with SSL_read into the worker's
// scratch buffer. The handshakes here are bounded by a deadline (poll), for set-up; the
// handshake-rate mode (handshakes.cc) drives them non-blocking from epoll instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

struct ssl_ctx_st;
struct ssl_st;

namespace qbench {

/// A client context: TLS 1.2 or 1.3, the server's certificate checked against `ca` when given
/// (else not checked: the benchmark measures the record layer, not the PKI), no session reuse
/// (every handshake is a full one). Nullptr with `error`.
ssl_ctx_st* tls_client_ctx(const std::string& ca, std::string& error);
void tls_free_ctx(ssl_ctx_st* ctx);

/// A TLS handshake on a connected non-blocking `fd`; the SSL, or nullptr with `error`.
ssl_st* tls_connect(ssl_ctx_st* ctx, int fd, int timeout_ms, std::string& error);
/// Writes all of `p` (poll between attempts); false on error or timeout.
bool tls_write_all(ssl_st* ssl, int fd, const void* p, std::size_t n, int timeout_ms);
/// Reads at least one byte into `out` (poll between attempts); the count, or -1.
int tls_read_some(ssl_st* ssl, int fd, void* out, std::size_t cap, int timeout_ms);
/// "TLSv1.3 TLS_AES_256_GCM_SHA384": the protocol and cipher the handshake settled on.
std::string tls_describe(ssl_st* ssl);
void tls_free(ssl_st* ssl);

}  // namespace qbench

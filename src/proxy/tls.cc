// TLS contexts and connections over a BIO pair (tls.h).

#include "proxy/tls.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstring>

#include "qgate/config.h"
#include "qgate/openssl_errors.h"
#include "qgate/log.h"

namespace qgate::proxy {

namespace {

// The pair's two buffers, per connection. In: one recv's bytes (a pool buffer, limits.buf_size)
// plus the partial record SSL may still hold back (at most one record, 16 KiB + 256): a recv's
// bytes are fed whole, so they can be decrypted in place. Out: two records' ciphertext, so
// SSL_write always finishes a record it starts.
constexpr size_t kRecordMax = 16384 + 512;
constexpr size_t kBioOut = 2 * kRecordMax;
// write(): items up to kSmallItem bytes are gathered into one record of up to kStage bytes.
constexpr size_t kStage = 16384;
constexpr size_t kSmallItem = 4096;

// A certificate chain and its key, checked against each other (listener and backend alike).
bool load_cert_key(SSL_CTX* c, const std::string& cert, const std::string& key,
                   std::string& why) {
    if (SSL_CTX_use_certificate_chain_file(c, cert.c_str()) != 1) {
        why = "tls_cert " + cert + ": " + openssl_errors();
        return false;
    }
    if (SSL_CTX_use_PrivateKey_file(c, key.c_str(), SSL_FILETYPE_PEM) != 1) {
        why = "tls_key " + key + ": " + openssl_errors();
        return false;
    }
    if (SSL_CTX_check_private_key(c) != 1) {
        why = "tls_key " + key + " does not match tls_cert " + cert + ": " + openssl_errors();
        return false;
    }
    return true;
}

bool load(SSL_CTX* c, const listener_conf& l, std::string& why) {
    if (!load_cert_key(c, l.tls_cert, l.tls_key, why)) return false;
    if (!l.tls_ca.empty() && SSL_CTX_load_verify_locations(c, l.tls_ca.c_str(), nullptr) != 1) {
        why = "tls_ca " + l.tls_ca + ": " + openssl_errors();
        return false;
    }
    if (l.tls_verify_client) {
        if (l.tls_ca.empty()) {
            why = "tls_verify_client needs tls_ca (the CA client certificates are checked with)";
            return false;
        }
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    return true;
}

// A backend asked for a client certificate and none is configured: noted, so that the close
// that follows is reported as that (under TLS 1.3 the server refuses after the client's
// handshake is done, and its alert can be lost to the reset of a close with our q handshake
// unread). Returns 0: no certificate.
int no_client_cert(SSL* s, X509**, EVP_PKEY**) {
    auto* t = static_cast<tls_conn*>(SSL_get_app_data(s));
    if (t != nullptr) t->cert_asked = true;
    return 0;
}

// A backend's context: trust, then the optional client certificate.
bool load_client(SSL_CTX* c, const backend_conf& b, std::string& why) {
    if (b.tls_ca.empty()) {
        if (SSL_CTX_set_default_verify_paths(c) != 1) {
            why = "the system trust store: " + openssl_errors();
            return false;
        }
    } else if (SSL_CTX_load_verify_locations(c, b.tls_ca.c_str(), nullptr) != 1) {
        why = "tls_ca " + b.tls_ca + ": " + openssl_errors();
        return false;
    }
    if (b.tls_cert.empty()) {
        SSL_CTX_set_client_cert_cb(c, no_client_cert);
        return true;
    }
    return load_cert_key(c, b.tls_cert, b.tls_key, why);
}

bool is_ip(const std::string& host) {
    unsigned char a[16];
    return inet_pton(AF_INET, host.c_str(), a) == 1 || inet_pton(AF_INET6, host.c_str(), a) == 1;
}

}  // namespace

std::shared_ptr<tls_client> tls_client::make(const backend_conf& b, std::string& err) {
    ERR_clear_error();
    SSL_CTX* c = SSL_CTX_new(TLS_client_method());
    if (c == nullptr) {
        err = "SSL_CTX_new: " + openssl_errors();
        return nullptr;
    }
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);  // always: there is no insecure mode
    // As a listener's (tls_server::make): partial writes into the pair, buffers kept.
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    std::string why;
    if (!load_client(c, b, why)) {
        SSL_CTX_free(c);
        err = why;
        return nullptr;
    }
    std::string name = b.tls_server_name.empty() ? b.addr.host : b.tls_server_name;
    const bool ip = is_ip(name);
    return std::shared_ptr<tls_client>(new tls_client(c, std::move(name), ip));
}

tls_client::~tls_client() { SSL_CTX_free(ctx_); }

std::shared_ptr<tls_server> tls_server::make(const listener_conf& l, std::size_t index,
                                             std::string& err) {
    ERR_clear_error();
    SSL_CTX* c = SSL_CTX_new(TLS_server_method());
    if (c == nullptr) {
        err = "listener " + std::to_string(index) + ": SSL_CTX_new: " + openssl_errors();
        return nullptr;
    }
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    // Partial writes: SSL_write takes what fits in the pair and says how much (the engine's
    // send queue resumes from that byte); the moving buffer: a resumed write gathers anew.
    // Not SSL_MODE_RELEASE_BUFFERS: the record buffers stay allocated for the connection's
    // life instead of being freed and allocated again per idle spell (per message).
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // No TLS 1.3 session tickets: nothing to send after the handshake that nobody asked for.
    SSL_CTX_set_num_tickets(c, 0);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    std::string why;
    if (!load(c, l, why)) {
        SSL_CTX_free(c);
        err = "listener " + std::to_string(index) + ": " + why;
        return nullptr;
    }
    return std::shared_ptr<tls_server>(new tls_server(c));
}

tls_server::~tls_server() { SSL_CTX_free(ctx_); }

bool tls_contexts::build(const config& cfg, std::string& err) {
    n_ = cfg.listeners.size();
    slots_ = std::make_unique<std::atomic<SSL_CTX*>[]>(n_);
    for (std::size_t i = 0; i < n_; ++i) {
        slots_[i].store(nullptr, std::memory_order_relaxed);
        if (!cfg.listeners[i].tls()) continue;
        std::shared_ptr<tls_server> s = tls_server::make(cfg.listeners[i], i, err);
        if (s == nullptr) return false;
        slots_[i].store(s->ctx(), std::memory_order_release);
        keep_.push_back(std::move(s));
    }
    return true;
}

std::size_t tls_contexts::reload(const config& cfg) {
    std::size_t done = 0;
    for (std::size_t i = 0; i < n_ && i < cfg.listeners.size(); ++i) {
        if (slots_[i].load(std::memory_order_relaxed) == nullptr) continue;  // plain stays so
        std::string err;
        std::shared_ptr<tls_server> s = tls_server::make(cfg.listeners[i], i, err);
        if (s == nullptr) {
            QGATE_LOG_ERROR("reload: %s; keeping its running certificate", err.c_str());
            continue;
        }
        slots_[i].store(s->ctx(), std::memory_order_release);
        keep_.push_back(std::move(s));
        ++done;
    }
    return done;
}

tls_conn::~tls_conn() {
    SSL_free(ssl_);  // frees the pair's SSL side too
    BIO_free(net_);
}

bool tls_conn::init(SSL_CTX* ctx, uint32_t recv_max) {
    ssl_ = SSL_new(ctx);
    if (ssl_ == nullptr) return false;
    BIO* inner = nullptr;
    if (BIO_new_bio_pair(&inner, kBioOut, &net_, recv_max + kRecordMax) != 1) return false;
    SSL_set_bio(ssl_, inner, inner);
    SSL_set_accept_state(ssl_);
    return true;
}

bool tls_conn::init_client(const tls_client& c, uint32_t recv_max) {
    if (!init(c.ctx(), recv_max)) return false;
    SSL_set_connect_state(ssl_);
    SSL_set_app_data(ssl_, this);  // no_client_cert
    if (c.ip()) {
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), c.name().c_str()) != 1) {
            return false;
        }
    } else if (SSL_set_tlsext_host_name(ssl_, c.name().c_str()) != 1 ||
               SSL_set1_host(ssl_, c.name().c_str()) != 1) {
        return false;
    }
    const int r = SSL_do_handshake(ssl_);  // the ClientHello, into the pair
    const int e = SSL_get_error(ssl_, r);
    return r == 1 || e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

bool tls_conn::feed(const uint8_t* p, uint32_t n) {
    if (BIO_ctrl_get_write_guarantee(net_) < n) return false;
    return BIO_write(net_, p, static_cast<int>(n)) == static_cast<int>(n);
}

tls_conn::rd tls_conn::read(uint8_t* out, uint32_t cap, uint32_t& got) {
    got = 0;
    while (got < cap) {
        const int r = SSL_read(ssl_, out + got, static_cast<int>(cap - got));
        if (r > 0) {
            got += static_cast<uint32_t>(r);
            continue;
        }
        const int e = SSL_get_error(ssl_, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
        if (got > 0) return rd::data;  // the close or failure shows on the next read
        last_err_ = e;
        return e == SSL_ERROR_ZERO_RETURN ? rd::closed : rd::failed;
    }
    return got > 0 ? rd::data : rd::more;
}

// SSL_write as much of [p, p+n) as the pair takes; false when it took less than all.
bool tls_conn::put(const uint8_t* p, size_t n, uint64_t& taken) {
    size_t off = 0;
    while (off < n) {
        const size_t want = n - off;
        const int chunk = want > (1U << 30) ? (1 << 30) : static_cast<int>(want);
        const int r = SSL_write(ssl_, p + off, chunk);
        if (r <= 0) return false;  // the pair is full: the rest goes in the next send
        off += static_cast<size_t>(r);
        taken += static_cast<uint64_t>(r);
    }
    return true;
}

// Runs of small items (pipelined replies: a few dozen bytes each) are copied into one staging
// buffer and written as one record: an SSL_write per item would make each its own record (22
// bytes more on the wire, an AEAD call here and a record to decrypt at the peer per message),
// which costs more than the copy. Larger items are written in place. A resumed write gathers
// from the same queue byte, so it passes the same bytes again (what SSL_write requires after a
// full pair), at least as many.
uint64_t tls_conn::write(const iovec* iov, int n) {
    thread_local uint8_t stage[kStage];  // the shard's, reused: nothing allocated per send
    uint64_t taken = 0;
    size_t staged = 0;
    for (int i = 0; i < n; ++i) {
        const auto* p = static_cast<const uint8_t*>(iov[i].iov_base);
        const size_t len = iov[i].iov_len;
        if (len <= kSmallItem && staged + len <= kStage) {
            std::memcpy(stage + staged, p, len);
            staged += len;
            continue;
        }
        if (staged > 0 && !put(stage, staged, taken)) return taken;
        staged = 0;
        if (len <= kSmallItem) {
            std::memcpy(stage, p, len);
            staged = len;
        } else if (!put(p, len, taken)) {
            return taken;
        }
    }
    if (staged > 0) put(stage, staged, taken);
    return taken;
}

uint32_t tls_conn::pending(uint8_t** p) const {
    char* c = nullptr;
    const int n = BIO_nread0(net_, &c);
    *p = reinterpret_cast<uint8_t*>(c);
    return n > 0 ? static_cast<uint32_t>(n) : 0;
}

void tls_conn::sent(uint32_t n) {
    char* c = nullptr;
    (void)BIO_nread(net_, &c, static_cast<int>(n));
}

bool tls_conn::established() const { return SSL_is_init_finished(ssl_) == 1; }

std::string tls_conn::reason() {
    const long v = ssl_ != nullptr ? SSL_get_verify_result(ssl_) : X509_V_OK;
    unsigned long first = 0;
    unsigned long e = 0;
    while ((e = ERR_get_error()) != 0) {
        if (first == 0) first = e;
    }
    std::string s;
    const char* r = first != 0 ? ERR_reason_error_string(first) : nullptr;
    if (r != nullptr) {
        s = r;
    } else if (last_err_ == SSL_ERROR_SYSCALL || last_err_ == SSL_ERROR_ZERO_RETURN) {
        s = "the peer closed the connection";
    } else {
        s = "handshake failed";
    }
    if (v != X509_V_OK) s += std::string(": ") + X509_verify_cert_error_string(v);
    return s;
}

std::string tls_conn::error() {
    std::string s = openssl_errors();
    const long v = SSL_get_verify_result(ssl_);
    if (v != X509_V_OK) s += std::string(" (verify: ") + X509_verify_cert_error_string(v) + ")";
    if (last_err_ == SSL_ERROR_SYSCALL) s += " (peer closed)";
    return s;
}

}  // namespace qgate::proxy

// The engine's side of a TLS client (tls.h): the record layer sits between the socket and
// everything else. A recv's ciphertext goes into the connection's BIO pair and is decrypted
// in place into the same pool buffer (plaintext is never longer than its record), and into
// buffers of the pool's reserve when a recv completed more records than one buffer holds;
// the handshake, the kinds and the framer only ever see plaintext. A send encrypts what the
// send queue gathered into the pair and sends the ciphertext; the send completes, for the
// engine, when all of it is written, with the plaintext bytes it stands for, so the queue's
// short-send resume works unchanged. The TLS handshake's own records go out as a send of
// the transport's own (no queue item behind it). kTLS would make sends zero-copy again; this
// kernel has none (tls.h).
// Thread: the shard's. Memory: one tls_conn per TLS client, made at accept (OpenSSL
// allocates there), freed with the socket; nothing per message.

#include "proxy/engine.h"
#include "qgate/log.h"

namespace qgate::proxy {

using shard::bump;

namespace {
constexpr const char* kTooMuch = "more ciphertext than a recv and one record";
}  // namespace

// A client of a TLS listener gets its record layer; false: it could not (closed, counted).
bool engine::tls_accept(session& ss, ssl_ctx_st* ctx) {
    sock& k = ss.s[0];
    k.tls = std::make_unique<tls_conn>();
    if (k.tls->init(ctx, be_.pool().size())) return true;
    tls_fail(ss, "cannot create the connection's SSL object");
    return false;
}

void engine::tls_fail(session& ss, const char* why) {
    bump(ctr_.tls_handshake_failures);
    tls_conn* t = ss.s[0].tls.get();
    if (t != nullptr) t->counted = true;
    QGATE_LOG_WARN("TLS client refused on listener %u: %s%s%s", ss.listener, why,
                   t != nullptr ? ": " : "", t != nullptr ? t->error().c_str() : "");
    close_session(ss);
}

void engine::tls_rx(session& ss, role r, uint16_t bid, uint32_t n) {
    sock& k = ss.s[static_cast<int>(r)];
    tls_conn& t = *k.tls;
    io::buf_pool& pool = be_.pool();
    if (t.first) {
        t.first = false;
        if (pool.data(bid)[0] != kTlsHandshakeRecord) {
            release(bid);
            if (r == role::upstream) return tls_up_fail(ss, kTlsNoReply);
            bump(ctr_.tls_plain_refused);  // plain q-IPC to a TLS port
            close_session(ss);
            return;
        }
    }
    const bool fed = t.feed(pool.data(bid), n);
    if (!fed) {
        release(bid);
        if (r == role::upstream) return tls_up_fail(ss, kTooMuch);
        return tls_fail(ss, kTooMuch);
    }
    int cur = bid;
    for (;;) {
        uint32_t got = 0;
        const tls_conn::rd st = t.read(pool.data(static_cast<uint16_t>(cur)), pool.size(), got);
        if (!t.counted && t.established()) tls_established(ss, r);
        if (st != tls_conn::rd::data) {
            release(static_cast<uint16_t>(cur));
            if (st == tls_conn::rd::failed) {
                if (r == role::upstream) return tls_up_fail(ss, nullptr);
                return tls_fail(ss, "handshake or record error");
            }
            break;  // more to come; after a close_notify the TCP EOF that follows ends it
        }
        on_data(ss, r, static_cast<uint16_t>(cur), got);
        if (got < pool.size() || k.closing || ss.st == sstate::closing) break;
        cur = pool.acquire();  // a full buffer: more plaintext may be waiting
        if (cur < 0) {
            bump(ctr_.tls_rx_no_buffer);
            close_session(ss);
            return;
        }
    }
    tls_kick(ss, r);
}

// The handshake is done: counted; a connect side's q handshake, queued meanwhile, goes now.
void engine::tls_established(session& ss, role r) {
    sock& k = ss.s[static_cast<int>(r)];
    k.tls->counted = true;
    bump(r == role::client ? ctr_.tls_handshakes : ctr_.backend_tls_handshakes);
    if (!k.sq.empty()) mark_dirty(ss, r);
}

// Submits the next contiguous piece of ciphertext the pair holds; false when it holds none.
bool engine::tls_send_pending(session& ss, role r) {
    sock& k = ss.s[static_cast<int>(r)];
    uint8_t* p = nullptr;
    const uint32_t n = k.tls->pending(&p);
    if (n == 0) return false;
    k.tls->out_iov = iovec{p, n};
    k.msg = msghdr{};
    k.msg.msg_iov = &k.tls->out_iov;
    k.msg.msg_iovlen = 1;
    be_.send_msg(k.fd, ud(io::op::send, ss.index, r), &k.msg);
    return true;
}

// Handshake records (or an alert) the last read produced: sent now unless a send is in flight,
// whose completion sends them first.
void engine::tls_kick(session& ss, role r) {
    sock& k = ss.s[static_cast<int>(r)];
    if (k.fd < 0 || k.closing || k.send_inflight) return;
    k.tls->plain_taken = 0;
    k.inflight_bytes = 0;
    if (!tls_send_pending(ss, r)) return;
    k.tls->own_send = true;
    k.send_inflight = true;
    ++k.ops;
}

// flush_sends for a TLS socket: encrypt what the queue gathered, send the ciphertext.
// Until the handshake is done nothing is written (a connect side's q handshake waits in the
// queue: tls_established flushes it).
void engine::tls_flush(session& ss, role r) {
    sock& k = ss.s[static_cast<int>(r)];
    if (!k.tls->established()) return;
    uint64_t gathered = 0;
    const int n = k.sq.gather(items_, k.iov, io::kIovMax, gathered);
    k.tls->plain_taken = k.tls->write(k.iov, n);
    k.tls->own_send = false;
    k.inflight_bytes = gathered;
    if (!tls_send_pending(ss, r)) return;  // nothing fit (cannot happen: the pair is empty)
    k.send_inflight = true;
    ++k.ops;
    bump(ctr_.sends);
}

// A TLS socket's send completed: true hands `c` (res: the plaintext bytes it stood for) to
// the engine's on_send; false when the transport keeps the send going or it was its own.
bool engine::tls_on_send(session& ss, role r, io::completion& c) {
    sock& k = ss.s[static_cast<int>(r)];
    if (!k.send_inflight || k.closing || c.res < 0) return true;  // the engine's checks
    k.tls->sent(static_cast<uint32_t>(c.res));
    if (tls_send_pending(ss, r)) return false;  // the rest of the ciphertext, same operation
    if (!k.tls->own_send) {
        c.res = static_cast<int32_t>(k.tls->plain_taken);
        return true;
    }
    k.tls->own_send = false;
    k.send_inflight = false;
    --k.ops;
    if (!k.sq.empty()) mark_dirty(ss, r);
    return false;
}

}  // namespace qgate::proxy

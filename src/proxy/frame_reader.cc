// The frame reader's mechanics (frame_reader.h). Invariants: a socket in recv_into mode has at
// most one read in flight (rx armed, counted in ops); the memory a read writes belongs to the
// kernel until its completion, which always comes (a close shuts the socket down, which ends
// the read; teardown cancels it and waits), so a sink resets that memory only from the kind's
// on_sock_freed / slot reset, after the last completion.

#include "proxy/frame_reader.h"

#include <cerrno>

#include "proxy/engine.h"
#include "qgate/check.h"

namespace qgate::proxy {

using shard::bump;

void frame_reader::start(session& ss, role r) {
    sock& k = ss.s[static_cast<int>(r)];
    if (k.fd < 0 || k.closing) return;
    k.into = true;
    if (k.rx == rx_state::armed) {
        k.xp->cancel(k.fd, e_.ud(io::op::recv, ss.index, r));
        k.rx = rx_state::cancelling;
        return;
    }
    e_.arm_recv(ss, r);
}

// Reached through engine::arm_recv (socket open, not paused or starved, nothing in flight).
void frame_reader::arm(session& ss, role r, frame_sink& s) {
    sock& k = ss.s[static_cast<int>(r)];
    if (k.fd < 0 || k.closing || k.rx != rx_state::idle || !s.reading(ss)) return;
    if (k.tls != nullptr) return arm_tls(ss, r, k);
    const read_target t = s.target(ss);
    k.xp->recv_into(k.fd, e_.ud(io::op::read, ss.index, r), t.at, t.len, t.all);
    k.rx = rx_state::armed;
    k.asked = t.len;
    ++k.ops;
}

// A TLS socket reads ciphertext into its own buffer (made at the first read: once per
// connection); engine::tls_read_into decrypts it into the sink's targets.
void frame_reader::arm_tls(session& ss, role r, sock& k) {
    tls_conn& t = *k.tls;
    if (t.cin == nullptr) {
        t.cin_cap = e_.be_.pool().size();
        t.cin = std::make_unique<uint8_t[]>(t.cin_cap);
    }
    k.xp->recv_into(k.fd, e_.ud(io::op::read, ss.index, r), t.cin.get(), t.cin_cap, false);
    k.rx = rx_state::armed;
    k.asked = t.cin_cap;
    ++k.ops;
}

void frame_reader::on_read(session& ss, role r, const io::completion& c, frame_sink& s) {
    sock& k = ss.s[static_cast<int>(r)];
    // Ops count: the one read armed; a duplicate would wrap `ops` and free its memory early.
    if (!QGATE_CHECK(e_.ctr_, k.into && k.rx == rx_state::armed && k.ops > 0)) {
        e_.close_session(ss);
        return;
    }
    k.rx = rx_state::idle;
    --k.ops;
    if (k.closing) {
        e_.maybe_free(ss, r);  // the last use of the read's memory is over: it may go now
        return;
    }
    // Frame lengths: a sink counts what it asked for; more would run its frame past its end.
    if (c.res > 0 && !QGATE_CHECK(e_.ctr_, static_cast<uint32_t>(c.res) <= k.asked)) {
        e_.close_session(ss);
        e_.maybe_free(ss, r);
        return;
    }
    if (c.res > 0 && k.tls != nullptr) {
        bump(e_.ctr_.bytes_in, static_cast<uint64_t>(c.res));
        e_.tls_read_into(ss, r, static_cast<uint32_t>(c.res), s);
        e_.arm_recv(ss, r);  // no reading on with recv_now: each read is a ciphertext batch
    } else if (c.res > 0) {
        bump(e_.ctr_.bytes_in, static_cast<uint64_t>(c.res));
        s.took(ss, static_cast<uint32_t>(c.res), false);
        pull(ss, r, s);
    } else if (c.res == -ECANCELED || c.res == -EINTR || c.res == -EAGAIN) {
        e_.arm_recv(ss, r);  // not ours (nothing cancels a read of an open socket): read again
    } else if (e_.tls_up_eof(ss, r)) {
        // EOF or an error in a backend's TLS handshake: a TLS failure (engine_tls_up.cc)
    } else {
        engine::on_eof(ss, r);  // EOF (0) or a socket error
    }
    e_.maybe_free(ss, r);
}

// Reads on now while the socket has bytes, then arms the next read unless a frame paused the
// connection, closed it or failed its link.
void frame_reader::pull(session& ss, role r, frame_sink& s) {
    sock& k = ss.s[static_cast<int>(r)];
    for (uint32_t i = 0; i < s.pull_max(); ++i) {
        if (k.fd < 0 || k.closing || k.paused || !s.reading(ss)) return;
        const read_target t = s.target(ss);
        const int32_t n = k.xp->recv_now(k.fd, t.at, t.len);
        if (n <= 0) break;  // nothing yet; EOF and errors are the armed read's to report
        // Frame lengths, as in on_read: no more than the sink asked for.
        if (!QGATE_CHECK(e_.ctr_, static_cast<uint32_t>(n) <= t.len)) return e_.close_session(ss);
        bump(e_.ctr_.bytes_in, static_cast<uint64_t>(n));
        s.took(ss, static_cast<uint32_t>(n), true);
    }
    e_.arm_recv(ss, r);
}

// Closing the fd does not end an io_uring request (the ring holds the file), and its task work
// would still copy arriving bytes into the freed buffer, even while the ring is being torn
// down. So cancel each read and wait for its completion; bounded (about a second), and off the
// data plane.
void frame_reader::settle() {
    uint32_t armed = 0;
    for (auto& sp : e_.sessions_) {
        for (uint32_t i = 0; i < 2; ++i) {
            const sock& k = sp->s[i];
            if (k.fd < 0 || k.rx != rx_state::armed || !k.into) continue;
            k.xp->cancel(k.fd, e_.ud(io::op::read, sp->index, static_cast<role>(i)));
            ++armed;
        }
    }
    io::completion cq[64];
    for (int i = 0; armed > 0 && i < 100; ++i) {
        const int n = e_.be_.wait(cq, 64, 10);
        for (int j = 0; j < n; ++j) {
            if (io::ud_op(cq[j].user_data) != io::op::read) continue;
            const uint32_t sid = io::ud_slot(cq[j].user_data);
            sock& k = e_.sessions_[sid / 2]->s[sid & 1];
            if (k.rx != rx_state::armed) continue;
            k.rx = rx_state::idle;
            --armed;
        }
    }
}

}  // namespace qgate::proxy

// The shard's side of the admin API (admin_link.h): at the end of a turn the engine takes the
// admin's posted command, if any, answers it into the command's own buffers and publishes
// done. A snapshot lists this shard's clients (client_snap) and its view of every backend
// (backend_snap: sessions and their calls here; the queue, calls in flight and pool when this
// is the backend's home; the latest connect outcome); a kick closes one client as a reset
// would. Also here: the engine's per-backend meters (backend_meters.h) and its
// backend notes (lasterror). Thread: the shard's. Allocation: none (the admin reserved the
// rows; notes are fixed arrays sized at start); getpeername per listed client, admin-paced.
#include <sys/socket.h>

#include <cstdio>
#include <cstring>

#include "proxy/engine.h"
#include "proxy/pool_links.h"

namespace qgate::proxy {

void engine::init_admin() {
    const uint32_t nb = kBackendsMax;  // every id a reload may hand out (generation.h)
    if (opt_.meters == nullptr) {
        own_meters_ = std::make_unique<backend_meters>(1, nb);
        opt_.meters = own_meters_.get();
    }
    const uint32_t row = own_meters_ ? 0 : me_;
    bmeter_ = opt_.meters->row(row);
    notes_.resize(nb);
}

// Backend id `b` is new in the generation this shard adopts: a fresh id (all zero anyway) or
// a quiet one handed out again (generation.h), whose calls, errors, notes and latency belong
// to the backend that had it. This shard's cells only: each shard clears its own.
void engine::forget_backend(uint32_t b) {
    backend_meter& m = bmeter_[b];
    m.calls.store(0, std::memory_order_relaxed);
    m.errors.store(0, std::memory_order_relaxed);
    if (b < notes_.size()) notes_[b] = backend_note{};
    ctr_.lat.reset_backend(b);
}

void engine::note_backend_fail(int b, const char* what, int err) {
    if (b < 0 || static_cast<size_t>(b) >= notes_.size()) return;
    backend_note& n = notes_[static_cast<size_t>(b)];
    n.fail_ms = clock_now();
    if (err != 0) {
        std::snprintf(n.error, sizeof n.error, "%s: %s", what, std::strerror(err));
    } else {
        std::snprintf(n.error, sizeof n.error, "%s", what);
    }
}

void engine::note_backend_ok(int b) {
    if (b < 0 || static_cast<size_t>(b) >= notes_.size()) return;
    notes_[static_cast<size_t>(b)].ok_ms = clock_now();
}

void engine::serve_admin() {
    if (opt_.admin == nullptr) return;
    shard_command* cmd = opt_.admin->take();
    if (cmd == nullptr) return;
    if (cmd->what == shard_command::kind::kick) {
        admin_kick(*cmd);
    } else {
        admin_snapshot(*cmd);
    }
    opt_.admin->answered();
}

void engine::snap_client(const session& ss, client_snap& out) {
    out.id = ss.client_id;
    out.since_ns = ss.since_ns;
    out.calls = ss.calls;
    out.bytes_in = ss.bytes_in;
    out.bytes_out = ss.bytes_out;
    out.listener = ss.listener;
    if (ss.st == sstate::request) {
        out.inflight = uint64_t{ss.rq.pending} + ss.rq.async_out;
    } else {
        out.inflight = ss.st == sstate::pubsub ? 0 : ss.outstanding;
    }
    out.user_len = static_cast<uint32_t>(std::min(ss.user.size(), sizeof out.user));
    std::memcpy(out.user, ss.user.data(), out.user_len);
    socklen_t len = sizeof out.peer;
    out.peer.ss_family = AF_UNSPEC;
    if (ss.s[0].fd < 0 ||
        ::getpeername(ss.s[0].fd, reinterpret_cast<sockaddr*>(&out.peer), &len) != 0) {
        out.peer.ss_family = AF_UNSPEC;
    }
}

void engine::snap_backends(shard_command& cmd) const {
    const size_t nb = std::min(cmd.backends.size(), notes_.size());
    for (size_t b = 0; b < nb; ++b) {
        backend_snap& o = cmd.backends[b];
        o = backend_snap{};
        o.fail_ms = notes_[b].fail_ms;
        o.ok_ms = notes_[b].ok_ms;
        std::memcpy(o.error, notes_[b].error, sizeof o.error);
        if (plane_ != nullptr && b < pool_->homes_.size() && pool_->homes_[b].mine) {
            const home_backend& hb = pool_->homes_[b];
            o.home = true;
            o.queued = hb.queue.count + hb.user_queued;
            o.inflight = hb.inflight;
            o.conns = hb.up;
            o.ejected = hb.ejected;
        }
    }
    for (const auto& sp : sessions_) {  // session mode: each session's backend
        const session& ss = *sp;
        if (!is_client(ss) || ss.backend < 0 || static_cast<size_t>(ss.backend) >= nb) continue;
        if (ss.st != sstate::streaming && ss.st != sstate::connecting &&
            ss.st != sstate::up_handshake) {
            continue;
        }
        backend_snap& o = cmd.backends[static_cast<size_t>(ss.backend)];
        ++o.conns;
        o.inflight += static_cast<uint32_t>(ss.outstanding);
    }
}

void engine::admin_snapshot(shard_command& cmd) {
    cmd.clients.clear();  // capacity kept: no allocation below
    cmd.truncated = false;
    snap_backends(cmd);
    if (cmd.what != shard_command::kind::snapshot) return;  // backends only
    for (const auto& sp : sessions_) {
        if (!is_client(*sp)) continue;
        if (cmd.clients.size() == cmd.clients.capacity()) {
            cmd.truncated = true;
            break;
        }
        cmd.clients.emplace_back();
        snap_client(*sp, cmd.clients.back());
    }
}

// As a client reset: the kind's on_eof closes it (request mode abandons its calls in flight).
void engine::admin_kick(shard_command& cmd) {
    cmd.found = false;
    cmd.clients.clear();
    for (const auto& sp : sessions_) {
        session& ss = *sp;
        if (!is_client(ss) || ss.client_id != cmd.id) continue;
        if (cmd.clients.capacity() > 0) {
            cmd.clients.emplace_back();
            snap_client(ss, cmd.clients.back());
        }
        cmd.found = true;
        on_eof(ss, role::client);
        return;
    }
}

}  // namespace qgate::proxy

// Pub/sub ingest: every frame a pub/sub connection receives (the hub's upstream tickerplant
// link, publishers and subscribers on a pubsub listener) is read straight into the refcounted
// buffer it will be published and sent from: no user-space copy of its payload (issue 7).
//
// Design note. Such a socket (`sock::into`) has no multishot recv and no provided buffers; it
// has at most one single-shot recv_into in flight, aimed by the frame cut (ps_conn::cut):
//   header  the 8 header bytes into cut.hdr (MSG_WAITALL, resumed after a short read); then
//           checked exactly as the copying path checks them (header_limits: capability,
//           message_bytes_max; malformed: pubsub_bad_msgs and close), the frame's
//           update_builder allocated (8 bytes to spare) and the 8 header bytes copied in
//           (header, not payload);
//   body    the rest of the frame straight into the builder at `off`, counted in
//           pubsub_ingest_bytes_direct, resumed after short reads (the epoll backend reads
//           once per readiness); after its last byte the buffer is shrunk to the frame, frozen
//           and handed on (ps_end_frame), exactly like a frame that was copied;
//   the upstream link's first read is its 1-byte handshake reply (into cut.hdr[0]).
// Read-ahead: a body of up to kReadAheadBodyMax is read with the 8 bytes after it, without
// MSG_WAITALL, into the builder's spare room: when frames come back to back (a feed) that is
// the next frame's header, copied into cut.hdr (header bytes only), and the next read goes
// straight to that frame's body, so a stream costs one read per frame instead of two. When
// nothing follows the body yet, the read completes with the body alone (no waiting for more).
// A longer body is read exactly, with MSG_WAITALL (fewer completions; its header read is
// noise next to it).
// Reading on: a read that brought data is followed at once by up to kPullReadsMax more done
// synchronously (io_backend::recv_now, MSG_DONTWAIT), while the socket has bytes, before the
// next recv_into is armed. Without it a feed's burst goes in at one frame per loop turn, and
// each subscriber then gets one sendmsg per update instead of one per turn's worth of
// updates (measured: ~0.65 sendmsg per delivery at 64 subscribers, 1.5-2x the CPU per
// update); with it a turn takes in a burst as the multishot recv did, for one syscall per
// frame. Counted: pubsub_ingest_reads (recv_into completions), pubsub_ingest_reads_now.
// Back-pressure: a paused socket simply gets no next read (there is no multishot to cancel);
// resume_recv -> arm_recv -> the kind's arm_read -> frame_reader::arm arms it again. Close:
// shutdown() ends the read in flight, and the memory it writes (ps_conn) is reset only once that
// final completion has arrived (maybe_free at ops == 0 -> ps_reset / ps_up_freed).
// The read loop itself (arming, completions, reading on) is frame_reader.cc's; this file is
// its sink for pub/sub frames (frame_sink: target, took).
// Thread: the owning shard only. No allocation beyond the frame's own buffer.

#include <cerrno>
#include <cstring>

#include "proxy/kinds.h"
#include "qgate/check.h"

namespace qgate::proxy {

using shard::bump;

namespace {
// One read's length is a uint32; a longer body (message_bytes_max may allow it) takes several.
constexpr uint64_t kReadBytesMax = uint64_t{1} << 30;
// Bodies up to this are read together with the next header (see the design note).
constexpr uint64_t kReadAheadBodyMax = uint64_t{64} * 1024;
// Synchronous reads after a completion (fairness: other sockets wait for the turn to end).
constexpr uint32_t kPullReadsMax = 16;  // frame_sink::pull_max

// The feed link's next byte is the backend's handshake reply.
bool awaits_handshake(const session& ss) {
    return ss.link.phase == link_phase::handshake && !ss.ps->subscribing;
}

// Where the next bytes of `ss` go, from its frame cut (see the design note).
read_target target_of(session& ss) {
    proxy::ps_conn& pc = *ss.ps;
    if (awaits_handshake(ss)) return {pc.cut.hdr, 1, true};
    if (pc.cut.left == 0) {
        return {pc.cut.hdr + pc.cut.have,
                static_cast<uint32_t>(qipc::kHeaderSize - pc.cut.have), true};
    }
    uint8_t* at = pc.fill->data().data() + pc.off;
    if (pc.cut.left > kReadAheadBodyMax) {
        return {at, static_cast<uint32_t>(pc.cut.left < kReadBytesMax ? pc.cut.left
                                                                      : kReadBytesMax), true};
    }
    return {at, static_cast<uint32_t>(pc.cut.left + qipc::kHeaderSize), false};  // + spare room
}
}  // namespace

// ---- frame_sink: the frame reader (frame_reader.cc) asks where to read and hands the bytes

bool ps_reader::reading(const session& ss) const { return ps_reading(ss); }

read_target ps_reader::target(session& ss) { return target_of(ss); }

uint32_t ps_reader::pull_max() const { return kPullReadsMax; }

void ps_reader::took(session& ss, uint32_t n, bool now) {
    bump(now ? e_.ctr_.pubsub_ingest_reads_now : e_.ctr_.pubsub_ingest_reads);
    ps_took(ss, n);
}

// `n` bytes landed where target_of aimed.
void ps_reader::ps_took(session& ss, uint32_t n) {
    ps_conn& pc = *ss.ps;
    if (awaits_handshake(ss)) {
        ss.cap = pc.cut.hdr[0];
        e_.feed_->ps_up_subscribe(ss);
        return;
    }
    if (pc.cut.left == 0) {
        // The header read asks for what is missing of the 8 bytes (frame_reader checks n).
        QGATE_ASSERT(pc.cut.have + n <= qipc::kHeaderSize);
        pc.cut.have = static_cast<uint8_t>(pc.cut.have + n);
    } else {
        const uint32_t body = n < pc.cut.left ? n : static_cast<uint32_t>(pc.cut.left);
        pc.off += body;
        pc.cut.left -= body;
        bump(e_.ctr_.pubsub_ingest_bytes_direct, body);
        if (pc.cut.left > 0) return;
        // Read ahead past the body: the next frame's first header bytes (not payload).
        pc.cut.have = static_cast<uint8_t>(n - body);
        std::memcpy(pc.cut.hdr, pc.fill->data().data() + pc.off, pc.cut.have);
        e_.subs_->ps_end_frame(ss);
        if (!ps_reading(ss)) return;  // the frame closed the connection or failed the link
    }
    if (pc.cut.have < qipc::kHeaderSize || !ps_header(ss) || pc.cut.left > 0) return;
    e_.subs_->ps_end_frame(ss);  // a frame with no body is complete with its header
}

// The 8 header bytes are in: check them and start the frame's buffer (false: closed).
bool ps_reader::ps_header(session& ss) {
    ps_conn& pc = *ss.ps;
    pc.cut.have = 0;
    if (!qipc::parse_header({pc.cut.hdr, qipc::kHeaderSize}, pc.cut.h, ps_header_limits(ss)) ||
        !e_.subs_->ps_begin_frame(pc)) {
        bump(e_.ctr_.pubsub_bad_msgs);
        e_.close_session(ss);
        return false;
    }
    pc.cut.left = pc.cut.h.body_length();
    return true;
}

// Still reading frames: neither closed nor (the upstream link) failed.
bool ps_reader::ps_reading(const session& ss) {
    return (ss.st == sstate::pubsub && !ss.s[0].closing) ||
           (ss.st == sstate::ps_up && ss.link.phase != link_phase::down);
}

qipc::header_limits ps_reader::ps_header_limits(const session& ss) const {
    qipc::header_limits hl;
    hl.length_max = e_.lim_->message_bytes_max;
    hl.capability = ss.cap;
    return hl;
}

}  // namespace qgate::proxy

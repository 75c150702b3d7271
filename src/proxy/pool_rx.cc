// Request mode, a pooled upstream connection's receive side: the backend's reply is received
// into the buffer that is then handed to the client's shard, with no user-space copy.
//
// Design note. A pool connection (session in state `pool`, socket in s[1], home shard's
// thread) does not use the shard's provided-buffer pool: it owns a receive buffer `rx` (a
// frame_buf, the type of request::rep) and keeps exactly one recv_into armed while its socket
// is open, so EOF or unsolicited data while idle are seen as they were with multishot recv.
// The handshake reply byte is read alone (1 byte: nothing behind it can be over-read). Then,
// per frame:
//  1. recv_into(rx + have, room) without MSG_WAITALL: the frame's length is not known yet, so
//     take whatever is there (a small reply usually arrives whole in this one read).
//  2. Once 8 bytes are in, the header is validated (capability, message_bytes_max) and the
//     frame classified (pool_conn::mode). An awaited reply longer than rx grows rx: the one
//     copy on this path, of the bytes already read (reply_bytes_copied). It happens while
//     buffers warm up, and for replies past kKeepBytesMax, whose buffers are not kept.
//  3. recv_into exactly the rest of the frame with MSG_WAITALL: never past the frame's end, so
//     nothing of the next message lands in this buffer. The epoll backend may complete short;
//     the rest is asked for again.
//  4. Whole: the awaited reply is std::swap'ed into cur->rep (a pointer swap) and the slot's
//     previous buffer becomes rx (capacity reused: no allocation in steady state). Bytes read
//     past the frame (only possible in step 1: a message right behind the reply) are moved to
//     the new rx (counted as copied; rare) and parsed in turn.
// Frames nobody waits for (a probe's answer, an abandoned call's late reply, strays, callbacks)
// never grow rx: one longer than rx is read in rx-sized chunks and dropped.
//
// Lifetimes. rx belongs to the kernel while its read is armed; the engine touches it only in
// that read's completion. A close (close_sock: shutdown + cancel) still delivers that
// completion before the socket is freed (sock::ops), so a reconnect never arms a second read
// into the same memory. Pool sessions are never freed, so neither is rx. A slot's buffer is
// touched here only while the home shard holds the slot (hold::kHome, request.h).

#include <cstring>
#include <string_view>

#include "proxy/kinds.h"
#include "qgate/check.h"
#include "qgate/qipc/frame.h"
#include "qgate/qipc/writer.h"

namespace qgate::proxy {

using shard::bump;

namespace {
constexpr std::string_view kNoCallbacksText =
    "qgate: request mode does not serve calls from backends";

// The reply to a backend's sync call on a pooled connection, written once (sends point at it).
struct callback_reply {
    uint8_t frame[qipc::error_message_size(kNoCallbacksText)]{};
    callback_reply() {
        qipc::write_error_message(kNoCallbacksText, qipc::msg_type::response, frame);
    }
};
const callback_reply kCallbackReply;

// Smallest receive buffer: room for a typical reply in the first read. Buffers circulate
// between connections and slots, so every slot that ever received a reply keeps at least
// this much (slots x 4 KiB at worst, 64 MiB for 16384 slots); larger replies grow a buffer
// once, while warming up.
constexpr size_t kRxMin = 4096;
// One read asks for at most this much (recv_into takes a 32-bit length; frames may be longer).
constexpr uint64_t kReadMax = uint64_t{1} << 30;
// The first read of a frame (length unknown) asks for at most this much, even when rx is
// bigger: if the frame turns out longer than rx, what was read is copied to the grown buffer,
// so this bounds that copy (a reply past kKeepBytesMax pays it every time: <= 64 KiB of it).
constexpr uint64_t kFirstReadMax = uint64_t{64} << 10;

// Capacity for `n` bytes: a power of two up to kKeepBytesMax (slightly bigger replies later
// fit without growing again), exact beyond (such a buffer is given back with its slot anyway).
size_t rx_capacity(uint64_t n) {
    if (n > kKeepBytesMax) return static_cast<size_t>(n);
    size_t c = kRxMin;
    while (c < n) c <<= 1;
    return c;
}

// Makes `b` all room (its bytes are not kept), with at least `n` bytes. Allocates only when
// its capacity is short: a buffer that never held a frame (a fresh slot's), or an unusually
// long run of bytes behind a reply.
void rx_reset(frame_buf& b, uint64_t n) {
    if (b.capacity() < n || b.capacity() < kRxMin) {
        b.clear();  // nothing to keep: reserve() must not copy
        b.reserve(rx_capacity(n));
    }
    b.resize(b.capacity());  // default-initialised: no fill
}
}  // namespace

bool pool_links::pool_reading(const session& ss) {
    const sock& k = ss.s[1];
    return ss.st == sstate::pool && k.fd >= 0 && !k.closing &&
           (ss.link.phase == link_phase::handshake || ss.link.phase == link_phase::ready);
}

// Arms the connection's one read for what comes next: the handshake byte, the rest of the
// frame being read (exactly), a chunk of a frame being dropped, or the start of the next frame
// (as much as fits).
read_target pool_links::target(session& ss) {
    pool_conn& pc = ss.pc;
    uint64_t at = pc.have;
    uint64_t len = pc.rx.size() - pc.have;
    bool all = false;
    if (ss.link.phase == link_phase::handshake) {  // a new connection: keep nothing of the last
        if (pc.rx.capacity() > kKeepBytesMax) frame_buf().swap(pc.rx);
        rx_reset(pc.rx, kRxMin);
        pc.have = pc.need = pc.skip = pc.moved = 0;
        at = 0;
        len = 1;
    } else if (pc.skip > 0) {
        at = 0;
        len = pc.skip < pc.rx.size() ? pc.skip : pc.rx.size();
        all = true;
    } else if (pc.need > 0) {
        len = pc.need - pc.have;
        all = true;
    } else if (len > kFirstReadMax) {
        len = kFirstReadMax;
    }
    if (len > kReadMax) len = kReadMax;
    return {pc.rx.data() + at, static_cast<uint32_t>(len), all};
}

// `n` bytes arrived where target() asked for them; the frame reader arms the next read.
void pool_links::took(session& ss, uint32_t n, bool) {
    pool_conn& pc = ss.pc;
    if (ss.link.phase == link_phase::handshake) {
        pool_ready(ss, pc.rx[0]);
    } else if (pc.skip > 0) {
        pc.skip -= n;
        if (pc.skip == 0) pool_frame_done(ss);
    } else {
        pc.have += n;
        pool_frames(ss);
    }
}

// Acts on each whole frame at the front of rx; what is left is the start of the next one.
void pool_links::pool_frames(session& ss) {
    pool_conn& pc = ss.pc;
    while (pc.have >= qipc::kHeaderSize && pool_reading(ss)) {
        if (pc.need == 0 && !pool_header(ss)) return;
        if (pc.have < pc.need) {
            if (pc.need > pc.rx.size()) {  // not an awaited reply (that grew rx): drop it
                pc.skip = pc.need - pc.have;
                pc.have = 0;
            }
            return;
        }
        pool_frame_done(ss);
    }
}

// The header at rx[0] is in: validate, classify, make room for an awaited reply.
bool pool_links::pool_header(session& ss) {
    pool_conn& pc = ss.pc;
    qipc::header_limits hl;
    hl.capability = ss.cap;
    hl.length_max = e_.lim_.message_bytes_max;
    qipc::frame_header h;
    if (!qipc::parse_header({pc.rx.data(), qipc::kHeaderSize}, h, hl)) {
        bump(e_.ctr_.malformed_frames);
        pool_failed(ss);  // the stream cannot be resynchronised
        return false;
    }
    pc.need = h.length;
    pc.mode = pool_conn::rx_mode::stray;
    if (h.type == qipc::msg_type::response && pc.probing) {
        pc.mode = pool_conn::rx_mode::probe;
    } else if (h.type == qipc::msg_type::response && pc.cur != nullptr && pc.cur->sync &&
               !pc.replied) {
        // Only a sync call awaits a response: an async one completes when its send does, maybe
        // while this frame is still being read, so a response then is a stray, not its reply.
        pc.mode = pc.cur->is_abandoned() ? pool_conn::rx_mode::discard : pool_conn::rx_mode::reply;
    } else {
        bump(e_.ctr_.backend_unsolicited);
        if (h.type == qipc::msg_type::sync) pc.mode = pool_conn::rx_mode::callback;
    }
    if (pc.mode == pool_conn::rx_mode::reply && pc.need > pc.rx.size()) pool_rx_grow(pc);
    return true;
}

// An awaited reply longer than rx: a bigger buffer, with the bytes already read copied over
// (the one copy of a reply's bytes; warm-up only, or a reply past kKeepBytesMax).
void pool_links::pool_rx_grow(pool_conn& pc) {
    frame_buf bigger(rx_capacity(pc.need));  // default-initialised: no fill
    std::memcpy(bigger.data(), pc.rx.data(), pc.have);
    pc.rx.swap(bigger);
    pc.moved = pc.have;  // every byte of the frame so far is now a copy
    bump(e_.ctr_.reply_bytes_copied, pc.have);
}

// The frame at rx[0, need) is whole (or was dropped in chunks): hand it over or act on it,
// after moving whatever was read past it to the front of rx.
void pool_links::pool_frame_done(session& ss) {
    pool_conn& pc = ss.pc;
    if (pc.mode == pool_conn::rx_mode::reply) {
        // Frame lengths: only a whole reply goes to the call's slot; a torn one would reach
        // the client as its answer. This link fails instead (its call: 'disconnected).
        if (!QGATE_CHECK(e_.ctr_, pc.cur != nullptr && pc.have >= pc.need && pc.skip == 0)) {
            return pool_failed(ss);
        }
        pool_take_reply(ss);
    } else {
        const uint64_t extra = pc.have > pc.need ? pc.have - pc.need : 0;
        if (extra > 0) {
            std::memmove(pc.rx.data(), pc.rx.data() + pc.need, extra);
            bump(e_.ctr_.reply_bytes_copied, extra);
        }
        pc.have = pc.moved = extra;
        pc.need = 0;
    }
    switch (pc.mode) {
    case pool_conn::rx_mode::stray: return;
    case pool_conn::rx_mode::callback:
        e_.push(ss, role::upstream, kCallbackReply.frame, sizeof kCallbackReply.frame, -1);
        return;
    case pool_conn::rx_mode::probe:
        pc.probing = false;  // healthy: serve what waited, probe again later
        schedule_probe(ss);
        pump(pc.backend);
        return;
    case pool_conn::rx_mode::discard: bump(e_.ctr_.request_late_replies); [[fallthrough]];
    case pool_conn::rx_mode::reply:
        pc.replied = true;
        if (pc.sent) pool_complete(ss);
        return;
    }
}

// The awaited reply is whole at rx[0, need): the slot takes rx itself (a pointer swap) and
// gives its previous buffer as the next rx.
void pool_links::pool_take_reply(session& ss) {
    pool_conn& pc = ss.pc;
    frame_buf& rep = pc.cur->rep;
    std::swap(pc.rx, rep);
    const uint64_t extra = pc.have - pc.need;
    rx_reset(pc.rx, extra);
    if (extra > 0) {  // a message right behind the reply, read in the same first read
        std::memcpy(pc.rx.data(), rep.data() + pc.need, extra);
        bump(e_.ctr_.reply_bytes_copied, extra);
    }
    // `moved` may cover more than this frame (several messages read behind the last one).
    const uint64_t copied = pc.moved < pc.need ? pc.moved : pc.need;
    bump(e_.ctr_.reply_bytes_received_direct, pc.need - copied);
    rep.resize(pc.need);
    pc.have = pc.moved = extra;
    pc.need = 0;
}

}  // namespace qgate::proxy

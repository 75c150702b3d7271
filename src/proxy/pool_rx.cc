// Request mode, a pooled upstream connection's receive side: the backend's reply is received
// into the buffer that is then handed to the client's shard, with no user-space copy when it
// arrives alone, and with one small copy each when pipelined replies arrive together.
//
// Design note. A pool connection (session in state `pool`, socket in s[1], home shard's
// thread) does not use the shard's provided-buffer pool: it owns a receive buffer `rx` (a
// frame_buf, the type of request::rep) and keeps exactly one recv_into armed while its socket
// is open, so EOF or unsolicited data while idle are seen as they were with multishot recv.
// The handshake reply byte is read alone (1 byte: nothing behind it can be over-read). Then:
//  1. recv_into(rx + have, room) without MSG_WAITALL: the frame's length is not known yet, so
//     take whatever is there (small replies usually arrive whole, several at once when calls
//     are pipelined: all of them are acted on in this one pass).
//  2. Once a frame's 8 header bytes are in, the header is validated (capability,
//     message_bytes_max) and the frame classified (pool_conn::mode).
//  3. A frame that is whole in rx is acted on. The awaited reply that is all the read brought
//     is std::swap'ed into its slot's rep (a pointer swap; the slot's previous buffer becomes
//     rx: no allocation in steady state); one with bytes behind it is copied into rep (it is
//     small: several replies fitted in one read), and parsing goes on at the next frame.
//  4. What is left is the start of a frame: moved to the front of rx (counted as copied; at
//     most one read's worth), then, for an awaited reply longer than rx, rx grows (the bytes
//     read so far copied: warm-up, or a reply past kKeepBytesMax, whose buffer is not
//     kept but comes from the shard's cache of big ones, big_bufs.h, where a slot brings its
//     last big reply's buffer with its next call and where a big rx goes when replaced or
//     dropped on reconnect), and the rest is read with recv_into of exactly the frame's
//     remainder, MSG_WAITALL: never past its end. The epoll backend may complete short; the
//     rest is asked for again.
//  5. A header's length is only a claim (a backend may announce 4 GiB - 1 and send 3 bytes):
//     rx grows to the whole frame at once only up to kGrowFirst, or when a cached buffer that
//     fits it is there (memory already held). Past that it doubles as the bytes arrive, each
//     time rx is full: address space follows what was received, not what was announced.
//  6. Budget (held_budget.h): an awaited reply takes its declared length from the process's
//     request_bytes_held_max when its header is read; its slot holds that until freed. When
//     the budget cannot cover it, the reply is read past and dropped and its call answered
//     'qgate: busy (request_held_refused), so a client that does not read its replies, or
//     many of them, cannot make qgate hold more than the bound.
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
// so this bounds that copy (a reply past kKeepBytesMax pays it every time: <= 64 KiB of it, and
// usually kRxMin, as a slot brings its big buffer to the cache, not to rx).
constexpr uint64_t kFirstReadMax = uint64_t{64} << 10;
// A reply's declared length is trusted this far: rx grows to the whole frame at once up to
// here (1 MiB replies in one step), and past it doubles with what has arrived (step 5).
constexpr uint64_t kGrowFirst = kKeepBytesMax + (uint64_t{64} << 10);
constexpr std::string_view kBusyText = "qgate: busy";

// Capacity for `n` bytes: a power of two up to kKeepBytesMax (slightly bigger replies later
// fit without growing again), exact beyond (such a buffer comes from and goes back to the
// shard's cache of big buffers, which rounds up what it allocates: big_bufs::capacity_for).
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
// (as much as fits). A read is armed only with the frame at rx[0] (pool_make_room).
read_target pool_links::target(session& ss) {
    pool_conn& pc = ss.pc;
    if (ss.link.phase == link_phase::handshake) {  // a new connection: keep nothing of the last
        e_.bigs_.give(pc.rx);  // past kKeepBytesMax: to the shard's cache
        rx_reset(pc.rx, kRxMin);
        e_.held_.give(pc.held);  // a reply cut off by the last connection's loss
        pc.held = 0;
        pc.at = pc.have = pc.need = pc.skip = pc.moved = pc.pushed = 0;
        return {pc.rx.data(), 1, false};
    }
    QGATE_ASSERT(pc.at == 0);
    uint64_t at = pc.have;
    uint64_t len = pc.rx.size() - pc.have;
    bool all = false;
    if (pc.skip > 0) {
        at = 0;
        len = pc.skip < pc.rx.size() ? pc.skip : pc.rx.size();
        all = true;
    } else if (pc.need > 0) {
        // The frame's rest, or as much of it as rx holds (it grows as it fills: step 5).
        len = (pc.need < pc.rx.size() ? pc.need : pc.rx.size()) - pc.have;
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

// Acts on each whole frame in rx, then readies rx for the rest of the one that is not.
void pool_links::pool_frames(session& ss) {
    pool_conn& pc = ss.pc;
    while (pool_reading(ss) && pc.have - pc.at >= qipc::kHeaderSize) {
        if (pc.need == 0 && !pool_header(ss)) return;
        if (pc.have - pc.at < pc.need) break;
        pool_frame_done(ss);
    }
    if (pool_reading(ss)) pool_make_room(pc);
}

// The header at rx[at] is in: validate and classify.
bool pool_links::pool_header(session& ss) {
    pool_conn& pc = ss.pc;
    qipc::header_limits hl;
    hl.capability = ss.cap;
    hl.length_max = e_.lim_->message_bytes_max;
    qipc::frame_header h;
    if (!qipc::parse_header({pc.rx.data() + pc.at, qipc::kHeaderSize}, h, hl)) {
        bump(e_.ctr_.malformed_frames);
        pool_failed(ss);  // the stream cannot be resynchronised
        return false;
    }
    pc.need = h.length;
    pc.mode = pool_conn::rx_mode::stray;
    if (h.type == qipc::msg_type::response && pc.probing != pool_conn::probe_kind::none) {
        pc.mode = pool_conn::rx_mode::probe;
    } else if (h.type == qipc::msg_type::response && pc.await != nullptr) {
        // Only a sync call awaits a response (an async one is done once sent): a response
        // with no sync call waiting is a stray.
        pc.mode = pc.await->is_abandoned() ? pool_conn::rx_mode::discard
                                           : pool_conn::rx_mode::reply;
        if (pc.mode == pool_conn::rx_mode::reply) pool_hold(pc);
    } else {
        bump(e_.ctr_.backend_unsolicited);
        if (h.type == qipc::msg_type::sync) pc.mode = pool_conn::rx_mode::callback;
    }
    return true;
}

// The start of a frame is left at rx[at, have): move it to the front (the next read lands
// behind it), then make room for the whole of an awaited reply, or drop any other frame too
// long for rx in chunks.
void pool_links::pool_make_room(pool_conn& pc) {
    if (pc.at > 0) {
        const uint64_t left = pc.have - pc.at;
        if (left > 0) {
            std::memmove(pc.rx.data(), pc.rx.data() + pc.at, left);
            bump(e_.ctr_.reply_bytes_copied, left);
            pc.moved = left;
        }
        pc.at = 0;
        pc.have = left;
    }
    if (pc.need <= pc.rx.size()) return;
    if (pc.mode == pool_conn::rx_mode::reply) {
        // Past kGrowFirst rx grows only once full (a short read leaves room to fill first).
        if (pc.rx.size() < kGrowFirst || pc.have == pc.rx.size()) pool_rx_grow(pc);
    } else {
        pc.skip = pc.need - pc.have;
        pc.have = 0;
    }
}

// An awaited reply's header is in: take its declared length from the budget of bytes held,
// or refuse it (read past and dropped; its call answered 'qgate: busy in pool_act).
void pool_links::pool_hold(pool_conn& pc) {
    if (e_.held_.take(pc.need)) {
        pc.held = pc.need;
        return;
    }
    bump(e_.ctr_.request_held_refused);
    pc.mode = pool_conn::rx_mode::refused;
}

// An awaited reply longer than rx: a bigger buffer, with the bytes already read copied over
// (a reply's bytes are copied once while warming up; one past kKeepBytesMax, whose buffer is
// cached, not kept, pays for its first read). A cached buffer that fits the whole frame is
// taken when there is one (memory already held: the steady state of big replies, big_bufs.h);
// else rx grows to at most kGrowFirst, or twice what it is, never to a length only announced
// (step 5). A big rx it replaces goes back to the cache.
void pool_links::pool_rx_grow(pool_conn& pc) {
    frame_buf bigger = e_.bigs_.take_cached(rx_capacity(pc.need));
    if (bigger.capacity() == 0) {
        const uint64_t twice = 2 * pc.rx.size();
        const uint64_t step = twice > kGrowFirst ? twice : kGrowFirst;
        bigger = e_.bigs_.take(rx_capacity(pc.need < step ? pc.need : step));
    }
    bigger.resize(bigger.capacity());  // all room, as rx always is; default-initialised
    std::memcpy(bigger.data(), pc.rx.data(), pc.have);
    pc.rx.swap(bigger);
    // A big rx that was a step of this frame's growth is no use to the next frame: freed.
    if (pc.have > 0 && bigger.capacity() >= kGrowFirst) frame_buf().swap(bigger);
    e_.bigs_.give(bigger);
    pc.moved = pc.have;  // every byte of the frame so far is now a copy
    bump(e_.ctr_.reply_bytes_copied, pc.have);
}

// The frame at rx[at, at + need) is whole, or was read past in chunks: hand it over or act
// on it.
void pool_links::pool_frame_done(session& ss) {
    pool_conn& pc = ss.pc;
    const bool in_rx = pc.skip == 0 && pc.have - pc.at >= pc.need;
    if (pc.mode == pool_conn::rx_mode::reply) {
        // Frame lengths: only a whole reply goes to the call's slot; a torn one would reach
        // the client as its answer. This link fails instead (its calls: 'disconnected).
        if (!QGATE_CHECK(e_.ctr_, pc.await != nullptr && in_rx)) return pool_failed(ss);
        pool_take_reply(ss);
        pool_act(ss, false);
        return;
    }
    // The order query's answer: the boolean atom 1b (type -1, then the byte).
    const uint8_t* f = pc.rx.data() + pc.at;
    const bool in_order = in_rx && pc.need == qipc::kHeaderSize + 2 && f[8] == 0xff && f[9] == 1;
    if (in_rx) {
        pool_next_frame(pc);
    } else {
        pc.need = pc.moved = 0;  // dropped: nothing of it is in rx
    }
    pool_act(ss, in_order);
}

// What a frame means, once it is out of the way (taken, read past, or dropped).
void pool_links::pool_act(session& ss, bool in_order) {
    pool_conn& pc = ss.pc;
    switch (pc.mode) {
    case pool_conn::rx_mode::stray: return;
    case pool_conn::rx_mode::callback:
        pool_push(ss, kCallbackReply.frame, sizeof kCallbackReply.frame);
        return;
    case pool_conn::rx_mode::probe: probe_answered(ss, in_order); return;
    case pool_conn::rx_mode::refused: pool_refused(ss); return;
    case pool_conn::rx_mode::discard: bump(e_.ctr_.request_late_replies); [[fallthrough]];
    case pool_conn::rx_mode::reply: pool_answered(ss); return;
    }
}

// The awaited reply was refused (pool_hold) and is read past: its call gets 'qgate: busy.
void pool_links::pool_refused(session& ss) {
    frame_buf& rep = ss.pc.await->rep;
    rep.resize(qipc::error_message_size(kBusyText));
    qipc::write_error_message(kBusyText, qipc::msg_type::response, {rep.data(), rep.size()});
    pool_answered(ss);
}

// Parsing moves on to the frame behind this one; an empty rx starts again at its front.
void pool_links::pool_next_frame(pool_conn& pc) {
    pc.at += pc.need;
    pc.need = 0;
    pc.moved = 0;
    if (pc.at == pc.have) pc.at = pc.have = 0;
}

// The awaited reply is whole at rx[at, at + need). All the read brought: the slot takes rx
// itself (a pointer swap) and gives its previous buffer as the next rx. More behind it: it is
// copied into the slot's buffer (capacity reused) and parsing goes on in rx.
void pool_links::pool_take_reply(session& ss) {
    pool_conn& pc = ss.pc;
    frame_buf& rep = pc.await->rep;
    pc.await->held += pc.held;  // the slot holds the reply's budget now
    pc.held = 0;
    if (pc.at == 0 && pc.have == pc.need) {
        std::swap(pc.rx, rep);
        rx_reset(pc.rx, kRxMin);
        // `moved` may cover more than this frame (several messages read behind the last one).
        const uint64_t copied = pc.moved < pc.need ? pc.moved : pc.need;
        bump(e_.ctr_.reply_bytes_received_direct, pc.need - copied);
        rep.resize(pc.need);
        pc.at = pc.have = pc.need = pc.moved = 0;
    } else {
        e_.bigs_.fit(rep, pc.need);  // capacity reused; a big one from the shard's cache
        std::memcpy(rep.data(), pc.rx.data() + pc.at, pc.need);
        bump(e_.ctr_.reply_bytes_copied, pc.need);
        pool_next_frame(pc);
    }
    // A q error answered (.qgate.backends[] errors): an uncompressed reply whose object is -128.
    constexpr uint8_t kErrorType = 0x80;
    if (rep.size() > qipc::kHeaderSize && rep[2] == 0 && rep[qipc::kHeaderSize] == kErrorType) {
        bump(e_.meter(pc.backend).errors);
    }
}

}  // namespace qgate::proxy

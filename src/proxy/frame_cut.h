// Splits a q-IPC byte stream into frames for request mode, where (unlike session mode's
// cut-through framer) each frame has to be handled whole: a client's call is classified and
// routed on its own, a backend's response goes to the one request it answers. The cutter keeps
// only the 8 header bytes and the body bytes still to come; the caller copies body bytes where
// they belong. Dependency-light, no allocation.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qgate/qipc/frame.h"

namespace qgate::proxy {

struct frame_cut {
    uint8_t hdr[qipc::kHeaderSize] = {};
    uint8_t have = 0;   ///< header bytes collected
    uint64_t left = 0;  ///< body bytes still to come
    qipc::frame_header h;

    bool at_boundary() const { return have == 0 && left == 0; }
};

inline constexpr int64_t kCutFailed = -1;

/// Feeds up to `n` bytes. Before each new frame more() may say "not now" (the caller keeps the
/// rest and feeds it again later). For each frame: header(h) once its 8 bytes are in (false:
/// stop, e.g. the connection was closed), body(p, len) for each run of body bytes, end() after
/// its last byte. Returns the bytes consumed, or kCutFailed on a malformed header (the stream
/// cannot be resynchronised) or when header() said stop.
template <typename M, typename H, typename B, typename E>
int64_t cut_frames(frame_cut& c, const uint8_t* p, size_t n, const qipc::header_limits& lim,
                   M&& more, H&& header, B&& body, E&& end) {
    const size_t total = n;
    while (n > 0) {
        if (c.at_boundary() && !more()) break;
        if (c.left == 0) {
            const size_t take = qipc::kHeaderSize - c.have < n ? qipc::kHeaderSize - c.have : n;
            for (size_t i = 0; i < take; ++i) c.hdr[c.have + i] = p[i];
            c.have = static_cast<uint8_t>(c.have + take);
            p += take;
            n -= take;
            if (c.have < qipc::kHeaderSize) break;
            if (!qipc::parse_header({c.hdr, qipc::kHeaderSize}, c.h, lim)) return kCutFailed;
            c.have = 0;
            c.left = c.h.body_length();
            if (!header(c.h)) return kCutFailed;
            if (c.left == 0) end();
            continue;
        }
        const size_t take = c.left < n ? static_cast<size_t>(c.left) : n;
        c.left -= take;
        body(p, take);
        p += take;
        n -= take;
        if (c.left == 0) end();
    }
    return static_cast<int64_t>(total - n);
}

}  // namespace qgate::proxy

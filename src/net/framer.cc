// Stream framer; see framer.h. Any thread, no allocation, O(headers) per buffer: bodies are
// skipped by arithmetic, never touched.

#include "net/framer.h"

#include <cstring>

namespace qgate::net {

qipc::status framer::take_header(const uint8_t* h, const qipc::header_limits& lim,
                                 frame_counts& c) {
    qipc::frame_header fh;
    qipc::status st = qipc::parse_header({h, qipc::kHeaderSize}, fh, lim);
    if (!st) return st;
    left_ = fh.body_length();
    sync_ = fh.type == qipc::msg_type::sync;
    ++c.frames;
    switch (fh.type) {
    case qipc::msg_type::sync: ++c.sync; break;
    case qipc::msg_type::async: ++c.async; break;
    case qipc::msg_type::response: ++c.response; break;
    }
    return {};
}

qipc::status framer::feed(const uint8_t* p, size_t n, const qipc::header_limits& lim,
                          frame_counts& c) {
    const uint8_t* const start = p;
    while (n > 0) {
        if (left_ > 0) {
            const size_t k = left_ < n ? static_cast<size_t>(left_) : n;
            left_ -= k;
            p += k;
            n -= k;
            continue;
        }
        if (have_ == 0 && n >= qipc::kHeaderSize) {  // fast path: header within this buffer
            qipc::status st = take_header(p, lim, c);
            if (!st) {
                bad_at_ = static_cast<size_t>(p - start);
                return st;
            }
            p += qipc::kHeaderSize;
            n -= qipc::kHeaderSize;
            continue;
        }
        const size_t k = qipc::kHeaderSize - have_ < n ? qipc::kHeaderSize - have_ : n;
        std::memcpy(hdr_ + have_, p, k);
        have_ = static_cast<uint8_t>(have_ + k);
        p += k;
        n -= k;
        if (have_ == qipc::kHeaderSize) {
            have_ = 0;
            qipc::status st = take_header(hdr_, lim, c);
            // A header completed here had begun in an earlier buffer (one that starts in this
            // buffer with 8 bytes in it takes the path above): its first bytes are gone.
            if (!st) {
                bad_at_ = kSplit;
                return st;
            }
        }
    }
    return {};
}

}  // namespace qgate::net

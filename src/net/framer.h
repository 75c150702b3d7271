// A cheap q-IPC framer for forwarded byte streams: it finds every 8-byte header (which may be
// split across receive buffers), validates it with qipc::parse_header and skips the body
// without looking at it. It never buffers more than the 8 header bytes, so forwarding stays
// cut-through however large the message. Used on both directions of a session: the client
// side to reject malformed frames and count sync requests, the backend side to count
// responses (outstanding sync = client syncs - backend responses) and to know whether the
// stream stands at a message boundary (only then can qgate append an error frame of its own).
#pragma once

#include <cstddef>
#include <cstdint>

#include "qgate/qipc/frame.h"

namespace qgate::net {

struct frame_counts {
    uint32_t frames = 0;    ///< headers completed
    uint32_t sync = 0;
    uint32_t async = 0;
    uint32_t response = 0;
};

class framer {
  public:
    /// Consumes `n` bytes; adds what it saw to `c`. On a malformed header returns its status
    /// and the framer must not be fed again.
    qipc::status feed(const uint8_t* p, size_t n, const qipc::header_limits& lim, frame_counts& c);
    /// True between messages (no partial header or body outstanding).
    bool at_boundary() const { return have_ == 0 && left_ == 0; }
    uint64_t body_left() const { return left_; }
    /// Inside a sync call: its header counted, some of its body still to come.
    bool in_sync() const { return left_ > 0 && sync_; }
    /// After feed failed: bytes of that buffer before the bad header, which are whole frames
    /// (or the end of one), or kSplit when the bad header began in an earlier buffer.
    size_t bad_offset() const { return bad_at_; }
    static constexpr size_t kSplit = SIZE_MAX;

  private:
    qipc::status take_header(const uint8_t* h, const qipc::header_limits& lim, frame_counts& c);

    uint8_t hdr_[qipc::kHeaderSize] = {};
    uint8_t have_ = 0;   ///< header bytes collected so far
    bool sync_ = false;  ///< the message being skipped is a sync call
    uint64_t left_ = 0;  ///< body bytes still to skip
    size_t bad_at_ = 0;  ///< see bad_offset()
};

}  // namespace qgate::net

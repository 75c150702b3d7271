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

  private:
    qipc::status take_header(const uint8_t* h, const qipc::header_limits& lim, frame_counts& c);

    uint8_t hdr_[qipc::kHeaderSize] = {};
    uint8_t have_ = 0;   ///< header bytes collected so far
    uint64_t left_ = 0;  ///< body bytes still to skip
};

}  // namespace qgate::net

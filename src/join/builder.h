// Internal: assembles a join_output as a frame header plus a sequence of pieces, each either
// new bytes written into the small `meta` buffer or a reference to bytes owned elsewhere (a
// partial reply, an envelope item). Adjacent meta writes share one iovec.
//
// `meta` is sized once, up front, to the caller's exact upper bound and never reallocated, so
// iovecs into it stay valid; a write past the bound is a bug in that bound and fails the build
// (ok() false, reported as bad_partial by finish()).
#pragma once

#include <cstdint>
#include <span>

#include "qgate/join.h"
#include "qgate/qipc/frame.h"
#include "qgate/qipc/walker.h"

namespace qgate::join::detail {

/// Bytes of a vector or general-list head: type, attribute, 4-byte count.
inline constexpr uint64_t kHeadSize = 6;

class builder {
  public:
    /// `meta_max` excludes the 8-byte frame header; `iov_max` bounds the iovec count.
    builder(join_output& out, uint64_t meta_max, uint64_t iov_max);

    /// Appends `n` new bytes to meta; nullptr when the bound is exceeded.
    uint8_t* put(uint64_t n);
    void u8(uint8_t v);
    /// Type, attribute and a little-endian 4-byte count.
    void head(int8_t type, uint8_t attr, uint64_t count);
    /// References bytes owned elsewhere (no copy). Empty spans are skipped.
    void ref(std::span<const uint8_t> bytes);
    /// Writes the envelope's list head and items (when there is an envelope).
    void envelope(std::span<const std::span<const uint8_t>> items);

    /// Writes the frame header and fixes the totals. `le` is the header's byte order.
    join_error finish(qipc::msg_type type, uint64_t length_max, bool le = true);

  private:
    join_output& out_;
    uint64_t meta_used_ = qipc::kHeaderSize;
    bool last_is_meta_ = true;  // iov.back() is the latest meta piece (starts with the header)
    bool ok_ = true;
};

/// Meta bytes the envelope costs (its list head), 0 without one.
inline uint64_t envelope_meta(std::span<const std::span<const uint8_t>> items) {
    return items.empty() ? 0 : kHeadSize;
}

/// Walk limits for a part the output nests `extra` levels deeper than it lies in its own
/// reply (a list item: 1, an envelope: 1 more, a table column: 3), so that the joined message
/// still validates under the default limit that qgate (and a careful client) parses with.
inline qipc::walk_limits nested_limits(uint64_t extra) {
    qipc::walk_limits l;
    l.depth_max = l.depth_max > extra ? static_cast<uint32_t>(l.depth_max - extra) : 0;
    return l;
}

/// Nesting the envelope adds: its general list.
inline uint64_t envelope_depth(std::span<const std::span<const uint8_t>> items) {
    return items.empty() ? 0 : 1;
}

}  // namespace qgate::join::detail

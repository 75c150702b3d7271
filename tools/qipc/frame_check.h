// Whole-frame validation shared by `qipc check` and `qipc decode`.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "qgate/qipc/frame.h"

namespace qgate::tools {

/// The tool holds whole frames in memory; it refuses anything declaring more than this (1 GiB),
/// compressed or not, so a hostile length cannot make it allocate without bound.
inline constexpr uint64_t kToolLengthMax = uint64_t{1} << 30;

struct checked_frame {
    qipc::frame_header header;   ///< as on the wire (compressed flag and wire length)
    std::vector<uint8_t> plain;  ///< the whole plain message, decompressed if it was compressed
};

/// Validates header, declared length against the bytes present, decompression and the body
/// walk. On failure returns false with `problem` = "<errc name> at byte N: what is wrong".
bool check_frame(std::span<const uint8_t> msg, checked_frame& out, std::string& problem);

}  // namespace qgate::tools

// The join layer's types (include/qgate/join.h has the functions): what the engine embeds in
// a fan-out request (gather, reply_plan) and what a join produces (join_output). Only standard
// headers and qipc/types.h, so it can be included anywhere (STYLE rule 2).
#pragma once

#include <sys/uio.h>

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "qgate/qipc/types.h"

namespace qgate::join {

/// Most parts one fan-out may have (one per group).
inline constexpr uint32_t kPartsMax = 32;
/// Largest joined reply: q below capability 5 answers `'limit` past 2 GB; qgate does too.
inline constexpr uint64_t kJoinLengthMax = 0x7fffffff;
/// TorQ's `.gw.errorprefix`.
inline constexpr std::string_view kErrorPrefix = "error: ";
/// TorQ's timeout text (after the prefix).
inline constexpr std::string_view kTimeoutText = "query has exceeded specified timeout value";
/// An asyncexecjpt argument qgate cannot use (after the prefix), naming it and what it takes.
inline constexpr std::string_view kBadTimeoutText =
    "qgate: .gw.asyncexecjpt timeout must be a timespan, minute, second or time "
    "(0D00:00:05), or 0Wn / () for none";
inline constexpr std::string_view kBadPostbackText =
    "qgate: .gw.asyncexecjpt postback must be a function name, a lambda or a list (f;args), "
    "or () for none";

/// One partial reply, ready to join: a plain (decompressed) body.
struct part_view {
    std::span<const uint8_t> body;
    bool little_endian = true;
};

/// State machine of one fan-out:
///   waiting --deliver(all N ok)--> complete
///   waiting --deliver(q error) / deliver(malformed) / lost()--> failed   (first error wins)
///   waiting --tick(now >= deadline)--> timed_out
/// complete / failed / timed_out are final; later deliveries are counted in discarded() and
/// their buffers may be released by the caller at once.
enum class gather_status : uint8_t { idle = 0, waiting, complete, failed, timed_out };

/// Why a gather failed.
enum class fail_reason : uint8_t { none = 0, q_error, bad_reply, backend_lost, timeout };

class gather {
  public:
    /// Arms the gather for `parts` replies (1..kPartsMax). `deadline_ms` is on the caller's
    /// clock; -1 means none. False (and idle) on a bad part count.
    /// A compressed part declaring more than `inflate` allows fails it (inflate_refused()).
    bool start(uint32_t parts, int64_t deadline_ms = -1, uint64_t length_max = kJoinLengthMax,
               qipc::inflate_limits inflate = {kJoinLengthMax, 0});
    /// Hands over part `i`'s whole reply message (header + body, possibly compressed). The
    /// bytes must stay valid until the join's output is sent. A q error (-128) body fails the
    /// gather with its text; a malformed or non-response message fails it with a qgate text.
    gather_status deliver(uint32_t i, std::span<const uint8_t> msg);
    /// Part `i`'s backend failed mid-query (connection lost, cancelled): fails with `why`.
    gather_status lost(uint32_t i, std::string_view why);
    /// Times the gather out when `now_ms` has reached the deadline.
    gather_status tick(int64_t now_ms);

    gather_status status() const { return status_; }
    fail_reason reason() const { return reason_; }
    /// Error text (failed / timed_out): the backend's q error (cut at 256 bytes), a qgate text,
    /// or kTimeoutText.
    std::string_view error() const { return {err_.data(), err_len_}; }
    /// Part that failed the gather (failed only).
    uint32_t failed_part() const { return failed_part_; }
    uint32_t parts() const { return parts_; }
    uint32_t arrived() const { return arrived_; }
    /// Replies ignored: after the outcome was decided, duplicates, or out of range.
    uint32_t discarded() const { return discarded_; }
    /// Bytes produced by decompressing compressed partials (owned by this gather).
    uint64_t decompressed_bytes() const { return decompressed_bytes_; }
    /// Compressed parts refused unread: past the inflate limits given to start().
    uint32_t inflate_refused() const { return inflate_refused_; }
    /// The plain bodies in part order (valid when complete).
    std::span<const part_view> bodies() const { return {views_.data(), parts_}; }

  private:
    gather_status fail(uint32_t i, fail_reason r, std::string_view text);
    bool plain_body(uint32_t i, std::span<const uint8_t> msg, std::string_view& why);

    std::array<part_view, kPartsMax> views_{};
    std::array<std::vector<uint8_t>, kPartsMax> owned_{};  // decompressed partials only
    uint64_t arrived_mask_ = 0;
    int64_t deadline_ms_ = -1;
    uint64_t length_max_ = kJoinLengthMax;
    qipc::inflate_limits inflate_{kJoinLengthMax, 0};
    uint64_t decompressed_bytes_ = 0;
    uint32_t parts_ = 0;
    uint32_t arrived_ = 0;
    uint32_t discarded_ = 0;
    uint32_t inflate_refused_ = 0;
    uint32_t failed_part_ = 0;
    gather_status status_ = gather_status::idle;
    fail_reason reason_ = fail_reason::none;
    uint16_t err_len_ = 0;
    std::array<char, 256> err_{};
};

enum class join_kind : uint8_t { raze = 0, list, first, custom };

/// What raze produced.
enum class raze_shape : uint8_t { none = 0, table, vector, list_concat, mixed, general };

/// Why a join could not be built. Texts (join_error_text) are q's where q has one.
enum class join_error : uint8_t {
    ok = 0,
    mismatch,     ///< raze of tables whose column names differ (q: 'mismatch)
    type,         ///< raze of tables whose column types differ (q would build a mixed column)
    limit,        ///< joined reply over the length limit (q: 'limit)
    big_endian,   ///< a big-endian partial (only `first` passes one through)
    bad_partial,  ///< a partial that is not a valid q object
    too_many,     ///< too many parts or envelope items
    no_parts,
};

struct join_options {
    qipc::msg_type type = qipc::msg_type::response;
    uint64_t length_max = kJoinLengthMax;
    /// Items written before the joined value, which becomes the last item of a general list:
    /// TorQ's postback `(postback; query; result)` and the reducer's `(join; results)`. Each
    /// span is one complete little-endian encoded object and must outlive the output.
    std::span<const std::span<const uint8_t>> envelope{};
};

/// The joined reply as gathered pieces: iov[0] starts with the 8-byte frame header. After a
/// failed join only error_part / error_column are meaningful (the rest may be stale).
struct join_output {
    std::vector<uint8_t> meta;   ///< frame header and the new list/table/column heads
    std::vector<iovec> iov;      ///< meta pieces and references into the partial buffers
    std::vector<uint8_t> owned;  ///< the compressed frame, when compressed
    uint64_t total_bytes = 0;    ///< frame length: the sum of the iov lengths
    uint64_t referenced_bytes = 0;     ///< bytes the iovecs reference in the partials
    uint64_t column_bytes_copied = 0;  ///< partial bytes copied in user space (0 unless compressed)
    raze_shape shape = raze_shape::none;
    bool compressed = false;
    uint32_t error_part = 0;    ///< part that caused the error, when there is one
    uint32_t error_column = 0;  ///< column index for mismatch / type
};

/// What the engine needs to answer a `.gw.*` call or a plain fan-out route.
struct reply_plan {
    join_kind kind = join_kind::raze;
    bool torq = false;     ///< a `.gw.*` call: TorQ's texts; else q's (first error as is)
    bool sync = true;      ///< answer with a response (q errors); else async (`error: ` strings)
    bool reply = true;     ///< false for a plain async fan-out: q answers nothing, so neither do we
    int64_t timeout_ms = -1;  ///< asyncexecjpt's timeout; -1 none
    uint32_t envelope_count = 0;  ///< postback items before the result
    std::array<std::span<const uint8_t>, 8> envelope{};
    std::span<const std::span<const uint8_t>> envelope_items() const {
        return {envelope.data(), envelope_count};
    }
    /// join_options for run_join: the reply's message type and the postback envelope.
    join_options options() const;
};

}  // namespace qgate::join

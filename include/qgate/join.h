// Fan-out joins (DESIGN §6, issue 6): gather N partial replies, join them without copying the
// column bytes, and build TorQ's error and postback replies. Pure logic over bytes: no I/O, no
// threads, no locks, no exceptions. Allocation happens only per join (the decompression buffer
// of a compressed partial, the joined reply's small metadata buffer and iovec list).
//
// Ownership: a join_output's iovecs point into (a) its own `meta`/`owned` buffers and (b) the
// partial reply buffers handed to gather::deliver, plus any envelope spans. Those buffers must
// stay alive and unchanged until the joined reply has been sent (see src/join/README.md).
#pragma once

#include <sys/uio.h>

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "qgate/qipc/types.h"
#include "qgate/route/classify.h"

namespace qgate::join {

/// Most parts one fan-out may have (one per group).
inline constexpr uint32_t kPartsMax = 32;
/// Largest joined reply: q below capability 5 answers `'limit` past 2 GB; qgate does too.
inline constexpr uint64_t kJoinLengthMax = 0x7fffffff;
/// TorQ's `.gw.errorprefix`.
inline constexpr std::string_view kErrorPrefix = "error: ";
/// TorQ's timeout text (after the prefix).
inline constexpr std::string_view kTimeoutText = "query has exceeded specified timeout value";

// ---------------------------------------------------------------------------------------------
// Gathering partial replies

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
    bool start(uint32_t parts, int64_t deadline_ms = -1, uint64_t length_max = kJoinLengthMax);
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
    /// Error text (failed / timed_out): the backend's q error, a qgate text, or kTimeoutText.
    std::string_view error() const { return {err_.data(), err_len_}; }
    /// Part that failed the gather (failed only).
    uint32_t failed_part() const { return failed_part_; }
    uint32_t parts() const { return parts_; }
    uint32_t arrived() const { return arrived_; }
    /// Replies ignored: after the outcome was decided, duplicates, or out of range.
    uint32_t discarded() const { return discarded_; }
    /// Bytes produced by decompressing compressed partials (owned by this gather).
    uint64_t decompressed_bytes() const { return decompressed_bytes_; }
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
    uint64_t decompressed_bytes_ = 0;
    uint32_t parts_ = 0;
    uint32_t arrived_ = 0;
    uint32_t discarded_ = 0;
    uint32_t failed_part_ = 0;
    gather_status status_ = gather_status::idle;
    fail_reason reason_ = fail_reason::none;
    uint16_t err_len_ = 0;
    std::array<char, 256> err_{};
};

// ---------------------------------------------------------------------------------------------
// Joining

enum class join_kind : uint8_t { raze = 0, list, first, custom };

/// Config-level join names: "raze", "list", "first"; anything else is custom (a q name).
join_kind join_kind_of(std::string_view name);
/// The join argument of a `.gw.*` call: the primitive `raze` (6b 66 0c), `raze / `first
/// (symbol, or the text "raze" / "first") are built in; anything else goes to the reducer.
/// An absent argument (syncexec, asyncexec) is raze, as in TorQ.
join_kind join_kind_of(const route::arg_view& join);

/// What raze produced.
enum class raze_shape : uint8_t { none = 0, table, vector, list_concat, general };

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
const char* join_error_text(join_error e);

struct join_options {
    qipc::msg_type type = qipc::msg_type::response;
    uint64_t length_max = kJoinLengthMax;
    /// Items written before the joined value, which becomes the last item of a general list:
    /// TorQ's postback `(postback; query; result)` and the reducer's `(join; results)`. Each
    /// span is one complete little-endian encoded object and must outlive the output.
    std::span<const std::span<const uint8_t>> envelope{};
};

/// The joined reply as gathered pieces: iov[0] starts with the 8-byte frame header.
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

/// Builds the joined reply of `parts` (all successful) with a built-in join.
join_error run_join(join_kind kind, std::span<const part_view> parts, const join_options& opt,
                    join_output& out);
join_error raze(std::span<const part_view> parts, const join_options& opt, join_output& out);
join_error list(std::span<const part_view> parts, const join_options& opt, join_output& out);
join_error first(std::span<const part_view> parts, const join_options& opt, join_output& out);

/// q compresses a message it sends when it is over 2000 bytes and the peer is not local (and
/// the result saves at least half; compress() decides that part).
bool q_would_compress(uint64_t total_bytes, bool peer_local);
/// Compresses `out` when q would (byte-identical to q). This copies the gathered bytes once into
/// a contiguous buffer (counted in column_bytes_copied): the only copying path. Returns true
/// when the output is now one compressed iovec into `out.owned`.
bool compress_if_q_would(join_output& out, bool peer_local);

/// Copies the gathered bytes into one contiguous message (tests, small replies).
std::vector<uint8_t> flatten(const join_output& out);

// ---------------------------------------------------------------------------------------------
// TorQ replies and the reducer request

/// TorQ's texts, written into `out` (cut to fit); each returns the text written.
std::string_view missing_types_text(std::span<const std::string_view> missing, std::span<char> out);
/// `failed to apply supplied join function to results: E` (sync) or `failed to apply join
/// function to result sets: E` (async), as TorQ words them.
std::string_view join_failed_text(std::string_view err, bool sync, std::span<char> out);
/// `backend T server handling query closed the connection`.
std::string_view backend_closed_text(std::string_view servertype, std::span<char> out);

/// Encodes a text argument of a string-form call as an object: `{...}` → lambda (root
/// context; q compiles the source on receipt), `name or name → symbol, else a char vector.
/// Returns bytes written into `out` (0 when it does not fit).
uint64_t encode_callable_text(std::string_view text, std::span<uint8_t> out);

/// False for TorQ's "no postback": `()`, or `` ` `` / `::` (later TorQ versions); also
/// false for an absent argument.
bool has_postback(const route::arg_view& postback);

/// TorQ's postback envelope `postback,(enlist query),enlist result`: a symbol or lambda
/// postback is one item; a general-list postback (`({[a;b;q;r]...};`a;`b)`) is spliced. Text
/// arguments (string-form calls) are encoded into `scratch`. Returns the item count (0: none
/// or does not fit).
uint32_t postback_envelope(const route::gw_call& call, std::span<uint8_t> scratch,
                           std::span<std::span<const uint8_t>> items);

/// The reply for a failed fan-out or a refused call, per TorQ: sync → q error frame with
/// `text`; async → async char vector "error: text", wrapped in `envelope` when given (the
/// postback). Returns bytes written into `out` (0 when it does not fit).
uint64_t write_error_reply(std::string_view text, bool sync,
                           std::span<const std::span<const uint8_t>> envelope,
                           std::span<uint8_t> out);

/// The reducer request `(join; results)` as a sync message: `join` (one encoded object, e.g.
/// the lambda or symbol bytes of the client message) then a general list referencing each
/// partial body. No partial byte is copied.
join_error reducer_request(std::span<const uint8_t> join, std::span<const part_view> parts,
                           join_output& out);

// ---------------------------------------------------------------------------------------------
// How to answer a fan-out: one plan per call, made on arrival

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

/// Plans the reply of a parsed `.gw.*` call: join kind, sync or async, the postback envelope
/// (text arguments encoded into `scratch`, which must outlive the reply) and the timeout.
/// False when the timeout is not understood or the postback does not fit.
bool plan_gw(const route::gw_call& call, std::span<uint8_t> scratch, reply_plan& out);
/// Plans the reply of a plain fan-out route (`join = "..."` in the route table; empty: raze).
/// An async request gets no reply (reply = false): the engine runs the parts and drops them.
reply_plan plan_route(std::string_view join, qipc::msg_type request_type);

/// The text a failed or timed-out gather answers with (no `error: ` prefix: the reply adds
/// it). `servertype` names the failed part's group. Per plan.torq and plan.sync:
///   q error:   TorQ sync `queries failed on server(s) T.  Error(s) were E`; else E
///   lost:      TorQ `backend T server handling query closed the connection`; else the reason
///   timeout:   `query has exceeded specified timeout value`
///   bad reply: the qgate text
std::string_view failure_text(const gather& g, const reply_plan& plan,
                              std::string_view servertype, std::span<char> out);
/// The text of a join that could not be built (TorQ's join-failure wording for `.gw.*`).
std::string_view join_failure_text(join_error e, const reply_plan& plan, std::span<char> out);
/// Writes the whole error reply for `text` per the plan (write_error_reply with its envelope).
uint64_t write_plan_error(std::string_view text, const reply_plan& plan, std::span<uint8_t> out);

}  // namespace qgate::join

// Classification of a request body for routing (DESIGN §5.1, §6): message type, function name,
// argument k as a hash key, and the TorQ `.gw.*` gateway calls. Data plane: no allocation, no
// exceptions; every view points into the caller's body, which must outlive the result.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "qgate/qipc/types.h"
#include "qgate/qipc/walker.h"

namespace qgate::route {

/// The shape of the call.
enum class call_form : uint8_t {
    invalid = 0,  ///< the body is not exactly one valid q object
    list,         ///< non-empty general list: (`f;x), ("f";x), ({x+y};1;2)
    string,       ///< char vector: q source text, e.g. "getTrades[`AAPL]"
    other,        ///< anything else: lambda application, atom, dict, ...
};

/// The TorQ gateway entry points (seed 003), recognised by exact name.
enum class gw_kind : uint8_t { none = 0, syncexec, syncexecj, asyncexec, asyncexecjpt };

/// Names given to calls that have no function name of their own. Rules can match them
/// literally; `*` matches them too.
inline constexpr std::string_view kStringQueryName = "<string query>";  ///< e.g. "1+1"
inline constexpr std::string_view kLambdaName = "<lambda>";  ///< ({x+y};1;2)
inline constexpr std::string_view kOtherName = "<other>";    ///< atom, dict, invalid body

/// What the router knows about a call. Cheap to copy (views only).
struct call_info {
    qipc::msg_type type = qipc::msg_type::sync;
    call_form form = call_form::invalid;
    gw_kind gw = gw_kind::none;
    bool little_endian = true;
    /// The first list item's text when it is a symbol atom or char vector; a string's leading
    /// identifier when it reads as a call; else kLambdaName / kStringQueryName / kOtherName.
    std::string_view name = kOtherName;
    uint32_t arg_count = 0;  ///< list: items after the first; string: parts inside [...], or 1
    qipc::object_view object;            ///< the classified object (whole body)
    std::string_view args_text;          ///< string form: text inside [...] or after the space
    std::span<const uint8_t> body;       ///< the walked body, for call_arg
};

/// One argument: the encoded object (list form, forwardable byte for byte) or the q source text
/// (string form, trimmed of blanks).
struct arg_view {
    qipc::object_view object;
    std::string_view text;
    bool is_text = false;
    bool little_endian = true;
};

/// Classifies a body (the bytes after the 8-byte header, uncompressed).
call_info classify(std::span<const uint8_t> body, bool little_endian, qipc::msg_type type);
/// Classifies one object inside `w`'s body, e.g. the query of a `.gw.*` call (list form only).
call_info classify_object(const qipc::walker& w, const qipc::object_view& obj,
                          qipc::msg_type type);

/// Argument k (1-based) of a list or string call; false when absent.
bool call_arg(const call_info& call, uint32_t k, arg_view& out);
/// Bytes to hash for an argument: symbol atom / char vector / string-form `sym or "str" → text
/// (so `AAPL, "AAPL" and "f[`AAPL]" hash alike), fixed-width atom → its value bytes, anything
/// else → its encoded bytes or source text.
std::string_view hash_key(const arg_view& arg);
/// call_arg + hash_key; false when the call has no argument k.
bool call_key(const call_info& call, uint32_t k, std::string_view& key);

/// A `.gw.*` call split into its parameters. Absent parameters have empty views.
struct gw_call {
    gw_kind kind = gw_kind::none;
    arg_view query;        ///< list form: exact bytes to forward; string form: q source text
    arg_view servertypes;  ///< symbol atom / vector, or text like "`hdb`rdb"
    arg_view join;         ///< syncexecj, asyncexecjpt
    arg_view postback;     ///< asyncexecjpt
    arg_view timeout;      ///< asyncexecjpt
    /// True for syncexec / syncexecj: TorQ accepts those only as sync messages, the others only
    /// as async.
    bool expects_sync() const { return kind == gw_kind::syncexec || kind == gw_kind::syncexecj; }
};

/// Splits a `.gw.*` call (call.gw != none). False when it has the wrong number of arguments
/// (q would say 'rank) or its server types are not symbols.
bool parse_gw(const call_info& call, gw_call& out);

/// The asyncexecjpt timeout in ms: a timespan, minute, second or time atom, or its q literal
/// ("0D00:00:05", "00:00:05.500"). Nulls, infinities, negatives and () mean no timeout
/// (ms = -1). False when not understood (a number: TorQ would take it as nanoseconds).
bool gw_timeout_ms(const arg_view& timeout, int64_t& ms);
/// The longest timeout gw_timeout_ms gives (a fan-out's timer is 32-bit ms, ~49.7 days); a
/// longer one is clamped to it.
inline constexpr uint32_t kGwTimeoutMaxMs = 0xffffffffu;

/// Iterates the names of a servertypes argument without allocating: a symbol atom, a symbol
/// vector, or the text of one ("`hdb`rdb", "(`hdb;`rdb)": every `name in it).
class name_list {
  public:
    explicit name_list(const arg_view& arg);
    /// False at the end.
    bool next(std::string_view& name);
    /// False when the argument is not symbols (nothing will be yielded).
    bool valid() const { return valid_; }

  private:
    const char* pos_ = nullptr;
    const char* end_ = nullptr;
    uint64_t left_ = 0;  ///< binary form: names still to yield
    bool text_ = false;
    bool valid_ = false;
};

}  // namespace qgate::route

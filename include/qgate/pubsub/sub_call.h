// Parsing a subscriber's `.u.sub[t;s]` in every form clients send it (reference §6.1):
//   (`.u.sub;`trade;`AAPL`MSFT)     q:      h(`.u.sub;`trade;`AAPL`MSFT)
//   (".u.sub";`trade;`AAPL)         Java:   c.ks(".u.sub","trade","AAPL")
//   ".u.sub[`trade;`AAPL`MSFT]"     node-q: con.ks(".u.sub[`;`]")
//   "(.u.sub[`;`];`.u `i`L)"        kdb+tick r.q (sync; the reply carries (i;L) as well)
// Data plane: no allocation, no exceptions; views point into the caller's body.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qgate/pubsub/pubsub_types.h"
#include "qgate/qipc/types.h"
#include "qgate/qipc/walker.h"

namespace qgate::pubsub {

/// A list of names as the client wrote it: a symbol atom, a symbol vector, a general list of
/// symbol atoms and strings (sym_list), a char vector (one name), or q text (`a`b, enlist`a,
/// (`a;`b), `symbol$()).
struct name_args {
    enum class kind : uint8_t { none, sym_atom, sym_vector, sym_list, chars, text };
    kind k = kind::none;
    qipc::object_view object;  ///< binary forms
    std::string_view text;     ///< text form (already validated) or chars
    bool little_endian = true;
    /// Number of names (counts the text form's ticks; `symbol$() and () are 0).
    uint32_t count() const;
};

/// Iterates the names of a name_args without allocating. A null symbol yields "".
class name_iter {
  public:
    explicit name_iter(const name_args& a);
    name_iter(const name_iter&) = delete;  // the cursor points at this object's walker
    name_iter& operator=(const name_iter&) = delete;
    ~name_iter() = default;
    /// False at the end.
    bool next(std::string_view& name);

  private:
    const name_args* a_;
    qipc::walker w_;
    qipc::child_cursor cur_;
    const char* pos_ = nullptr;
    const char* end_ = nullptr;
    uint64_t left_ = 0;
};

/// The names as strings (control plane: subscription time, not per message).
std::vector<std::string> to_strings(const name_args& a);

/// How the call was written.
enum class sub_form : uint8_t { list, string, rdb_string };

/// A parsed `.u.sub[t;s]`.
struct sub_request {
    qipc::msg_type type = qipc::msg_type::sync;
    sub_form form = sub_form::list;
    bool all_tables = false;  ///< t is ` (every table the publisher has)
    bool all_syms = false;    ///< s is ` (every sym)
    name_args tables;         ///< when !all_tables: one table (a list is accepted as well)
    name_args syms;           ///< when !all_syms: the syms (may be empty: nothing matches)
    /// r.q's "(.u.sub[`;`];`.u `i`L)": the reply is (sub reply; (i;L)).
    bool with_log_info = false;
    /// A reply is due only for sync calls (q discards an async call's result).
    bool wants_reply() const { return type == qipc::msg_type::sync; }
};

/// True when `body` looks like a .u.sub call (cheap pre-check on the name only), so the engine
/// can tell "not a subscription" (route it normally) from "a broken subscription".
bool is_sub_call(std::span<const uint8_t> body, bool little_endian);

/// Parses a .u.sub call. Errors: malformed, not_a_call, wrong_function, rank, bad_text,
/// bad_table_arg, bad_sym_arg.
status parse_sub(std::span<const uint8_t> body, bool little_endian, qipc::msg_type type,
                 sub_request& out);

/// Validates q text naming symbols: `, `a, `a`b, enlist`a, (`a;`b), `symbol$(), (). The
/// blanks around it are ignored. `count` receives the number of names.
bool valid_name_text(std::string_view text, uint32_t& count);

}  // namespace qgate::pubsub

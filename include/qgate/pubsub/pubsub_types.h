// Dependency-free types of the pub/sub core (src/pubsub): error codes, the slow-subscriber
// policy and the per-subscriber counters. Included by the engine's per-shard state.
#pragma once

#include <cstdint>

#include "qgate/qipc/types.h"

namespace qgate::pubsub {

/// Every way a pub/sub message can be wrong or not apply. Each has a distinct name
/// (errc_name) so counters and logs say exactly what failed.
enum class errc : uint8_t {
    ok = 0,
    malformed,        ///< the body does not walk as one q object (qipc detail in status)
    not_a_call,       ///< not a non-empty general list or char vector
    wrong_function,   ///< a call, but not of the expected function (.u.sub, upd, .u.end)
    rank,             ///< wrong number of arguments (q's 'rank)
    bad_table_arg,    ///< table argument is not a symbol (or symbol list / string)
    bad_sym_arg,      ///< sym argument is not ` / a symbol / symbols / their q text
    bad_text,         ///< string form that is not `.u.sub[...]` with literal arguments
    bad_data,         ///< update data is not a table, a list of columns or a row of atoms
    ragged_columns,   ///< columns of different lengths
    no_sym_column,    ///< no column named sym (table) / sym index out of range (columns)
    sym_not_symbols,  ///< the sym column is not a symbol vector (or symbol atom in a row)
    unknown_table,    ///< the table is not in the schema store (q answers 'tablename)
    schema_mismatch,  ///< column list / row whose width differs from the stored schema's
    big_endian,       ///< re-encoding needs a little-endian body (objects are copied as is)
    no_space,         ///< caller's output buffer too small
    no_memory,        ///< allocation of an update buffer failed
};

const char* errc_name(errc e);

/// An error with the byte offset (in the inspected body) where it was found; for
/// errc::malformed, `detail` is the walker's error.
struct status {
    errc code = errc::ok;
    qipc::errc detail = qipc::errc::ok;
    uint64_t offset = 0;
    constexpr bool ok() const { return code == errc::ok; }
    constexpr explicit operator bool() const { return ok(); }
};

/// What happens when a subscriber's backlog is full (DESIGN §7, issue 7).
enum class slow_policy : uint8_t {
    disconnect = 0,  ///< drop the backlog and close the subscriber (default, like a q TP's
                     ///< subscriber eventually hitting 'wsfull, but bounded and counted)
    conflate,        ///< keep only the newest queued update per table; the subscriber loses
                     ///< intermediate updates but stays connected
};

/// Identifies a subscriber within one shard (the engine's connection id).
using subscriber_id = uint64_t;

}  // namespace qgate::pubsub

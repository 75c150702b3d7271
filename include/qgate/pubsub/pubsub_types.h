// Dependency-free types of the pub/sub core (src/pubsub): error codes, the slow-subscriber
// policy and the per-subscriber counters. Included by the engine's per-shard state.
#pragma once

#include <cstddef>
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
/// Number of errc values (for per-error counter arrays).
inline constexpr size_t kErrcCount = static_cast<size_t>(errc::no_memory) + 1;

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

/// Per-shard pub/sub counters, declared once (STYLE 15): name, then what it counts.
#define QGATE_PUBSUB_STATS(X)                                                   \
    X(sub_calls, ".u.sub calls handled")                                       \
    X(subscriptions, "table subscriptions added")                              \
    X(updates_in, "updates received from the upstream or publishers")          \
    X(encodings, "buffers encoded (per distinct filter selecting some rows)")   \
    X(encoded_bytes, "bytes of those buffers")                                 \
    X(as_received, "filters served the received bytes themselves")            \
    X(no_rows, "filters that selected nothing (nothing sent)")                 \
    X(deliveries, "updates queued on subscriber backlogs")                     \
    X(backlog_overflows, "pushes that found a backlog full")                   \
    X(conflated, "queued updates dropped by conflation")                       \
    X(slow_disconnects, "subscribers closed by the disconnect policy")         \
    X(ends, ".u.end messages sent")

/// One shard's counters: plain integers written by the shard, read by the admin aggregator.
struct pubsub_stats {
#define QGATE_PUBSUB_FIELD(name, help) uint64_t name = 0;
    QGATE_PUBSUB_STATS(QGATE_PUBSUB_FIELD)
#undef QGATE_PUBSUB_FIELD
    uint64_t errors[kErrcCount] = {};  ///< by errc (errors[0], ok, stays 0)
    void count(errc e) {
        if (e != errc::ok) ++errors[static_cast<size_t>(e)];
    }
};

}  // namespace qgate::pubsub

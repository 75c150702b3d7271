// Parsing an incoming update (reference §6.2): what a subscriber-side qgate receives from an
// upstream tickerplant, `(`upd;`trade;table)`, and what a feed handler sends a tickerplant,
// `(".u.upd";`trade;(col1;col2;…))` or one row of atoms. Locates the sym column and counts
// rows. Data plane: one validating walk, no allocation; views point into the caller's body.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "qgate/pubsub/pubsub_types.h"
#include "qgate/qipc/walker.h"

namespace qgate::pubsub {

/// How the rows are laid out in the data argument.
enum class data_shape : uint8_t {
    table,    ///< a table (98): column names travel with the data
    columns,  ///< a general list of equal-length column vectors / lists (feed → TP)
    row,      ///< a general list whose first item is an atom: one row (tick.q's test)
};

/// Which function the update calls.
enum class upd_kind : uint8_t { upd, u_upd };  ///< `upd (TP → subscriber), .u.upd (feed → TP)

struct update_view {
    upd_kind kind = upd_kind::upd;
    data_shape shape = data_shape::table;
    bool little_endian = true;
    std::string_view table;        ///< table name
    qipc::object_view table_sym;   ///< the table-name symbol atom, as received
    qipc::object_view data;        ///< the data argument, as received
    qipc::object_view names;       ///< table shape: its column-name symbol vector
    qipc::object_view columns;     ///< general list holding the columns (or the row's atoms)
    uint32_t column_count = 0;
    uint32_t sym_column = 0;       ///< index of the sym column among the columns
    uint64_t rows = 0;             ///< rows (1 for the row shape)
    qipc::object_view sym;         ///< the sym column (symbol vector; symbol atom for a row)
    std::span<const uint8_t> body; ///< the walked body
    /// A .u.upd column list or row one column narrower than the known schema whose first
    /// column is not timespans: a tickerplant adds the time column (publish_ctx::add_time,
    /// tick.q's .u.upd). sym_column is already the index within the data.
    bool time_missing = false;
    /// The body is exactly `(`upd;`t;table)` (either byte order): subscribers of all syms get the
    /// received message itself, byte for byte.
    bool forwardable = false;
};

/// Where the sym column is when the data carries no column names (columns / row shapes): the
/// schema's sym index when the table is known, else kdb+tick's layout (time, sym, ...) → 1.
inline constexpr uint32_t kDefaultSymColumn = 1;

class schema_store;

/// Parses an update body. A table's sym column is found by name; for the columns / row shapes
/// it is the stored schema's sym column when `schemas` knows the table, else
/// kDefaultSymColumn. Errors: malformed, not_a_call, wrong_function, rank, bad_table_arg,
/// bad_data, ragged_columns, no_sym_column, sym_not_symbols.
status parse_update(std::span<const uint8_t> body, bool little_endian, update_view& out,
                    const schema_store* schemas = nullptr);

/// True when the body is a call of `upd` or `.u.upd` (name check only, for dispatch).
bool is_update_call(std::span<const uint8_t> body, bool little_endian);

}  // namespace qgate::pubsub

// The tables a publisher has and their empty schemas, the reply q's tickerplant sends to
// `.u.sub` built from them, and `.u.end`. The store is control-plane state: loaded from the
// upstream's own `.u.sub` reply (or learnt from a publisher's first update), then read-only on
// the shards (publish it by snapshot, like the config).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qgate/pubsub/pubsub_types.h"
#include "qgate/pubsub/sub_call.h"
#include "qgate/pubsub/update.h"

namespace qgate::pubsub {

class schema_store {
  public:
    /// Replaces the store with the tables of a tickerplant's `.u.sub` reply body: one
    /// `(t;schema)` pair, a list of them (`.u.sub[`;`]`), or r.q's `(pairs;(i;L))`.
    status load_sub_reply(std::span<const uint8_t> body, bool little_endian);
    /// Adds or replaces a table from its schema: an encoded (usually empty) table object.
    status add(std::string_view name, std::span<const uint8_t> table_object,
               bool little_endian = true);
    /// Adds the schema of an update's table when it is not known yet: `0#` of its columns,
    /// with `g# on sym as a tickerplant does (publishers calling .u.upd directly). Needs the
    /// column names, so only for the table shape or when the table is already known.
    status learn(const update_view& u);

    /// Table id (insertion order), or -1.
    int32_t find(std::string_view name) const;
    uint32_t size() const { return static_cast<uint32_t>(tables_.size()); }
    std::string_view name(uint32_t id) const { return tables_[id].name; }
    /// The schema table object, little-endian, as it goes into the .u.sub reply.
    std::span<const uint8_t> schema(uint32_t id) const { return tables_[id].schema; }
    /// The column-name symbol vector inside schema(id) (for tabling a list of columns).
    std::span<const uint8_t> column_names(uint32_t id) const;
    uint32_t sym_column(uint32_t id) const { return tables_[id].sym_column; }

  private:
    struct table {
        std::string name;
        std::vector<uint8_t> schema;
        uint32_t names_offset = 0;  ///< column-name vector within schema
        uint32_t names_size = 0;
        uint32_t sym_column = kDefaultSymColumn;
    };
    status load_pair(const qipc::walker& w, const qipc::object_view& pair);
    std::vector<table> tables_;
};

/// The reply to a sync `.u.sub` (response message, header included), as u.q's `add` builds it:
/// `(t;schema)` for one table, a list of those for ` (every table, store order) or a table
/// list; r.q's form gets `(that;(0N;`))` — a null count, so r.q skips the log replay.
/// Error unknown_table (`missing` = the name; q answers 'name) when a table is not stored.
status build_sub_reply(const schema_store& s, const sub_request& r, std::vector<uint8_t>& out,
                       std::string_view& missing);

/// The async `(`.u.end;d)` message (header included); `date` is days since 2000.01.01.
inline constexpr uint64_t kEndMessageSize = 8 + 6 + 8 + 5;
/// Writes it into `out`; returns kEndMessageSize, or 0 when `out` is too small.
uint64_t write_end_message(int32_t date, std::span<uint8_t> out);
/// Parses an upstream's `(`.u.end;d)` (name as symbol or string) and returns its date.
/// Errors: malformed, not_a_call, wrong_function, rank, bad_data (d is not a date atom).
status parse_end(std::span<const uint8_t> body, bool little_endian, int32_t& date);

}  // namespace qgate::pubsub

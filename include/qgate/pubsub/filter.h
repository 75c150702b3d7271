// Sym filters and the single serialisation of an update per distinct filter (DESIGN §7):
// select the rows whose sym is in the filter, then write `(`upd;`t;table)` with exactly those
// rows into one exact-size buffer. The unfiltered case of a forwardable update is the
// received bytes themselves. Data plane: the only allocation is that one buffer per distinct
// filter (and the selection scratch growing to the largest update once per shard).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qgate/pubsub/pubsub_types.h"
#include "qgate/pubsub/update.h"
#include "qgate/pubsub/update_buffer.h"

namespace qgate::pubsub {

/// A compiled sym filter: every sym, or a sorted set of names. Built at subscription time
/// (control plane); read-only and thread-compatible afterwards.
class sym_filter {
  public:
    sym_filter() = default;  ///< every sym
    /// The given syms, sorted and deduplicated (an empty list selects nothing, as q's
    /// `select from t where sym in ()`).
    static sym_filter of(std::vector<std::string> syms);
    static sym_filter all() { return {}; }

    bool is_all() const { return all_; }
    bool contains(std::string_view sym) const;
    const std::vector<std::string>& syms() const { return syms_; }
    /// FNV-1a of the canonical sym set: equal filters have equal keys, so shards can tag a
    /// delivered buffer with it and find their group with one integer compare first.
    uint64_t key() const { return key_; }
    bool operator==(const sym_filter& o) const {
        return key_ == o.key_ && all_ == o.all_ && syms_ == o.syms_;
    }

  private:
    static constexpr uint64_t kAllKey = 0xcbf29ce484222325;  // FNV offset basis
    bool all_ = true;
    uint64_t key_ = kAllKey;
    std::vector<std::string> syms_;
};

/// Rows chosen by a filter. Reused scratch: one per shard, grown to the largest update.
struct row_selection {
    std::vector<uint8_t> mask;  ///< 1 per selected row (first `rows` entries)
    uint64_t rows = 0;
    uint64_t selected = 0;
    /// The current update's column views, filled once per update by publish_for so that each
    /// filter does not walk (and re-validate) the columns again.
    std::vector<qipc::object_view> columns;
    bool all() const { return selected == rows; }
};

/// Evaluates `f` on u's sym column into `sel`; returns the number of selected rows.
uint64_t select_rows(const update_view& u, const sym_filter& f, row_selection& sel);

/// Size of the republished message, header included: `(`upd;`t;table)` with the selected rows
/// (all rows when sel.all()). `names` is the column-name symbol vector for data without names
/// (columns / row shapes, from the schema store); when empty such data is republished as the
/// list of columns (r.q's upd:insert takes either).
uint64_t publish_size(const update_view& u, const row_selection& sel,
                      std::span<const uint8_t> names = {});
/// Writes that message into `out` (at least publish_size bytes); returns bytes written or 0.
uint64_t write_publish(const update_view& u, const row_selection& sel, std::span<uint8_t> out,
                       std::span<const uint8_t> names = {});

/// What one distinct filter gets for one update.
enum class publish_kind : uint8_t {
    none,         ///< no row selected: nothing is sent to this filter's subscribers
    as_received,  ///< every row of a forwardable update: the received buffer itself
    encoded,      ///< a fresh buffer holding exactly the selected rows
};

/// Per-update state shared by the filters of one update: the selection scratch and the
/// all-rows encoding (made at most once, for non-forwardable updates).
struct publish_ctx {
    const update_view* update = nullptr;
    update_ref received;                ///< the received message (header included)
    std::span<const uint8_t> names;     ///< schema column names, for non-table data
    row_selection* scratch = nullptr;
    update_ref all_rows;                ///< cache: the all-rows buffer once made
    bool columns_loaded = false;        ///< scratch->columns holds this update's columns
    /// Acting as the tickerplant for feeds: add tick.q's time column (a timespan, `time_ns`
    /// since midnight, e.g. `"n"$.z.P`) to updates with update_view::time_missing.
    bool add_time = false;
    int64_t time_ns = 0;
};

/// The buffer for the subscribers of filter `f`: `out` is empty for none, the received buffer
/// for as_received, else one exact-size encoded buffer. Errors: no_memory, big_endian,
/// schema_mismatch (ctx.names does not name exactly the update's columns).
status publish_for(publish_ctx& ctx, const sym_filter& f, publish_kind& kind, update_ref& out);

}  // namespace qgate::pubsub

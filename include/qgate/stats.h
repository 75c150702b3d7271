// The stats vocabulary: what a stat is (stat_desc: name, kind, unit, help, label names) and one
// value of it in a snapshot (stat_sample). The table of every stat is declared once, beside the
// code that counts (src/shard/counters.h); the admin port's .qgate.stats[], the docs
// (`qgate --list-stats`, STATS.md) and the Prometheus endpoint (GET /metrics) all read that
// table, so a stat cannot be reported without being documented. Control plane only: a
// snapshot allocates.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "qgate/latency.h"

namespace qgate {

/// counter: only grows from 0 at start-up; gauge: a level now, goes up and down; histogram: a
/// distribution over the fixed latency buckets (qgate/latency.h), its sample's `hist`.
enum class stat_kind : uint8_t { counter, gauge, histogram };

constexpr std::string_view kind_name(stat_kind k) {
    switch (k) {
    case stat_kind::counter: return "counter";
    case stat_kind::gauge: return "gauge";
    case stat_kind::histogram: return "histogram";
    }
    return "?";
}

inline constexpr std::size_t kStatLabelsMax = 2;

/// One row of the stats table. Every string is a literal (static storage).
struct stat_desc {
    std::string_view name;  ///< snake_case; unique in the table
    stat_kind kind = stat_kind::counter;
    std::string_view unit;  ///< what one counts, plural ("bytes", "calls", "connections")
    std::string_view help;  ///< one line, for the docs and Prometheus' # HELP
    /// Label names (e.g. "backend"): the stat has one sample per combination of label values.
    /// Unused entries are empty; the used ones come first.
    std::array<std::string_view, kStatLabelsMax> labels{};

    constexpr std::size_t label_count() const {
        std::size_t n = 0;
        while (n < labels.size() && !labels[n].empty()) ++n;
        return n;
    }
};

/// One value of a stat in a snapshot (admin thread). `label_values` has one entry per label of
/// `desc`, in the same order. A histogram's buckets and sum are in `hist`, and `value` is its
/// count (what .qgate.stats[] shows under the flat name with "_count"; "_sum" the sum).
struct stat_sample {
    stat_desc desc;
    std::vector<std::string> label_values;
    uint64_t value = 0;
    latency_summary hist{};  ///< histograms only

    /// The flat name .qgate.stats[] reports: the stat's name, then "_<value>" per label, so a
    /// labelled stat keeps the key clients have always read ("backend_load_rdb1").
    std::string flat_name() const {
        std::string out(desc.name);
        for (const std::string& v : label_values) out += "_" + v;
        return out;
    }
};

using stat_list = std::vector<stat_sample>;

}  // namespace qgate

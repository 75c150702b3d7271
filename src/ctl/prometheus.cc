// DESIGN: renders a stats snapshot (the admin thread's, stats.h) as Prometheus' text format
// 0.0.4. Families are grouped by stat name in first-seen order, so the snapshot's own order
// (.qgate.stats[] order) is kept and a stat's samples may arrive interleaved with others'.
// Names are the table's snake_case names behind "qgate_"; counters get Prometheus' "_total".
// Histograms (µs in the table, bounds of qgate/latency.h) are written in the base unit
// Prometheus expects, seconds, as "..._seconds" (promtool's lint asks for both). Control
// plane only: allocates.
#include "ctl/prometheus.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace qgate::ctl {
namespace {

// Histograms count µs; Prometheus wants base units, so they are written in seconds.
std::string family_name(const stat_desc& d) {
    std::string n = "qgate_" + std::string(d.name);
    if (d.kind == stat_kind::counter) n += "_total";
    if (d.kind == stat_kind::histogram) n += "_seconds";
    return n;
}

// Microseconds as an exact decimal number of seconds ("0.00002", "2.5", "10").
std::string seconds_text(uint64_t us) {
    std::string out = std::to_string(us / 1000000);
    uint64_t frac = us % 1000000;
    if (frac == 0) return out;
    std::string digits = std::to_string(frac);
    digits.insert(0, 6 - digits.size(), '0');
    while (digits.back() == '0') digits.pop_back();
    return out + "." + digits;
}

// # HELP text: backslash and newline escaped (double quotes are allowed there).
std::string help_text(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (const char c : s) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

// {a="x",b="y"} with an optional extra label last (le for buckets); "" when there is none.
std::string labels(const stat_sample& s, std::string_view extra_name = {},
                   std::string_view extra_value = {}) {
    std::string out;
    const std::size_t n = s.desc.label_count();
    for (std::size_t i = 0; i < n && i < s.label_values.size(); ++i) {
        out += (out.empty() ? "{" : ",") + std::string(s.desc.labels[i]) + "=\"" +
               prometheus_label_value(s.label_values[i]) + "\"";
    }
    if (!extra_name.empty()) {
        out += (out.empty() ? "{" : ",") + std::string(extra_name) + "=\"" +
               std::string(extra_value) + "\"";
    }
    return out.empty() ? out : out + "}";
}

void write_histogram(std::string& out, const std::string& name, const stat_sample& s) {
    uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kLatencyBoundsUs.size(); ++i) {
        cumulative += s.hist.buckets[i];
        out += name + "_bucket" + labels(s, "le", seconds_text(kLatencyBoundsUs[i])) + " " +
               std::to_string(cumulative) + "\n";
    }
    const uint64_t count = s.hist.count();
    out += name + "_bucket" + labels(s, "le", "+Inf") + " " + std::to_string(count) + "\n";
    out += name + "_sum" + labels(s) + " " + seconds_text(s.hist.sum_us) + "\n";
    out += name + "_count" + labels(s) + " " + std::to_string(count) + "\n";
}

void write_family(std::string& out, const stat_list& stats, std::size_t first) {
    const stat_desc& d = stats[first].desc;
    const std::string name = family_name(d);
    const std::string_view unit = d.kind == stat_kind::histogram ? "seconds" : d.unit;
    out += "# HELP " + name + " " + help_text(d.help) + " (" + help_text(unit) + ")\n";
    out += "# TYPE " + name + " " + std::string(kind_name(d.kind)) + "\n";
    for (std::size_t i = first; i < stats.size(); ++i) {
        const stat_sample& s = stats[i];
        if (s.desc.name != d.name) continue;
        if (d.kind == stat_kind::histogram) {
            write_histogram(out, name, s);
        } else {
            out += name + labels(s) + " " + std::to_string(s.value) + "\n";
        }
    }
}

}  // namespace

std::string prometheus_label_value(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (const char c : s) {
        if (c == '\\' || c == '"') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

std::string prometheus_text(const stat_list& stats) {
    std::string out;
    std::vector<std::string_view> done;  // families written (a handful of labelled stats)
    for (std::size_t i = 0; i < stats.size(); ++i) {
        const std::string_view n = stats[i].desc.name;
        bool seen = false;
        for (const std::string_view d : done) seen = seen || d == n;
        if (seen) continue;
        done.push_back(n);
        write_family(out, stats, i);
    }
    return out;
}

}  // namespace qgate::ctl

// The Prometheus text exposition format (version 0.0.4) of a stats snapshot: what GET /metrics
// on the admin port answers. Pure (bytes out of a stat_list), so it is tested without sockets.
#pragma once

#include <string>
#include <string_view>

#include "qgate/stats.h"

namespace qgate::ctl {

inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

/// Every stat of `stats` as a metric family "qgate_<name>" (counters "..._total", histograms
/// "..._seconds"): one # HELP and # TYPE per family, then its samples with their labels (values
/// escaped: \\ \" \n). A histogram gives _bucket{le="..."} lines (cumulative, in seconds,
/// le="+Inf" = the count), _sum (seconds), _count.
/// Samples of one stat need not be adjacent in `stats`: each family is written once, in the
/// order of its first sample.
std::string prometheus_text(const stat_list& stats);

/// `s` escaped as a label value (backslash, double quote, newline).
std::string prometheus_label_value(std::string_view s);

}  // namespace qgate::ctl

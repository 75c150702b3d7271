// GET /metrics' text on a small stat list: family names (counters end in _total), # HELP and
// # TYPE once per family even when its samples are interleaved, label values escaped as the
// exposition format says, histogram lines (cumulative buckets, +Inf = _count, _sum); and the
// p50/p99 the control plane computes from summed buckets.
#include <doctest/doctest.h>

#include <string>

#include "ctl/prometheus.h"
#include "qgate/latency.h"

using namespace qgate;
using namespace qgate::ctl;

namespace {

constexpr stat_desc kAccepts{"accepts", stat_kind::counter, "connections", "accepted", {}};
constexpr stat_desc kLoad{"backend_load", stat_kind::gauge, "calls", "queued", {"backend"}};
constexpr stat_desc kHelp{"odd", stat_kind::gauge, "things", "a \\ back\nslash", {}};
constexpr stat_desc kLat{"backend_latency", stat_kind::histogram, "microseconds",
                         "call latency", {"backend"}};

std::size_t count_of(const std::string& hay, const std::string& needle) {
    std::size_t n = 0;
    for (std::size_t at = hay.find(needle); at != std::string::npos;
         at = hay.find(needle, at + 1)) {
        ++n;
    }
    return n;
}

}  // namespace

TEST_CASE("prometheus: counters get _total, gauges do not, HELP and TYPE once per family") {
    const stat_list list = {{kLoad, {"rdb1"}, 2, {}}, {kAccepts, {}, 7, {}},
                            {kLoad, {"hdb"}, 0, {}}};
    const std::string t = prometheus_text(list);
    CHECK(t.find("# HELP qgate_accepts_total accepted (connections)\n"
                 "# TYPE qgate_accepts_total counter\nqgate_accepts_total 7\n") !=
          std::string::npos);
    CHECK(count_of(t, "# TYPE qgate_backend_load gauge\n") == 1);
    CHECK(count_of(t, "# HELP qgate_backend_load ") == 1);
    // Both samples of the family follow its TYPE line, in snapshot order.
    CHECK(t.find("# TYPE qgate_backend_load gauge\nqgate_backend_load{backend=\"rdb1\"} 2\n"
                 "qgate_backend_load{backend=\"hdb\"} 0\n") != std::string::npos);
    CHECK(t.find("qgate_backend_load_total") == std::string::npos);
}

TEST_CASE("prometheus: label values and help text are escaped") {
    const stat_list list = {{kLoad, {"a\"b\\c\nd"}, 1, {}}, {kHelp, {}, 3, {}}};
    const std::string t = prometheus_text(list);
    CHECK(t.find("qgate_backend_load{backend=\"a\\\"b\\\\c\\nd\"} 1\n") != std::string::npos);
    CHECK(t.find("# HELP qgate_odd a \\\\ back\\nslash (things)\n") != std::string::npos);
    CHECK(prometheus_label_value("plain") == "plain");
}

TEST_CASE("prometheus: a histogram in seconds: cumulative buckets, +Inf = _count, _sum") {
    stat_sample s{kLat, {"rdb1"}, 0, {}};
    s.hist.buckets[latency_bucket(10)] += 2;        // <= 20
    s.hist.buckets[latency_bucket(150)] += 3;       // <= 200
    s.hist.buckets[latency_bucket(99000000)] += 1;  // +Inf
    s.hist.sum_us = 2 * 10 + 3 * 150 + 99000000;
    s.value = s.hist.count();
    const std::string t = prometheus_text({s});
    CHECK(t.find("# TYPE qgate_backend_latency_seconds histogram\n") != std::string::npos);
    CHECK(t.find("qgate_backend_latency_seconds_bucket{backend=\"rdb1\",le=\"0.00002\"} 2\n") !=
          std::string::npos);
    CHECK(t.find("qgate_backend_latency_seconds_bucket{backend=\"rdb1\",le=\"0.0001\"} 2\n") !=
          std::string::npos);
    CHECK(t.find("qgate_backend_latency_seconds_bucket{backend=\"rdb1\",le=\"0.0002\"} 5\n") !=
          std::string::npos);
    CHECK(t.find("qgate_backend_latency_seconds_bucket{backend=\"rdb1\",le=\"10\"} 5\n") !=
          std::string::npos);
    CHECK(t.find("qgate_backend_latency_seconds_bucket{backend=\"rdb1\",le=\"+Inf\"} 6\n") !=
          std::string::npos);
    CHECK(t.find("qgate_backend_latency_seconds_sum{backend=\"rdb1\"} 99.00047\n") !=
          std::string::npos);
    CHECK(t.find("qgate_backend_latency_seconds_count{backend=\"rdb1\"} 6\n") != std::string::npos);
    CHECK(count_of(t, "_bucket{") == kLatencyBuckets);
    CHECK(t.find("le=\"2.5\"") == std::string::npos);  // 1-2-5 steps: 2 s, then 5 s
    CHECK(t.find("le=\"2\"}") != std::string::npos);
    CHECK(t.find("# HELP qgate_backend_latency_seconds call latency (seconds)\n") !=
          std::string::npos);
}

TEST_CASE("latency: bucket of a value") {
    CHECK(latency_bucket(0) == 0);
    CHECK(latency_bucket(20) == 0);
    CHECK(latency_bucket(21) == 1);
    CHECK(latency_bucket(10000000) == kLatencyBoundsUs.size() - 1);
    CHECK(latency_bucket(10000001) == kLatencyBoundsUs.size());
}

TEST_CASE("latency: p50 and p99 from buckets, interpolated inside the bucket") {
    latency_summary h;
    CHECK(latency_percentile_us(h, 0.5) == 0);  // empty
    h.buckets[latency_bucket(30)] = 100;  // 100 calls in (20, 50]
    CHECK(latency_percentile_us(h, 0.5) == 35);   // halfway through the bucket
    CHECK(latency_percentile_us(h, 0.99) == 50);  // 20 + 30 * 0.99 = 49.7
    h.buckets[latency_bucket(4000)] = 100;  // 100 more in (2000, 5000]
    CHECK(latency_percentile_us(h, 0.5) == 50);     // the 100th of 200: the end of the first
    CHECK(latency_percentile_us(h, 0.99) == 4940);  // 2000 + 3000 * 0.98
    latency_summary inf;
    inf.buckets[kLatencyBuckets - 1] = 5;  // all past the last bound
    CHECK(latency_percentile_us(inf, 0.5) == kLatencyBoundsUs.back());
    latency_summary a = h;
    a.add(h);
    CHECK(a.count() == 400);
    CHECK(latency_percentile_us(a, 0.5) == latency_percentile_us(h, 0.5));
}

// The stats table (src/shard/counters.h): every row documented (help, unit), names unique,
// kinds right for how the code moves each value, and `counters` visited in table order.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "shard/counters.h"

using namespace qgate;
using namespace qgate::shard;

namespace {

bool is_snake(std::string_view s) {
    if (s.empty() || s.front() < 'a' || s.front() > 'z') return false;
    for (char c : s) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
    return true;
}

const stat_desc* find_stat(std::string_view name) {
    for (const stat_desc& d : kStatTable) {
        if (d.name == name) return &d;
    }
    return nullptr;
}

// Every "<verb>(ctr_.name" / "<verb>(counters_.name" in src/ (the kind handlers reach the
// engine's block as e_.ctr_): how the code moves each counter.
std::set<std::string> moved_by(const std::string& verb) {
    const std::regex re(R"(\b)" + verb + R"(\((?:e_\.)?(?:ctr_|counters_)\.(\w+))");
    std::set<std::string> names;
    for (const auto& e : std::filesystem::recursive_directory_iterator(QGATE_SOURCE_ROOT "/src")) {
        const std::string ext = e.path().extension().string();
        if (!e.is_regular_file() || (ext != ".cc" && ext != ".h")) continue;
        std::ifstream in(e.path());
        std::ostringstream text;
        text << in.rdbuf();
        const std::string s = text.str();
        for (std::sregex_iterator m(s.begin(), s.end(), re), end; m != end; ++m) {
            names.insert((*m)[1].str());
        }
    }
    return names;
}

}  // namespace

TEST_CASE("every stat has a snake_case unique name, a kind, a unit and a one-line help") {
    std::set<std::string_view> names;
    for (const stat_desc& d : kStatTable) {
        INFO(d.name);
        CHECK(is_snake(d.name));
        CHECK(names.insert(d.name).second);
        CHECK_FALSE(d.unit.empty());
        CHECK_FALSE(d.help.empty());
        // One line that a markdown table cell and a Prometheus # HELP line can hold as is.
        CHECK(d.help.find_first_of("|\n\r\\") == std::string_view::npos);
        CHECK(d.unit.find_first_of("|\n\r\\") == std::string_view::npos);
        CHECK(d.help.front() != ' ');
        CHECK(d.help.back() != ' ');
        for (std::size_t i = 0; i < d.label_count(); ++i) CHECK(is_snake(d.labels[i]));
        for (std::size_t i = d.label_count(); i < kStatLabelsMax; ++i) CHECK(d.labels[i].empty());
    }
}

TEST_CASE("the shard counters come first, unlabelled; the per-backend stats are labelled") {
    REQUIRE(kShardStatCount < std::size(kStatTable));
    for (std::size_t i = 0; i < kShardStatCount; ++i) {
        CHECK_MESSAGE(kStatTable[i].label_count() == 0, kStatTable[i].name);
        // A field of `counters` holds one value: histograms are gateway rows (latency_table).
        CHECK_MESSAGE(kStatTable[i].kind != stat_kind::histogram, kStatTable[i].name);
    }
    for (const auto id : {stat_id::backend_latency, stat_id::listener_latency}) {
        CHECK(desc_of(id).kind == stat_kind::histogram);
        CHECK(desc_of(id).label_count() == 1);
    }
    for (const auto id : {stat_id::backend_conns, stat_id::backend_load, stat_id::backend_live}) {
        INFO(desc_of(id).name);
        CHECK(static_cast<std::size_t>(id) >= kShardStatCount);
        CHECK(desc_of(id).label_count() == 1);
        CHECK(desc_of(id).labels[0] == "backend");
    }
    CHECK(desc_of(stat_id::shards).label_count() == 0);
    CHECK(desc_of(stat_id::accepts).name == "accepts");
    CHECK(desc_of(stat_id::backend_live).name == "backend_live");
}

TEST_CASE("for_each_counter reports each field under its own id, in table order") {
    counters c;
    uint64_t n = 0;
#define QGATE_TEST_BUMP(name, kind, unit, help) bump(c.name, ++n);
    QGATE_SHARD_COUNTERS(QGATE_TEST_BUMP)
#undef QGATE_TEST_BUMP
    CHECK(n == kShardStatCount);
    // Nothing but the X fields and the latency table (read through gateway rows).
    CHECK(sizeof(counters) ==
          kShardStatCount * sizeof(std::atomic<uint64_t>) + sizeof(latency_table));
    std::size_t i = 0;
    for_each_counter(c, [&](stat_id id, uint64_t v) {
        CHECK(static_cast<std::size_t>(id) == i);
        CHECK(v == i + 1);  // the i-th field, not another one
        ++i;
    });
    CHECK(i == kShardStatCount);
    bump(c.bufs_held, 5);
    drop(c.bufs_held, 2);
    set(c.xshard_msgs, 9);
    int seen = 0;
    for_each_counter(c, [&](stat_id id, uint64_t v) {
        if (desc_of(id).name == "bufs_held") seen += v == static_cast<std::size_t>(id) + 1 + 3;
        if (desc_of(id).name == "xshard_msgs") seen += v == 9;
    });
    CHECK(seen == 2);
}

TEST_CASE("a counter only grows: whatever src/ drops or sets is a gauge") {
    const std::set<std::string> bumped = moved_by("bump");
    const std::set<std::string> dropped = moved_by("drop");
    const std::set<std::string> set_ = moved_by("set");
    REQUIRE(bumped.count("accepts") == 1);  // the scan sees the code
    REQUIRE(dropped.count("conns_open") == 1);
    for (const std::string& name : dropped) {
        INFO(name);
        REQUIRE(find_stat(name) != nullptr);
        CHECK(find_stat(name)->kind == stat_kind::gauge);
    }
    // Set from the io backend's own running totals: they only grow, so they stay counters.
    const std::set<std::string> running_totals = {"enters", "cqes", "cq_overflow", "sq_full"};
    for (const std::string& name : set_) {
        INFO(name);
        REQUIRE(find_stat(name) != nullptr);
        if (running_totals.count(name) == 0) CHECK(find_stat(name)->kind == stat_kind::gauge);
    }
    for (const std::string& name : running_totals) CHECK(set_.count(name) == 1);
    for (std::size_t i = 0; i < kShardStatCount; ++i) {
        const std::string name(kStatTable[i].name);
        INFO(name);  // a per-shard gauge moves both ways or is set
        if (kStatTable[i].kind == stat_kind::gauge) CHECK(dropped.count(name) + set_.count(name));
    }
}

TEST_CASE("a sample's flat name is its stat's name and one _<value> per label") {
    CHECK(make_sample(stat_id::accepts, 3).flat_name() == "accepts");
    CHECK(make_sample(stat_id::accepts, 3).value == 3);
    const stat_sample s = make_sample(stat_id::backend_load, 2, {"rdb1"});
    CHECK(s.flat_name() == "backend_load_rdb1");
    CHECK(s.desc.kind == stat_kind::gauge);
    CHECK(s.desc.unit == "calls");
    CHECK(s.desc.help == desc_of(stat_id::backend_load).help);
}

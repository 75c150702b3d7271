// STATS.md is generated from the stats table (`qgate --list-stats`) and cannot drift from it;
// the markdown renders every column of a row.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "qgate/ctl.h"
#include "shard/counters.h"

using namespace qgate;

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

TEST_CASE("stats_markdown: one row per stat with kind, unit, labels and help") {
    constexpr stat_desc table[] = {
        {"accepts", stat_kind::counter, "connections", "client connections accepted", {}},
        {"backend_load", stat_kind::gauge, "calls", "queued plus in flight", {"backend"}},
        {"two", stat_kind::histogram, "seconds", "both labels", {"backend", "shard"}},
    };
    const std::string md = ctl::stats_markdown(table);
    CHECK(md.find("\n| name | kind | unit | labels | help |\n|---|---|---|---|---|\n") !=
          std::string::npos);
    CHECK(md.find("\n| `accepts` | counter | connections |  | client connections accepted |\n") !=
          std::string::npos);
    CHECK(md.find("\n| `backend_load` | gauge | calls | `backend` | queued plus in flight |\n") !=
          std::string::npos);
    CHECK(md.find("\n| `two` | histogram | seconds | `backend`, `shard` | both labels |\n") !=
          std::string::npos);
    CHECK(md.substr(md.size() - 1) == "\n");
}

TEST_CASE("stats_markdown of the stats table lists every stat once, in table order") {
    const std::string md = ctl::stats_markdown(shard::kStatTable);
    std::size_t at = 0;
    for (const stat_desc& d : shard::kStatTable) {
        const std::string row = "\n| `" + std::string(d.name) + "` | ";
        const std::size_t pos = md.find(row);
        REQUIRE_MESSAGE(pos != std::string::npos, d.name);
        CHECK_MESSAGE(pos > at, d.name);
        CHECK_MESSAGE(md.find(row, pos + 1) == std::string::npos, d.name);
        at = pos;
    }
}

TEST_CASE("STATS.md is the generated text (regenerate: qgate --list-stats > STATS.md)") {
    const std::string committed = read_file(QGATE_SOURCE_ROOT "/STATS.md");
    REQUIRE_MESSAGE(!committed.empty(), "STATS.md is missing");
    CHECK(committed == ctl::stats_markdown(shard::kStatTable));
}

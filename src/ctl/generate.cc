// DESIGN: text generated from the tables: `qgate --help` and the annotated example file
// conf/qgate.example.toml (`qgate --print-example-config`) from the knob table, STATS.md
// (`qgate --list-stats`) from the stats table. Nothing here is written by hand per knob or
// stat, so one added to its table shows up in every text. Pure; control plane only.
#include <algorithm>
#include <string>

#include "ctl/knobs.h"
#include "qgate/ctl.h"
#include "qgate/stats.h"

namespace qgate::ctl {
namespace {

constexpr std::size_t kWidth = 96;

// Word-wraps `text` into lines of at most kWidth columns, each starting with `prefix`.
std::string wrap(std::string_view text, std::string_view prefix) {
    std::string out;
    std::string line(prefix);
    while (!text.empty()) {
        std::size_t space = text.find(' ');
        std::string_view word = text.substr(0, space);
        text = (space == std::string_view::npos) ? std::string_view{} : text.substr(space + 1);
        if (line.size() > prefix.size() && line.size() + 1 + word.size() > kWidth) {
            out += line + "\n";
            line = std::string(prefix);
        }
        if (line.size() > prefix.size()) line += ' ';
        line += word;
    }
    return out + line + "\n";
}

std::string metavar(const knob& k) {
    switch (k.type) {
    case knob_type::integer: return "N";
    case knob_type::choice: return std::string(k.choices);
    case knob_type::address: return "HOST:PORT";
    case knob_type::list: return "[TEXT, ...]";
    case knob_type::boolean: return "true|false";
    case knob_type::string:
        return k.has(knob_flag::kRelativePath) || k.has(knob_flag::kPath) ? "PATH" : "TEXT";
    }
    return "V";
}

// "integer 0..1024; reload; --shards=N"
std::string facts(const knob& k) {
    std::string f = describe_knob_domain(k);
    if (k.has(knob_flag::kRequired)) f += "; required";
    f += k.has(knob_flag::kReloadable) ? "; reload: SIGHUP" : "; reload: restart";
    if (!k.cli.empty()) f += "; --" + std::string(k.cli) + "=" + metavar(k);
    return f;
}

std::string option_line(std::string_view flags, std::string_view help) {
    std::string line = "  " + std::string(flags);
    line.resize(std::max<std::size_t>(line.size() + 1, 34), ' ');
    return line + std::string(help) + "\n";
}

}  // namespace

std::string help_text() {
    std::string out =
        "usage: qgate -c FILE [--check-config] [options]\n"
        "\n"
        "A q-IPC gateway: kdb+ clients connect to it as to a q process; it forwards their\n"
        "messages to a farm of q backends.\n"
        "\n"
        "options:\n";
    out += option_line("-c, --config=FILE", "configuration file (TOML)");
    out += option_line("    --check-config",
                       "validate FILE and its users file, print a summary, exit 0 / 1");
    out += option_line("    --print-example-config", "print the annotated example config");
    out += option_line("    --list-stats", "print every stat .qgate.stats[] reports (markdown)");
    out += option_line("-h, --help", "print this help");
    for (const knob& k : knob_table()) {
        if (k.cli.empty()) continue;
        out += option_line("    --" + std::string(k.cli) + "=" + metavar(k),
                           "override " + std::string(k.name) + " (default " +
                               std::string(k.def) + ")");
    }
    out += "\nconfiguration knobs ([section] key; [[section]] keys are per entry):\n";
    for (const knob& k : knob_table()) {
        std::string head = "  " + std::string(k.name);
        head += k.has(knob_flag::kRequired) ? " (e.g. " + std::string(k.def) + ")"
                                            : " = " + std::string(k.def);
        out += head + "\n" + wrap(facts(k), "      ") + wrap(k.help, "      ");
    }
    return out;
}

std::string example_config() {
    std::string out =
        "# qgate configuration: every knob, with its default.\n"
        "#\n"
        "# GENERATED from the knob table in src/ctl/knobs.cc; do not edit. Regenerate with\n"
        "#   qgate --print-example-config > conf/qgate.example.toml\n"
        "# (the unit tests fail while this file and the table disagree). Check a file with\n"
        "#   qgate -c FILE --check-config\n"
        "# Unknown keys are errors. \"reload: SIGHUP\" marks the knobs a reload may change; the\n"
        "# others keep their running value until a restart (SIGHUP and .qgate.reload[] name\n"
        "# them). See conf/README.md.\n";
    for (const section_info& s : section_table()) {
        const bool array = s.scope == knob_scope::array;
        const std::string header = array ? "[[" + std::string(s.name) + "]]"
                                         : "[" + std::string(s.name) + "]";
        out += "\n" + wrap(std::string(s.help), "# ") + header + "\n";
        for (const knob& k : knob_table()) {
            if (k.section() != s.name) continue;
            out += "\n" + wrap(k.help, "# ") + wrap(facts(k), "# ");
            out += std::string(k.key()) + " = " + std::string(k.def) + "\n";
        }
    }
    return out;
}

std::string stats_markdown(std::span<const stat_desc> table) {
    std::string out =
        "# qgate stats\n"
        "\n"
        "<!-- GENERATED from the stats table in src/shard/counters.h; do not edit. Regenerate\n"
        "with `qgate --list-stats > STATS.md` (the unit tests fail while this file and the\n"
        "table disagree). -->\n"
        "\n"
        "The admin port (`[admin]` in the config) answers `h\".qgate.stats[]\"` with a\n"
        "table `name` (symbol), `kind` (symbol), `value` (long), `help` (string): one row per\n"
        "stat, in the order below. A stat with a label has one row per label value, named\n"
        "`<name>_<value>` (`backend_load_rdb1`).\n"
        "A counter only grows from 0 at start-up; a gauge is a level now; a histogram shows\n"
        "as two rows, its count `<name>_<value>_count` and its sum `_sum`. Per-shard stats\n"
        "(every stat above `cqes_per_enter_x1000`) are summed over the shards.\n"
        "\n"
        "`GET /metrics` on the admin port serves the same table in Prometheus' text format:\n"
        "`qgate_<name>`, counters `qgate_<name>_total`, labels as below, and histograms in\n"
        "seconds with their buckets (`qgate_<name>_seconds_bucket{le=...}`, `_sum`, `_count`).\n"
        "\n"
        "| name | kind | unit | labels | help |\n"
        "|---|---|---|---|---|\n";
    for (const stat_desc& d : table) {
        std::string labels;
        for (std::size_t i = 0; i < d.label_count(); ++i) {
            labels += (i == 0 ? "`" : ", `") + std::string(d.labels[i]) + "`";
        }
        out += "| `" + std::string(d.name) + "` | " + std::string(kind_name(d.kind)) + " | " +
               std::string(d.unit) + " | " + labels + " | " + std::string(d.help) + " |\n";
    }
    return out;
}

}  // namespace qgate::ctl

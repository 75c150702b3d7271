// DESIGN: the `qgate` command line. Fixed actions (-c, --check-config, --help,
// --print-example-config, --list-stats) are parsed here; every other --name=value is a knob
// override whose name comes from the knob table's `cli` column, checked exactly as the file's
// values are.
// Pure; control plane only.
#include "ctl/knobs.h"
#include "qgate/ctl.h"

namespace qgate::ctl {
namespace {

const knob* find_cli_knob(std::string_view flag) {
    for (const knob& k : knob_table()) {
        if (!k.cli.empty() && k.cli == flag) return &k;
    }
    return nullptr;
}

// Splits "--name=value" / "--name value" / "-c value"; `i` advances past a consumed value.
bool take_value(int argc, const char* const* argv, int& i, std::string_view arg,
                std::string_view name, std::string& value, std::string& error) {
    if (arg.size() > name.size() && arg[name.size()] == '=') {
        value = std::string(arg.substr(name.size() + 1));
        return true;
    }
    if (i + 1 >= argc) {
        error = std::string(name) + " needs a value (see --help)";
        return false;
    }
    value = argv[++i];
    return true;
}

bool is_option(std::string_view arg, std::string_view name) {
    return arg.substr(0, name.size()) == name &&
           (arg.size() == name.size() || arg[name.size()] == '=');
}

}  // namespace

bool parse_cli(int argc, const char* const* argv, cli_options& out, std::string& error) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--check-config") {
            out.check_config = true;
        } else if (arg == "-h" || arg == "--help") {
            out.help = true;
        } else if (arg == "--print-example-config") {
            out.print_example = true;
        } else if (arg == "--list-stats") {
            out.list_stats = true;
        } else if (is_option(arg, "-c") || is_option(arg, "--config")) {
            const std::string_view name = arg.substr(0, arg.find('='));
            if (!take_value(argc, argv, i, arg, name, out.config_path, error)) return false;
        } else if (arg.substr(0, 2) == "--" && find_cli_knob(arg.substr(2, arg.find('=') - 2))) {
            const std::string_view name = arg.substr(0, arg.find('='));
            const knob* k = find_cli_knob(name.substr(2));
            std::string value;
            if (!take_value(argc, argv, i, arg, name, value, error)) return false;
            out.overrides.emplace_back(std::string(k->name), std::move(value));
        } else {
            error = "unknown option '" + std::string(arg) + "' (see --help)";
            return false;
        }
    }
    return true;
}

bool apply_overrides(const cli_options& opts, config& cfg, std::string& error) {
    for (const auto& [name, text] : opts.overrides) {
        const knob* k = find_knob(name);
        if (k == nullptr || k->scope != knob_scope::table) {
            error = "unknown knob '" + name + "'";
            return false;
        }
        const std::string what = k->cli.empty() ? name : "--" + std::string(k->cli);
        knob_value v;
        if (!parse_knob_text(*k, text, what, v, error)) return false;
        k->set(cfg, 0, v);
    }
    return validate_config(cfg, error);
}

}  // namespace qgate::ctl

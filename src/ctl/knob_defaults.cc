// The knob table's defaults and descriptions (knobs.h): split from knobs.cc, which holds the
// table itself. Control plane only.

#include "ctl/knobs.h"

namespace qgate::ctl {

void apply_section_defaults(config& cfg, std::string_view section, std::size_t entry) {
    for (const knob& k : knob_table()) {
        if (k.section() != section || k.has(knob_flag::kRequired)) continue;
        knob_value v;
        std::string error;
        // The table's own literals are checked by the unit tests; a failure here is a bug.
        if (!parse_knob_text(k, k.def, k.name, v, error)) continue;
        k.set(cfg, entry, v);
    }
}

void apply_table_defaults(config& cfg) {
    for (const section_info& s : section_table()) {
        if (s.scope != knob_scope::table) continue;
        bool conditional = false;
        for (const knob& k : knob_table()) {
            if (k.section() == s.name && k.has(knob_flag::kIfSection)) conditional = true;
        }
        if (!conditional) apply_section_defaults(cfg, s.name, 0);
    }
}

std::string describe_knob_domain(const knob& k) {
    switch (k.type) {
    case knob_type::integer: {
        std::string d = "integer " + std::to_string(k.min) + ".." + std::to_string(k.max);
        if (k.has(knob_flag::kPowerOfTwo)) d += ", a power of two";
        return d;
    }
    case knob_type::string:
        if (k.has(knob_flag::kRelativePath)) return "path, relative to the config file";
        return k.has(knob_flag::kPath) ? "path" : "string";
    case knob_type::choice: {
        std::string d;
        for (char c : k.choices) d += (c == '|') ? std::string(" | ") : std::string(1, c);
        return d;
    }
    case knob_type::address:
        return "\"host:port\"";
    case knob_type::list:
        return "list of strings";
    case knob_type::boolean:
        return "true | false";
    }
    return {};
}

}  // namespace qgate::ctl

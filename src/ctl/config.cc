// DESIGN: TOML file -> qgate::config snapshot. Owns nothing beyond one load call: a `loader`
// walks the parsed toml++ tree against the knob table (knobs.cc), so every key in the file
// is either a knob or an error with its file:line, and every value goes through check_knob.
// The snapshot starts from the table's defaults and is handed to the caller only when the
// whole file, the users file and the cross-field rules (validate.cc) are good.
// Thread: control plane (start-up, SIGHUP reload). Exceptions from toml++ stop here.
#include <toml++/toml.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ctl/knobs.h"
#include "ctl/validate.h"
#include "qgate/auth.h"
#include "qgate/ctl.h"

namespace qgate::ctl {
namespace {

std::string_view type_name(toml::node_type t) {
    switch (t) {
    case toml::node_type::table: return "table";
    case toml::node_type::array: return "array";
    case toml::node_type::string: return "string";
    case toml::node_type::integer: return "integer";
    case toml::node_type::floating_point: return "float";
    case toml::node_type::boolean: return "boolean";
    case toml::node_type::date: return "date";
    case toml::node_type::time: return "time";
    case toml::node_type::date_time: return "date-time";
    case toml::node_type::none: break;
    }
    return "nothing";
}

class loader {
  public:
    loader(std::string source, config& cfg, std::string& error)
        : source_(std::move(source)), cfg_(cfg), error_(error) {}

    bool load(const toml::table& root) {
        lines_.source = source_;
        for (auto&& [key, node] : root) {
            if (!load_section(key, node)) return false;
        }
        return load_users_file() && load_process_csv() && resolve_tls_paths() &&
               check_cross(cfg_, &lines_, error_);
    }

  private:
    bool fail(const toml::source_region& where, const std::string& message) {
        error_ = source_ + ":" + std::to_string(where.begin.line) + ": " + message;
        return false;
    }

    bool load_section(const toml::key& key, const toml::node& node) {
        const section_info* s = find_section(key.str());
        if (s == nullptr) {
            std::string known;
            for (const section_info& i : section_table()) {
                known += (known.empty() ? "" : ", ") + std::string(i.name);
            }
            return fail(key.source(), "unknown key '" + std::string(key.str()) +
                                          "' (sections are " + known + ")");
        }
        if (s->scope == knob_scope::table) {
            if (!node.is_table()) {
                return fail(key.source(), std::string(s->name) + " must be a table ([" +
                                              std::string(s->name) + "]), got " +
                                              std::string(type_name(node.type())));
            }
            apply_section_defaults(cfg_, s->name, 0);  // kIfSection knobs: present now
            return load_keys(*s, *node.as_table(), 0, {});
        }
        const toml::array* entries = node.as_array();
        if (entries == nullptr) {
            return fail(key.source(), std::string(s->name) + " must be an array of tables ([[" +
                                          std::string(s->name) + "]]), got " +
                                          std::string(type_name(node.type())));
        }
        for (std::size_t i = 0; i < entries->size(); ++i) {
            if (!load_entry(*s, (*entries)[i], i)) return false;
        }
        return true;
    }

    bool load_entry(const section_info& s, const toml::node& node, std::size_t index) {
        const std::string label = std::string(s.name) + "[" + std::to_string(index) + "]";
        if (!node.is_table()) {
            return fail(node.source(), label + " must be a table, got " +
                                           std::string(type_name(node.type())));
        }
        const toml::table& t = *node.as_table();
        lines_.of(s.name).push_back(t.source().begin.line);
        apply_section_defaults(cfg_, s.name, index);
        if (!load_keys(s, t, index, label)) return false;
        for (const knob& k : knob_table()) {
            // A fan-out route names `groups` instead of `group`.
            const bool fan = k.name == "route.group" && t.contains("groups");
            if (k.section() == s.name && k.has(knob_flag::kRequired) && !fan &&
                !t.contains(k.key())) {
                return fail(t.source(), label + ": missing required key '" +
                                            std::string(k.key()) + "'");
            }
        }
        return true;
    }

    // `label` is empty for [section] tables, "backend[2]" for array entries.
    bool load_keys(const section_info& s, const toml::table& t, std::size_t entry,
                   const std::string& label) {
        for (auto&& [key, node] : t) {
            const std::string name = std::string(s.name) + "." + std::string(key.str());
            const knob* k = find_knob(name);
            if (k == nullptr || k->scope != s.scope) {
                return fail(key.source(),
                            label.empty() ? "unknown key '" + name + "'"
                                          : "unknown key '" + std::string(key.str()) +
                                                "' in " + label);
            }
            const std::string what = label.empty() ? name : label + "." + std::string(key.str());
            if (!load_value(*k, node, entry, what)) return false;
            lines_.keys[name] = key.source().begin.line;
        }
        return true;
    }

    bool load_value(const knob& k, const toml::node& node, std::size_t entry,
                    const std::string& what) {
        knob_value v;
        if (k.type == knob_type::integer) {
            if (!node.is_integer()) return wrong_type(node, what, "an integer");
            v.integer = node.as_integer()->get();
        } else if (k.type == knob_type::boolean) {
            if (!node.is_boolean()) return wrong_type(node, what, "true or false");
            v.integer = node.as_boolean()->get() ? 1 : 0;
        } else if (k.type == knob_type::list) {
            if (!load_list(node, v.list)) return wrong_type(node, what, "a list of strings");
        } else {
            if (!node.is_string()) return wrong_type(node, what, "a string");
            v.text = node.as_string()->get();
        }
        std::string why;
        if (!check_knob(k, v, what, why)) return fail(node.source(), why);
        k.set(cfg_, entry, v);
        return true;
    }

    static bool load_list(const toml::node& node, std::vector<std::string>& out) {
        if (node.is_string()) {
            out.push_back(node.as_string()->get());
            return true;
        }
        const toml::array* a = node.as_array();
        if (a == nullptr) return false;
        for (const toml::node& item : *a) {
            if (!item.is_string()) return false;
            out.push_back(item.as_string()->get());
        }
        return true;
    }

    bool wrong_type(const toml::node& node, const std::string& what, std::string_view want) {
        return fail(node.source(), what + " must be " + std::string(want) + ", got " +
                                       std::string(type_name(node.type())));
    }

    // A listener's and a backend's TLS files are relative to this file's directory, like the
    // users file; they are read (and their errors reported, the file named) when the gateway
    // builds its TLS contexts (backends: upstream_table::add, at start and on a reload).
    bool resolve_tls_paths() {
        namespace fs = std::filesystem;
        for (listener_conf& l : cfg_.listeners) {
            for (std::string* f : {&l.tls_cert, &l.tls_key, &l.tls_ca}) {
                fs::path p(*f);
                if (!f->empty() && p.is_relative()) {
                    *f = (fs::path(source_).parent_path() / p).lexically_normal().string();
                }
            }
        }
        discovery_conf& d = cfg_.discovery;
        for (std::string* f : {&d.tls_cert, &d.tls_key, &d.tls_ca}) {
            fs::path p(*f);
            if (!f->empty() && p.is_relative()) {
                *f = (fs::path(source_).parent_path() / p).lexically_normal().string();
            }
        }
        for (backend_conf& b : cfg_.backends) {
            for (std::string* f : {&b.tls_cert, &b.tls_key, &b.tls_ca}) {
                fs::path p(*f);
                if (!f->empty() && p.is_relative()) {
                    *f = (fs::path(source_).parent_path() / p).lexically_normal().string();
                }
            }
        }
        return true;
    }

    bool load_users_file() {
        if (cfg_.users_file.empty()) return true;
        namespace fs = std::filesystem;
        fs::path p(cfg_.users_file);
        if (p.is_relative()) p = fs::path(source_).parent_path() / p;
        cfg_.users_file = p.lexically_normal().string();
        std::string why;
        if (load_users(cfg_.users_file, cfg_.users, why)) return true;
        auto line = lines_.keys.find("server.users_file");
        error_ = source_ + ":" + std::to_string(line == lines_.keys.end() ? 0 : line->second) +
                 ": server.users_file: " + why;
        return false;
    }

    // process.csv rows join the [[backend]]s (source process.csv), so a reload re-reads it and
    // every check and diff treats them alike; the file's own [[backend]] wins no clash.
    bool load_process_csv() {
        if (cfg_.process_csv.path.empty()) return true;
        namespace fs = std::filesystem;
        fs::path p(cfg_.process_csv.path);
        if (p.is_relative()) p = fs::path(source_).parent_path() / p;
        cfg_.process_csv.path = p.lexically_normal().string();
        std::vector<backend_conf> rows;
        if (!read_process_csv(cfg_.process_csv, rows, error_)) return false;
        for (backend_conf& b : rows) {
            for (const backend_conf& o : cfg_.backends) {
                if (o.name != b.name) continue;
                error_ = cfg_.process_csv.path + ": procname " + b.name +
                         " is also a [[backend]] name in " + source_;
                return false;
            }
            cfg_.backends.push_back(std::move(b));
        }
        return true;
    }

    std::string source_;
    config& cfg_;
    std::string& error_;
    source_lines lines_;
};

}  // namespace

bool load_config_string(std::string_view text, const std::string& source_name, config& out,
                        std::string& error) {
    try {
        toml::table root = toml::parse(text, std::string_view(source_name));
        config cfg;
        apply_table_defaults(cfg);
        loader l(source_name, cfg, error);
        if (!l.load(root)) return false;
        out = std::move(cfg);
        return true;
    } catch (const toml::parse_error& e) {
        error = source_name + ":" + std::to_string(e.source().begin.line) + ": " +
                std::string(e.description());
    } catch (const std::exception& e) {
        error = source_name + ": " + e.what();
    }
    return false;
}

bool load_config(const std::string& path, config& out, std::string& error) {
    std::ifstream in(path, std::ios::binary);
    if (std::error_code ec; std::filesystem::is_directory(path, ec)) {
        error = path + ": cannot open: is a directory";
        return false;
    }
    if (!in) {
        error = path + ": cannot open: " + std::strerror(errno);
        return false;
    }
    std::ostringstream text;
    text << in.rdbuf();
    return load_config_string(text.str(), path, out, error);
}

}  // namespace qgate::ctl

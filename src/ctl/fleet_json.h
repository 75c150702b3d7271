// The fleet's small JSON and base64 (src/ctl/fleet.cc talks to etcd's v3 JSON gateway): a
// strict parser for the replies etcd sends and the values qgate writes, a string quoter for
// the requests, and base64 for etcd's keys and values. No JSON library is a dependency of
// qgate and the replies read are a handful of fields, so a ~200-line DOM parser is the
// smallest honest choice. Control threads only (allocates, no exceptions escape).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qgate::ctl::fleet {

/// One JSON value. Numbers are kept as their text (etcd sends int64 as strings anyway, and a
/// revision must not pass through a double).
struct json {
    enum class kind : uint8_t { null, boolean, number, string, array, object };
    kind k = kind::null;
    bool b = false;
    std::string text;  ///< a string's contents, or a number's text
    std::vector<json> items;
    std::map<std::string, json> fields;

    /// The field `name` of an object, or nullptr.
    const json* get(std::string_view name) const;
    /// A string field's text, or a number field's text; `def` when absent or another type.
    std::string str(std::string_view name, std::string_view def = {}) const;
    /// An integer field given as a number or a string of digits (etcd's int64); `def` else.
    int64_t int_of(std::string_view name, int64_t def = 0) const;
};

/// Parses one JSON text (whitespace around it allowed, nothing else after it). Depth and size
/// are bounded (64 levels). nullopt with `error` set on anything malformed.
std::optional<json> parse_json(std::string_view text, std::string& error);

/// `s` as a JSON string literal, quotes included.
std::string quote(std::string_view s);

std::string base64_encode(std::string_view raw);
/// Strict: the standard alphabet, padded to a multiple of 4. nullopt when malformed.
std::optional<std::string> base64_decode(std::string_view text);

/// The key just past every key starting with `prefix` (etcd's range_end for a prefix).
std::string prefix_end(std::string_view prefix);

}  // namespace qgate::ctl::fleet

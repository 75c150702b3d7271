// Zero-copy walker over an encoded q body: yields each object's type, count and the exact byte
// span it occupies, without copying or allocating. Every read is bounds-checked; nesting is
// bounded by walk_limits::depth_max so hostile (deep or lying) input cannot exhaust the stack.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "qgate/qipc/types.h"

namespace qgate::qipc {

struct walk_limits {
    uint32_t depth_max = 64;  ///< maximum nesting of lists / dicts / tables / functions
};

/// One object inside a body. `bytes` starts at the type byte and ends just after the object,
/// so it can be forwarded or re-framed as is.
struct object_view {
    int8_t type = 0;
    uint8_t attr = 0;            ///< attribute byte (vectors, lists, tables); 0 otherwise
    uint64_t count = 0;          ///< vector/list items; 1 for atoms; children for the rest
    uint64_t offset = 0;         ///< position of the type byte within the walked body
    std::span<const uint8_t> bytes;
    bool is_atom() const { return type < 0 && type != qtype::kError; }
    bool is_vector() const { return type >= 1 && type <= 19; }
};

class walker {
  public:
    walker(std::span<const uint8_t> body, bool little_endian, walk_limits lim = {})
        : body_(body), le_(little_endian), lim_(lim) {}

    /// Validates and describes the object starting at `pos`.
    status at(uint64_t pos, object_view& out) const;
    /// Validates the whole body: exactly one object and nothing after it.
    status validate(object_view* top = nullptr) const;

    std::span<const uint8_t> body() const { return body_; }
    bool little_endian() const { return le_; }
    const walk_limits& limits() const { return lim_; }

  private:
    std::span<const uint8_t> body_;
    bool le_;
    walk_limits lim_;
};

/// Iterates the child objects of a general list (items), dict (keys, values), table (its dict),
/// lambda (its source char vector), projection / composition (items) or adverb form (the
/// function). Each child is fully validated before it is returned.
class child_cursor {
  public:
    child_cursor(const walker& w, const object_view& parent);
    /// Returns false at the end or on error; check status() to tell them apart.
    bool next(object_view& out);
    status error() const { return st_; }

  private:
    const walker* w_;
    uint64_t pos_ = 0;
    uint64_t left_ = 0;
    status st_{};
};

/// Text of a symbol atom or error (without the NUL); empty view for other types.
std::string_view symbol_text(const object_view& v);
/// Text of a char vector (type 10); empty view for other types.
std::string_view char_text(const object_view& v);
/// First element byte of a vector (after type, attribute and count); nullptr otherwise.
const uint8_t* vector_data(const object_view& v);

}  // namespace qgate::qipc

// raze of parts that are atoms, vectors and general lists of different types: q's `,/` gives
// one general list of all their items, each vector element becoming an atom. Atoms and the
// items of general lists are referenced as they lie; vector elements are re-encoded as atoms
// (a type byte before each element), which cannot be expressed with iovecs at a sane count, so
// they are copied into `meta` and counted in column_bytes_copied. This is the only raze shape
// that copies; tables never come here. Runs on the joining shard.

#include <cstring>

#include "builder.h"
#include "qgate/qipc/walker.h"

namespace qgate::join {

using detail::builder;
using detail::kHeadSize;
namespace qt = qipc::qtype;

namespace {

/// Items a part contributes and the meta bytes its re-encoded elements need.
void measure(const qipc::object_view& v, uint64_t& items, uint64_t& meta) {
    if (v.type < 0) {
        items += 1;
    } else {
        items += v.count;
        if (v.type != qt::kList) meta += v.count + (v.bytes.size() - kHeadSize);
    }
}

/// Each element of a vector as an atom: -t then the element (symbols: f5 text NUL).
void write_atoms(const qipc::object_view& v, uint8_t* o) {
    const uint8_t* src = v.bytes.data() + kHeadSize;
    const uint8_t* end = v.bytes.data() + v.bytes.size();
    const auto atom = static_cast<uint8_t>(-v.type);
    if (v.type == qt::kSymbol) {
        while (src < end) {
            const auto* nul = static_cast<const uint8_t*>(std::memchr(src, 0, end - src));
            const size_t len = static_cast<size_t>(nul - src) + 1;  // walked: the NUL is there
            *o++ = atom;
            std::memcpy(o, src, len);
            o += len;
            src += len;
        }
        return;
    }
    const auto w = static_cast<size_t>(qipc::elem_size(v.type));
    for (; src < end; src += w) {
        *o++ = atom;
        std::memcpy(o, src, w);
        o += w;
    }
}

}  // namespace

/// True when raze_mixed can flatten this part: an atom, a vector or a general list.
bool flattenable(const qipc::object_view& v) {
    return (v.type < 0 && v.type >= -19 && v.type != -3) || (v.type >= 0 && v.type <= 19);
}

join_error raze_mixed(std::span<const qipc::object_view> tops, const join_options& opt,
                      join_output& out) {
    uint64_t items = 0, meta = 0;
    for (const auto& v : tops) measure(v, items, meta);
    if (items > uint64_t{INT32_MAX} || meta > opt.length_max) return join_error::limit;
    builder b(out, detail::envelope_meta(opt.envelope) + kHeadSize + meta,
              opt.envelope.size() + tops.size() + 2);
    b.envelope(opt.envelope);
    b.head(qt::kList, 0, items);
    uint64_t copied = 0;
    for (const auto& v : tops) {
        if (v.type < 0) {
            b.ref(v.bytes);  // an atom is already an item
        } else if (v.type == qt::kList) {
            b.ref(v.bytes.subspan(kHeadSize));
        } else if (v.count > 0) {
            uint8_t* o = b.put(v.count + (v.bytes.size() - kHeadSize));
            if (o != nullptr) write_atoms(v, o);
            copied += v.bytes.size() - kHeadSize;
        }
    }
    const join_error e = b.finish(opt.type, opt.length_max);
    out.column_bytes_copied = copied;
    return e;
}

}  // namespace qgate::join

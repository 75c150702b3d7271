// Fuzz target: the zero-copy walker over any body, in both byte orders, and the value codec's
// round trip.
//
// Input layout: byte 0 chooses the byte order (bit 0: 1 = little-endian) and the nesting limit
// (bits 1..3); the rest is the body. Invariants checked beyond "no crash, no sanitizer report":
//   * validate() accepts only a body that is exactly one object; every child the cursor yields
//     lies inside its parent, after its previous sibling, at the offset it claims; iterating
//     the children of a validated object never fails;
//   * decode() accepts only what validate() accepts, and encode(decode(x)) decodes again to an
//     equal value (through encode_into, body_writer and encode_message alike).

#include <cstdint>
#include <span>
#include <vector>

#include "fuzz_check.h"
#include "qgate/qipc/value.h"
#include "qgate/qipc/walker.h"
#include "qgate/qipc/writer.h"

using namespace qgate::qipc;

namespace {

constexpr int kVisitDepthMax = 256;  // the walker's own limit is far lower; this is a backstop

bool within(std::span<const uint8_t> inner, std::span<const uint8_t> outer) {
    return inner.data() >= outer.data() &&
           inner.data() + inner.size() <= outer.data() + outer.size();
}

bool text_within(std::string_view t, std::span<const uint8_t> bytes) {
    const auto* p = reinterpret_cast<const uint8_t*>(t.data());
    return t.empty() || (p >= bytes.data() && p + t.size() <= bytes.data() + bytes.size());
}

void touch_accessors(const object_view& v) {
    FUZZ_CHECK(text_within(symbol_text(v), v.bytes));
    FUZZ_CHECK(text_within(char_text(v), v.bytes));
    const uint8_t* data = vector_data(v);
    const uint8_t* end = v.bytes.data() + v.bytes.size();
    FUZZ_CHECK(data == nullptr || (data >= v.bytes.data() && data <= end));
}

void visit(const walker& w, const object_view& v, bool validated, int depth) {
    FUZZ_CHECK(depth < kVisitDepthMax);
    FUZZ_CHECK(within(v.bytes, w.body()));
    FUZZ_CHECK(v.bytes.data() == w.body().data() + v.offset);
    FUZZ_CHECK(!v.bytes.empty() && static_cast<int8_t>(v.bytes[0]) == v.type);
    touch_accessors(v);
    child_cursor cur(w, v);
    object_view child;
    const uint8_t* prev_end = v.bytes.data() + 1;
    while (cur.next(child)) {
        FUZZ_CHECK(within(child.bytes, v.bytes));
        FUZZ_CHECK(child.bytes.data() >= prev_end);
        prev_end = child.bytes.data() + child.bytes.size();
        visit(w, child, validated, depth + 1);
    }
    if (validated) FUZZ_CHECK(cur.error().ok());
}

void check_walk(std::span<const uint8_t> body, bool le, walk_limits lim) {
    const walker w(body, le, lim);
    object_view top;
    const status st = w.validate(&top);
    if (st) {
        FUZZ_CHECK(top.offset == 0 && top.bytes.size() == body.size());
        visit(w, top, true, 0);
    } else {
        FUZZ_CHECK(st.offset <= body.size());
        object_view first;
        if (w.at(0, first)) visit(w, first, false, 0);
    }

    value v;
    const status dst = decode(body, le, v, lim);
    if (!dst) return;
    FUZZ_CHECK(st.ok());  // decode must not accept what the walker rejects

    const uint64_t n = encoded_size(v);
    std::vector<uint8_t> buf(n);
    FUZZ_CHECK(encode_into(v, buf.data()) == buf.data() + n);
    value again;
    FUZZ_CHECK(decode(buf, true, again, walk_limits{}).ok());
    FUZZ_CHECK(again == v);

    std::vector<uint8_t> buf2(n);
    body_writer bw(buf2);
    FUZZ_CHECK(bw.encode(v).ok() && bw.size() == n && buf2 == buf);

    const std::vector<uint8_t> msg = encode_message(v, msg_type::response);
    frame_header h;
    value from_msg;
    FUZZ_CHECK(decode_message(msg, h, from_msg).ok());
    FUZZ_CHECK(h.type == msg_type::response && from_msg == v);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    const bool le = (data[0] & 1) != 0;
    const walk_limits lim{1u + ((data[0] >> 1) & 7u) * 9u};
    const std::span<const uint8_t> body(data + 1, size - 1);
    check_walk(body, le, lim);
    // The same bytes in the other byte order: only counts change meaning.
    check_walk(body, !le, walk_limits{});

    // The whole input as a plain message (header + body).
    frame_header h;
    value v;
    (void)decode_message(std::span<const uint8_t>(data, size), h, v);
    return 0;
}

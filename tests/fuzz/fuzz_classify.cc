// Fuzz target: request classification (src/route/classify.cc, args.cc, gw_call.cc), run on
// every request body a client sends in request mode, before any routing.
//
// Input layout: byte 0 is flags (bit 0: 1 = little-endian, bit 1: async, else sync); the rest
// is the body. Invariants checked beyond "no crash, no sanitizer report":
//   * classify never reads past the body: every view it returns (name, args_text, the object)
//     lies inside the body, or is one of the fixed names;
//   * the form is invalid exactly when the walker refuses the body;
//   * arguments 1..arg_count of a list call exist, argument arg_count + 1 does not, and each
//     argument and its hash key lie inside the body; call_key agrees with call_arg + hash_key;
//   * a `.gw.*` call's parameters lie inside the body, its timeout is -1 or within
//     kGwTimeoutMaxMs, and its server-type names lie inside the body (bounded in count).

#include <cstdint>
#include <span>
#include <string_view>

#include "fuzz_check.h"
#include "qgate/route/classify.h"

using namespace qgate;
using namespace qgate::route;

namespace {

constexpr uint32_t kArgsChecked = 16;  // arguments looked at per call (a body may have millions)

bool inside(std::string_view v, std::span<const uint8_t> body) {
    const auto* p = reinterpret_cast<const uint8_t*>(v.data());
    return v.empty() || (p >= body.data() && p + v.size() <= body.data() + body.size());
}

bool inside(std::span<const uint8_t> v, std::span<const uint8_t> body) {
    return v.empty() ||
           (v.data() >= body.data() && v.data() + v.size() <= body.data() + body.size());
}

bool fixed_name(std::string_view n) {
    return n == kStringQueryName || n == kLambdaName || n == kOtherName;
}

void check_arg(const arg_view& a, std::span<const uint8_t> body) {
    FUZZ_CHECK(a.is_text ? inside(a.text, body) : inside(a.object.bytes, body));
    FUZZ_CHECK(inside(hash_key(a), body));
}

void check_args(const call_info& c, std::span<const uint8_t> body) {
    const uint32_t n = c.arg_count < kArgsChecked ? c.arg_count : kArgsChecked;
    arg_view a;
    for (uint32_t k = 1; k <= n; ++k) {
        const bool got = call_arg(c, k, a);
        if (c.form == call_form::list) FUZZ_CHECK(got);
        if (!got) continue;
        check_arg(a, body);
        std::string_view key;
        FUZZ_CHECK(call_key(c, k, key) && key == hash_key(a));
    }
    FUZZ_CHECK(!call_arg(c, 0, a));
    if (c.arg_count < kArgsChecked) FUZZ_CHECK(!call_arg(c, c.arg_count + 1, a));
}

void check_names(const arg_view& types, std::span<const uint8_t> body) {
    name_list names(types);
    std::string_view name;
    std::size_t count = 0;
    while (names.next(name)) {
        FUZZ_CHECK(inside(name, body));
        FUZZ_CHECK(++count <= body.size());  // each name takes at least one byte of the body
    }
    if (!names.valid()) FUZZ_CHECK(count == 0);
}

void check_gw(const call_info& c, std::span<const uint8_t> body) {
    gw_call g;
    if (!parse_gw(c, g)) return;
    FUZZ_CHECK(g.kind == c.gw);
    for (const arg_view* a : {&g.query, &g.servertypes, &g.join, &g.postback, &g.timeout}) {
        FUZZ_CHECK(a->is_text ? inside(a->text, body) : inside(a->object.bytes, body));
    }
    check_names(g.servertypes, body);
    int64_t ms = 0;
    if (gw_timeout_ms(g.timeout, ms)) FUZZ_CHECK(ms == -1 || (ms >= 0 && ms <= kGwTimeoutMaxMs));
    if (!g.query.is_text && !g.query.object.bytes.empty()) {
        // The query of a list-form call is classified again to route it (classify_object).
        const qipc::walker w(c.body, c.little_endian);
        const call_info q = classify_object(w, g.query.object, c.type);
        FUZZ_CHECK(inside(q.name, body) || fixed_name(q.name));
        check_args(q, body);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    const bool le = (data[0] & 1) != 0;
    const auto type = (data[0] & 2) != 0 ? qipc::msg_type::async : qipc::msg_type::sync;
    const std::span<const uint8_t> body(data + 1, size - 1);
    const call_info c = classify(body, le, type);
    const bool valid = qipc::walker(body, le).validate().ok();
    FUZZ_CHECK((c.form == call_form::invalid) == !valid);
    FUZZ_CHECK(c.type == type && c.little_endian == le);
    FUZZ_CHECK(inside(c.name, body) || fixed_name(c.name));
    FUZZ_CHECK(inside(c.args_text, body));
    FUZZ_CHECK(inside(c.object.bytes, body));
    if (c.form == call_form::invalid) return 0;
    check_args(c, body);
    if (c.gw != gw_kind::none) check_gw(c, body);
    return 0;
}

// Fuzz target: the admin endpoint's query parser and reply (src/ctl/admin_query.cc), which
// answer every sync request on the admin port, before any other check.
//
// Input layout: byte 0 bit 0 is the byte order (1 = little-endian); the rest is the body of a
// sync request. Invariants checked beyond "no crash, no sanitizer report":
//   * the reply is always one complete, valid response message: its header parses, says
//     response, and its length is the reply's size; its body is exactly one q object;
//   * that object is the stats table (name, kind, value, help; one row per sample) exactly when
//     the query is a call of .qgate.stats, else a q error (type -128: the other functions need a
//     gateway, which the stats-only model answers with an error);
//   * parse_admin_call's name and text argument of a string query point into its text.

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "ctl/admin_query.h"
#include "fuzz_check.h"
#include "qgate/qipc/frame.h"
#include "qgate/qipc/walker.h"

using namespace qgate;

namespace {

constexpr stat_desc kCalls{"calls", stat_kind::counter, "calls", "calls answered", {}};
constexpr stat_desc kLoad{"backend_load", stat_kind::gauge, "calls", "calls", {"backend"}};

stat_list samples() {
    stat_list l(2);
    l[0].desc = kCalls;
    l[0].value = 7;
    l[1].desc = kLoad;
    l[1].label_values = {"rdb1"};
    l[1].value = 3;
    return l;
}

bool inside(std::string_view v, const std::vector<uint8_t>& text) {
    const auto* p = reinterpret_cast<const uint8_t*>(v.data());
    return v.empty() || (p >= text.data() && p + v.size() <= text.data() + text.size());
}

bool is_stats_call(std::span<const uint8_t> body, bool le) {
    qipc::value q;
    if (!qipc::decode(body, le, q)) return false;
    const auto call = ctl::parse_admin_call(q);
    if (!call) return false;
    if (q.type == qipc::qtype::kChar) {  // the string form: views into the query's text
        FUZZ_CHECK(inside(call->name, q.raw) && inside(call->args.text, q.raw));
    }
    return call->name == ctl::kStatsQuery;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    const bool le = (data[0] & 1) != 0;
    const std::span<const uint8_t> body(data + 1, size - 1);
    static const std::function<stat_list()> stats = samples;
    const std::vector<uint8_t> reply = ctl::admin_reply(body, le, stats);

    qipc::frame_header h;
    FUZZ_CHECK(qipc::parse_header(reply, h).ok());
    FUZZ_CHECK(h.type == qipc::msg_type::response && !h.compressed);
    FUZZ_CHECK(h.length == reply.size());
    const std::span<const uint8_t> out(reply.data() + qipc::kHeaderSize, h.body_length());
    const qipc::walker w(out, h.little_endian);
    qipc::object_view top;
    FUZZ_CHECK(w.validate(&top).ok());
    if (is_stats_call(body, le)) {
        FUZZ_CHECK(top.type == qipc::qtype::kTable);  // name, kind, value, help
        qipc::value v;
        FUZZ_CHECK(qipc::decode(out, h.little_endian, v).ok());
        const qipc::value& cols = v.items.at(0).items.at(1);
        FUZZ_CHECK(cols.items.size() == 4 && cols.items[0].syms.size() == 2);
        FUZZ_CHECK(cols.items[0].syms[1] == "backend_load_rdb1");
    } else {
        FUZZ_CHECK(top.type == qipc::qtype::kError);
    }
    return 0;
}

// Fuzz target: the pub/sub update parser (src/pubsub/update.cc) and the schema learnt from an
// update (schema.cc), which read every update a tickerplant or a feed handler sends.
//
// Input layout: byte 0 is flags (bit 0: 1 = little-endian, bit 1: parse against a store that
// knows `trade (time sym price size) and whatever the update itself teaches it); the rest is
// the body. Invariants checked beyond "no crash, no sanitizer report":
//   * an accepted update's views (table name, data, columns, sym) lie inside the body, its sym
//     column is one of its columns and of the right type, every column has `rows` items;
//   * is_update_call agrees with an accepted update; only a table-shaped `upd is forwardable;
//   * learning the update's schema and parsing again against it never fails an update that
//     parsed without it, and finds the same table.

#include <cstdint>
#include <span>
#include <string_view>

#include "fuzz_check.h"
#include "qgate/pubsub/schema.h"
#include "qgate/pubsub/update.h"

using namespace qgate;
using namespace qgate::pubsub;

namespace {

// `trade: ([] time:`timespan$(); sym:`g#`symbol$(); price:`float$(); size:`long$())
constexpr uint8_t kTradeSchema[] = {
    0x62, 0x00, 0x63, 0x0b, 0x00, 0x04, 0x00, 0x00, 0x00, 't',  'i',  'm',  'e',  0x00,
    's',  'y',  'm',  0x00, 'p',  'r',  'i',  'c',  'e',  0x00, 's',  'i',  'z',  'e',
    0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b,
    0x04, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00,
    0x00, 0x00, 0x00};

bool inside(std::span<const uint8_t> v, std::span<const uint8_t> body) {
    return v.empty() ||
           (v.data() >= body.data() && v.data() + v.size() <= body.data() + body.size());
}

bool inside(std::string_view v, std::span<const uint8_t> body) {
    return inside(std::span(reinterpret_cast<const uint8_t*>(v.data()), v.size()), body);
}

void check_view(const update_view& u, std::span<const uint8_t> body) {
    FUZZ_CHECK(!u.table.empty() && inside(u.table, body));
    FUZZ_CHECK(inside(u.data.bytes, body) && inside(u.columns.bytes, body));
    FUZZ_CHECK(inside(u.sym.bytes, body) && inside(u.names.bytes, body));
    FUZZ_CHECK(u.sym_column < u.column_count);
    if (u.shape == data_shape::row) {
        FUZZ_CHECK(u.rows == 1 && u.sym.type == -qipc::qtype::kSymbol);
    } else {
        FUZZ_CHECK(u.sym.type == qipc::qtype::kSymbol && u.sym.count == u.rows);
        FUZZ_CHECK(u.columns.count == u.column_count);
    }
    if (u.forwardable) FUZZ_CHECK(u.shape == data_shape::table && u.kind == upd_kind::upd);
    if (u.time_missing) FUZZ_CHECK(u.kind == upd_kind::u_upd && u.shape != data_shape::table);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    const bool le = (data[0] & 1) != 0;
    const bool with_store = (data[0] & 2) != 0;
    const std::span<const uint8_t> body(data + 1, size - 1);
    schema_store store;
    if (with_store) FUZZ_CHECK(store.add("trade", kTradeSchema).ok());
    update_view u;
    const status st = parse_update(body, le, u, with_store ? &store : nullptr);
    if (!st) return 0;
    check_view(u, body);
    FUZZ_CHECK(is_update_call(body, le));
    if (!store.learn(u).ok()) return 0;
    update_view again;
    FUZZ_CHECK(parse_update(body, le, again, &store).ok());
    check_view(again, body);
    FUZZ_CHECK(again.table == u.table && again.rows == u.rows);
    return 0;
}

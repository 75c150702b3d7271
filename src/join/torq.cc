// TorQ's gateway replies (seed 003, TorQ gateway.q): its error texts, the `error: ` prefix of
// async replies, the postback envelope `postback,(enlist query),enlist result`, and encoding
// the text arguments of string-form calls. Writes into caller buffers only (no allocation):
// the engine calls these on the client's shard when a fan-out fails or is refused.

#include <algorithm>
#include <cstring>

#include "qgate/join.h"
#include "qgate/qipc/frame.h"
#include "qgate/qipc/writer.h"
#include "text_out.h"

namespace qgate::join {

namespace qt = qipc::qtype;

namespace {

using detail::text_out;

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool is_name(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '_';
        if (!ok) return false;
    }
    return !(s[0] >= '0' && s[0] <= '9');
}

}  // namespace

bool has_postback(const route::arg_view& postback) {
    if (postback.is_text) {
        const std::string_view t = trim(postback.text);
        return !(t.empty() || t == "()" || t == "`" || t == "::");
    }
    const qipc::object_view& o = postback.object;
    return !(o.bytes.empty() || (o.type == qt::kList && o.count == 0) ||
             (o.type == -qt::kSymbol && o.bytes.size() == 2) || o.type == qt::kUnary);
}

std::string_view missing_types_text(std::span<const std::string_view> missing,
                                    std::span<char> out) {
    text_out t{out};
    t.add("not all of the requested server types are available; missing ");
    for (std::size_t i = 0; i < missing.size(); ++i) t.add(i == 0 ? "" : " ").add(missing[i]);
    return t.view();
}

std::string_view join_failed_text(std::string_view err, bool sync, std::span<char> out) {
    text_out t{out};
    t.add(sync ? "failed to apply supplied join function to results: "
               : "failed to apply join function to result sets: ");
    return t.add(err).view();
}

std::string_view backend_closed_text(std::string_view servertype, std::span<char> out) {
    text_out t{out};
    return t.add("backend ").add(servertype).add(" server handling query closed the connection")
        .view();
}

uint64_t encode_callable_text(std::string_view text, std::span<uint8_t> out) {
    const std::string_view s = trim(text);
    qipc::body_writer w(out);
    if (!s.empty() && s.front() == '{') {
        w.u8(static_cast<uint8_t>(qt::kLambda)).text("").string(s);  // root context + source
    } else if (!s.empty() && s.front() == '`' && is_name(s.substr(1))) {
        w.symbol(s.substr(1));
    } else if (is_name(s)) {
        w.symbol(s);
    } else {
        w.string(s);
    }
    return w.ok() ? w.size() : 0;
}

uint32_t postback_envelope(const route::gw_call& call, std::span<uint8_t> scratch,
                           std::span<std::span<const uint8_t>> items) {
    const route::arg_view& pb = call.postback;
    if (!has_postback(pb) || items.size() < 2) return 0;
    uint32_t n = 0;
    if (pb.is_text) {
        const uint64_t k = encode_callable_text(pb.text, scratch);
        if (k == 0) return 0;
        items[n++] = scratch.first(k);
        scratch = scratch.subspan(k);
    } else if (pb.object.type == qt::kList) {  // (f;`a;`b): spliced, as `,` does
        const qipc::walker w(pb.object.bytes, pb.little_endian);
        qipc::object_view top, item;
        if (!w.at(0, top)) return 0;
        for (qipc::child_cursor c(w, top); c.next(item);) {
            if (n + 1 >= items.size()) return 0;
            items[n++] = item.bytes;
        }
    } else {
        items[n++] = pb.object.bytes;
    }
    if (call.query.is_text) {
        qipc::body_writer w(scratch);
        if (!w.string(trim(call.query.text)).ok()) return 0;
        items[n++] = w.written();
    } else {
        items[n++] = call.query.object.bytes;
    }
    return n;
}

uint64_t write_error_reply(std::string_view text, bool sync,
                           std::span<const std::span<const uint8_t>> envelope,
                           std::span<uint8_t> out) {
    if (sync) return qipc::write_error_message(text, qipc::msg_type::response, out);
    if (out.size() < qipc::kHeaderSize) return 0;
    qipc::body_writer w(out.subspan(qipc::kHeaderSize));
    if (!envelope.empty()) {
        w.vector_head(qt::kList, 0, static_cast<uint32_t>(envelope.size() + 1));
        for (const auto& item : envelope) w.bytes(item);
    }
    w.vector_head(qt::kChar, 0, static_cast<uint32_t>(kErrorPrefix.size() + text.size()));
    w.bytes({reinterpret_cast<const uint8_t*>(kErrorPrefix.data()), kErrorPrefix.size()});
    w.bytes({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
    if (!w.ok()) return 0;
    const uint64_t total = qipc::kHeaderSize + w.size();
    qipc::write_header({true, qipc::msg_type::async, false, total}, out.data());
    return total;
}

}  // namespace qgate::join

// Reply plans: everything about how one fan-out is answered that is known when the call
// arrives (join kind, sync or async, TorQ or q wording, postback envelope, timeout), and the
// failure texts derived from it. Runs on the client's shard; writes only into caller buffers.

#include "qgate/join.h"
#include "text_out.h"

namespace qgate::join {

using detail::text_out;

join_options reply_plan::options() const {
    join_options o;
    o.type = sync ? qipc::msg_type::response : qipc::msg_type::async;
    o.envelope = envelope_items();
    return o;
}

bool plan_gw(const route::gw_call& call, std::span<uint8_t> scratch, reply_plan& out,
             std::string_view* error) {
    out = reply_plan{};
    out.torq = true;
    out.sync = call.expects_sync();
    out.kind = join_kind_of(call.join);
    if (call.kind != route::gw_kind::asyncexecjpt) return true;
    // The postback first: a client that gave one reads every answer through it, so a bad
    // timeout is answered there too (as TorQ answers its own errors).
    out.envelope_count = postback_envelope(call, scratch, out.envelope);
    if (out.envelope_count == 0 && has_postback(call.postback)) {  // no room, or not encodable
        if (error != nullptr) *error = kBadPostbackText;
        return false;
    }
    if (!route::gw_timeout_ms(call.timeout, out.timeout_ms)) {
        if (error != nullptr) *error = kBadTimeoutText;
        return false;
    }
    return true;
}

reply_plan plan_route(std::string_view join, qipc::msg_type request_type) {
    reply_plan p;
    p.kind = join.empty() ? join_kind::raze : join_kind_of(join);
    p.reply = request_type == qipc::msg_type::sync;  // q answers no async message
    return p;
}

std::string_view failure_text(const gather& g, const reply_plan& plan,
                              std::string_view servertype, std::span<char> out) {
    text_out t{out};
    switch (g.reason()) {
    case fail_reason::q_error:
        if (plan.torq && plan.sync)
            return t.add("queries failed on server(s) ").add(servertype)
                .add(".  Error(s) were ").add(g.error()).view();
        return t.add(g.error()).view();
    case fail_reason::backend_lost:
        if (plan.torq) return backend_closed_text(servertype, out);
        return t.add(g.error()).view();
    default: return t.add(g.error()).view();  // timeout, bad reply: the gather's text
    }
}

std::string_view join_failure_text(join_error e, const reply_plan& plan, std::span<char> out) {
    if (plan.torq) return join_failed_text(join_error_text(e), plan.sync, out);
    text_out t{out};
    return t.add(join_error_text(e)).view();
}

uint64_t write_plan_error(std::string_view text, const reply_plan& plan, std::span<uint8_t> out) {
    return write_error_reply(text, plan.sync, plan.envelope_items(), out);
}

}  // namespace qgate::join

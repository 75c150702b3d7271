// Request mode fan-out (not a connection kind: a part of request clients): one call becomes one
// child slot per group, gathered and joined on the client's shard (fanouts.cc; fanout.h has
// the context). Owner: the shard's thread; contexts come from a per-engine pool.
#pragma once

#include "proxy/conn_handler.h"
#include "proxy/engine.h"

namespace qgate::proxy {

class fanouts final {
  public:
    explicit fanouts(engine& e) : e_(e) {}
    engine& e_;

    void init_fanout();
    bool fanout_call(session& ss, request& r, const route::call_info& call,
                     const route::route_rule* rule, bool compressed);
    void fanout_gw(session& ss, request& r, fanout& f, const route::call_info& c,
                   const route::route_rule* rule);
    void fanout_route(session& ss, request& r, fanout& f, const route::call_info& c,
                      const route::route_rule& rule);
    bool fanout_children(fanout& f, const route::route_rule& rule, const route::call_info& c,
                         uint32_t timeout_ms);
    void fanout_drop_children(fanout& f);
    void fanout_submit(fanout& f);
    void fanout_back(request& child);
    bool fanout_reroute(fanout& f, request& child);
    void fanout_complete(fanout& f);
    void fanout_reduce(fanout& f);
    void fanout_fail(fanout& f, std::string_view text);
    void fanout_finish(fanout& f);
    bool fanout_push(session& ss, request& parent);
    void fanout_release(request& parent);
    void free_fanout(fanout& f);
    void fanout_expired(request& parent, uint64_t now_ms);

    std::unique_ptr<fanout[]> fans_;  ///< fan-out contexts (fanout.contexts_max)
    fanout* fan_free_ = nullptr;
};

}  // namespace qgate::proxy

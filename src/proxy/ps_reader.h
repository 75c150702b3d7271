// Pub/sub ingest, the frame reader of the connections that carry updates (publishers and the
// feed link): each frame is read with recv_into straight into the refcounted buffer it is
// published from (ps_reader.cc). Owner: the shard's thread; no state of its own beyond the
// connection's ps_conn.
#pragma once

#include "proxy/conn_handler.h"
#include "proxy/engine.h"

namespace qgate::proxy {

class ps_reader final {
  public:
    explicit ps_reader(engine& e) : e_(e) {}
    engine& e_;

    void ps_direct(session& ss, role r);
    void ps_arm(session& ss, role r);
    void ps_read(session& ss, role r, const io::completion& c);
    void ps_pull(session& ss, role r);
    void ps_took(session& ss, uint32_t n);
    bool ps_header(session& ss);
    qipc::header_limits ps_header_limits(const session& ss) const;
    bool ps_reading(const session& ss) const;

};

}  // namespace qgate::proxy

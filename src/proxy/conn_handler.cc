// Defaults of conn_handler's optional hooks: kinds that never read with recv_into, connect an
// upstream socket, set timers or queue pub/sub deliveries leave them as they are.

#include "proxy/conn_handler.h"

#include "proxy/engine.h"

namespace qgate::proxy {

void conn_handler::arm_read(session&, role) {}
void conn_handler::on_read(session&, role, const io::completion&) {}
void conn_handler::on_connected(session&, const io::completion&) {}
void conn_handler::on_timeout(session&) {}
void conn_handler::on_read_eof(session& ss, role r) { on_eof(ss, r); }
void conn_handler::on_link_failed(session& ss) { on_eof(ss, role::upstream); }
void conn_handler::on_tag_sent(session&) {}
bool conn_handler::on_sock_freed(session&, role) { return false; }
void conn_handler::on_slot_freed(session&) {}

}  // namespace qgate::proxy

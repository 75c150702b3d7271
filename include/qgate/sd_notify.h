// systemd's readiness protocol (sd_notify(3)) without libsystemd: one datagram to the unix
// socket named by $NOTIFY_SOCKET. Used by the control thread only (conf/qgate.service runs
// qgate as Type=notify).
#pragma once

namespace qgate::ctl {

/// Sends `state` ("READY=1", "RELOADING=1", "STOPPING=1", ...) to $NOTIFY_SOCKET (a path, or
/// '@' for Linux's abstract namespace). Without the variable (not started by systemd) it does
/// nothing and returns false; false too when the datagram cannot be sent (errno kept). It
/// never blocks: the socket is a datagram socket, sent with MSG_DONTWAIT.
bool sd_notify(const char* state);

}  // namespace qgate::ctl

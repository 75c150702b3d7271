// A blocking q-IPC client for one sync query, used to read qgate's counters through its admin
// endpoint (h".qgate.stats[]" → a table name, kind, value, help). Control path only; not timed.
#include "admin.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "load.h"
#include "qgate/qipc/compress.h"
#include "qgate/qipc/frame.h"
#include "qgate/qipc/value.h"
#include "qgate/qipc/writer.h"

namespace qbench {
namespace {

namespace qipc = qgate::qipc;

bool read_exact(int fd, uint8_t* p, std::size_t n, int timeout_ms) {
    while (n > 0) {
        pollfd pfd{fd, POLLIN, 0};
        if (poll(&pfd, 1, timeout_ms) != 1) return false;
        ssize_t r = read(fd, p, n);
        if (r <= 0) {
            if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            return false;
        }
        p += r, n -= std::size_t(r);
    }
    return true;
}

bool write_all(int fd, const uint8_t* p, std::size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EINTR || errno == EAGAIN)) {
            pollfd pfd{fd, POLLOUT, 0};
            poll(&pfd, 1, 1000);
            continue;
        }
        if (w <= 0) return false;
        p += w, n -= std::size_t(w);
    }
    return true;
}

/// Reads one whole message (decompressed when needed) into `msg`.
bool read_message(int fd, std::vector<uint8_t>& msg, std::string& error) {
    msg.assign(8, 0);
    if (!read_exact(fd, msg.data(), 8, 5000)) return error = "no reply", false;
    qipc::frame_header h;
    if (!qipc::parse_header(msg, h).ok()) return error = "malformed reply header", false;
    msg.resize(h.length);
    if (!read_exact(fd, msg.data() + 8, h.length - 8, 5000)) return error = "short reply", false;
    if (!h.compressed) return true;
    uint64_t ulen = 0;
    std::vector<uint8_t> plain;
    if (qipc::uncompressed_length(msg, uint64_t{1} << 32, ulen).ok()) {
        plain.resize(ulen);
        if (qipc::decompress(msg, plain).ok()) return msg.swap(plain), true;
    }
    return error = "bad compressed reply", false;
}

}  // namespace

bool q_query(uint16_t port, const std::string& text, qgate::qipc::value& out, std::string& error) {
    int fd = connect_q("127.0.0.1", port, "qbench:", error);
    if (fd < 0) return false;
    std::vector<uint8_t> req =
        qipc::encode_message(qipc::value::string(text), qipc::msg_type::sync);
    std::vector<uint8_t> msg;
    bool ok = write_all(fd, req.data(), req.size()) && read_message(fd, msg, error);
    close(fd);
    if (!ok) return error.empty() ? (error = "send failed", false) : false;
    qipc::frame_header h;
    if (!qipc::decode_message(msg, h, out).ok()) return error = "undecodable reply", false;
    if (out.type == qipc::qtype::kError)
        return error = "q error '" + (out.syms.empty() ? std::string() : out.syms[0]), false;
    return true;
}

bool read_stats(uint16_t port, stat_map& out, std::string& error) {
    qgate::qipc::value v;
    if (!q_query(port, ".qgate.stats[]", v, error)) return false;
    // A table (name, kind, value, help): flip = names ! columns.
    if (v.type != qipc::qtype::kTable || v.items.size() != 1 || v.items[0].items.size() != 2 ||
        v.items[0].items[1].items.size() < 3 ||
        v.items[0].items[1].items[0].type != qipc::qtype::kSymbol)
        return error = "'.qgate.stats[]' did not return the stats table", false;
    const auto& keys = v.items[0].items[1].items[0].syms;
    const auto& vals = v.items[0].items[1].items[2];
    out.clear();
    for (std::size_t i = 0; i < keys.size(); ++i) {
        int64_t x = 0;
        if (vals.type == qipc::qtype::kLong && vals.raw.size() >= (i + 1) * 8)
            std::memcpy(&x, vals.raw.data() + i * 8, 8);
        else if (vals.type == qipc::qtype::kList && i < vals.items.size() &&
                 vals.items[i].type == -qipc::qtype::kLong && vals.items[i].raw.size() == 8)
            std::memcpy(&x, vals.items[i].raw.data(), 8);
        else
            continue;
        out[keys[i]] = x;
    }
    return true;
}

}  // namespace qbench

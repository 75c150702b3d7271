// psbench: pub/sub egress benchmark (issue 7). One publisher, K subscribers, updates of about
// --size bytes (a one-row table: sym, seq, and a byte-vector pad column).
//
//   psbench --qgate PORT [--pid QGATE_PID] --subs K --updates N [--size 4096]
//       a child process publishes N `.u.upd` messages to qgate's pubsub listener over one
//       socket; this process holds K subscribers (.u.sub[`trade;`]) and reads until each has N
//       updates.
//   psbench --direct --subs K --updates N [--size 4096]
//       the baseline: a child process writes the same update N times to each of the K
//       subscriber sockets itself (non-blocking, writev of up to 64 copies per call), as a
//       tickerplant would; this process reads them the same way.
// Prints one line: mode, subs, updates, bytes per delivered update, seconds, aggregate egress
// (MB/s and updates/s delivered), and with --pid the qgate CPU time per published update.
// Single-threaded reader on epoll; bounded waits; exits non-zero on any failure.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "psbench: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

void put32(std::vector<uint8_t>& b, uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_syms(std::vector<uint8_t>& b, std::initializer_list<const char*> s) {
    b.insert(b.end(), {11, 0});
    put32(b, static_cast<uint32_t>(s.size()));
    for (const char* x : s) b.insert(b.end(), x, x + std::strlen(x) + 1);
}
void frame(std::vector<uint8_t>& b, uint8_t type) {
    const uint32_t n = static_cast<uint32_t>(b.size());
    std::memcpy(b.data(), "\x01\x00\x00\x00", 4);
    b[1] = type;
    for (int i = 0; i < 4; ++i) b[4 + i] = static_cast<uint8_t>(n >> (8 * i));
}

// `fn` = ".u.upd" (publisher -> qgate) or "upd" (what a tickerplant sends subscribers).
std::vector<uint8_t> update_msg(const char* fn, uint32_t size) {
    std::vector<uint8_t> b(8, 0);
    b.insert(b.end(), {0, 0});
    put32(b, 3);
    b.push_back(0xf5);
    b.insert(b.end(), fn, fn + std::strlen(fn) + 1);
    b.push_back(0xf5);
    b.insert(b.end(), {'t', 'r', 'a', 'd', 'e', 0});
    b.insert(b.end(), {98, 0, 99});
    put_syms(b, {"sym", "seq", "pad"});
    b.insert(b.end(), {0, 0});
    put32(b, 3);
    put_syms(b, {"a"});
    b.insert(b.end(), {7, 0});
    put32(b, 1);
    for (int i = 0; i < 8; ++i) b.push_back(0);
    b.insert(b.end(), {0, 0});
    put32(b, 1);
    const uint32_t pad = size > b.size() + 6 ? size - static_cast<uint32_t>(b.size()) - 6 : 1;
    b.insert(b.end(), {4, 0});
    put32(b, pad);
    b.insert(b.end(), pad, 0x5a);
    frame(b, 0);
    return b;
}

void write_all(int fd, const uint8_t* p, size_t n) {
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) die("write");
        p += w;
        n -= static_cast<size_t>(w);
    }
}

void read_all(int fd, uint8_t* p, size_t n) {
    while (n > 0) {
        const ssize_t r = ::read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) die("read");
        p += r;
        n -= static_cast<size_t>(r);
    }
}

// A q frame (header + body).
std::vector<uint8_t> read_frame(int fd) {
    std::vector<uint8_t> f(8);
    read_all(fd, f.data(), 8);
    uint32_t n = 0;
    std::memcpy(&n, f.data() + 4, 4);
    f.resize(n);
    read_all(fd, f.data() + 8, n - 8);
    return f;
}

int connect_q(uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("connect");
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    write_all(fd, reinterpret_cast<const uint8_t*>("bench:\x03"), 8);
    uint8_t cap = 0;
    read_all(fd, &cap, 1);
    return fd;
}

void subscribe(int fd) {
    std::vector<uint8_t> m(8, 0);
    const char* text = ".u.sub[`trade;`]";
    m.insert(m.end(), {10, 0});
    put32(m, static_cast<uint32_t>(std::strlen(text)));
    m.insert(m.end(), text, text + std::strlen(text));
    frame(m, 1);
    for (int attempt = 0; attempt < 100; ++attempt) {
        write_all(fd, m.data(), m.size());
        const std::vector<uint8_t> r = read_frame(fd);
        if (r[8] != 0x80) return;  // not an error: the (t;schema) reply
        ::usleep(10000);           // 'trade: the warm-up update has not reached the hub yet
    }
    std::fprintf(stderr, "psbench: .u.sub kept failing\n");
    std::exit(1);
}

// Non-blocking writer of `n` copies of `msg` to every socket in `fds` (the direct baseline).
void direct_writer(const std::vector<int>& fds, const std::vector<uint8_t>& msg, uint64_t n) {
    const uint64_t total = n * msg.size();
    std::vector<uint64_t> off(fds.size(), 0);
    size_t done = 0;
    const int ep = ::epoll_create1(0);
    for (size_t i = 0; i < fds.size(); ++i) {
        epoll_event ev{};
        ev.events = EPOLLOUT;
        ev.data.u64 = i;
        ::epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
    }
    iovec iov[64];
    epoll_event evs[256];
    while (done < fds.size()) {
        const int k = ::epoll_wait(ep, evs, 256, 10000);
        if (k <= 0) die("direct writer stalled");
        for (int e = 0; e < k; ++e) {
            const size_t i = evs[e].data.u64;
            for (;;) {
                if (off[i] == total) break;
                const uint64_t at = off[i] % msg.size();
                int cnt = 0;
                uint64_t left = total - off[i];
                for (; cnt < 64 && left > 0; ++cnt) {
                    const uint64_t start = cnt == 0 ? at : 0;
                    const uint64_t len = std::min<uint64_t>(msg.size() - start, left);
                    iov[cnt].iov_base = const_cast<uint8_t*>(msg.data() + start);
                    iov[cnt].iov_len = len;
                    left -= len;
                }
                const ssize_t w = ::writev(fds[i], iov, cnt);
                if (w < 0) {
                    if (errno == EAGAIN) break;
                    die("writev");
                }
                off[i] += static_cast<uint64_t>(w);
            }
            if (off[i] == total) {
                ::epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], nullptr);
                ++done;
            }
        }
    }
}

struct reader {
    uint8_t hdr[8];
    uint32_t have = 0;
    uint64_t left = 0;
    uint64_t frames = 0;
    uint64_t bytes = 0;
};

// Reads every socket until each has received `n` frames; returns total bytes.
uint64_t read_updates(const std::vector<int>& fds, uint64_t n) {
    const int ep = ::epoll_create1(0);
    std::vector<reader> rd(fds.size());
    for (size_t i = 0; i < fds.size(); ++i) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = i;
        ::epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
    }
    static uint8_t buf[1 << 18];
    size_t done = 0;
    epoll_event evs[256];
    while (done < fds.size()) {
        const int k = ::epoll_wait(ep, evs, 256, 10000);
        if (k <= 0) die("readers stalled");
        for (int e = 0; e < k; ++e) {
            const size_t i = evs[e].data.u64;
            reader& r = rd[i];
            const ssize_t got = ::read(fds[i], buf, sizeof buf);
            if (got <= 0) die("subscriber read");
            r.bytes += static_cast<uint64_t>(got);
            for (size_t p = 0; p < static_cast<size_t>(got);) {
                if (r.left == 0) {
                    r.hdr[r.have++] = buf[p++];
                    if (r.have < 8) continue;
                    uint32_t len = 0;
                    std::memcpy(&len, r.hdr + 4, 4);
                    r.left = len - 8;
                    r.have = 0;
                    if (r.left == 0) ++r.frames;
                    continue;
                }
                const uint64_t take = std::min<uint64_t>(r.left, static_cast<size_t>(got) - p);
                p += take;
                r.left -= take;
                if (r.left == 0) ++r.frames;
            }
            if (r.frames >= n && r.left == 0 && r.have == 0) {
                ::epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], nullptr);
                ++done;
            }
        }
    }
    uint64_t total = 0;
    for (const reader& r : rd) total += r.bytes;
    return total;
}

double cpu_seconds(int pid) {
    if (pid <= 0) return 0;
    const std::string path = "/proc/" + std::to_string(pid) + "/stat";
    FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) return 0;
    char line[2048];
    const bool ok = std::fgets(line, sizeof line, f) != nullptr;
    std::fclose(f);
    if (!ok) return 0;
    const char* p = std::strrchr(line, ')');
    unsigned long ut = 0, st = 0;
    if (p == nullptr || std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                                    &ut, &st) != 2) {
        return 0;
    }
    return static_cast<double>(ut + st) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

int main(int argc, char** argv) {
    int qport = 0, pid = 0;
    bool direct = false;
    uint64_t subs = 8, updates = 10000;
    uint32_t size = 4096;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : "0";
        if (a == "--qgate") { qport = std::atoi(v); ++i; }
        else if (a == "--pid") { pid = std::atoi(v); ++i; }
        else if (a == "--direct") { direct = true; }
        else if (a == "--subs") { subs = std::strtoull(v, nullptr, 10); ++i; }
        else if (a == "--updates") { updates = std::strtoull(v, nullptr, 10); ++i; }
        else if (a == "--size") { size = static_cast<uint32_t>(std::atoi(v)); ++i; }
        else { std::fprintf(stderr, "psbench: unknown argument %s\n", argv[i]); return 2; }
    }
    if (!direct && qport == 0) {
        std::fprintf(stderr, "usage: psbench --qgate PORT | --direct [--subs K] [--updates N]\n");
        return 2;
    }
    std::vector<int> readers, writers;
    std::vector<uint8_t> msg;
    int pub = -1;
    if (direct) {
        msg = update_msg("upd", size);
        const int l = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l, 1024) != 0 ||
            ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
            die("listen");
        }
        for (uint64_t i = 0; i < subs; ++i) {
            const int c = ::socket(AF_INET, SOCK_STREAM, 0);
            if (::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("connect");
            readers.push_back(c);
            const int s = ::accept(l, nullptr, nullptr);
            const int one = 1;
            ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            writers.push_back(s);
        }
    } else {
        msg = update_msg(".u.upd", size);
        pub = connect_q(static_cast<uint16_t>(qport));
        write_all(pub, msg.data(), msg.size());  // warm-up: qgate learns the schema
        for (uint64_t i = 0; i < subs; ++i) {
            readers.push_back(connect_q(static_cast<uint16_t>(qport)));
            subscribe(readers.back());
        }
    }
    const double cpu0 = cpu_seconds(pid);
    const auto t0 = std::chrono::steady_clock::now();
    const pid_t child = ::fork();
    if (child == 0) {
        if (direct) {
            for (int s : writers) ::fcntl(s, F_SETFL, O_NONBLOCK);
            direct_writer(writers, msg, updates);
        } else {
            std::vector<uint8_t> batch;
            for (int i = 0; i < 64; ++i) batch.insert(batch.end(), msg.begin(), msg.end());
            for (uint64_t sent = 0; sent < updates; sent += 64) {
                const uint64_t k = std::min<uint64_t>(64, updates - sent);
                write_all(pub, batch.data(), k * msg.size());
            }
        }
        ::_exit(0);
    }
    for (int s : writers) ::close(s);
    const uint64_t bytes = read_updates(readers, updates);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = cpu_seconds(pid) - cpu0;
    int status = 0;
    ::waitpid(child, &status, 0);
    std::printf("%s subs=%llu updates=%llu bytes/update=%llu secs=%.3f egress_MBps=%.0f "
                "deliveries_per_s=%.0f",
                direct ? "direct" : "qgate", static_cast<unsigned long long>(subs),
                static_cast<unsigned long long>(updates),
                static_cast<unsigned long long>(bytes / (subs * updates)), secs,
                static_cast<double>(bytes) / secs / 1e6,
                static_cast<double>(subs * updates) / secs);
    if (pid > 0)
        std::printf(" qgate_cpu_us_per_update=%.2f", cpu * 1e6 / static_cast<double>(updates));
    std::printf("\n");
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

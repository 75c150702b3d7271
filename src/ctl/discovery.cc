// DESIGN: the TorQ discovery client's thread (qgate/discovery.h). One control thread for every
// [discovery] address: it polls each link's socket (discovery_link.cc, non-blocking, every
// state with a deadline) and an eventfd that stop() bumps, so it never waits longer than the
// nearest deadline or a stop. After each step, a link whose view changed hands it to the sink
// as the backends of "discovery host:port" (the reloader builds a generation only when the
// list differs; a backend gone from it drains). Once the gateway drains, views are no longer
// handed over. The thread owns the links; the counters are atomics the admin thread reads.
#include "qgate/discovery.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <utility>
#include <vector>

#include "ctl/discovery_link.h"
#include "qgate/log.h"

namespace qgate {

namespace {

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

struct discovery_client::impl {
    impl(config c, backend_sink& s, const std::atomic<bool>& d)
        : cfg(std::move(c)), sink(s), draining(d) {}

    const config cfg;  // a copy: the thread outlives no snapshot it reads
    backend_sink& sink;
    const std::atomic<bool>& draining;
    discovery_counters counters;
    std::vector<std::unique_ptr<ctl::disc::link>> links;
    std::atomic<bool> stopping{false};
    int wake_fd = -1;
    std::thread thread;

    void run();
    void hand_over(ctl::disc::link& l);
};

void discovery_client::impl::hand_over(ctl::disc::link& l) {
    std::vector<backend_conf> list;
    if (!l.take_change(list)) return;
    if (draining.load(std::memory_order_acquire)) return;
    const std::size_t offered = list.size();
    const sink_result r = sink.set_backends(l.owner(), std::move(list));
    QGATE_LOG_INFO("%s: %zu process(es) listed, %zu served (generation %llu)",
                   l.owner().c_str(), offered, r.accepted.size(),
                   static_cast<unsigned long long>(r.generation));
}

void discovery_client::impl::run() {
    std::vector<pollfd> fds(links.size() + 1);
    while (!stopping.load(std::memory_order_acquire)) {
        int64_t next = now_ms() + 1000;
        for (std::size_t i = 0; i < links.size(); ++i) {
            fds[i] = {links[i]->fd(), links[i]->events(), 0};
            next = std::min(next, links[i]->deadline_ms());
        }
        fds.back() = {wake_fd, POLLIN, 0};
        const int64_t wait = std::max<int64_t>(0, next - now_ms());
        if (poll(fds.data(), fds.size(), static_cast<int>(wait)) < 0 && errno != EINTR) {
            QGATE_LOG_ERROR("discovery: poll: %s; the discovery client stops", strerror(errno));
            return;
        }
        const int64_t now = now_ms();
        for (std::size_t i = 0; i < links.size(); ++i) {
            const short rev = fds[i].fd >= 0 ? fds[i].revents : short{0};
            if (rev != 0 || now >= links[i]->deadline_ms()) links[i]->step(rev, now);
            hand_over(*links[i]);
        }
    }
}

discovery_client::discovery_client(const config& cfg, backend_sink& sink,
                                   const std::atomic<bool>& draining)
    : impl_(std::make_unique<impl>(cfg, sink, draining)) {}

discovery_client::~discovery_client() { stop(); }

const discovery_counters& discovery_client::counters() const { return impl_->counters; }

bool discovery_client::start(std::string& error) {
    impl& m = *impl_;
    if (m.cfg.discovery.addresses.empty()) return true;
    m.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (m.wake_fd < 0) {
        error = std::string("discovery: eventfd: ") + strerror(errno);
        return false;
    }
    for (const std::string& a : m.cfg.discovery.addresses) {
        m.links.push_back(std::make_unique<ctl::disc::link>(a, m.cfg, m.counters));
    }
    m.thread = std::thread([&m] { m.run(); });
    QGATE_LOG_INFO("discovery: %zu process(es), proctypes as groups, refresh every %u ms",
                   m.links.size(), m.cfg.discovery.refresh_ms);
    return true;
}

void discovery_client::stop() {
    impl& m = *impl_;
    if (!m.thread.joinable()) return;
    m.stopping.store(true, std::memory_order_release);
    const uint64_t one = 1;
    (void)!write(m.wake_fd, &one, sizeof one);
    m.thread.join();
    m.links.clear();
    close(m.wake_fd);
    m.wake_fd = -1;
}

}  // namespace qgate

// Byte buffers for qmock's connections: a growable input buffer that never zero-fills (a
// 500 MB request must not be memset first) and an output queue of chunks written with writev.
// Single-threaded; owned by one connection.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <new>
#include <span>

namespace qmock {

/// Input buffer: bytes [head_, size_) are unread. Grows with realloc (no zero fill).
class in_buffer {
  public:
    in_buffer() = default;
    in_buffer(const in_buffer&) = delete;
    in_buffer& operator=(const in_buffer&) = delete;
    ~in_buffer() { std::free(data_); }

    uint8_t* read_ptr() { return data_ + head_; }
    std::size_t readable() const { return size_ - head_; }
    uint8_t* write_ptr() { return data_ + size_; }
    std::size_t writable() const { return cap_ - size_; }
    void produced(std::size_t n) { size_ += n; }
    void consume(std::size_t n) {
        head_ += n;
        if (head_ == size_) head_ = size_ = 0;
    }

    /// Makes room for at least `n` more bytes after the unread ones (moves them to the front
    /// first). Returns false when memory runs out.
    bool reserve(std::size_t n) {
        if (head_ > 0 && (cap_ - size_ < n || head_ > cap_ / 2)) {
            std::memmove(data_, data_ + head_, size_ - head_);
            size_ -= head_;
            head_ = 0;
        }
        if (cap_ - size_ >= n) return true;
        std::size_t want = cap_ ? cap_ : 65536;
        while (want - size_ < n) want *= 2;
        auto* p = static_cast<uint8_t*>(std::realloc(data_, want));
        if (!p) return false;
        data_ = p;
        cap_ = want;
        return true;
    }

    /// Gives memory back after a big message when the buffer is empty.
    void shrink_if_idle(std::size_t keep) {
        if (size_ != 0 || cap_ <= keep) return;
        std::free(data_);
        data_ = nullptr;
        cap_ = 0;
    }

  private:
    uint8_t* data_ = nullptr;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
    std::size_t cap_ = 0;
};

/// Output queue: small messages are appended to the last chunk so that a batch of replies
/// goes out in one writev; big ones get a chunk of their own. Chunks are not zero-filled.
class out_queue {
  public:
    static constexpr std::size_t kChunkMin = 64 * 1024;

    /// Appends `n` bytes and returns where to write them (valid until the next append).
    uint8_t* append(std::size_t n) {
        if (chunks_.empty() || chunks_.back().cap - chunks_.back().size < n) {
            if (spare_.data && n <= spare_.cap) {  // reuse: no malloc/free per reply batch
                chunks_.push_back(std::move(spare_));
                spare_ = chunk{};
            } else {
                std::size_t cap = n < kChunkMin ? kChunkMin : n;
                chunks_.push_back(chunk{std::unique_ptr<uint8_t[]>(new uint8_t[cap]), 0, cap});
            }
        }
        chunk& c = chunks_.back();
        uint8_t* p = c.data.get() + c.size;
        c.size += n;
        bytes_ += n;
        return p;
    }

    bool empty() const { return bytes_ == 0; }
    std::size_t bytes() const { return bytes_; }

    /// Fills up to `max` iovecs with the queued bytes.
    int gather(iovec* iov, int max) const {
        int n = 0;
        for (std::size_t i = 0; i < chunks_.size() && n < max; ++i, ++n) {
            std::size_t off = i == 0 ? offset_ : 0;
            iov[n].iov_base = chunks_[i].data.get() + off;
            iov[n].iov_len = chunks_[i].size - off;
        }
        return n;
    }
    /// Drops `n` written bytes from the front.
    void written(std::size_t n) {
        bytes_ -= n;
        while (n > 0) {
            std::size_t left = chunks_.front().size - offset_;
            if (n < left) {
                offset_ += n;
                return;
            }
            n -= left;
            if (chunks_.front().cap == kChunkMin && !spare_.data) {
                spare_ = std::move(chunks_.front());
                spare_.size = 0;
            }
            chunks_.pop_front();
            offset_ = 0;
        }
    }

  private:
    struct chunk {
        std::unique_ptr<uint8_t[]> data;
        std::size_t size = 0;
        std::size_t cap = 0;
    };
    std::deque<chunk> chunks_;
    chunk spare_;             ///< one emptied kChunkMin chunk kept for the next append
    std::size_t offset_ = 0;  ///< bytes of chunks_.front() already written
    std::size_t bytes_ = 0;   ///< unwritten bytes in total
};

}  // namespace qmock

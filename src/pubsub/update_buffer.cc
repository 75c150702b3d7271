// Refcounted update buffers (update_buffer.h). Design note: an owned buffer is one
// allocation — the control block followed by the bytes — so publishing an encoded update costs
// exactly one malloc and one free however many shards and subscribers send it. The count uses
// relaxed increments (a new reference is always made from an existing one) and an acq_rel
// decrement so the thread that frees sees every other thread's reads completed. Allocation
// uses nothrow new: failure is an empty handle the caller counts, never an exception.

#include "qgate/pubsub/update_buffer.h"

#include <cstring>
#include <new>

namespace qgate::pubsub {
namespace detail {

namespace {
constexpr uint64_t kBlockSize = (sizeof(buffer_block) + 15) & ~uint64_t{15};

buffer_block* make_block(uint64_t payload) noexcept {
    void* mem = ::operator new(kBlockSize + payload, std::nothrow);
    if (mem == nullptr) return nullptr;
    auto* b = new (mem) buffer_block{};
    b->size = payload;
    b->data = static_cast<uint8_t*>(mem) + kBlockSize;
    return b;
}
}  // namespace

void destroy(buffer_block* b) {
    if (b->release != nullptr) b->release(b->ctx, b->data, b->size);
    b->~buffer_block();
    ::operator delete(static_cast<void*>(b));
}

}  // namespace detail

update_ref update_ref::copy_of(std::span<const uint8_t> bytes) noexcept {
    update_builder b(bytes.size());
    if (!b.ok()) return {};
    if (!bytes.empty()) std::memcpy(b.data().data(), bytes.data(), bytes.size());
    return std::move(b).freeze();
}

update_ref update_ref::adopt(std::span<const uint8_t> bytes, release_fn release,
                             void* ctx) noexcept {
    detail::buffer_block* b = detail::make_block(0);
    if (b == nullptr) return {};
    b->size = bytes.size();
    b->data = bytes.data();
    b->release = release;
    b->ctx = ctx;
    return update_ref(b);
}

update_builder::update_builder(uint64_t size) noexcept : b_(detail::make_block(size)) {}

update_builder::~update_builder() {
    if (b_ != nullptr) detail::destroy(b_);
}

void update_builder::shrink(uint64_t size) noexcept {
    if (b_ != nullptr && size < b_->size) b_->size = size;
}

std::span<uint8_t> update_builder::data() const {
    if (b_ == nullptr) return {};
    return {const_cast<uint8_t*>(b_->data), b_->size};
}

}  // namespace qgate::pubsub

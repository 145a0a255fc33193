#pragma once
// A 64-byte aligned buffer that grows on demand and is kept between calls, for
// kernels whose temporaries would otherwise be allocated (and their fresh
// pages zero-filled by the kernel) on every call. Each OS thread that needs one
// holds its own (`thread_local`): a buffer must never be shared by two calls
// that can run at once.

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>

namespace attnkit::kernels {

class ScratchBuffer {
 public:
  // At least `bytes` of storage; the previous contents are not kept.
  void* get(size_t bytes) {
    if (bytes_ < bytes) {
      const size_t rounded = (bytes + 63) / 64 * 64;  // aligned_alloc wants a multiple of the alignment
      data_.reset(static_cast<std::byte*>(std::aligned_alloc(64, rounded)));
      if (!data_) {
        bytes_ = 0;
        throw std::bad_alloc();
      }
      bytes_ = rounded;
    }
    return data_.get();
  }

 private:
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::unique_ptr<std::byte, Free> data_;
  size_t bytes_ = 0;
};

}  // namespace attnkit::kernels

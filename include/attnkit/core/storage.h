#pragma once
// Storage: a block of memory shared by a tensor and its views. Owned memory is
// 64-byte aligned (one cache line, one AVX-512 register); borrowed memory
// (from NumPy, DLPack, a memory map) keeps its owner alive via the deleter.

#include <cstddef>
#include <functional>
#include <memory>

namespace attnkit {

class Storage {
 public:
  // Allocates nbytes of uninitialised, 64-byte aligned memory.
  static std::shared_ptr<Storage> allocate(size_t nbytes);
  // Wraps memory owned elsewhere; `release` runs when the last view dies.
  static std::shared_ptr<Storage> borrow(void* data, size_t nbytes,
                                         std::function<void(void*)> release);

  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }

 private:
  Storage(void* data, size_t nbytes, std::function<void(void*)> release)
      : data_(data), nbytes_(nbytes), release_(std::move(release)) {}
  void* data_;
  size_t nbytes_;
  std::function<void(void*)> release_;
};

}  // namespace attnkit

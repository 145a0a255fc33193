// The large-block cache: a freed large tensor's memory is handed to the next
// tensor of its size instead of going back to the system (no page faults),
// small blocks and blocks much larger than asked are not, the limit holds,
// and empty_cache returns everything. Sanitizer builds keep nothing.
#include "attnkit/core/memory.h"

#include "test_support.h"

namespace attnkit::testing {
namespace {

// Restores the limit a test changed.
struct CacheLimitGuard {
  size_t saved = cache_limit();
  ~CacheLimitGuard() { set_cache_limit(saved); }
};

// Sets a limit; false in sanitizer builds, which keep nothing whatever the
// limit — checked here, so the tests below hold in both builds.
bool cache_on(size_t limit) {
  set_cache_limit(limit);
  empty_cache();
  if (cache_limit() > 0) return true;
  { Tensor t = empty({1 << 20}); }
  EXPECT_EQ(cached_bytes(), 0u);
  return false;
}

TEST(LargeBlockCache, FreedLargeBlockIsReusedForTheSameSize) {
  CacheLimitGuard guard;
  if (!cache_on(size_t{64} << 20)) return;
  void* first = nullptr;
  {
    Tensor t = empty({1 << 20});  // 4 MiB
    first = t.data_ptr();
  }
  EXPECT_EQ(cached_bytes(), size_t{4} << 20);
  Tensor again = empty({1 << 20});
  EXPECT_EQ(again.data_ptr(), first);
  EXPECT_EQ(cached_bytes(), 0u);
}

TEST(LargeBlockCache, SmallAndMuchLargerBlocksAreNotHandedOut) {
  CacheLimitGuard guard;
  if (!cache_on(size_t{64} << 20)) return;
  { Tensor small = empty({1000}); }
  EXPECT_EQ(cached_bytes(), 0u);  // below 1 MiB: malloc's business
  { Tensor big = empty({4 << 20}); }  // 16 MiB kept
  Tensor quarter = empty({1 << 20});  // 4 MiB: the 16 MiB block is too large to give
  EXPECT_EQ(cached_bytes(), size_t{16} << 20);
  Tensor close = empty({(4 << 20) - 1000});  // just under 16 MiB: takes it
  EXPECT_EQ(cached_bytes(), 0u);
}

TEST(LargeBlockCache, LimitIsKeptAndEmptyCacheReturnsEverything) {
  CacheLimitGuard guard;
  if (!cache_on(size_t{10} << 20)) return;
  {
    Tensor a = empty({1 << 20}), b = empty({1 << 20}), c = empty({1 << 20});  // 3 × 4 MiB
  }
  EXPECT_LE(cached_bytes(), size_t{10} << 20);
  EXPECT_EQ(cached_bytes(), size_t{8} << 20);
  empty_cache();
  EXPECT_EQ(cached_bytes(), 0u);
  set_cache_limit(0);
  { Tensor d = empty({1 << 20}); }
  EXPECT_EQ(cached_bytes(), 0u);
}

TEST(LargeBlockCache, ReusedMemoryHoldsWhatIsWrittenNext) {
  // A reused block is uninitialised memory, as a fresh one: ops that need
  // zeros write them.
  { Tensor t = full({1 << 20}, 7.0); }
  Tensor z = zeros({1 << 20});
  EXPECT_EQ(sum(z).item(), 0.0);
}

}  // namespace
}  // namespace attnkit::testing

// fma_peak: measures this CPU's float32 FMA throughput, the roofline that
// bench/matmul.py divides attnkit's GFLOP/s by.
//
//   fma_peak [threads] [--isa auto|avx512|avx2] [--seconds S]
//
// Prints one JSON object, e.g.
//   {"isa": "avx512f", "vector_bits": 512, "threads": 2, "gflops": 301.2, ...}
//
// Each thread runs kChains independent chains acc = acc * a + b. A chain issues
// one FMA per latency (4-5 cycles on current x86 cores), and cores retire up
// to two FMAs per cycle, so at least 2 * latency = 8-10 chains are needed to
// keep both FMA pipes busy; 12 leaves slack and still fits the 16 registers of
// AVX2 (12 accumulators + 2 constants).
//
// The kernels are compiled with target attributes rather than -mavx512f for
// the whole file, so the same binary runs on a CPU without AVX-512 (it then
// reports the AVX2 peak and says so) instead of dying with SIGILL.
// Needs no attnkit: only OpenMP and the compiler's intrinsics.

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

constexpr int kChains = 12;
constexpr int kFlopsPerFma = 2;

// a < 1 and b > 0 make every chain converge to b / (1 - a) = 1.0, so the
// values stay normal (no denormal slow path, no overflow) however long it runs.
constexpr float kA = 0.999999f;
constexpr float kB = 1e-6f;

// Each kernel returns the sum of its accumulators as a checksum.
__attribute__((target("avx512f"))) float run_avx512(long iterations) {
  const __m512 a = _mm512_set1_ps(kA);
  const __m512 b = _mm512_set1_ps(kB);
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(0.5f + 0.01f * c);
  for (long i = 0; i < iterations; ++i) {
#pragma GCC unroll 12
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
  }
  __m512 total = acc[0];
  for (int c = 1; c < kChains; ++c) total = _mm512_add_ps(total, acc[c]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, total);
  float sum = 0.0f;
  for (float lane : lanes) sum += lane;
  return sum;
}

__attribute__((target("avx2,fma"))) float run_avx2(long iterations) {
  const __m256 a = _mm256_set1_ps(kA);
  const __m256 b = _mm256_set1_ps(kB);
  __m256 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(0.5f + 0.01f * c);
  for (long i = 0; i < iterations; ++i) {
#pragma GCC unroll 12
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
  }
  __m256 total = acc[0];
  for (int c = 1; c < kChains; ++c) total = _mm256_add_ps(total, acc[c]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, total);
  float sum = 0.0f;
  for (float lane : lanes) sum += lane;
  return sum;
}

struct Isa {
  const char* name;
  int vector_bits;
  float (*run)(long);
};

constexpr Isa kAvx512{"avx512f", 512, run_avx512};
constexpr Isa kAvx2{"avx2+fma", 256, run_avx2};

// Runs `iterations` per thread on `threads` threads; returns wall seconds.
// The checksum goes to a volatile so the compiler cannot drop the work.
double time_parallel(const Isa& isa, int threads, long iterations, volatile float* sink) {
  float checksum = 0.0f;
  auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : checksum)
  checksum += isa.run(iterations);
  auto stop = std::chrono::steady_clock::now();
  *sink = checksum;
  return std::chrono::duration<double>(stop - start).count();
}

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr, "usage: %s [threads] [--isa auto|avx512|avx2] [--seconds S]\n", argv0);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = omp_get_max_threads();
  std::string isa_choice = "auto";
  double target_seconds = 0.3;  // per timed repetition
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--isa") == 0 && i + 1 < argc) {
      isa_choice = argv[++i];
    } else if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      target_seconds = std::atof(argv[++i]);
    } else if (argv[i][0] != '-') {
      threads = std::atoi(argv[i]);
    } else {
      usage(argv[0]);
    }
  }
  if (threads < 1 || target_seconds <= 0.0) usage(argv[0]);

  __builtin_cpu_init();
  const bool has_avx512 = __builtin_cpu_supports("avx512f");
  const bool has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const Isa* isa = nullptr;
  std::string note;
  if (isa_choice == "avx512" || (isa_choice == "auto" && has_avx512)) {
    if (!has_avx512) {
      std::fprintf(stderr, "fma_peak: this CPU does not support AVX-512F\n");
      return 1;
    }
    isa = &kAvx512;
  } else if (isa_choice == "avx2" || isa_choice == "auto") {
    if (!has_avx2) {
      std::fprintf(stderr, "fma_peak: this CPU supports neither AVX-512F nor AVX2+FMA\n");
      return 1;
    }
    isa = &kAvx2;
    if (!has_avx512) note = "CPU has no AVX-512F; peak measured with 256-bit AVX2 FMA";
  } else {
    usage(argv[0]);
  }

  volatile float sink = 0.0f;
  // Warm up (wakes the cores, lets the clock settle) and calibrate the count.
  long iterations = 1 << 16;
  double seconds = time_parallel(*isa, threads, iterations, &sink);
  while (seconds < 0.05) {
    iterations *= 4;
    seconds = time_parallel(*isa, threads, iterations, &sink);
  }
  iterations = std::max(1L, static_cast<long>(iterations * target_seconds / seconds));

  // Best of several repetitions: the peak is what the hardware can do, so a
  // repetition slowed by another process should not count.
  double best = 1e300;
  for (int rep = 0; rep < 5; ++rep) best = std::min(best, time_parallel(*isa, threads, iterations, &sink));

  const int lanes = isa->vector_bits / 32;
  const double flops = static_cast<double>(threads) * iterations * kChains * lanes * kFlopsPerFma;
  const double gflops = flops / best * 1e-9;
  std::printf("{\"isa\": \"%s\", \"vector_bits\": %d, \"threads\": %d, \"chains\": %d, "
              "\"seconds\": %.4f, \"gflops\": %.2f, \"gflops_per_thread\": %.2f",
              isa->name, isa->vector_bits, threads, kChains, best, gflops, gflops / threads);
  if (!note.empty()) std::printf(", \"note\": \"%s\"", note.c_str());
  std::printf("}\n");
  return 0;
}

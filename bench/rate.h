// Shared by the one-core benchmarks (crypto_bench, decode_bench).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>

namespace execgov::bench {

// Runs `op(i)` (i counting from 0) repeatedly for about `seconds`, reading
// the clock every 64 calls, and returns calls per second.
inline double Rate(double seconds, const std::function<void(size_t)>& op) {
  using Clock = std::chrono::steady_clock;
  size_t n = 0;
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    for (int i = 0; i < 64; ++i) op(n++);
  }
  return n / std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace execgov::bench

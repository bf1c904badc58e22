// A webhook::ReplayStore for handler tests in which nothing is consumed
// (every request is refused, ungoverned, or admitted without an artifact):
// a consumption or inheritance asked of it is a test failure, reported as an
// error the handler turns into a denial.
#pragma once

#include <optional>
#include <string>

#include "webhook/replay_store.h"

namespace execgov::testing {

class NoReplayStore : public webhook::ReplayStore {
 public:
  std::optional<policy::Consumption> Find(const std::string&, const std::string&) const override { return std::nullopt; }
  Status Consume(const std::string&, const policy::Consumption&, int64_t) override { return Internal("unexpected"); }
  Status Inherit(const std::string&, const std::string&) override { return Internal("unexpected"); }
  void Prune(int64_t) override {}
};

}  // namespace execgov::testing

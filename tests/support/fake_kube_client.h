// A kube::Client for tests that script only what is read through List and
// Watch: Get finds nothing and every write fails, so a component under test
// that writes, or reads one object, is caught rather than served.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "kube/client.h"

namespace execgov::testing {

class ListWatchOnlyClient : public kube::Client {
 public:
  StatusOr<nlohmann::json> Get(const std::string&) override { return NotFound("fake"); }
  StatusOr<nlohmann::json> Create(const std::string&, const nlohmann::json&) override { return Internal("fake"); }
  StatusOr<nlohmann::json> Update(const std::string&, const nlohmann::json&) override { return Internal("fake"); }
  Status Delete(const std::string&) override { return Internal("fake"); }
  StatusOr<nlohmann::json> Patch(const std::string&, const nlohmann::json&, kube::PatchType) override {
    return Internal("fake");
  }
  StatusOr<nlohmann::json> UpdateStatus(const std::string&, const nlohmann::json&) override {
    return Internal("fake");
  }
};

}  // namespace execgov::testing

// Records core/v1 Events about objects, as `kubectl describe` shows them
// (client-go's EventRecorder). Repeats of the same (object, reason, message)
// within a short window update the existing Event's count instead of making
// a new one (the window is ten minutes, as client-go's). Recording never fails
// or blocks the caller: Events are written by the recorder's own thread, an
// error is logged and dropped; destroying the recorder writes what was
// already recorded first.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "kube/client.h"

namespace execgov::kube {

enum class EventType { kNormal, kWarning };

class EventRecorder {
 public:
  virtual ~EventRecorder() = default;
  // `object` is the involved object as read from the API (apiVersion, kind,
  // metadata.name/namespace/uid/resourceVersion are used). The Event goes in
  // the object's namespace, or "default" for a cluster-scoped object.
  virtual void Record(const nlohmann::json& object, EventType type, const std::string& reason,
                      const std::string& message) = 0;
};

// `component` is the Event's source.component ("execgov-operator").
std::unique_ptr<EventRecorder> NewEventRecorder(Client* client, std::string component);

}  // namespace execgov::kube

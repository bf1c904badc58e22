// Structured logging: one JSON object per line on stderr. Callers pass fields
// explicitly; nothing secret is ever a field (private keys never reach here).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace execgov::log {

enum class Level { kDebug = 0, kInfo, kWarn, kError };

void SetLevel(Level level);
// Writes {"ts":..., "level":..., "msg":..., ...fields} as one line, atomically
// with respect to other log calls.
void Write(Level level, std::string_view msg, const nlohmann::json& fields = nlohmann::json::object());

inline void Info(std::string_view msg, const nlohmann::json& f = nlohmann::json::object()) { Write(Level::kInfo, msg, f); }
inline void Warn(std::string_view msg, const nlohmann::json& f = nlohmann::json::object()) { Write(Level::kWarn, msg, f); }
inline void Error(std::string_view msg, const nlohmann::json& f = nlohmann::json::object()) { Write(Level::kError, msg, f); }
inline void Debug(std::string_view msg, const nlohmann::json& f = nlohmann::json::object()) { Write(Level::kDebug, msg, f); }

}  // namespace execgov::log

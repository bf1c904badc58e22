// Glob matching for subjects ("agent:*") and image rules ("registry.example.com/*"):
// '*' matches any run of characters (including '/'), '?' exactly one; every
// other character matches itself. There are no character classes or escapes.
#pragma once

#include <string_view>

namespace execgov::policy {

bool GlobMatch(std::string_view pattern, std::string_view text);
// True when the pattern uses only the syntax above and is not empty.
bool IsValidGlob(std::string_view pattern);

}  // namespace execgov::policy

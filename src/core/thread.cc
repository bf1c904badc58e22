#include "core/thread.h"

#include <pthread.h>

#include <string>

namespace execgov {

void SetThreadName(std::string_view name) {
  std::string cut(name.substr(0, 15));  // the kernel's limit, without the NUL
  (void)pthread_setname_np(pthread_self(), cut.c_str());
}

}  // namespace execgov

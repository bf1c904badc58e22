// execgov: one binary, one subcommand per job (docs/design.md §9.1). This file only
// wires flags to subcommands; every subcommand lives in its own file.
#if EXECGOV_TCMALLOC
#include <gperftools/malloc_extension.h>
#endif

#include <CLI/CLI.hpp>
#include <iostream>

#include "cmd/cli.h"

int main(int argc, char** argv) {
  using namespace execgov::cmd;
  // tcmalloc keeps up to 32 MiB in per-thread caches by default; a few
  // threads do all the work here, and memory is part of the budget.
#if EXECGOV_TCMALLOC
  MallocExtension::instance()->SetNumericProperty("tcmalloc.max_total_thread_cache_bytes", 8u << 20);
#endif
  CLI::App app{"execgov: execution governance for Kubernetes"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "execgov 0.1.0");
  int exit_code = kExitOk;
  RegisterKeygen(app, &exit_code);
  RegisterSign(app, &exit_code);
  RegisterDigest(app, &exit_code);
  RegisterInspect(app, &exit_code);
  RegisterCheck(app, &exit_code);
  RegisterServe(app, &exit_code);
  RegisterReview(app, &exit_code);
  RegisterLedger(app, &exit_code);
  RegisterWitness(app, &exit_code);
  RegisterWebhook(app, &exit_code);
  RegisterOperator(app, &exit_code);
  RegisterAuthority(app, &exit_code);
  RegisterApprove(app, &exit_code);
  RegisterConsole(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help or --version, for the subcommand given
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    return UsageError(msg + " (see 'execgov --help')");
  } catch (const std::exception& e) {
    return UsageError(std::string("unexpected error: ") + e.what());
  }
  return exit_code;
}

// attnscope-cli entry point; everything lives in the cli library so tests can call runCli().
#include "cli-main.h"

int main(int argc, char** argv) { return attnscope::cli::runCli(argc, argv); }

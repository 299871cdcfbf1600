// main() for every test binary that links //guest_agent/testlib:ktstr_test.
#include "guest_agent/testlib/harness.h"

int main(int argc, char** argv) { return ktstr::RunHarness(argc, argv); }

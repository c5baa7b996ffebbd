#ifndef SLIPWAY_FUZZ_DRIVER_H
#define SLIPWAY_FUZZ_DRIVER_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's entry for programs that have their own main (the Swift package's executables
/// do): provided by the runtime `-sanitize=fuzzer` links, referenced only in fuzz builds.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif

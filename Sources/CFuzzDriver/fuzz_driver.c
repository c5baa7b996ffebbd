// A C target needs a source file; the header is what slipway-fuzz uses.
#include "fuzz_driver.h"

/* fuzz_regex.c — the structured-output regex compiler and matcher on hostile input (see
 * fuzz_constraint.h for the input layout and the invariants). */
#include "fuzz_constraint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_constraint_one(SL_CPIECE_REGEX, data, size); }

/*
 * fuzz_target.c - a libFuzzer entry point for one of the runtime's parsers.
 *
 * Built once per target by `make fuzz` with -DFUZZ_TARGET='"npy"' (and so
 * on, see fuzz_harness.h) and -fsanitize=fuzzer,address,undefined.  An
 * input that crashes, hangs, allocates hugely or is refused without a
 * message naming the file stops the fuzzer, which saves it; such inputs go
 * to tests/fuzz/regressions/TARGET/ with the fix, where `make test` replays
 * them (tests/unit/check_npz.c).
 */
#include "fuzz_harness.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const FuzzTarget *t;
    for (int i = 0; !t && i < FUZZ_NTARGETS; i++)
        if (strcmp(fuzz_targets[i].name, FUZZ_TARGET) == 0)
            t = &fuzz_targets[i];
    if (!t) {
        fprintf(stderr, "fuzz: no target '%s'\n", FUZZ_TARGET);
        abort();
    }
    NnrtErr e;
    if (fuzz_one(t, data, size, NULL, &e) != 0) {
        fprintf(stderr, "fuzz: %s\n", e.msg);
        abort();
    }
    return 0;
}

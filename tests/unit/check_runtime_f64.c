/*
 * check_runtime_f64.c - the tests of check_runtime.c run against the
 * float64 build of the runtime (the one `nnc --dtype f64` links).
 */
#define NNRT_F64 1
#include "check_runtime.c"

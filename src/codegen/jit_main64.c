/* jit_main64.c - jit_main.c for float64 models (jit_main_f64). */
#define NNRT_F64
#include "jit_main.c"

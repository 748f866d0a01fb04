#include "teach.h"
void report_print(FILE *out, const IrProgram *p) { (void)out; (void)p; }

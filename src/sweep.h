/*
 * sweep.h - `nnc sweep` (sweep.c, docs/sweep.md): builds every combination
 * of -D values once, trains every configuration with repeats in parallel,
 * and writes the results table and its plots.
 */
#ifndef SWEEP_H
#define SWEEP_H

/* argv[0] is "sweep"; returns the process exit status. */
int sweep_main(int argc, char **argv);

#endif

/*
 * compare.h - `nnc compare` (compare.c, docs/trainer.md "Comparing runs"):
 * the learning curves of several run directories in one figure and a
 * table of their final metrics.
 */
#ifndef COMPARE_H
#define COMPARE_H

/* argv[0] is "compare"; returns the process exit status. */
int compare_main(int argc, char **argv);

#endif

/*
 * board.h - `nnc board` (board.c, docs/board.md): one self-contained HTML
 * page over the run and sweep directories under some directories.
 */
#ifndef BOARD_H
#define BOARD_H

/* argv[0] is "board"; returns the process exit status. */
int board_main(int argc, char **argv);

#endif

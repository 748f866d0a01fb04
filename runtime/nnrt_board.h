/*
 * nnrt_board.h - the experiment board (common_board.c, docs/board.md): one
 * HTML file over the run and sweep directories under some directories,
 * written by `nnc board`, and kept beside its results, live, by a trainer
 * with --log and by `nnc sweep`.
 *
 * The page is a template (board.html) with the charting library and the
 * board's script put in its place, and the runs' files as data; the
 * template and the library are found at run time (nnrt_board_assets).
 */
#ifndef NNRT_BOARD_H
#define NNRT_BOARD_H

#include "nnrt_internal.h"

/* A live board is rewritten at most this often; its page reloads itself
 * at the same pace. */
#define NNRT_BOARD_SECONDS 3

/* The directory holding board.html, board.js and echarts.min.js: each of
 * $NNC_RUNTIME/board, the directory `runtime/board` beside the running
 * executable (nnc's runtime directory, as cg_runtime_dir finds it), and the
 * runtime directory the library was built in, the first that has them;
 * NULL when none has. */
const char *nnrt_board_assets(void);

/* Writes the board over the runs (directories with a metrics.csv) and
 * sweeps (with a sweep.json or results.json) found in dirs[0..n) and below,
 * to out (through out.part, renamed when complete).  refresh > 0: work is
 * in progress and the page reloads itself every refresh seconds. */
int nnrt_board_write(const char *out, const char *const *dirs, int n, int refresh, NnrtErr *e);

/* The hook of live work: whether NNRT_BOARD_SECONDS have passed since the
 * process last wrote a live board, or since it first asked. */
int nnrt_board_due(void);

/* DIR/board.html over DIR: live (reloading itself) or final.  Never
 * fatal: a board that cannot be written is a note on stderr (the first
 * time, and unless quiet). */
void nnrt_board_live(const char *dir, int live, int quiet);

#endif

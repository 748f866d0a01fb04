/*
 * board.c - `nnc board DIR... [-o FILE]`: the experiment board over the
 * runs and sweeps under the directories (docs/board.md).  The page itself
 * is written by the runtime (common_board.c), which trainers and sweeps
 * use for their live boards too.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "nnrt_board.h"
#include "board.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: nnc board DIR... [-o FILE]\n"
        "\n"
        "Writes one HTML page (default: the first DIR's board.html) over every run\n"
        "(a directory with metrics.csv: ./model train --log) and every sweep (nnc sweep)\n"
        "under the DIRs: learning curves, the sweep's parallel coordinates, a table of\n"
        "configurations, each run's config and plots.  It opens from the file system,\n"
        "with no server and no network.  See docs/board.md.\n");
}

int board_main(int argc, char **argv)
{
    const char *out = NULL, *dirs[64];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "nnc board: error: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (n == (int)(sizeof dirs / sizeof dirs[0])) {
            fprintf(stderr, "nnc board: error: more than %d directories\n", n);
            return 2;
        } else {
            struct stat st;
            if (stat(argv[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
                fprintf(stderr, "nnc board: error: '%s' is not a directory\n", argv[i]);
                return 2;
            }
            dirs[n++] = argv[i];
        }
    }
    if (n == 0) {
        usage(stderr);
        return 2;
    }
    char path[PATH_MAX];
    if (!out) {
        snprintf(path, sizeof path, "%s/board.html", dirs[0]);
        out = path;
    }
    NnrtErr e;
    if (nnrt_board_write(out, dirs, n, 0, &e) != 0) {
        fprintf(stderr, "nnc board: error: %s\n", e.msg);
        return 1;
    }
    printf("wrote %s\n", out);
    return 0;
}

/*
 * common_board.c - the experiment board (nnrt_board.h, docs/board.md).
 *
 * The C side only gathers files: it walks the directories for runs (a
 * metrics.csv) and sweeps (a sweep.json or results.json) and puts each
 * one's files into the page as JSON strings (PNG figures as data: URLs).
 * The page's script (board.js) parses them, so a file being written (the
 * last line of a live run's metrics.csv) or damaged costs that file, not
 * the page.  The template board.html names what goes where on lines of
 * their own: <!--@FILE--> is that file of the assets directory, verbatim
 * (echarts.min.js, board.js, the library's licence), <!--@data--> the data.
 */
#include "nnrt_board.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* where make built the runtime (the Makefile's RT_DIR), the last place
 * nnrt_board_assets looks */
#ifndef NNRT_RUNTIME_DIR
#define NNRT_RUNTIME_DIR "runtime"
#endif

enum {
    MAX_DEPTH = 8,                      /* how deep runs are looked for below a directory */
    MAX_FIGURE = 8 << 20,               /* larger PNGs are left out */
};

static int is_file(const char *dir, const char *name)
{
    char path[PATH_MAX];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return 0;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

const char *nnrt_board_assets(void)
{
    static char found[PATH_MAX];
    char dirs[3][PATH_MAX];
    int n = 0;
    const char *env = getenv("NNC_RUNTIME");
    if (env && *env)
        snprintf(dirs[n++], PATH_MAX, "%s/board", env);
    char exe[PATH_MAX - 32];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(dirs[n++], PATH_MAX, "%s/runtime/board", exe);
        }
    }
    snprintf(dirs[n++], PATH_MAX, "%s/board", NNRT_RUNTIME_DIR);
    for (int i = 0; i < n; i++)
        if (is_file(dirs[i], "board.html") && is_file(dirs[i], "echarts.min.js")
            && snprintf(found, sizeof found, "%s", dirs[i]) < (int)sizeof found)
            return found;
    return NULL;
}

/* The whole file, NUL-terminated; NULL when it cannot be read. */
static char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            char *more = realloc(buf, cap * 2);
            if (!more) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = more;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    if (size)
        *size = n;
    return buf;
}

/* s as a JSON string that may sit inside <script>: '<' is escaped, so no
 * text in it ends the element. */
static void json_text(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    size_t plain = 0;   /* s[plain..i) needs no escape */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != 0x7f)
            continue;
        fwrite(s + plain, 1, i - plain, f);
        plain = i + 1;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else
            fprintf(f, "\\u%04x", c);
    }
    fwrite(s + plain, 1, n - plain, f);
    fputc('"', f);
}

static void json_cstr(FILE *f, const char *s)
{
    json_text(f, s, strlen(s));
}

/* "name": the file's text as a JSON string, or null when it is missing */
static void json_file(FILE *f, const char *key, const char *dir, const char *name)
{
    char path[PATH_MAX];
    size_t n;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = slurp(path, &n);
    fprintf(f, ", \"%s\": ", key);
    if (text)
        json_text(f, text, n);
    else
        fputs("null", f);
    free(text);
}

static void base64(FILE *f, const unsigned char *p, size_t n)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        fputc(digits[v >> 18 & 63], f);
        fputc(digits[v >> 12 & 63], f);
        fputc(i + 1 < n ? digits[v >> 6 & 63] : '=', f);
        fputc(i + 2 < n ? digits[v & 63] : '=', f);
    }
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int png_file(const struct dirent *d)
{
    return nnrt_ends_with(d->d_name, ".png");
}

/* "figures": the directory's PNGs (the plots its run or sweep drew), in
 * name order, as data: URLs */
static void json_figures(FILE *f, const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, png_file, by_name);
    fputs(", \"figures\": [", f);
    for (int i = 0, first = 1; i < n; i++) {
        char path[PATH_MAX];
        size_t size;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        unsigned char *png = (unsigned char *)slurp(path, &size);
        if (png && size > 0 && size <= MAX_FIGURE) {
            fprintf(f, "%s{\"name\": ", first ? "" : ", ");
            json_cstr(f, names[i]->d_name);
            fputs(", \"src\": \"data:image/png;base64,", f);
            base64(f, png, size);
            fputs("\"}", f);
            first = 0;
        }
        free(png);
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    if (n > 0)
        free(names);
    fputc(']', f);
}

typedef struct Walk {
    FILE *f;
    int nruns, nsweeps;
    FILE *sweeps;          /* the sweeps' entries, written after the runs */
} Walk;

/* dir and the directories below it; label: its path as the page shows it */
static void walk(Walk *w, const char *dir, const char *label, int depth)
{
    if (is_file(dir, "metrics.csv")) {
        fprintf(w->f, "%s\n  {\"path\": ", w->nruns++ ? "," : "");
        json_cstr(w->f, label);
        json_file(w->f, "metrics", dir, "metrics.csv");
        json_file(w->f, "config", dir, "config.json");
        json_file(w->f, "summary", dir, "summary.json");
        json_figures(w->f, dir);
        fputc('}', w->f);
    }
    if (is_file(dir, "sweep.json") || is_file(dir, "results.json")) {
        fprintf(w->sweeps, "%s\n  {\"path\": ", w->nsweeps++ ? "," : "");
        json_cstr(w->sweeps, label);
        json_file(w->sweeps, "plan", dir, "sweep.json");
        json_file(w->sweeps, "results", dir, "results.json");
        json_figures(w->sweeps, dir);
        fputc('}', w->sweeps);
    }
    if (depth >= MAX_DEPTH)
        return;
    struct dirent **names;
    int n = scandir(dir, &names, NULL, by_name);
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        char path[PATH_MAX], sub[PATH_MAX];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, name);
        /* not . and .., hidden directories, npm's, nor symbolic links (no cycles) */
        if (name[0] != '.' && strcmp(name, "node_modules") != 0 && lstat(path, &st) == 0
            && S_ISDIR(st.st_mode)) {
            if (strcmp(label, ".") == 0)
                snprintf(sub, sizeof sub, "%s", name);
            else
                snprintf(sub, sizeof sub, "%s/%s", label, name);
            walk(w, path, sub, depth + 1);
        }
        free(names[i]);
    }
    if (n > 0)
        free(names);
}

/* The data: {"title", "written", "refresh", "runs": [...], "sweeps": [...]} */
static int write_data(FILE *f, const char *const *dirs, int n, int refresh, NnrtErr *e)
{
    char stamp[64] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (localtime_r(&now, &tm))
        strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
    char *swept = NULL;
    size_t swept_len = 0;
    Walk w = {f, 0, 0, open_memstream(&swept, &swept_len)};
    if (!w.sweeps)
        return nnrt_err(e, "board: out of memory");
    fputs("<script>\nconst BOARD = {\"title\": ", f);
    char title[PATH_MAX] = "";
    for (int i = 0; i < n; i++) {
        size_t k = strlen(title);
        snprintf(title + k, sizeof title - k, "%s%s", i ? " " : "", dirs[i]);
    }
    json_cstr(f, title);
    fputs(", \"written\": ", f);
    json_cstr(f, stamp);
    fprintf(f, ", \"refresh\": %d, \"runs\": [", refresh);
    for (int i = 0; i < n; i++)
        walk(&w, dirs[i], n == 1 ? "." : dirs[i], 0);
    fclose(w.sweeps);
    fprintf(f, "],\n\"sweeps\": [");
    fwrite(swept, 1, swept_len, f);
    fputs("]};\n</script>\n", f);
    free(swept);
    return 0;
}

int nnrt_board_write(const char *out, const char *const *dirs, int n, int refresh, NnrtErr *e)
{
    const char *assets = nnrt_board_assets();
    if (!assets)
        return nnrt_err(e, "the board's page and charting library are not installed "
                        "(make installs them beside the runtime; NNC_RUNTIME says where)");
    char path[PATH_MAX], part[PATH_MAX];
    snprintf(path, sizeof path, "%s/board.html", assets);
    char *tmpl = slurp(path, NULL);
    if (!tmpl)
        return nnrt_err(e, "%s: cannot read (%s)", path, strerror(errno));
    snprintf(part, sizeof part, "%s.part", out);
    FILE *f = fopen(part, "w");
    if (!f) {
        free(tmpl);
        return nnrt_err(e, "%s: cannot write (%s)", part, strerror(errno));
    }
    int rc = 0;
    for (char *line = tmpl, *next; rc == 0 && *line; line = next) {
        next = line + strcspn(line, "\n");
        if (*next)
            *next++ = '\0';
        char name[256];
        size_t len = strlen(line);
        if (strncmp(line, "<!--@", 5) != 0 || len < 8 || strcmp(line + len - 3, "-->") != 0
            || len - 8 >= sizeof name) {
            fprintf(f, "%s\n", line);
            continue;
        }
        snprintf(name, sizeof name, "%.*s", (int)(len - 8), line + 5);
        if (strcmp(name, "data") == 0) {
            rc = write_data(f, dirs, n, refresh, e);
            continue;
        }
        size_t size;
        snprintf(path, sizeof path, "%s/%s", assets, name);
        char *text = strchr(name, '/') ? NULL : slurp(path, &size);
        if (!text) {
            rc = nnrt_err(e, "%s: cannot read (%s)", path, strerror(errno));
            break;
        }
        fwrite(text, 1, size, f);
        fputc('\n', f);
        free(text);
    }
    free(tmpl);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        if (rc == 0)
            rc = nnrt_err(e, "%s: write failed (%s)", part, strerror(errno));
    }
    if (rc != 0) {
        remove(part);
        return rc;
    }
    if (rename(part, out) != 0)
        return nnrt_err(e, "%s: cannot rename to %s (%s)", part, out, strerror(errno));
    return 0;
}

static double board_written = -1;   /* when the last live board was written */

/* The first call starts the clock: work that ends within
 * NNRT_BOARD_SECONDS gets only the final board. */
int nnrt_board_due(void)
{
    double now = nnrt_now();
    if (board_written < 0)
        board_written = now;
    return now - board_written >= NNRT_BOARD_SECONDS;
}

void nnrt_board_live(const char *dir, int live, int quiet)
{
    static int told;
    char out[PATH_MAX];
    NnrtErr e;
    snprintf(out, sizeof out, "%s/board.html", dir);
    board_written = nnrt_now();
    if (nnrt_board_write(out, &dir, 1, live ? NNRT_BOARD_SECONDS : 0, &e) != 0 && !quiet
        && !told++)
        fprintf(stderr, "note: no %s: %s\n", out, e.msg);
}

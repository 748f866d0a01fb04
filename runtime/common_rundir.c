/*
 * common_rundir.c - the files of a tracked run (`train --log DIR`), except
 * the checkpoint (nnrt_checkpoint.c):
 *
 *   metrics.csv     one row per epoch from epoch 0 (docs/trainer.md), flushed
 *   metrics.jsonl   the same rows as JSON objects, one per line, flushed
 *   settings.txt    every setting as `key = value` in the flags' syntax
 *   config.json     the same as JSON, with the seed, versions, source hash
 *   summary.json    how the run ended, its final and best rows, wall time
 *
 * JSON files other than metrics.jsonl are written to FILE.part and renamed,
 * so a reader never sees half of one.  A run claims its directory first:
 * a new one, an empty one or (--overwrite) a run's own, never one holding
 * files that are not a run's (`--log /`, `--log ~`).
 */
#include "nnrt_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the directory ---- */

/* The files a run writes that another run in the same directory would not
 * overwrite (or would read: --resume reads checkpoint.npz). */
static const char *const run_files[] = { "checkpoint.npz", "summary.json", "params.npz",
                                         "steps.csv", "metrics.csv", "metrics.jsonl",
                                         "settings.txt", "config.json" };

int nnrt_rundir_claim(const char *dir, int overwrite, NnrtErr *e)
{
    struct stat st;
    char path[1100];
    if (lstat(dir, &st) != 0)
        return errno == ENOENT ? 0 : nnrt_err(e, "%s: cannot use as the run directory (%s)",
                                              dir, strerror(errno));
    snprintf(path, sizeof path, "%s/settings.txt", dir);
    int is_run = access(path, F_OK) == 0;
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    is_run |= access(path, F_OK) == 0;
    if (is_run && overwrite) {
        for (size_t i = 0; i < sizeof run_files / sizeof run_files[0]; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, run_files[i]);
            if (remove(path) != 0 && errno != ENOENT)
                return nnrt_err(e, "%s: cannot remove (%s)", path, strerror(errno));
        }
        return 0;
    }
    if (is_run)
        return nnrt_err(e, "%s holds a run already: continue it with --resume %s, replace it "
                        "with --overwrite, or log to another directory", dir, dir);
    DIR *d = opendir(dir);
    if (!d)
        return 0;   /* not a directory: nnrt_mkdir_p says so */
    struct dirent *de;
    int empty = 1;
    while (empty && (de = readdir(d)) != NULL)   /* train.log: the run's own output (nnc sweep) */
        empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
                strcmp(de->d_name, "train.log") == 0;
    closedir(d);
    if (!empty)
        return nnrt_err(e, "%s: not empty, and not a run directory: a run is logged into a new "
                        "directory, an empty one or a run's own (--resume, --overwrite), never "
                        "among other files", dir);
    return 0;
}

/* ---- JSON output ---- */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* A number, or null when it is not finite (JSON has no NaN). */
static void json_num(FILE *f, double x, int digits)
{
    char buf[40];
    fputs(isfinite(x) ? nnrt_num_text(buf, sizeof buf, x, digits) : "null", f);
}

static FILE *open_part(const char *dir, const char *name, char *path, char *part, size_t len,
                       NnrtErr *e)
{
    snprintf(path, len, "%s/%s", dir, name);
    snprintf(part, len, "%s/%s.part", dir, name);
    return nnrt_output_check(path, e) == 0 ? nnrt_open_part(path, part, e) : NULL;
}

static int close_part(FILE *f, const char *path, const char *part, NnrtErr *e)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        remove(part);
        return nnrt_err(e, "%s: write failed (%s)", part, strerror(errno));
    }
    if (rename(part, path) != 0)
        return nnrt_err(e, "%s: cannot rename to %s (%s)", part, path, strerror(errno));
    return 0;
}

/* ---- metrics.csv and metrics.jsonl ---- */

/* Every column metrics.csv can have, in csv_header's order. */
const char *const nnrt_metric_columns[] = {"epoch", "step", "loss", "lr", "test_loss", "accuracy",
                                           "test_accuracy", "penalty", "seconds", "train_seconds"};
const int nnrt_metric_ncolumns = (int)(sizeof nnrt_metric_columns / sizeof nnrt_metric_columns[0]);

static void csv_header(const NnrtRunLog *l, char *buf, size_t len)
{
    snprintf(buf, len, "epoch,step,loss,lr%s%s%s%s,seconds,train_seconds\n", l->has_test ? ",test_loss" : "",
             l->accuracy ? ",accuracy" : "", l->accuracy && l->has_test ? ",test_accuracy" : "",
             l->penalty ? ",penalty" : "");
}

/* Rewrites path keeping its first line (which must be `header` when
 * header is not NULL) and the complete lines whose epoch is <= keep; the
 * epoch is the first number on a CSV line, "epoch": N in a JSON line. */
static int keep_rows(const char *path, const char *header, int64_t keep, NnrtErr *e)
{
    FILE *in = fopen(path, "r");
    if (!in)
        return nnrt_err(e, "%s: cannot read (%s); a run directory needs it to resume", path,
                        strerror(errno));
    char part[1200], line[4096];
    snprintf(part, sizeof part, "%s.part", path);
    FILE *out = nnrt_output_check(path, e) == 0 ? nnrt_open_part(path, part, e) : NULL;
    if (!out) {
        fclose(in);
        return -1;
    }
    int first = 1, r = 0;
    while (fgets(line, sizeof line, in)) {
        size_t n = strlen(line);
        if (n == 0 || line[n - 1] != '\n')
            break;                          /* a row cut short when the run was killed */
        if (first && header) {
            first = 0;
            if (strcmp(line, header) != 0) {
                line[n - 1] = '\0';
                r = nnrt_err(e, "%s: its columns are '%s', this run's would be '%.*s' (resume "
                             "with the same test set and metrics)", path, line,
                             (int)strlen(header) - 1, header);
                break;
            }
            fputs(line, out);
            continue;
        }
        const char *p = header ? line : strstr(line, "\"epoch\":");
        if (!p)
            continue;
        if (!header)
            p += 8;
        if (strtoll(p, NULL, 10) <= keep)
            fputs(line, out);
    }
    fclose(in);
    if (r != 0) {
        fclose(out);
        remove(part);
        return -1;
    }
    return close_part(out, path, part, e);
}

int nnrt_runlog_open(NnrtRunLog *l, const char *dir, int has_test, int accuracy, int penalty,
                     int digits, int64_t keep, NnrtErr *e)
{
    char header[200], path[1100];
    memset(l, 0, sizeof *l);
    snprintf(l->dir, sizeof l->dir, "%s", dir);
    l->has_test = has_test;
    l->accuracy = accuracy;
    l->penalty = penalty;
    l->digits = digits;
    csv_header(l, header, sizeof header);
    if (nnrt_mkdir_p(dir, e) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    if (keep >= 0 && keep_rows(path, header, keep, e) != 0)
        return -1;
    if (!(l->csv = fopen(path, keep >= 0 ? "a" : "w")))
        return nnrt_err(e, "%s: cannot write (%s)", path, strerror(errno));
    if (keep < 0)
        fputs(header, l->csv);
    fflush(l->csv);
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    if (keep >= 0 && keep_rows(path, NULL, keep, e) != 0) {
        nnrt_runlog_close(l);
        return -1;
    }
    if (!(l->jsonl = fopen(path, keep >= 0 ? "a" : "w"))) {
        nnrt_runlog_close(l);
        return nnrt_err(e, "%s: cannot write (%s)", path, strerror(errno));
    }
    return 0;
}

int nnrt_runlog_open_steps(NnrtRunLog *l, int64_t keep, NnrtErr *e)
{
    static const char header[] = "epoch,step,batch_loss,lr\n";
    char path[1100];
    snprintf(path, sizeof path, "%s/steps.csv", l->dir);
    if (keep >= 0 && keep_rows(path, header, keep, e) != 0)
        return -1;
    if (!(l->steps = fopen(path, keep >= 0 ? "a" : "w")))
        return nnrt_err(e, "%s: cannot write (%s)", path, strerror(errno));
    if (keep < 0)
        fputs(header, l->steps);
    fflush(l->steps);
    return 0;
}

/* n in decimal at p; returns the end. */
static char *put_int(char *p, int64_t n)
{
    char tmp[24];
    int k = 0;
    uint64_t u = n < 0 ? 0 - (uint64_t)n : (uint64_t)n;
    do
        tmp[k++] = (char)('0' + (int)(u % 10));
    while ((u /= 10) > 0);
    if (n < 0)
        *p++ = '-';
    while (k > 0)
        *p++ = tmp[--k];
    return p;
}

static char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

/* x as nnrt_num_text writes it, at p (40 bytes free); returns the end. */
static char *put_num(char *p, double x, int digits)
{
    return p + strlen(nnrt_num_text(p, 40, x, digits));
}

/* The learning rate as %.10g: mostly the same as the last row's. */
static const char *lr_text(NnrtRunLog *l, double lr)
{
    if (!l->lr_text[0] || memcmp(&lr, &l->lr_last, sizeof lr) != 0) {
        nnrt_num_text(l->lr_text, sizeof l->lr_text, lr, 10);
        l->lr_last = lr;
    }
    return l->lr_text;
}

/* Not flushed: an update can take microseconds; nnrt_runlog_row flushes.
 * Written without printf: W5's runs write 1600 of these each, and their
 * formatting was a tenth of the sweep's CPU. */
void nnrt_runlog_step(NnrtRunLog *l, int64_t epoch, int64_t step, double batch_loss, double lr)
{
    char line[128], *p = line;
    if (!l->steps)
        return;
    p = put_int(p, epoch);
    *p++ = ',';
    p = put_int(p, step);
    *p++ = ',';
    p = put_num(p, batch_loss, l->digits);
    *p++ = ',';
    p = put_str(p, lr_text(l, lr));
    *p++ = '\n';
    fwrite(line, 1, (size_t)(p - line), l->steps);
}

/* One row as a JSON object: metrics.jsonl's lines (with train_seconds) and
 * summary.json's rows (without: a checkpoint does not keep it). */
static void json_row(FILE *f, const NnrtRunLog *l, const NnrtRow *w, int with_train)
{
    int d = l->digits;
    fprintf(f, "{\"epoch\": %lld, \"step\": %lld, \"loss\": ", (long long)w->epoch,
            (long long)w->step);
    json_num(f, w->loss, d);
    fputs(", \"lr\": ", f);
    json_num(f, w->lr, 10);
    if (l->has_test) {
        fputs(", \"test_loss\": ", f);
        json_num(f, w->test_loss, d);
    }
    if (l->accuracy) {
        fputs(", \"accuracy\": ", f);
        json_num(f, w->accuracy, d);
        if (l->has_test) {
            fputs(", \"test_accuracy\": ", f);
            json_num(f, w->test_accuracy, d);
        }
    }
    if (l->penalty && with_train) {
        fputs(", \"penalty\": ", f);
        json_num(f, w->penalty, d);
    }
    fprintf(f, ", \"seconds\": %.3f", w->seconds);
    if (with_train)
        fprintf(f, ", \"train_seconds\": %.6f", w->train_seconds);
    fputc('}', f);
}

/* A write that failed (a full disk) shows only in the stream's error flag,
 * sticky until the stream is closed: checked after every row, so the run
 * stops at once instead of at its next checkpoint, with the logs cut. */
static int check_stream(FILE *f, const char *dir, const char *name, NnrtErr *e)
{
    if (!f || !ferror(f))
        return 0;
    return nnrt_err(e, "%s/%s: write failed (%s)", dir, name, strerror(errno ? errno : EIO));
}

static int check_streams(const NnrtRunLog *l, NnrtErr *e)
{
    return check_stream(l->csv, l->dir, "metrics.csv", e) != 0 ||
           check_stream(l->jsonl, l->dir, "metrics.jsonl", e) != 0 ||
           check_stream(l->steps, l->dir, "steps.csv", e) != 0 ? -1 : 0;
}

int nnrt_runlog_flush(NnrtRunLog *l, NnrtErr *e)
{
    errno = 0;
    if (l->steps)
        fflush(l->steps);
    if (l->csv)
        fflush(l->csv);
    if (l->jsonl)
        fflush(l->jsonl);
    return check_streams(l, e);
}

int nnrt_runlog_row(NnrtRunLog *l, const NnrtRow *w, NnrtErr *e)
{
    int d = l->digits;
    if (l->csv) {
        char line[400], *p = line;
        p = put_int(p, w->epoch);
        *p++ = ',';
        p = put_int(p, w->step);
        *p++ = ',';
        p = put_num(p, w->loss, d);
        *p++ = ',';
        p = put_str(p, lr_text(l, w->lr));
        if (l->has_test) {
            *p++ = ',';
            p = put_num(p, w->test_loss, d);
        }
        if (l->accuracy) {
            *p++ = ',';
            p = put_num(p, w->accuracy, d);
            if (l->has_test) {
                *p++ = ',';
                p = put_num(p, w->test_accuracy, d);
            }
        }
        if (l->penalty) {
            *p++ = ',';
            p = put_num(p, w->penalty, d);
        }
        fwrite(line, 1, (size_t)(p - line), l->csv);
        fprintf(l->csv, ",%.3f,%.6f\n", w->seconds, w->train_seconds);
    }
    if (l->jsonl) {
        FILE *f = l->jsonl;
        json_row(f, l, w, 1);
        fputc('\n', f);
    }
    /* Flushed at most every NNRT_LOG_FLUSH_SECONDS (and by every checkpoint
     * and at the end), not with three writes per epoch: W5's runs of 50
     * tiny epochs made 150 each. */
    if (w->seconds - l->flushed >= NNRT_LOG_FLUSH_SECONDS || w->seconds < l->flushed) {
        l->flushed = w->seconds;
        return nnrt_runlog_flush(l, e);
    }
    return check_streams(l, e);
}

void nnrt_runlog_close(NnrtRunLog *l)
{
    if (l->csv)
        fclose(l->csv);
    if (l->jsonl)
        fclose(l->jsonl);
    if (l->steps)
        fclose(l->steps);
    l->csv = l->jsonl = l->steps = NULL;
}

/* ---- settings.txt and config.json ---- */

static void json_opt(FILE *f, const char *key, double x, int last)
{
    fprintf(f, "\"%s\": ", key);
    json_num(f, x, 17);
    fputs(last ? "" : ", ", f);
}

int nnrt_write_config(const char *dir, const NnrtModel *m, const NnrtConfig *c, int argc,
                      char **argv, NnrtErr *e)
{
    char path[1100], part[1100], buf[1200];
    if (nnrt_mkdir_p(dir, e) != 0)
        return -1;
    FILE *f = open_part(dir, "settings.txt", path, part, sizeof path, e);
    if (!f)
        return -1;
    fprintf(f, "# model %s from %s (source hash %s), nnc %s, %s\n", m->name,
            m->source ? m->source : "?", m->source_hash ? m->source_hash : "?",
            m->nnc_version ? m->nnc_version : "?", m->dtype ? m->dtype : "?");
    nnrt_config_write(c, f);
    if (close_part(f, path, part, e) != 0)
        return -1;

    if (!(f = open_part(dir, "config.json", path, part, sizeof path, e)))
        return -1;
    const NnrtOptimSpec *o = &c->opt;
    static const char *const onames[] = { "sgd", "adam", "adamw", "rmsprop" };
    static const char *const snames[] = { "constant", "exp_decay", "step", "cosine" };
    fputs("{\n  \"model\": ", f);
    json_str(f, m->name);
    fputs(",\n  \"source\": ", f);
    json_str(f, m->source);
    fputs(",\n  \"source_hash\": ", f);
    json_str(f, m->source_hash);
    fputs(",\n  \"nnc_version\": ", f);
    json_str(f, m->nnc_version);
    fputs(",\n  \"runtime_version\": ", f);
    json_str(f, NNRT_VERSION);
    fputs(",\n  \"dtype\": ", f);
    json_str(f, m->dtype);
    fprintf(f, ",\n  \"nparams\": %lld", (long long)m->nparam_total);
    fprintf(f, ",\n  \"threads\": %d", nnrt_parallel_threads());
    fprintf(f, ",\n  \"seed\": %llu", (unsigned long long)c->seed);
    nnrt_source_describe(&c->data, buf, sizeof buf);
    fputs(",\n  \"data\": ", f);
    json_str(f, buf);
    nnrt_source_describe(&c->test, buf, sizeof buf);
    fputs(",\n  \"test\": ", f);
    if (c->test.kind == NNRT_SRC_NONE)
        fputs("null", f);
    else
        json_str(f, buf);
    fprintf(f, ",\n  \"optimizer\": {\"name\": \"%s\", ", onames[o->kind]);
    json_opt(f, "lr", o->lr, 0);
    if (o->kind == NNRT_SGD) {
        json_opt(f, "momentum", o->momentum, 0);
        fprintf(f, "\"nesterov\": %s, ", o->nesterov ? "true" : "false");
    }
    if (o->kind == NNRT_ADAM || o->kind == NNRT_ADAMW) {
        json_opt(f, "beta1", o->beta1, 0);
        json_opt(f, "beta2", o->beta2, 0);
        json_opt(f, "eps", o->eps, 0);
    }
    if (o->kind == NNRT_RMSPROP) {
        json_opt(f, "alpha", o->alpha, 0);
        json_opt(f, "eps", o->eps, 0);
        json_opt(f, "momentum", o->momentum, 0);
        fprintf(f, "\"centered\": %s, ", o->centered ? "true" : "false");
    }
    json_opt(f, "weight_decay", o->weight_decay, 1);
    nnrt_optim_describe(o, buf, sizeof buf);
    fputs("},\n  \"optimizer_text\": ", f);
    json_str(f, buf);
    const NnrtSchedSpec *s = &c->sched;
    fprintf(f, ",\n  \"schedule\": {\"name\": \"%s\", ", snames[s->kind]);
    if (s->kind == NNRT_SCHED_EXP_DECAY)
        json_opt(f, "k", s->k, 0);
    if (s->kind == NNRT_SCHED_STEP) {
        json_opt(f, "every", s->every, 0);
        json_opt(f, "gamma", s->gamma, 0);
    }
    if (s->kind == NNRT_SCHED_COSINE)
        json_opt(f, "min", s->min, 0);
    fprintf(f, "\"warmup\": %lld}", (long long)s->warmup);
    nnrt_sched_describe(s, buf, sizeof buf);
    fputs(",\n  \"schedule_text\": ", f);
    json_str(f, buf);
    if (c->batch == 0)
        fputs(",\n  \"batch\": \"full\"", f);
    else
        fprintf(f, ",\n  \"batch\": %lld", (long long)c->batch);
    fprintf(f, ",\n  \"epochs\": %lld", (long long)c->epochs);
    if (c->steps > 0)
        fprintf(f, ",\n  \"steps\": %lld", (long long)c->steps);
    else
        fputs(",\n  \"steps\": null", f);
    fprintf(f, ",\n  \"reduce\": \"%s\"", c->reduce_sum ? "sum" : "mean");
    fprintf(f, ",\n  \"shuffle\": %s", c->shuffle ? "true" : "false");
    fprintf(f, ",\n  \"metrics\": [%s]", c->accuracy ? "\"accuracy\"" : "");
    fputs(",\n  \"clip\": ", f);
    json_num(f, c->clip > 0 ? c->clip : NAN, 17);
    if (c->patience > 0)
        fprintf(f, ",\n  \"patience\": %lld", (long long)c->patience);
    else
        fputs(",\n  \"patience\": null", f);
    fputs(",\n  \"log\": ", f);
    json_str(f, dir);
    fputs(",\n  \"command\": [", f);
    for (int i = 0; i < argc; i++) {
        fputs(i ? ", " : "", f);
        json_str(f, argv[i]);
    }
    fputs("]\n}\n", f);
    return close_part(f, path, part, e);
}

/* settings.txt's first line names the source hash of the model that wrote
 * it: another model (or the same file edited) may have parameters of the
 * same names and sizes in another layout or meaning, so it cannot resume. */
static int same_model(const char *dir, const char *path, const char *line, const NnrtModel *m,
                      NnrtErr *e)
{
    const char *h = strstr(line, "(source hash ");
    char was[40] = "";
    if (h)
        sscanf(h + 13, "%39[0-9a-f]", was);
    if (!m->source_hash || strcmp(was, m->source_hash) == 0)
        return 0;
    return nnrt_err(e, "%s: the run was trained by a model with source hash %s, this trainer's "
                    "%s is %s: the .nn file changed since, so the run cannot be continued by it "
                    "(start a new run, from --init %s/params.npz if the parameters still fit)",
                    path, was[0] ? was : "(none)", m->source ? m->source : m->name,
                    m->source_hash, dir);
}

int nnrt_read_settings(const char *dir, const NnrtModel *m, NnrtConfig *c, NnrtErr *e)
{
    char path[1100], line[4096], err[1024];
    snprintf(path, sizeof path, "%s/settings.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return nnrt_err(e, "%s: cannot read (%s); --resume needs a run directory written by "
                        "train --log", path, strerror(errno));
    int lineno = 0, r = 0;
    while (r == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        char *eq = strstr(line, " = ");
        if (lineno == 1 && m && (r = same_model(dir, path, line, m, e)) != 0)
            break;
        if (line[0] == '#' || line[0] == '\0')
            continue;
        if (!eq) {
            r = nnrt_err(e, "%s:%d: expected `key = value`, found '%s'", path, lineno, line);
            break;
        }
        *eq = '\0';
        c->length_flag = 0;   /* a run's saved epochs and steps are not two flags */
        if (nnrt_config_set(c, line, eq + 3, 1, err, sizeof err) != 0)
            r = nnrt_err(e, "%s:%d: %s", path, lineno, err);
    }
    fclose(f);
    return r;
}

/* ---- summary.json ---- */

int nnrt_write_summary(const NnrtRunLog *l, const NnrtSummary *s, NnrtErr *e)
{
    char path[1100], part[1100];
    FILE *f = open_part(l->dir, "summary.json", path, part, sizeof path, e);
    if (!f)
        return -1;
    fputs("{\n  \"status\": ", f);
    json_str(f, s->status);
    fputs(",\n  \"message\": ", f);
    if (s->message)
        json_str(f, s->message);
    else
        fputs("null", f);
    fputs(",\n  \"final\": ", f);
    if (s->has_final)
        json_row(f, l, &s->final, 0);
    else
        fputs("null", f);
    fputs(",\n  \"best\": ", f);
    if (s->has_final)
        json_row(f, l, &s->best, 0);
    else
        fputs("null", f);
    fputs(",\n  \"monitor\": ", f);
    json_str(f, s->monitor);
    fprintf(f, ",\n  \"wall_seconds\": %.3f", s->wall_seconds);
    fprintf(f, ",\n  \"params\": %s,\n  \"checkpoint\": \"checkpoint.npz\"\n}\n",
            s->has_params ? "\"params.npz\"" : "null");
    return close_part(f, path, part, e);
}

/*
 * cache.c - the compile cache (cache.h, docs/cache.md): keys, the
 * directory, entries written atomically, and a size limit: after a
 * process's first write, and after each tenth of the limit it writes, the
 * entries least recently used go while the cache is over NNC_CACHE_MAX_MB
 * (a hit refreshes an entry's modification time).
 *
 * The key hashes each byte into two independent 64-bit lanes (FNV-1a and a
 * multiply-rotate hash), 128 bits in all: an accidental collision between
 * two compilations is out of the question, and nothing here needs to
 * resist a deliberate one (the cache is the user's own directory).
 *
 * Every entry ends in a trailer: a magic string and the same 128-bit hash
 * of the contents before it.  A damaged entry (cut short by a full disk,
 * a byte changed, an entry of an older nnc without the trailer) fails the
 * check and reads as a miss, so it is compiled afresh and replaced.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cache.h"

#define NNC_VERSION "0.1.0"

void cg_cache_key(CgCacheKey *k, const char *kind)
{
    k->a = 1469598103934665603ULL;
    k->b = 0x9e3779b97f4a7c15ULL;
    cg_cache_add_str(k, "nnc " NNC_VERSION);
    cg_cache_add_str(k, kind);
}

void cg_cache_add(CgCacheKey *k, const void *data, size_t n)
{
    const unsigned char *p = data;
    unsigned long long a = k->a, b = k->b;
    for (size_t i = 0; i < n; i++) {
        a = (a ^ p[i]) * 1099511628211ULL;
        b = ((b << 5 | b >> 59) ^ p[i]) * 0xff51afd7ed558ccdULL;
    }
    k->a = a;
    k->b = b;
}

void cg_cache_add_str(CgCacheKey *k, const char *s)
{
    cg_cache_add(k, s, strlen(s) + 1);
}

int cg_cache_add_file(CgCacheKey *k, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        cg_cache_add(k, buf, n);
    int err = ferror(f);
    fclose(f);
    return err ? -1 : 0;
}

static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            int bad = mkdir(path, 0755) != 0 && errno != EEXIST;
            *p = '/';
            if (bad)
                return -1;
        }
    return mkdir(path, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* The cache's size limit in bytes (NNC_CACHE_MAX_MB; 0: none), read by
 * cg_cache_dir: a value that is not a size is reported, once, and the
 * default kept. */
static double max_bytes = 1024 * 1048576.0;

static void read_max(void)
{
    const char *env = getenv("NNC_CACHE_MAX_MB");
    if (!env || !*env)
        return;
    char *end;
    double mb = strtod(env, &end);
    if (*end || !(mb >= 0 && mb < 1e12)) {
        fprintf(stderr, "nnc: warning: NNC_CACHE_MAX_MB='%s' is not a size in MiB; the cache is "
                "kept within the default 1024\n", env);
        return;
    }
    max_bytes = mb * 1048576.0;
}

const char *cg_cache_dir(void)
{
    static char dir[PATH_MAX];
    static int state;   /* 0 not yet looked, 1 on, -1 off */
    if (state)
        return state > 0 ? dir : NULL;
    state = -1;
    const char *off = getenv("NNC_CACHE");
    if (off && (strcmp(off, "off") == 0 || strcmp(off, "0") == 0 || strcmp(off, "no") == 0))
        return NULL;
    const char *env = getenv("NNC_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"),
               *home = getenv("HOME");
    if (env && *env)
        snprintf(dir, sizeof dir, "%s", env);
    else if (xdg && *xdg)
        snprintf(dir, sizeof dir, "%s/nnc", xdg);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.cache/nnc", home);
    else
        return NULL;
    if (mkdirs(dir) != 0 || access(dir, W_OK | X_OK) != 0)
        return NULL;
    read_max();
    state = 1;
    return dir;
}

/* DIR/KEY.EXT; -1 without a cache. */
static int entry(const CgCacheKey *k, const char *ext, char *path, size_t len)
{
    const char *dir = cg_cache_dir();
    if (!dir)
        return -1;
    snprintf(path, len, "%s/%016llx%016llx.%s", dir, k->a, k->b, ext);
    return 0;
}

#define TRAILER_MAGIC "nnc-cache-entry"   /* with its '\0': 16 bytes */

typedef struct Trailer {
    char magic[16];
    CgCacheKey sum;   /* the hash of the contents before the trailer */
} Trailer;

static Trailer trailer_of(const void *data, size_t n)
{
    Trailer t;
    memset(&t, 0, sizeof t);
    memcpy(t.magic, TRAILER_MAGIC, sizeof TRAILER_MAGIC);
    cg_cache_key(&t.sum, "entry");
    cg_cache_add(&t.sum, data, n);
    return t;
}

/* The contents of the regular file at path, or NULL.  Opened without
 * blocking and checked after opening: a FIFO in the cache (or at a
 * --backend c trainer's path) would block a plain open until a writer came. */
static char *slurp(const char *path, size_t *n)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    struct stat st;
    char *buf = NULL;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        buf = malloc((size_t)st.st_size);
        if (buf && fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
            free(buf);
            buf = NULL;
        }
        *n = (size_t)st.st_size;
    }
    fclose(f);
    return buf;
}

char *cg_cache_read(const CgCacheKey *k, const char *ext, size_t *n)
{
    char path[PATH_MAX + 64];
    if (entry(k, ext, path, sizeof path) != 0)
        return NULL;
    size_t size = 0;
    char *data = slurp(path, &size);
    if (!data)
        return NULL;
    Trailer want, got;
    if (size < sizeof got) {
        free(data);
        return NULL;
    }
    *n = size - sizeof got;
    memcpy(&got, data + *n, sizeof got);
    want = trailer_of(data, *n);
    if (memcmp(&got, &want, sizeof got) != 0) {   /* damaged: a miss */
        free(data);
        return NULL;
    }
    utimensat(AT_FDCWD, path, NULL, 0);   /* used now: the last to be trimmed */
    return data;
}

typedef struct Entry {
    char name[80];
    double mtime;
    off_t size;
} Entry;

static int older(const void *a, const void *b)
{
    double x = ((const Entry *)a)->mtime, y = ((const Entry *)b)->mtime;
    return (x > y) - (x < y);
}

/* Is name one of the cache's own files?  An entry is KEY.EXT (KEY 32
 * lowercase hex digits, EXT a short lowercase word: cg_cache_write); a
 * temporary file is KEY.EXT.tmpPIDXXXXXX (write_atomically): *tmp says
 * which.  Anything else in the directory is the user's, never deleted. */
static int own_file(const char *name, int *tmp)
{
    int i = 0;
    for (; i < 32; i++)
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
            return 0;
    if (name[i++] != '.')
        return 0;
    int ext = i;
    while (name[i] >= 'a' && name[i] <= 'z')
        i++;
    if (i == ext || i - ext > 8)
        return 0;
    *tmp = name[i] != '\0';
    if (!*tmp)
        return 1;
    if (strncmp(name + i, ".tmp", 4) != 0)
        return 0;
    i += 4;
    int digits = i;
    while (name[i] >= '0' && name[i] <= '9')
        i++;
    return i > digits && strlen(name + i) == 6;   /* mkstemp's XXXXXX */
}

/* Keep the cache within NNC_CACHE_MAX_MB (default 1024): remove the least
 * recently used entries until it is within 90% of that, and temporary files
 * an interrupted nnc left behind (older than an hour).  Only the cache's
 * own files (own_file) count and go.  Several nnc may trim at once: a file
 * already gone is simply skipped. */
static void trim(const char *dir)
{
    double max = max_bytes;
    DIR *d = opendir(dir);
    if (!d || max <= 0) {
        if (d)
            closedir(d);
        return;
    }
    Entry *e = NULL;
    size_t n = 0, cap = 0;
    double total = 0;
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char path[PATH_MAX + 300];
        struct stat st;
        int tmp;
        if (strlen(de->d_name) >= sizeof e->name || !own_file(de->d_name, &tmp))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (tmp) {
            if (now - st.st_mtime > 3600)
                unlink(path);
            continue;
        }
        if (n == cap) {
            Entry *grown = realloc(e, (cap = cap ? 2 * cap : 64) * sizeof *e);
            if (!grown)
                break;
            e = grown;
        }
        snprintf(e[n].name, sizeof e[n].name, "%.79s", de->d_name);   /* < 80: checked above */
        e[n].mtime = (double)st.st_mtim.tv_sec + 1e-9 * (double)st.st_mtim.tv_nsec;
        e[n].size = st.st_size;
        total += (double)st.st_size;
        n++;
    }
    closedir(d);
    if (total > max) {
        qsort(e, n, sizeof *e, older);
        for (size_t i = 0; i < n && total > 0.9 * max; i++) {
            char path[PATH_MAX + 300];
            snprintf(path, sizeof path, "%s/%s", dir, e[i].name);
            if (unlink(path) == 0)
                total -= (double)e[i].size;
        }
    }
    free(e);
}

static int write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Write data (and the trailer, unless NULL) to a temporary file beside path
 * and rename it to path: a reader sees the old file, the new one or none,
 * never half of one. */
static int write_atomically(const char *path, const void *data, size_t n, const Trailer *t,
                            mode_t mode)
{
    char tmp[PATH_MAX + 80];
    snprintf(tmp, sizeof tmp, "%s.tmp%ldXXXXXX", path, (long)getpid());
    int fd = mkstemp(tmp);
    if (fd < 0)
        return -1;
    int ok = write_all(fd, data, n) == 0 && (!t || write_all(fd, t, sizeof *t) == 0) &&
             fchmod(fd, mode) == 0;
    ok &= close(fd) == 0;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Whether this write must trim: the first of the process, then once a
 * tenth of the limit has been written since the last trim.  Trimming reads
 * the size and date of every entry (2,000 entries: 5.7 ms), after every
 * write as many times as a cold sweep compiles; so the cache may exceed its
 * limit by a tenth, plus one entry.  Compilations write from several
 * threads (nnc sweep). */
static int trim_due(size_t n)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static int trimmed;
    static double since;   /* bytes written since the last trim */
    pthread_mutex_lock(&lock);
    since += (double)n;
    int due = !trimmed || since > 0.1 * max_bytes;
    if (due) {
        trimmed = 1;
        since = 0;
    }
    pthread_mutex_unlock(&lock);
    return due;
}

int cg_cache_write(const CgCacheKey *k, const char *ext, const void *data, size_t n)
{
    char path[PATH_MAX + 64];
    if (entry(k, ext, path, sizeof path) != 0)
        return -1;
    Trailer t = trailer_of(data, n);
    int rc = write_atomically(path, data, n, &t, 0644);
    if (trim_due(n))
        trim(cg_cache_dir());
    return rc;
}

int cg_cache_fetch(const CgCacheKey *k, const char *ext, const char *dest)
{
    size_t n = 0;
    char *data = cg_cache_read(k, ext, &n);
    if (!data)
        return -1;
    int rc = write_atomically(dest, data, n, NULL, 0755);
    free(data);
    return rc;
}

int cg_cache_store(const CgCacheKey *k, const char *ext, const char *src)
{
    size_t n = 0;
    char *data = slurp(src, &n);
    if (!data)
        return -1;
    int rc = cg_cache_write(k, ext, data, n);
    free(data);
    return rc;
}

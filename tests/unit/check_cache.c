/*
 * check_cache.c - the compile cache (src/codegen/cache.c, docs/cache.md):
 * keys tell apart what differs, entries come back whole, NNC_CACHE=off
 * turns it off, concurrent writers of one entry never leave a reader
 * half a file, the size limit is kept, and the trim deletes nothing but
 * the cache's own files.
 *
 * The cache directory is looked up once per process; Check runs each test
 * in a child of its own (CK_FORK=yes, as tests/run.sh runs it), so each
 * test sets the environment before its first call.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"

static void remove_dir(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* A fresh, empty cache directory for this test, under tests/out when run
 * from the top of the tree (tests/run.sh), else /tmp. */
static const char *fresh_dir(const char *name)
{
    static char dir[256];
    snprintf(dir, sizeof dir, "%s/check_cache_%s_%ld", access("tests/out", W_OK) == 0 ?
             "tests/out" : "/tmp", name, (long)getpid());
    remove_dir(dir);
    setenv("NNC_CACHE_DIR", dir, 1);
    unsetenv("NNC_CACHE");
    return dir;
}

static int same_key(CgCacheKey a, CgCacheKey b)
{
    return a.a == b.a && a.b == b.b;
}

START_TEST(keys_tell_apart)
{
    CgCacheKey k1, k2, k3, k4;
    cg_cache_key(&k1, "trainer");
    cg_cache_add_str(&k1, "ab");
    cg_cache_add_str(&k1, "c");
    cg_cache_key(&k2, "trainer");
    cg_cache_add_str(&k2, "a");
    cg_cache_add_str(&k2, "bc");
    cg_cache_key(&k3, "llvm-object");
    cg_cache_add_str(&k3, "ab");
    cg_cache_add_str(&k3, "c");
    cg_cache_key(&k4, "trainer");
    cg_cache_add_str(&k4, "ab");
    cg_cache_add_str(&k4, "c");
    ck_assert(!same_key(k1, k2));   /* where the strings end counts */
    ck_assert(!same_key(k1, k3));   /* so does the kind */
    ck_assert(same_key(k1, k4));    /* and nothing else */
    /* one byte more or different changes both halves */
    CgCacheKey k5 = k4;
    cg_cache_add(&k5, "x", 1);
    ck_assert(k5.a != k4.a && k5.b != k4.b);
}
END_TEST

START_TEST(write_then_read)
{
    fresh_dir("rw");
    CgCacheKey k, other;
    cg_cache_key(&k, "test");
    cg_cache_add_str(&k, "model 1");
    cg_cache_key(&other, "test");
    cg_cache_add_str(&other, "model 2");
    size_t n = 0;
    ck_assert_ptr_null(cg_cache_read(&k, "o", &n));   /* a miss */
    static const char data[] = "object code\0with a zero byte";
    ck_assert_int_eq(cg_cache_write(&k, "o", data, sizeof data), 0);
    char *got = cg_cache_read(&k, "o", &n);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(n, sizeof data);
    ck_assert(memcmp(got, data, n) == 0);
    free(got);
    ck_assert_ptr_null(cg_cache_read(&other, "o", &n));   /* another key misses */
    ck_assert_ptr_null(cg_cache_read(&k, "exe", &n));     /* so does another kind of file */
    remove_dir(getenv("NNC_CACHE_DIR"));
}
END_TEST

START_TEST(store_and_fetch_files)
{
    const char *dir = fresh_dir("files");
    char src[300], dest[300];
    snprintf(src, sizeof src, "%s.src", dir);
    snprintf(dest, sizeof dest, "%s.dest", dir);
    FILE *f = fopen(src, "w");
    ck_assert_ptr_nonnull(f);
    fputs("#!/bin/sh\necho trainer\n", f);
    fclose(f);
    CgCacheKey k;
    cg_cache_key(&k, "trainer");
    ck_assert_int_ne(cg_cache_fetch(&k, "exe", dest), 0);   /* a miss writes nothing */
    ck_assert_int_ne(access(dest, F_OK), 0);
    ck_assert_int_eq(cg_cache_store(&k, "exe", src), 0);
    ck_assert_int_eq(cg_cache_fetch(&k, "exe", dest), 0);
    struct stat st;
    ck_assert_int_eq(stat(dest, &st), 0);
    ck_assert(st.st_mode & S_IXUSR);   /* a trainer comes back executable */
    ck_assert_int_eq(st.st_size, 23);
    remove(src);
    remove(dest);
    remove_dir(dir);
}
END_TEST

START_TEST(off)
{
    const char *dir = fresh_dir("off");
    setenv("NNC_CACHE", "off", 1);
    ck_assert_ptr_null(cg_cache_dir());
    CgCacheKey k;
    cg_cache_key(&k, "test");
    ck_assert_int_ne(cg_cache_write(&k, "o", "x", 1), 0);
    ck_assert_int_ne(access(dir, F_OK), 0);   /* not even the directory is made */
}
END_TEST

/* Writers race to store the same entry (as two sweeps compiling the same
 * architecture do) while a reader reads it: every read is a miss or the
 * whole entry, and no temporary file is left behind. */
START_TEST(concurrent_writers)
{
    const char *dir = fresh_dir("race");
    enum { SIZE = 1 << 20, WRITERS = 4, ROUNDS = 20 };
    char *data = malloc(SIZE);
    for (int i = 0; i < SIZE; i++)
        data[i] = (char)(i * 7 + i / 4096);
    CgCacheKey k;
    cg_cache_key(&k, "race");
    pid_t pids[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        ck_assert_int_ge(pids[w], 0);
        if (pids[w] == 0) {
            for (int r = 0; r < ROUNDS; r++)
                if (cg_cache_write(&k, "o", data, SIZE) != 0)
                    _exit(1);
            _exit(0);
        }
    }
    int whole = 0;
    for (int r = 0; r < 200; r++) {
        size_t n = 0;
        char *got = cg_cache_read(&k, "o", &n);
        if (got) {
            ck_assert_uint_eq(n, SIZE);
            ck_assert(memcmp(got, data, SIZE) == 0);
            whole++;
            free(got);
        }
    }
    for (int w = 0; w < WRITERS; w++) {
        int status;
        ck_assert_int_eq(waitpid(pids[w], &status, 0), pids[w]);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    char cmd[400];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) = 1", dir);
    ck_assert_int_eq(system(cmd), 0);   /* the entry, and no temporary files */
    free(data);
    (void)whole;
    remove_dir(dir);
}
END_TEST

/* Over NNC_CACHE_MAX_MB, a write removes the least recently used entries
 * (a read counts as a use) until the cache is within 90% of the limit. */
START_TEST(least_recently_used_go)
{
    const char *dir = fresh_dir("trim");
    setenv("NNC_CACHE_MAX_MB", "1", 1);
    enum { SIZE = 400 * 1024 };
    char *data = calloc(SIZE, 1);
    CgCacheKey a, b, c;
    cg_cache_key(&a, "a");
    cg_cache_key(&b, "b");
    cg_cache_key(&c, "c");
    struct timespec pause = {0, 20000000};
    size_t n = 0;
    ck_assert_int_eq(cg_cache_write(&a, "o", data, SIZE), 0);
    nanosleep(&pause, NULL);
    ck_assert_int_eq(cg_cache_write(&b, "o", data, SIZE), 0);   /* 800 KB: both stay */
    nanosleep(&pause, NULL);
    free(cg_cache_read(&a, "o", &n));   /* a used after b */
    nanosleep(&pause, NULL);
    ck_assert_int_eq(cg_cache_write(&c, "o", data, SIZE), 0);   /* 1.2 MB: b goes */
    char *got;
    ck_assert_ptr_nonnull(got = cg_cache_read(&a, "o", &n));
    free(got);
    ck_assert_ptr_null(cg_cache_read(&b, "o", &n));
    ck_assert_ptr_nonnull(got = cg_cache_read(&c, "o", &n));
    free(got);
    free(data);
    remove_dir(dir);
}
END_TEST

/* A file of n bytes at path, last used an hour ago (an entry of an earlier
 * nnc, say). */
static void old_file(const char *path, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    char *zeros = calloc(n, 1);
    ck_assert_uint_eq(fwrite(zeros, 1, n, f), n);
    fclose(f);
    free(zeros);
    struct timespec hour_ago[2] = {{time(NULL) - 3600, 0}, {time(NULL) - 3600, 0}};
    ck_assert_int_eq(utimensat(AT_FDCWD, path, hour_ago, 0), 0);
}

/* A process trims at its first write, then only once it has written a
 * tenth of the limit since: the cache is not read back after every write
 * (a cold sweep writes one entry per compilation). */
START_TEST(trimmed_once_per_tenth)
{
    const char *dir = fresh_dir("tenth");
    setenv("NNC_CACHE_MAX_MB", "1", 1);
    enum { BIG = 1200 * 1024, SMALL = 40 * 1024 };
    char *data = calloc(SMALL, 1);
    char big[400];
    snprintf(big, sizeof big, "%s/00000000000000000000000000000000.o", dir);
    CgCacheKey a, b, c;
    cg_cache_key(&a, "a");
    cg_cache_key(&b, "b");
    cg_cache_key(&c, "c");
    ck_assert_ptr_nonnull(cg_cache_dir());   /* creates dir */
    old_file(big, BIG);
    struct stat st;
    ck_assert_int_eq(cg_cache_write(&a, "o", data, SMALL), 0);   /* the first: trims */
    ck_assert_int_ne(stat(big, &st), 0);
    old_file(big, BIG);
    ck_assert_int_eq(cg_cache_write(&b, "o", data, SMALL), 0);   /* 40 KB since: not yet */
    ck_assert_int_eq(stat(big, &st), 0);
    ck_assert_int_eq(cg_cache_write(&c, "o", data, SMALL), 0);   /* 80 KB */
    ck_assert_int_eq(stat(big, &st), 0);
    cg_cache_key(&c, "d");
    ck_assert_int_eq(cg_cache_write(&c, "o", data, SMALL), 0);   /* 120 KB: trims */
    ck_assert_int_ne(stat(big, &st), 0);
    size_t n = 0;
    char *got;
    ck_assert_ptr_nonnull(got = cg_cache_read(&a, "o", &n));   /* the recent ones stay */
    free(got);
    free(data);
    remove_dir(dir);
}
END_TEST

/* A damaged entry (cut short, a byte changed, or written without the
 * trailer by an older nnc) reads as a miss, and a new write replaces it. */
START_TEST(damaged_entries_miss)
{
    const char *dir = fresh_dir("damaged");
    static const char data[] = "trainer bytes, long enough to damage in the middle";
    CgCacheKey k;
    cg_cache_key(&k, "trainer");
    char path[400];
    snprintf(path, sizeof path, "%s/%016llx%016llx.exe", dir, k.a, k.b);
    size_t n = 0;
    char *got;
    for (int damage = 0; damage < 3; damage++) {
        ck_assert_int_eq(cg_cache_write(&k, "exe", data, sizeof data), 0);
        ck_assert_ptr_nonnull(got = cg_cache_read(&k, "exe", &n));
        free(got);
        struct stat st;
        ck_assert_int_eq(stat(path, &st), 0);
        if (damage == 0) {                       /* cut short */
            ck_assert_int_eq(truncate(path, st.st_size - 1), 0);
        } else if (damage == 1) {                /* one byte changed */
            FILE *f = fopen(path, "r+b");
            ck_assert_ptr_nonnull(f);
            fseek(f, 20, SEEK_SET);
            fputc('X', f);
            fclose(f);
        } else {                                 /* no trailer */
            FILE *f = fopen(path, "wb");
            ck_assert_ptr_nonnull(f);
            fwrite(data, 1, sizeof data, f);
            fclose(f);
        }
        got = cg_cache_read(&k, "exe", &n);
        ck_assert_msg(got == NULL, "damage %d: the damaged entry was read as a hit", damage);
        char dest[400];
        snprintf(dest, sizeof dest, "%s.dest", dir);
        ck_assert_int_ne(cg_cache_fetch(&k, "exe", dest), 0);
        ck_assert_int_ne(access(dest, F_OK), 0);
    }
    remove_dir(dir);
}
END_TEST

/* The trim deletes the cache's own files only: a user's file in the
 * directory, however big and old, and a name with ".tmp" in it that is no
 * temporary file of nnc stay; an old temporary file of nnc's goes. */
START_TEST(trim_spares_other_files)
{
    const char *dir = fresh_dir("others");
    setenv("NNC_CACHE_MAX_MB", "1", 1);
    enum { BIG = 1200 * 1024, SMALL = 40 * 1024 };
    ck_assert_ptr_nonnull(cg_cache_dir());
    char user[400], doc[400], ours[400];
    snprintf(user, sizeof user, "%s/results.npz", dir);
    snprintf(doc, sizeof doc, "%s/thesis.tmp.docx", dir);
    snprintf(ours, sizeof ours, "%s/0123456789abcdef0123456789abcdef.o.tmp123aB3xYz", dir);
    old_file(user, BIG);
    old_file(doc, SMALL);
    old_file(ours, SMALL);
    struct timespec two_hours_ago[2] = {{time(NULL) - 7200, 0}, {time(NULL) - 7200, 0}};
    ck_assert_int_eq(utimensat(AT_FDCWD, ours, two_hours_ago, 0), 0);
    ck_assert_int_eq(utimensat(AT_FDCWD, doc, two_hours_ago, 0), 0);
    char *data = calloc(SMALL, 1);
    CgCacheKey a;
    cg_cache_key(&a, "a");
    ck_assert_int_eq(cg_cache_write(&a, "o", data, SMALL), 0);   /* the first write: trims */
    struct stat st;
    ck_assert_msg(stat(user, &st) == 0, "the trim deleted a user's file, results.npz");
    ck_assert_msg(stat(doc, &st) == 0, "the trim deleted a user's thesis.tmp.docx");
    ck_assert_msg(stat(ours, &st) != 0, "an hour-old temporary file of nnc's was kept");
    free(data);
    remove_dir(dir);
}
END_TEST

/* An entry that is a FIFO reads as a miss at once, instead of blocking
 * until something writes into it. */
START_TEST(fifo_entry_misses)
{
    const char *dir = fresh_dir("fifo");
    CgCacheKey k;
    cg_cache_key(&k, "trainer");
    ck_assert_ptr_nonnull(cg_cache_dir());
    char path[400], dest[400];
    snprintf(path, sizeof path, "%s/%016llx%016llx.exe", dir, k.a, k.b);
    snprintf(dest, sizeof dest, "%s.dest", dir);
    ck_assert_int_eq(mkfifo(path, 0644), 0);
    size_t n = 0;
    ck_assert_ptr_null(cg_cache_read(&k, "exe", &n));   /* Check's timeout if it blocks */
    ck_assert_int_ne(cg_cache_fetch(&k, "exe", dest), 0);
    remove_dir(dir);
}
END_TEST

static Suite *cache_suite(void)
{
    Suite *s = suite_create("cache");
    TCase *tc = tcase_create("cache");
    tcase_add_test(tc, keys_tell_apart);
    tcase_add_test(tc, write_then_read);
    tcase_add_test(tc, store_and_fetch_files);
    tcase_add_test(tc, off);
    tcase_add_test(tc, concurrent_writers);
    tcase_add_test(tc, least_recently_used_go);
    tcase_add_test(tc, trimmed_once_per_tenth);
    tcase_add_test(tc, damaged_entries_miss);
    tcase_add_test(tc, trim_spares_other_files);
    tcase_add_test(tc, fifo_entry_misses);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(cache_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * cache.h - nnc's compile cache (docs/cache.md): what a compilation
 * produced (the LLVM JIT's object code, a trainer built by cc) kept on disk
 * under a hash of everything it depends on, so that compiling the same
 * thing again is a file read.  Used by the JIT (jit_llvm.c: nnc run,
 * nnc sweep) and by nnc build (main.c).
 *
 * A key is a 128-bit hash built up from strings and files; the entry is
 * DIR/KEY.EXT.  Entries are written to a temporary file and renamed into
 * place, so a reader (another nnc, concurrently) sees a whole entry or none.
 * The cache is best effort: when it is off or cannot be written, nnc
 * compiles as if it were empty.  It stays within NNC_CACHE_MAX_MB (give or
 * take a tenth): a process's first write, and each tenth of the limit it
 * writes, removes the least recently used entries beyond it.
 */
#ifndef NNC_CACHE_H
#define NNC_CACHE_H

#include <stddef.h>

typedef struct CgCacheKey {
    unsigned long long a, b;
} CgCacheKey;

/* Start a key: what is cached (e.g. "jit-object") and nnc's version. */
void cg_cache_key(CgCacheKey *k, const char *kind);
void cg_cache_add(CgCacheKey *k, const void *data, size_t n);
/* A string, with its end: ("ab", "c") and ("a", "bc") differ. */
void cg_cache_add_str(CgCacheKey *k, const char *s);
/* A file's contents; -1 when it cannot be read (the key is then unusable). */
int cg_cache_add_file(CgCacheKey *k, const char *path);

/* The cache's directory, created on first use: $NNC_CACHE_DIR, else
 * $XDG_CACHE_HOME/nnc, else ~/.cache/nnc.  NULL when the cache is off
 * (NNC_CACHE=off, 0 or no) or no directory can be made. */
const char *cg_cache_dir(void);

/* The entry's contents (malloc'd, *n bytes), or NULL: a miss or no cache. */
char *cg_cache_read(const CgCacheKey *k, const char *ext, size_t *n);
/* Store an entry; 0 when stored.  Failures are silent (best effort). */
int cg_cache_write(const CgCacheKey *k, const char *ext, const void *data, size_t n);
/* The same for files: copy the entry to dest (executable, replacing dest
 * atomically), or the file src into the cache.  0 on success. */
int cg_cache_fetch(const CgCacheKey *k, const char *ext, const char *dest);
int cg_cache_store(const CgCacheKey *k, const char *ext, const char *src);

#endif

/*
 * common_rng.c - the runtime's deterministic random numbers.
 *
 * xoshiro256** (D. Blackman, S. Vigna, "Scrambled linear pseudorandom
 * number generators", 2018) with its 256-bit state filled by splitmix64 from
 * a 64-bit seed, the seeding its authors recommend.  Uniform doubles take
 * the top 53 bits; normals use the Box-Muller transform without caching
 * the second value, so a stream's n-th normal depends only on the seed and
 * n.  Everything is integer arithmetic plus libm's log, sqrt and cos, so the
 * same seed gives the same numbers on every run.
 *
 * The model's draws (noise, dropout's masks) come from a counter-based
 * generator instead: each number is a hash of its coordinates (seed, step,
 * sample, draw, element), so any subset of them is computed in any order,
 * on any thread, and a resumed run sees the numbers it would have seen.
 */
#include "nnrt_internal.h"

uint64_t nnrt_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t nnrt_hash_name(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;            /* FNV-1a, 64 bit */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

void nnrt_rng_seed(NnrtRng *r, uint64_t seed)
{
    uint64_t st = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = nnrt_splitmix64(&st);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t nnrt_rng_next(NnrtRng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double nnrt_rng_uniform(NnrtRng *r)
{
    return (double)(nnrt_rng_next(r) >> 11) * 0x1.0p-53;
}

double nnrt_rng_normal(NnrtRng *r)
{
    /* u1 in (0, 1] so the log is finite. */
    double u1 = 1.0 - nnrt_rng_uniform(r);
    double u2 = nnrt_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

uint64_t nnrt_rng_below(NnrtRng *r, uint64_t n)
{
    if (n <= 1)
        return 0;
    /* Reject the top partial copy of [0, n) so every value is equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = nnrt_rng_next(r);
    while (x >= limit);
    return x % n;
}

/* splitmix64's finaliser: a bijection of 64 bits that mixes every input
 * bit into every output bit. */
static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The key of one sample's numbers of one draw: its coordinates but the
 * element, hashed once (draw_range calls nnrt_draw_at for each element). */
uint64_t nnrt_draw_key(uint64_t seed, uint64_t step, uint64_t sample, int draw)
{
    uint64_t h = mix64(seed);
    h = mix64(h ^ step);
    h = mix64(h ^ sample);
    return mix64(h ^ (uint64_t)(uint32_t)draw);
}

/* The uniform double in [0, 1) for element elem of a key (which: one of
 * the two a normal needs): splitmix64's stream seeded with the key, whose
 * 2 elem + which'th number it is. */
static double counter_uniform(uint64_t key, int64_t elem, int which)
{
    uint64_t h = mix64(key + (2 * (uint64_t)elem + (uint64_t)which) * 0x9e3779b97f4a7c15ull);
    return (double)(h >> 11) * 0x1.0p-53;
}

double nnrt_draw_at(const NnrtDraw *d, int train, uint64_t key, int64_t elem)
{
    switch (d->kind) {
    case NNRT_DRAW_NORMAL: {
        if (!train)
            return d->a;
        double u1 = 1.0 - counter_uniform(key, elem, 0);
        double u2 = counter_uniform(key, elem, 1);
        return d->a + d->b * (sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2));
    }
    case NNRT_DRAW_UNIFORM:
        if (!train)
            return (d->a + d->b) / 2;
        return d->a + (d->b - d->a) * counter_uniform(key, elem, 0);
    case NNRT_DRAW_DROPOUT:
        if (!train)
            return 1;
        return counter_uniform(key, elem, 0) < d->a ? 0 : 1 / (1 - d->a);
    }
    return 0;
}

double nnrt_draw_value(const NnrtDraw *d, int train, uint64_t seed, uint64_t step,
                       uint64_t sample, int draw, int64_t elem)
{
    return nnrt_draw_at(d, train, nnrt_draw_key(seed, step, sample, draw), elem);
}

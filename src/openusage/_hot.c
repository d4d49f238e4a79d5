/* openusage._hot: the compiled twins of `openusage.hot.lines`, the candidate reader's per-block loop, of
 * `openusage.hot.judge`, its test of every line for one that cannot be JSON (its shape, and whether it
 * is UTF-8), and of
 * `openusage.summary.count_in`, the ledger's count of a cold scan's calls, of `openusage.hot.shard_entries`,
 * a first run's holders entries by shard, of `openusage.store.key_crcs` and of `openusage.hot.head_lines`,
 * the lines at the top of a file up to the first of its body (all at the end of this file).
 *
 * One call per block: find every needle in buf[i:n], and hand each complete line holding one to
 * `on_line` in file order (a copy: a bytearray, or bytes read with pread when the line started in an
 * earlier block), so Python is entered once per candidate line instead of several times per hit.
 * The pure-Python function in hot.py is the reference; tests/test_hot_kernels.py holds the two equal.
 *
 * The substring search compares two bytes of the needle at 64 (AVX-512BW), 32 (AVX2) or 16 (SSE2)
 * positions at once, then its last byte where both match, and checks the whole needle only where all
 * three do; each wider loop leaves its last positions to the narrower ones, and those to memmem, which
 * is all there is elsewhere (not x86-64, not gcc/clang). Several needles are searched in one pass where
 * they share factors (the group search, below): AVX-512BW and AVX2 only.
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE
#include <Python.h>

#include <structmember.h>

#include <errno.h>
#include <stdint.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HOT_X86 1
#endif

/* Bumped whenever the function's contract changes: hot.py refuses a stale build (an editable install
 * whose .so predates the source) and falls back to pure Python. */
#define KERNEL_VERSION 8  /* 2: count_in; 3: judge; 4: judge looks at the two bytes at each end; 5: and
                            * whether the line is UTF-8; 6: shard_entries; 7: key_crcs; 8: head_lines, scan */
#define MAX_NEEDLES 16
/* Below this many bytes to search, releasing the GIL costs more than it lets other threads do. */
#define RELEASE_GIL_BYTES (16 * 1024)

typedef struct {
    const unsigned char *bytes;
    Py_ssize_t len;
    Py_ssize_t a, b;      /* the two positions compared first */
    Py_ssize_t c;         /* the last byte, compared where a and b match (`choose_positions` says why) */
    Py_ssize_t next;      /* the first hit at or after `from`, or -1 for none before the block end */
    Py_ssize_t from;      /* where `next` was searched from */
} Needle;

typedef Py_ssize_t (*find_fn)(const unsigned char *, Py_ssize_t, Py_ssize_t, const Needle *);

static Py_ssize_t find_scalar(const unsigned char *h, Py_ssize_t from, Py_ssize_t to, const Needle *nd)
{
    if (to - from < nd->len)
        return -1;
    const unsigned char *hit = memmem(h + from, (size_t)(to - from), nd->bytes, (size_t)nd->len);
    return hit == NULL ? -1 : (Py_ssize_t)(hit - h);
}

#ifdef HOT_X86
/* Positions p in [from, to - len] where the needle starts: a vector compares the needle's bytes a and b
 * at 16 consecutive positions; each position where both match is checked in full. */
static Py_ssize_t find_sse2(const unsigned char *h, Py_ssize_t from, Py_ssize_t to, const Needle *nd)
{
    const Py_ssize_t m = nd->len, a = nd->a, b = nd->b;
    if (to - from < m)
        return -1;
    const __m128i va = _mm_set1_epi8((char)nd->bytes[a]), vb = _mm_set1_epi8((char)nd->bytes[b]);
    const __m128i vc = _mm_set1_epi8((char)nd->bytes[nd->c]);
    Py_ssize_t p = from;
    for (; p + m + 15 <= to; p += 16) {  /* every position checked here has its whole needle inside */
        __m128i ea = _mm_cmpeq_epi8(va, _mm_loadu_si128((const __m128i *)(h + p + a)));
        __m128i eb = _mm_cmpeq_epi8(vb, _mm_loadu_si128((const __m128i *)(h + p + b)));
        unsigned mask = (unsigned)_mm_movemask_epi8(_mm_and_si128(ea, eb));
        if (mask)
            mask &= (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(vc, _mm_loadu_si128((const __m128i *)(h + p + nd->c))));
        while (mask) {
            int j = __builtin_ctz(mask);
            if (memcmp(h + p + j, nd->bytes, (size_t)m) == 0)
                return p + j;
            mask &= mask - 1;
        }
    }
    return find_scalar(h, p, to, nd);
}

__attribute__((target("avx2")))
static Py_ssize_t find_avx2(const unsigned char *h, Py_ssize_t from, Py_ssize_t to, const Needle *nd)
{
    const Py_ssize_t m = nd->len, a = nd->a, b = nd->b;
    if (to - from < m)
        return -1;
    const __m256i va = _mm256_set1_epi8((char)nd->bytes[a]), vb = _mm256_set1_epi8((char)nd->bytes[b]);
    const __m256i vc = _mm256_set1_epi8((char)nd->bytes[nd->c]);
    Py_ssize_t p = from;
    for (; p + m + 31 <= to; p += 32) {
        __m256i ea = _mm256_cmpeq_epi8(va, _mm256_loadu_si256((const __m256i *)(h + p + a)));
        __m256i eb = _mm256_cmpeq_epi8(vb, _mm256_loadu_si256((const __m256i *)(h + p + b)));
        unsigned mask = (unsigned)_mm256_movemask_epi8(_mm256_and_si256(ea, eb));
        if (mask)
            mask &= (unsigned)_mm256_movemask_epi8(
                _mm256_cmpeq_epi8(vc, _mm256_loadu_si256((const __m256i *)(h + p + nd->c))));
        while (mask) {
            int j = __builtin_ctz(mask);
            if (memcmp(h + p + j, nd->bytes, (size_t)m) == 0)
                return p + j;
            mask &= mask - 1;
        }
    }
    return find_sse2(h, p, to, nd);
}

__attribute__((target("avx512bw")))
static Py_ssize_t find_avx512(const unsigned char *h, Py_ssize_t from, Py_ssize_t to, const Needle *nd)
{
    const Py_ssize_t m = nd->len, a = nd->a, b = nd->b;
    if (to - from < m)
        return -1;
    const __m512i va = _mm512_set1_epi8((char)nd->bytes[a]), vb = _mm512_set1_epi8((char)nd->bytes[b]);
    const __m512i vc = _mm512_set1_epi8((char)nd->bytes[nd->c]);
    Py_ssize_t p = from;
    for (; p + m + 63 <= to; p += 64) {
        __mmask64 mask = _mm512_cmpeq_epi8_mask(va, _mm512_loadu_si512((const void *)(h + p + a))) &
                         _mm512_cmpeq_epi8_mask(vb, _mm512_loadu_si512((const void *)(h + p + b)));
        if (mask)
            mask &= _mm512_cmpeq_epi8_mask(vc, _mm512_loadu_si512((const void *)(h + p + nd->c)));
        while (mask) {
            int j = __builtin_ctzll(mask);
            if (memcmp(h + p + j, nd->bytes, (size_t)m) == 0)
                return p + j;
            mask &= mask - 1;
        }
    }
    return find_avx2(h, p, to, nd);
}
#endif

static find_fn find = find_scalar;
static const char *search_name = "memmem";

/* The needle's two bytes compared first: inside the quotes (a quote is everywhere in JSON), the rarest
 * by a rough letter frequency, so that fewer positions pass the filter to the full comparison. */
static int rarity(unsigned char c)
{
    static const char common[] = "etaoinsrhldcumfpgwybvkxjqz";  /* most frequent first */
    const char *at = c ? strchr(common, c | 0x20) : NULL;
    return at == NULL ? 30 : (int)(at - common);
}

static void choose_positions(Needle *nd)
{
    Py_ssize_t lo = nd->len > 2 ? 1 : 0, hi = nd->len > 2 ? nd->len - 2 : nd->len - 1;
    Py_ssize_t best = lo, second = hi;
    for (Py_ssize_t k = lo; k <= hi; k++)
        if (rarity(nd->bytes[k]) > rarity(nd->bytes[best]))
            best = k;
    second = best == hi ? lo : hi;
    for (Py_ssize_t k = lo; k <= hi; k++)
        if (k != best && nd->bytes[k] != nd->bytes[best] && rarity(nd->bytes[k]) > rarity(nd->bytes[second]))
            second = k;
    nd->a = best < second ? best : second;
    nd->b = best < second ? second : best;
    /* Then the last byte, a needle's closing quote: two letters of a key match in running text often
     * enough (1.1 million full comparisons for 111,000 hits on the Kimi Code benchmark), a quote right
     * after them rarely (114,000); measured on the three 1 GB homes, the search took ~20 % less. */
    nd->c = nd->len - 1;
}

/* ---- the group search: one pass for all the needles ---------------------------------------------------
 *
 * The per-needle search above makes one pass over the block for each needle, each costing about four
 * vector operations per 64 bytes (two compares, their AND and the test), and the two-byte filters with
 * their unaligned loads left the three Codex needles at ~14 cycles per 64 bytes. The group search makes
 * one pass: the needles are put in groups that share a factor (a common substring that holds a rare byte,
 * "n_" in all three of Codex's, ".re" in two of Kimi Code's; a needle that shares none is a group of its
 * own, its factor the whole needle), and at each position three bytes of each group's factor are XORed
 * with what they should be and ORed together (`vpternlogd`): a zero byte is a position where a factor may
 * begin. One test per 64 positions covers every group; a position that passes is checked needle by
 * needle in full. The read pass over the 1.55 GB Codex home (`preadv`, search, lines handed over) took
 * 0.394 s of CPU needle by needle and 0.317 s in one pass; Kimi Code's 0.259 and 0.227 (`python -m
 * bench.readpass`, docs/speed.md). */

#define MAX_GROUPS 4   /* more groups than this: the per-needle search (no provider comes near) */

typedef struct {
    unsigned char want[3];           /* three bytes of the factor (repeated when it is shorter) */
    Py_ssize_t at[3];                /* their offsets from where the factor begins */
    int count;                       /* needles in the group */
    int needle[MAX_NEEDLES];         /* which needles */
    Py_ssize_t off[MAX_NEEDLES];     /* where the factor begins in each: a needle begins off bytes before */
    const unsigned char *factor;     /* the factor itself, inside the group's first needle */
    Py_ssize_t factor_len;
} Group;

typedef struct {
    int count;                       /* groups; 0: no group search (the per-needle one is used) */
    Group group[MAX_GROUPS];
    Py_ssize_t reach;                /* the largest `at`: a vector at p reads up to p + reach + 63 */
    Py_ssize_t max_off;              /* the largest `off`: a factor at q belongs to a needle at q - off or after */
} Plan;

/* A byte that makes a factor worth sharing: not a common letter, a digit or JSON's punctuation, which
 * are everywhere in these files (a factor of common letters would pass the filter in most vectors). */
static int selective(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        c |= 0x20;
    if (c >= 'a' && c <= 'z')
        return rarity(c) >= 19;  /* b v k x j q z */
    if (c >= '0' && c <= '9')
        return 0;
    return strchr("\"{}[]:, \t\r\n\\", c) == NULL || c == 0;
}

/* The longest common substring of x and y that holds a selective byte: its starts in x and y, its length
 * (0 for none of 2 bytes or more). The needles are short: quadratic is nothing here. */
static Py_ssize_t shared_factor(const unsigned char *x, Py_ssize_t xn, const unsigned char *y, Py_ssize_t yn,
                                Py_ssize_t *at_x, Py_ssize_t *at_y)
{
    Py_ssize_t best = 0;
    for (Py_ssize_t i = 0; i < xn; i++)
        for (Py_ssize_t j = 0; j < yn; j++) {
            Py_ssize_t len = 0;
            int rare = 0;
            while (i + len < xn && j + len < yn && x[i + len] == y[j + len]) {
                rare |= selective(x[i + len]);
                len++;
                if (len >= 2 && rare && len > best) {
                    best = len;
                    *at_x = i;
                    *at_y = j;
                }
            }
        }
    return best;
}

/* The filter's three bytes in a factor: all of a short one, else the needle search's choice. */
static void choose_bytes(Group *g)
{
    if (g->factor_len <= 3) {
        for (int k = 0; k < 3; k++) {
            Py_ssize_t at = k < g->factor_len ? k : g->factor_len - 1;
            g->at[k] = at;
            g->want[k] = g->factor[at];
        }
        return;
    }
    Needle nd = {.bytes = g->factor, .len = g->factor_len};
    choose_positions(&nd);
    g->at[0] = nd.a;
    g->at[1] = nd.b;
    g->at[2] = nd.c;
    for (int k = 0; k < 3; k++)
        g->want[k] = g->factor[g->at[k]];
}

/* Needles in order, each joining the first group whose factor it shares (the factor shrinks to what all
 * share), else starting one. Leaves plan->count 0 when the needles need more than MAX_GROUPS groups or a
 * needle is longer than a vector, and for a lone needle (the per-needle search takes those). */
static void make_plan(Plan *plan, const Needle *needles, Py_ssize_t count)
{
    plan->count = 0;
    for (Py_ssize_t k = 0; k < count; k++) {
        const Needle *nd = &needles[k];
        if (nd->len > 64)
            goto none;
        Group *g = NULL;
        Py_ssize_t at_f = 0, at_n = 0, len = 0;
        for (int j = 0; j < plan->count && g == NULL; j++)
            if ((len = shared_factor(plan->group[j].factor, plan->group[j].factor_len, nd->bytes, nd->len, &at_f,
                                     &at_n)) > 0)
                g = &plan->group[j];
        if (g != NULL) {
            for (int m = 0; m < g->count; m++)
                g->off[m] += at_f;
            g->factor += at_f;
            g->factor_len = len;
            g->needle[g->count] = (int)k;
            g->off[g->count++] = at_n;
            continue;
        }
        if (plan->count == MAX_GROUPS)
            goto none;
        g = &plan->group[plan->count++];
        g->count = 1;
        g->needle[0] = (int)k;
        g->off[0] = 0;
        g->factor = nd->bytes;
        g->factor_len = nd->len;
    }
    if (plan->count == 1 && plan->group[0].count == 1)
        goto none;  /* a lone needle: its own search is as fast (0.206 s against 0.211 over the Kimi CLI home) */
    plan->reach = plan->max_off = 0;
    for (int j = 0; j < plan->count; j++) {
        Group *g = &plan->group[j];
        choose_bytes(g);
        for (int b = 0; b < 3; b++)
            if (g->at[b] > plan->reach)
                plan->reach = g->at[b];
        for (int m = 0; m < g->count; m++)
            if (g->off[m] > plan->max_off)
                plan->max_off = g->off[m];
    }
    return;
none:
    plan->count = 0;
}

/* The needles that may begin where group g's filter passed (bits of `mask`, positions p + bit), checked in
 * full; the earliest at or after `from` that fits before `to`, or `best` when none is earlier. */
static Py_ssize_t check_group(const unsigned char *h, const Needle *needles, const Group *g, Py_ssize_t p,
                              uint64_t mask, Py_ssize_t from, Py_ssize_t to, Py_ssize_t best)
{
    for (; mask; mask &= mask - 1) {
        Py_ssize_t q = p + __builtin_ctzll(mask);
        for (int m = 0; m < g->count; m++) {
            const Needle *nd = &needles[g->needle[m]];
            Py_ssize_t s = q - g->off[m];
            if (s >= from && s + nd->len <= to && (best < 0 || s < best) &&
                memcmp(h + s, nd->bytes, (size_t)nd->len) == 0)
                best = s;
        }
    }
    return best;
}

/* Whether `best`, a hit found before the vector at p, is the first: every needle whose factor is at p or
 * later begins at p - max_off or later. (A needle whose factor lies in a later vector may begin before
 * one found in an earlier one. For the lines handed over it makes no difference, since such a needle
 * spans the one found and both are in one line, but the contract stays simple: the first hit.) */
static inline int first_found(const Plan *plan, Py_ssize_t p, Py_ssize_t best)
{
    return best >= 0 && p - plan->max_off >= best;
}

/* After the vector loop stopped at p (every factor position before p checked): the rest, needle by needle,
 * from where a needle's factor would be at p or later. */
static Py_ssize_t group_tail(const unsigned char *h, const Needle *needles, const Plan *plan, Py_ssize_t p,
                             Py_ssize_t from, Py_ssize_t to, Py_ssize_t best)
{
    if (first_found(plan, p, best))
        return best;
    for (int j = 0; j < plan->count; j++) {
        const Group *g = &plan->group[j];
        for (int m = 0; m < g->count; m++) {
            const Needle *nd = &needles[g->needle[m]];
            Py_ssize_t s0 = p - g->off[m] > from ? p - g->off[m] : from;
            Py_ssize_t end = best >= 0 && best + nd->len < to ? best + nd->len : to;  /* only an earlier hit matters */
            Py_ssize_t s = find_scalar(h, s0, end, nd);
            if (s >= 0 && (best < 0 || s < best))
                best = s;
        }
    }
    return best;
}

#ifdef HOT_X86
/* One pass of 64 positions at a time for K groups (K a constant where it is inlined, so the loop over the
 * groups unrolls and their wanted bytes stay in registers). */
__attribute__((target("avx512bw"))) static inline __attribute__((always_inline)) Py_ssize_t
group_avx512_k(const unsigned char *h, const Needle *needles, const Plan *plan, Py_ssize_t from, Py_ssize_t to,
               const int K)
{
    __m512i want[MAX_GROUPS][3];
    Py_ssize_t at[MAX_GROUPS][3];
    for (int j = 0; j < K; j++)
        for (int b = 0; b < 3; b++) {
            want[j][b] = _mm512_set1_epi8((char)plan->group[j].want[b]);
            at[j][b] = plan->group[j].at[b];
        }
    Py_ssize_t best = -1, p = from;
    for (; p + plan->reach + 64 <= to; p += 64) {
        if (first_found(plan, p, best))
            return best;
        __m512i x[MAX_GROUPS], z;
#pragma GCC unroll 4
        for (int j = 0; j < K; j++) {
            x[j] = _mm512_xor_si512(_mm512_loadu_si512((const void *)(h + p + at[j][0])), want[j][0]);
            /* 0xBE: (a ^ b) | c, the next byte's difference ORed in */
            x[j] = _mm512_ternarylogic_epi32(_mm512_loadu_si512((const void *)(h + p + at[j][1])), want[j][1], x[j], 0xBE);
            x[j] = _mm512_ternarylogic_epi32(_mm512_loadu_si512((const void *)(h + p + at[j][2])), want[j][2], x[j], 0xBE);
            z = j == 0 ? x[0] : _mm512_min_epu8(z, x[j]);  /* a zero byte in any group's */
        }
        if (__builtin_expect(_mm512_testn_epi8_mask(z, z) != 0, 0))
            for (int j = 0; j < K; j++)
                best = check_group(h, needles, &plan->group[j], p, _mm512_testn_epi8_mask(x[j], x[j]), from, to, best);
    }
    return group_tail(h, needles, plan, p, from, to, best);
}

__attribute__((target("avx2"))) static inline __attribute__((always_inline)) Py_ssize_t
group_avx2_k(const unsigned char *h, const Needle *needles, const Plan *plan, Py_ssize_t from, Py_ssize_t to,
             const int K)
{
    __m256i want[MAX_GROUPS][3];
    Py_ssize_t at[MAX_GROUPS][3];
    for (int j = 0; j < K; j++)
        for (int b = 0; b < 3; b++) {
            want[j][b] = _mm256_set1_epi8((char)plan->group[j].want[b]);
            at[j][b] = plan->group[j].at[b];
        }
    const __m256i zero = _mm256_setzero_si256();
    Py_ssize_t best = -1, p = from;
    for (; p + plan->reach + 32 <= to; p += 32) {
        if (first_found(plan, p, best))
            return best;
        __m256i x[MAX_GROUPS], z;
#pragma GCC unroll 4
        for (int j = 0; j < K; j++) {
            x[j] = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(h + p + at[j][0])), want[j][0]);
            x[j] = _mm256_or_si256(x[j], _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(h + p + at[j][1])), want[j][1]));
            x[j] = _mm256_or_si256(x[j], _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(h + p + at[j][2])), want[j][2]));
            z = j == 0 ? x[0] : _mm256_min_epu8(z, x[j]);
        }
        if (__builtin_expect(_mm256_movemask_epi8(_mm256_cmpeq_epi8(z, zero)) != 0, 0))
            for (int j = 0; j < K; j++)
                best = check_group(h, needles, &plan->group[j], p,
                                   (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(x[j], zero)), from, to, best);
    }
    return group_tail(h, needles, plan, p, from, to, best);
}

#define GROUP_WIDTHS(NAME, BODY)                                                                          \
    __attribute__((target(NAME##_TARGET))) static Py_ssize_t NAME(const unsigned char *h, const Needle *needles, \
                                                                const Plan *plan, Py_ssize_t from, Py_ssize_t to) \
    {                                                                                                     \
        switch (plan->count) {                                                                            \
        case 1: return BODY(h, needles, plan, from, to, 1);                                               \
        case 2: return BODY(h, needles, plan, from, to, 2);                                               \
        case 3: return BODY(h, needles, plan, from, to, 3);                                               \
        default: return BODY(h, needles, plan, from, to, 4);                                              \
        }                                                                                                 \
    }
#define group_avx512_TARGET "avx512bw"
#define group_avx2_TARGET "avx2"
GROUP_WIDTHS(group_avx512, group_avx512_k)
GROUP_WIDTHS(group_avx2, group_avx2_k)
#endif

typedef Py_ssize_t (*group_fn)(const unsigned char *, const Needle *, const Plan *, Py_ssize_t, Py_ssize_t);
static group_fn find_group = NULL;  /* the group search of the chosen width; NULL: needle by needle */

/* The plan of the needles last searched for, made once for them rather than once per block: a provider
 * passes the same tuple for every block (making it is quadratic in the needles' lengths: 16 needles of 64
 * bytes took ~25 us). The tuple is held, so its identity names its bytes for as long as it is cached. */
static PyObject *planned_for = NULL;
static Plan planned;

static void plan_of(PyObject *tuple, const Needle *needles, Py_ssize_t count, Plan *plan)
{
    if (tuple != planned_for) {
        make_plan(&planned, needles, count);
        Py_INCREF(tuple);
        Py_XSETREF(planned_for, tuple);
    }
    *plan = planned;  /* a copy, taken with the GIL held: another thread may plan for other needles */
}

/* The next hit of any needle at or after `from`, before `n`; which needle is irrelevant. */
static Py_ssize_t next_hit(const unsigned char *h, Needle *needles, Py_ssize_t count, const Plan *plan,
                           Py_ssize_t from, Py_ssize_t n)
{
    if (plan->count > 0) {  /* find_group is set: one pass for all the needles */
        Py_ssize_t hit;
        if (n - from >= RELEASE_GIL_BYTES) {
            Py_BEGIN_ALLOW_THREADS
            hit = find_group(h, needles, plan, from, n);
            Py_END_ALLOW_THREADS
        } else {
            hit = find_group(h, needles, plan, from, n);
        }
        return hit;
    }
    Py_ssize_t first = -1;
    for (Py_ssize_t k = 0; k < count; k++) {
        Needle *nd = &needles[k];
        if (nd->next != -1 ? nd->next < from : nd->from < 0) {
            nd->from = from;
            if (n - from >= RELEASE_GIL_BYTES) {
                Py_BEGIN_ALLOW_THREADS
                nd->next = find(h, from, n, nd);
                Py_END_ALLOW_THREADS
            } else {
                nd->next = find(h, from, n, nd);
            }
        }
        if (nd->next >= 0 && (first < 0 || nd->next < first))
            first = nd->next;
    }
    return first;
}

/* One pread of up to `want` bytes into buf at `offset`, retried on EINTR: how many (0: the end), or -1
 * with OSError set. */
static Py_ssize_t pread_into(int fd, unsigned char *buf, Py_ssize_t want, Py_ssize_t offset)
{
    for (;;) {
        ssize_t got;
        Py_BEGIN_ALLOW_THREADS
        got = pread(fd, buf, (size_t)want, (off_t)offset);
        Py_END_ALLOW_THREADS
        if (got >= 0)
            return (Py_ssize_t)got;
        if (errno != EINTR) {
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        if (PyErr_CheckSignals() < 0)
            return -1;
    }
}

/* os.pread(fd, length, offset): one read, its bytes (fewer when the file shrank). */
static PyObject *pread_bytes(int fd, Py_ssize_t length, Py_ssize_t offset)
{
    PyObject *out = PyBytes_FromStringAndSize(NULL, length);
    if (out == NULL)
        return NULL;
    Py_ssize_t got = pread_into(fd, (unsigned char *)PyBytes_AS_STRING(out), length, offset);
    if (got < 0) {
        Py_DECREF(out);
        return NULL;
    }
    if (got != length && _PyBytes_Resize(&out, got) < 0)
        return NULL;
    return out;
}

static int load_needles(PyObject *tuple, Needle *needles, Py_ssize_t *count)
{
    if (!PyTuple_Check(tuple) || PyTuple_GET_SIZE(tuple) < 1 || PyTuple_GET_SIZE(tuple) > MAX_NEEDLES) {
        PyErr_SetString(PyExc_TypeError, "needles: a tuple of 1 to 16 non-empty bytes");
        return -1;
    }
    *count = PyTuple_GET_SIZE(tuple);
    for (Py_ssize_t k = 0; k < *count; k++) {
        PyObject *item = PyTuple_GET_ITEM(tuple, k);
        if (!PyBytes_Check(item) || PyBytes_GET_SIZE(item) < 1) {
            PyErr_SetString(PyExc_TypeError, "needles: a tuple of 1 to 16 non-empty bytes");
            return -1;
        }
        needles[k].bytes = (const unsigned char *)PyBytes_AS_STRING(item);
        needles[k].len = PyBytes_GET_SIZE(item);
        needles[k].next = -1;
        needles[k].from = -1;  /* not searched yet */
        choose_positions(&needles[k]);
    }
    return 0;
}

/* The loop itself, over a buffer held for the whole call (a bytearray cannot be resized meanwhile): where
 * the search stopped into *i, and the start of a candidate line cut by the block end (or -1) into
 * *pending. -1 with an exception set when a read or `on_line` fails. */
static int block_lines(const unsigned char *buf, Needle *needles, Py_ssize_t count, const Plan *plan,
                       Py_ssize_t base, Py_ssize_t *i_p, Py_ssize_t n, Py_ssize_t line_start, int fd, PyObject *on_line,
                       Py_ssize_t *pending)
{
    Py_ssize_t hit, i = *i_p;
    *pending = -1;
    while ((hit = next_hit(buf, needles, count, plan, i, n)) >= 0) {
        const unsigned char *before = memrchr(buf, '\n', (size_t)hit);
        Py_ssize_t ls = before != NULL ? base + (before - buf) + 1 : line_start;
        const unsigned char *after = memchr(buf + hit, '\n', (size_t)(n - hit));
        if (after == NULL) {
            *pending = ls;
            break;
        }
        Py_ssize_t nl = after - buf;
        PyObject *line = ls >= base
            ? PyByteArray_FromStringAndSize((const char *)buf + (ls - base), nl - (ls - base))
            : pread_bytes(fd, base + nl - ls, ls);
        if (line == NULL)
            return -1;
        PyObject *result = PyObject_CallOneArg(on_line, line);
        Py_DECREF(line);
        if (result == NULL)
            return -1;
        Py_DECREF(result);
        i = nl + 1;
        line_start = base + i;
    }
    *i_p = i;
    return 0;
}

PyDoc_STRVAR(lines_doc,
"lines(buf, needles, base, i, n, line_start, fd, on_line) -> (i, pending)\n\n"
"The candidate lines of one block, as openusage.hot.lines (the reference).");

static PyObject *lines(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError, "lines() takes 8 arguments");
        return NULL;
    }
    Needle needles[MAX_NEEDLES];
    Py_ssize_t count, base, i, n, line_start;
    if (load_needles(args[1], needles, &count) < 0)
        return NULL;
    Plan plan = {.count = 0};
    if (find_group != NULL)
        plan_of(args[1], needles, count, &plan);
    base = PyLong_AsSsize_t(args[2]);
    i = PyLong_AsSsize_t(args[3]);
    n = PyLong_AsSsize_t(args[4]);
    line_start = PyLong_AsSsize_t(args[5]);
    long fd = PyLong_AsLong(args[6]);
    if (PyErr_Occurred())
        return NULL;
    if (fd < -1 || fd > INT_MAX) {
        PyErr_SetString(PyExc_OverflowError, "lines(): fd out of range");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *out;
    if (i < 0 || n < i || n > view.len) {
        PyErr_SetString(PyExc_ValueError, "lines(): need 0 <= i <= n <= len(buf)");
        out = NULL;
    } else {
        Py_ssize_t pending;
        out = block_lines((const unsigned char *)view.buf, needles, count, &plan, base, &i, n, line_start, (int)fd,
                          args[7], &pending) < 0 ? NULL : Py_BuildValue("(nn)", i, pending);
    }
    PyBuffer_Release(&view);
    return out;
}

static inline int blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* ---- whether a line is UTF-8 (`hot.text_state`) --------------------------------------------------------
 *
 * The state of the line under way, as hot.py packs it: NOT_UTF8, or the bytes of a character begun and
 * not ended (their count, then each byte). A byte is refused as soon as no valid text can go on from it,
 * as Python's decoder does (so the bytes kept are always a valid start of a character).
 *
 * Most text is ASCII, skipped eight bytes at a time. Where there is more than a little else (a line of
 * Chinese or emoji), 32 bytes at a time are checked with AVX2 by looking each byte up with the one
 * before it in three tables of 16 (the method of Keiser and Lemire, "Validating UTF-8 in less than one
 * instruction per byte", 2021): every error is a pair of bytes whose high and low nibbles, and the next
 * byte's high nibble, share a bit of the tables; and the third and fourth bytes of a character must be
 * continuations exactly where the byte two (three) before begins a 3-byte (4-byte) character. */
#define NOT_UTF8 (-1L)

/* What a leading byte asks of the next: how many continuations follow it and the range of the first
 * (the others are all 0x80-0xBF). 0 continuations: not a leading byte UTF-8 allows. */
static inline int utf8_lead(unsigned char c, unsigned char *lo, unsigned char *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        return 1;
    if (c >= 0xE0 && c <= 0xEF) {
        if (c == 0xE0)
            *lo = 0xA0;  /* overlong below */
        else if (c == 0xED)
            *hi = 0x9F;  /* surrogates above */
        return 2;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (c == 0xF0)
            *lo = 0x90;  /* overlong below */
        else if (c == 0xF4)
            *hi = 0x8F;  /* past U+10FFFF above */
        return 3;
    }
    return 0;
}

#ifdef HOT_X86
enum { U8_SHORT = 1, U8_LONG = 2, U8_OVERLONG_3 = 4, U8_TOO_LARGE = 8, U8_SURROGATE = 16, U8_OVERLONG_2 = 32,
       U8_TOO_LARGE_1000 = 64, U8_OVERLONG_4 = 64, U8_TWO_CONTINUATIONS = 128,
       U8_CARRY = U8_SHORT | U8_LONG | U8_TWO_CONTINUATIONS };

/* The three tables, as the 16 bytes each 128-bit lane of a vector holds. */
#define U8_FIRST_HIGH                                                                                       \
    U8_LONG, U8_LONG, U8_LONG, U8_LONG, U8_LONG, U8_LONG, U8_LONG, U8_LONG,                                 \
    U8_TWO_CONTINUATIONS, U8_TWO_CONTINUATIONS, U8_TWO_CONTINUATIONS, U8_TWO_CONTINUATIONS,                 \
    U8_SHORT | U8_OVERLONG_2, U8_SHORT, U8_SHORT | U8_OVERLONG_3 | U8_SURROGATE,                            \
    U8_SHORT | U8_TOO_LARGE | U8_TOO_LARGE_1000 | U8_OVERLONG_4
#define U8_FIRST_LOW                                                                                        \
    U8_CARRY | U8_OVERLONG_3 | U8_OVERLONG_2 | U8_OVERLONG_4, U8_CARRY | U8_OVERLONG_2, U8_CARRY, U8_CARRY, \
    U8_CARRY | U8_TOO_LARGE, U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000,                                   \
    U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000, U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000,               \
    U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000, U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000,               \
    U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000, U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000,               \
    U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000, U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000 | U8_SURROGATE, \
    U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000, U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000
#define U8_SECOND_HIGH                                                                                      \
    U8_SHORT, U8_SHORT, U8_SHORT, U8_SHORT, U8_SHORT, U8_SHORT, U8_SHORT, U8_SHORT,                         \
    U8_LONG | U8_OVERLONG_2 | U8_TWO_CONTINUATIONS | U8_OVERLONG_3 | U8_TOO_LARGE_1000 | U8_OVERLONG_4,     \
    U8_LONG | U8_OVERLONG_2 | U8_TWO_CONTINUATIONS | U8_OVERLONG_3 | U8_TOO_LARGE,                          \
    U8_LONG | U8_OVERLONG_2 | U8_TWO_CONTINUATIONS | U8_SURROGATE | U8_TOO_LARGE,                           \
    U8_LONG | U8_OVERLONG_2 | U8_TWO_CONTINUATIONS | U8_SURROGATE | U8_TOO_LARGE,                           \
    U8_SHORT, U8_SHORT, U8_SHORT, U8_SHORT

/* Whether the last three bytes before `from` are not all ASCII (what the first vector's check needs). */
static inline int utf8_high_before(const unsigned char *s, Py_ssize_t from)
{
    return ((s[from - 1] | s[from - 2] | s[from - 3]) & 0x80) != 0;
}

/* Whether s[from:to) holds an error, given that s[from-3:from) are there and the text before `from` is
 * valid; `to - from` a multiple of 32. A character begun before `to` and not ended is no error here. A
 * vector that is all ASCII after three ASCII bytes is skipped with one load: most of a line of text. */
__attribute__((target("avx2")))
static int utf8_errors_avx2(const unsigned char *s, Py_ssize_t from, Py_ssize_t to)
{
    const __m256i first_high = _mm256_setr_epi8(U8_FIRST_HIGH, U8_FIRST_HIGH);
    const __m256i first_low = _mm256_setr_epi8(U8_FIRST_LOW, U8_FIRST_LOW);
    const __m256i second_high = _mm256_setr_epi8(U8_SECOND_HIGH, U8_SECOND_HIGH);
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    const __m256i third_from = _mm256_set1_epi8((char)(0xE0 - 0x80)), fourth_from = _mm256_set1_epi8((char)(0xF0 - 0x80));
    const __m256i high_bit = _mm256_set1_epi8((char)0x80);
    __m256i error = _mm256_setzero_si256();
    unsigned before = (unsigned)utf8_high_before(s, from);  /* high bits among the three bytes before */
    for (Py_ssize_t p = from; p < to; p += 32) {
        __m256i input = _mm256_loadu_si256((const __m256i *)(s + p));
        unsigned high = (unsigned)_mm256_movemask_epi8(input);
        unsigned earlier = before;
        before = high >> 29;
        if (!(high | earlier))
            continue;
        __m256i prev1 = _mm256_loadu_si256((const __m256i *)(s + p - 1));
        __m256i prev2 = _mm256_loadu_si256((const __m256i *)(s + p - 2));
        __m256i prev3 = _mm256_loadu_si256((const __m256i *)(s + p - 3));
        __m256i special = _mm256_and_si256(
            _mm256_and_si256(_mm256_shuffle_epi8(first_high, _mm256_and_si256(_mm256_srli_epi16(prev1, 4), nibble)),
                             _mm256_shuffle_epi8(first_low, _mm256_and_si256(prev1, nibble))),
            _mm256_shuffle_epi8(second_high, _mm256_and_si256(_mm256_srli_epi16(input, 4), nibble)));
        /* 0x80 where the byte must be a third or fourth one: two (three) bytes after a leading byte of
         * three (four) */
        __m256i must = _mm256_and_si256(_mm256_or_si256(_mm256_subs_epu8(prev2, third_from),
                                                        _mm256_subs_epu8(prev3, fourth_from)), high_bit);
        error = _mm256_or_si256(error, _mm256_xor_si256(must, special));
    }
    return !_mm256_testz_si256(error, error);
}

/* The errors of one vector of 64 bytes (a byte 0x80 or more where one is found), given the vector
 * before it (its last three bytes): the lookups `utf8_errors_avx2` explains. The bytes one, two and three
 * before each byte are made from the two vectors (valignq, vpalignr), not loaded again across cache
 * lines (three more loads were the check's hot spot, measured slower). Inlined where it is used, its
 * tables stay in registers across a loop. */
__attribute__((target("avx512bw"), always_inline)) static inline __m512i utf8_vector_errors(__m512i input,
                                                                                          __m512i last)
{
    const __m512i first_high = _mm512_broadcast_i32x4(_mm_setr_epi8(U8_FIRST_HIGH));
    const __m512i first_low = _mm512_broadcast_i32x4(_mm_setr_epi8(U8_FIRST_LOW));
    const __m512i second_high = _mm512_broadcast_i32x4(_mm_setr_epi8(U8_SECOND_HIGH));
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    const __m512i third_from = _mm512_set1_epi8((char)(0xE0 - 0x80)), fourth_from = _mm512_set1_epi8((char)(0xF0 - 0x80));
    const __m512i high_bit = _mm512_set1_epi8((char)0x80);
    __m512i lanes_before = _mm512_alignr_epi64(input, last, 6);  /* each 128-bit lane: the one before it */
    __m512i prev1 = _mm512_alignr_epi8(input, lanes_before, 15);
    __m512i prev2 = _mm512_alignr_epi8(input, lanes_before, 14);
    __m512i prev3 = _mm512_alignr_epi8(input, lanes_before, 13);
    __m512i special = _mm512_and_si512(
        _mm512_and_si512(_mm512_shuffle_epi8(first_high, _mm512_and_si512(_mm512_srli_epi16(prev1, 4), nibble)),
                         _mm512_shuffle_epi8(first_low, _mm512_and_si512(prev1, nibble))),
        _mm512_shuffle_epi8(second_high, _mm512_and_si512(_mm512_srli_epi16(input, 4), nibble)));
    __m512i must = _mm512_and_si512(_mm512_or_si512(_mm512_subs_epu8(prev2, third_from),
                                                    _mm512_subs_epu8(prev3, fourth_from)), high_bit);
    return _mm512_xor_si512(must, special);
}

/* The same, 64 bytes at a time; `to - from` a multiple of 64. */
__attribute__((target("avx512bw")))
static int utf8_errors_avx512(const unsigned char *s, Py_ssize_t from, Py_ssize_t to)
{
    __m512i error = _mm512_setzero_si512();
    /* The vector before: s[from-3:from) to begin with (a masked load reads nothing else). */
    __m512i previous = _mm512_maskz_loadu_epi8(0xE000000000000000ULL, (const void *)(s + from - 64));
    uint64_t before = (uint64_t)utf8_high_before(s, from);
    for (Py_ssize_t p = from; p < to; p += 64) {
        __m512i input = _mm512_loadu_si512((const void *)(s + p));
        uint64_t high = _mm512_movepi8_mask(input);
        uint64_t earlier = before;
        before = high >> 61;
        __m512i last = previous;
        previous = input;
        if (high | earlier)
            error = _mm512_or_si512(error, utf8_vector_errors(input, last));
    }
    return _mm512_test_epi8_mask(error, error) != 0;
}

/* The first position from `i` of a 32-byte stretch of s[i:len) that is not all ASCII (or where fewer
 * than 32 bytes are left): most text is skipped here, 64 bytes a turn. */
__attribute__((target("avx2")))
static Py_ssize_t ascii_avx2(const unsigned char *s, Py_ssize_t i, Py_ssize_t len)
{
    for (; i + 64 <= len; i += 64) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(s + i)), b = _mm256_loadu_si256((const __m256i *)(s + i + 32));
        if (_mm256_movemask_epi8(_mm256_or_si256(a, b)))
            break;
    }
    for (; i + 32 <= len; i += 32)
        if (_mm256_movemask_epi8(_mm256_loadu_si256((const __m256i *)(s + i))))
            break;
    return i;
}

/* The first newline in buf[pos:n) (n: none), and in `ascii` whether every byte before it is ASCII: one
 * pass for what memchr and the text check would each read, so that an ASCII line (almost every line)
 * costs the text check nothing. AVX2's; with AVX-512BW `line_check_avx512` checks the text itself. */
__attribute__((target("avx2")))
static Py_ssize_t line_end_avx2(const unsigned char *buf, Py_ssize_t pos, Py_ssize_t n, int *ascii)
{
    const __m256i newline = _mm256_set1_epi8('\n');
    unsigned high = 0;
    for (; pos + 64 <= n; pos += 64) {  /* 64 bytes a turn while no newline comes */
        __m256i a = _mm256_loadu_si256((const __m256i *)(buf + pos)), b = _mm256_loadu_si256((const __m256i *)(buf + pos + 32));
        if (!_mm256_testz_si256(_mm256_or_si256(_mm256_cmpeq_epi8(a, newline), _mm256_cmpeq_epi8(b, newline)),
                                _mm256_set1_epi8(-1)))
            break;
        high |= (unsigned)_mm256_movemask_epi8(_mm256_or_si256(a, b));
    }
    for (; pos + 32 <= n; pos += 32) {
        __m256i chunk = _mm256_loadu_si256((const __m256i *)(buf + pos));
        unsigned lines = (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(chunk, newline));
        unsigned top = (unsigned)_mm256_movemask_epi8(chunk);
        if (lines) {
            unsigned at = (unsigned)__builtin_ctz(lines);
            high |= top & ((1u << at) - 1u);  /* the bytes before the newline only */
            *ascii = high == 0;
            return pos + at;
        }
        high |= top;
    }
    for (; pos < n && buf[pos] != '\n'; pos++)
        high |= buf[pos] & 0x80;
    *ascii = high == 0;
    return pos;
}

/* A line from buf[pos] (a character's start) to its newline (or n), in one pass: its end, and in `bad`
 * whether its text is not UTF-8 up to and with the newline (a character cut by the newline is an error
 * at the newline). The same lookups as `utf8_errors_avx512`, made only for the vectors that hold text
 * other than ASCII (or follow one): the newline search loads each vector anyway, so an ASCII line costs
 * what memchr does, and a line of text with a few characters that are not ASCII (the benchmark homes:
 * 66-95 % of the bytes) one load a vector and the lookups where those are. The bytes before `pos` are
 * whole text: ASCII to the check. */
__attribute__((target("avx512bw")))
static Py_ssize_t line_check_avx512(const unsigned char *buf, Py_ssize_t pos, Py_ssize_t n, int *bad)
{
    const __m512i newline = _mm512_set1_epi8('\n');
    __m512i previous = _mm512_setzero_si512();
    uint64_t before = 0, wrong = 0;
    for (Py_ssize_t p = pos; p < n; p += 64) {
        Py_ssize_t left = n - p;
        uint64_t inside = left >= 64 ? ~0ULL : (1ULL << left) - 1;
        __m512i input = left >= 64 ? _mm512_loadu_si512((const void *)(buf + p))
                                   : _mm512_maskz_loadu_epi8(inside, (const void *)(buf + p));
        uint64_t lines = _mm512_cmpeq_epi8_mask(input, newline) & inside;
        uint64_t high = _mm512_movepi8_mask(input);
        uint64_t mine = lines ? (2ULL << __builtin_ctzll(lines)) - 1 : inside;  /* the line's bytes, newline too */
        if ((high & mine) | before) {
            __m512i error = utf8_vector_errors(input, previous);
            wrong |= _mm512_test_epi8_mask(error, error) & mine;
        }
        if (lines) {
            *bad = wrong != 0;
            return p + __builtin_ctzll(lines);
        }
        before = high >> 61;
        previous = input;
    }
    *bad = wrong != 0;
    return n;
}

static int utf8_vector = 0;  /* the text check's width: 64 (AVX-512BW), 32 (AVX2) or 0; set with the search's */
#endif

/* hot.text_state: the state after s[0:len) is added to a line whose state was `state`. */
static long text_state(long state, const unsigned char *s, Py_ssize_t len)
{
    if (state == NOT_UTF8)
        return state;
    unsigned char begun[4];  /* the character under way: its bytes so far */
    int have = (int)(state & 3), need = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    for (int k = 0; k < have; k++)
        begun[k] = (unsigned char)(state >> (8 * (k + 1)));
    if (have) {  /* what the kept bytes ask of the next ones (they were checked as they came) */
        need = utf8_lead(begun[0], &lo, &hi) - (have - 1);
        if (need <= 0)
            return NOT_UTF8;  /* not a state judge gives */
        if (have > 1)
            lo = 0x80, hi = 0xBF;
    }
    Py_ssize_t i = 0;
    while (i < len) {
        if (need == 0) {
#ifdef HOT_X86
            if (utf8_vector)
                i = ascii_avx2(s, i, len);
#endif
            while (i + 8 <= len) {  /* ASCII, eight bytes at a time */
                uint64_t word;
                memcpy(&word, s + i, 8);
                if (word & 0x8080808080808080ULL)
                    break;
                i += 8;
            }
#ifdef HOT_X86
            /* A long stretch that is not all ASCII: 32 bytes at a time, from a character's start with
             * three bytes before it in `s`; then on from the start of the last character begun there. */
            if (utf8_vector && i >= 3 && len - i >= 64) {
                Py_ssize_t to = i + ((len - i) & ~(Py_ssize_t)(utf8_vector == 64 ? 63 : 31));
                if (utf8_vector == 64 ? utf8_errors_avx512(s, i, to) : utf8_errors_avx2(s, i, to))
                    return NOT_UTF8;
                Py_ssize_t back = to;
                while (back > to - 3 && (s[back - 1] & 0xC0) == 0x80)
                    back--;
                if (s[back - 1] >= 0xC0)
                    back--;  /* its leading byte: the character is checked again whole, or found cut */
                i = back;
                continue;
            }
#endif
            if (i >= len)
                break;
            unsigned char c = s[i++];
            if (c < 0x80)
                continue;
            need = utf8_lead(c, &lo, &hi);
            if (need == 0)
                return NOT_UTF8;
            begun[0] = c;
            have = 1;
        } else {
            unsigned char c = s[i++];
            if (c < lo || c > hi)
                return NOT_UTF8;
            lo = 0x80, hi = 0xBF;
            begun[have++] = c;
            need--;
            if (need == 0)
                have = 0;
        }
    }
    if (need == 0)
        return 0;
    long out = have;
    for (int k = 0; k < have; k++)
        out |= (long)begun[k] << (8 * (k + 1));
    return out;
}

/* The state of a line's text whose bytes from `from` to its last character are whole: the bytes of that
 * character, if it is not ended (at most three: found by going back over continuations). */
static long text_tail(const unsigned char *s, Py_ssize_t from, Py_ssize_t n)
{
    Py_ssize_t start = n;
    while (start > from && start > n - 4) {
        start--;
        if ((s[start] & 0xC0) != 0x80)
            break;  /* a leading byte, or ASCII */
    }
    return text_state(0, s + start, n - start);
}

PyDoc_STRVAR(judge_doc,
"judge(buf, lo, n, base, begin, head, tail, text) -> (begin, head, tail, text, spans)\n\n"
"The lines of one block that cannot be a JSON object, as openusage.hot.judge (the reference).");

/* What can stand before an object's closing brace: a value's end (hot._VALUE_END). */
static inline int value_end(long c)
{
    return c == '"' || (c >= '0' && c <= '9') || c == 'e' || c == 'l' || c == '}' || c == ']';
}

/* hot.fits_object: `{` then `"` (or `{}`), a value's end then `}`. */
static inline int fits_object(long head, long tail)
{
    long first = head & 0xFF, second = (head >> 8) - 1, last = tail & 0xFF, before = (tail >> 8) - 1;
    if (first != '{' || last != '}')
        return 0;
    return second == '}' ? before == '{' : second == '"' && value_end(before);
}

/* One memchr per line; of the bytes between, the blanks at a line's two ends (its first two and last
 * two other bytes are all the shape test needs), and whether they are UTF-8 (`text_state`). The state of
 * the line under way goes in and out through the four pointers; each suspect line's (start, end) file
 * offsets are appended to `spans`. -1 with an exception set when that fails. */
static int judge_block(const unsigned char *buf, Py_ssize_t lo, Py_ssize_t n, Py_ssize_t base, Py_ssize_t *begin_p,
                       long *head_p, long *tail_p, long *text_p, PyObject *spans)
{
    Py_ssize_t begin = *begin_p;
    long head = *head_p, tail = *tail_p, text = *text_p;
    Py_ssize_t pos = lo;
    for (;;) {
        /* The line's end, and the state of its text so far (`text_state`). */
        Py_ssize_t stop;
#ifdef HOT_X86
        int ascii;
        if (utf8_vector == 64 && text == 0) {  /* a line from a character's start: its end and text at once */
            int bad;
            stop = line_check_avx512(buf, pos, n, &bad);
            if (bad)
                text = NOT_UTF8;
            else if (stop == n && pos < stop)  /* the line under way: the character it may end in */
                text = text_tail(buf, pos, stop);
        } else if (utf8_vector == 32) {
            stop = line_end_avx2(buf, pos, n, &ascii);
            if (pos < stop && !(ascii && text == 0))  /* ASCII after a whole character stays whole */
                text = text_state(text, buf + pos, stop - pos);
        } else
#endif
        {
            const unsigned char *end = memchr(buf + pos, '\n', (size_t)(n - pos));
            stop = end != NULL ? end - buf : n;
            if (pos < stop)
                text = text_state(text, buf + pos, stop - pos);
        }
        int found = stop < n;
        if (pos < stop) {
            Py_ssize_t at = pos;
            while ((head < 0 || (head >> 8) == 0) && at < stop) {
                unsigned char byte = buf[at++];
                if (!blank(byte))
                    head = head < 0 ? (long)byte : head | ((long)byte + 1) << 8;
            }
            at = stop - 1;
            while (at >= pos && blank(buf[at]))
                at--;
            if (at >= pos) {
                long last = buf[at--];
                while (at >= pos && blank(buf[at]))
                    at--;
                long before = at >= pos ? (long)buf[at] : (tail >= 0 ? (tail & 0xFF) : -1);
                tail = last | (before + 1) << 8;
            }
        }
        if (!found)
            break;
        /* A line that ends in the middle of a character is no more UTF-8 than one holding a stray byte. */
        if (head >= 0 && (text != 0 || !fits_object(head, tail))) {
            PyObject *span = Py_BuildValue("(nn)", begin, base + stop);
            if (span == NULL || PyList_Append(spans, span) < 0) {
                Py_XDECREF(span);
                return -1;
            }
            Py_DECREF(span);
        }
        begin = base + stop + 1;
        head = tail = -1;
        text = 0;
        pos = stop + 1;
    }
    *begin_p = begin, *head_p = head, *tail_p = tail, *text_p = text;
    return 0;
}

static PyObject *judge(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError, "judge() takes 8 arguments");
        return NULL;
    }
    Py_ssize_t lo = PyLong_AsSsize_t(args[1]), n = PyLong_AsSsize_t(args[2]), base = PyLong_AsSsize_t(args[3]);
    Py_ssize_t begin = PyLong_AsSsize_t(args[4]);
    long head = PyLong_AsLong(args[5]), tail = PyLong_AsLong(args[6]), text = PyLong_AsLong(args[7]);
    if (PyErr_Occurred())
        return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *spans = NULL;
    if (lo < 0 || n < lo || n > view.len) {
        PyErr_SetString(PyExc_ValueError, "judge(): need 0 <= lo <= n <= len(buf)");
    } else if ((spans = PyList_New(0)) != NULL
               && judge_block((const unsigned char *)view.buf, lo, n, base, &begin, &head, &tail, &text, spans) < 0) {
        Py_CLEAR(spans);
    }
    PyBuffer_Release(&view);
    if (spans == NULL)
        return NULL;
    return Py_BuildValue("(nlllN)", begin, head, tail, text, spans);
}

/* ---- the scan of a file, block by block (`candidates.Reader.scan`) ----------------------------------------
 *
 * The same loop as the pure-Python one in candidates.py (the reference; tests/test_hot_kernels.py holds
 * the two equal over fuzzed files, every block size and every cut): each block read with one pread
 * into the reader's buffer, judged (`judge_block`), searched (`block_lines`), and the next one begun a
 * needle's overlap early. It runs in C so that Python is not entered once per block (~3 us a block in
 * Python, ~7,000 blocks in a cold scan of a 1.5 GB home); what is rare, or not the reader's own, still
 * runs in Python through `hooks`: the fingerprint's block sizes and feed (a first run), each suspect
 * line, a line longer than `long_broken`. */

/* The result of a call made for its effect, let go: 0; -1 (the exception set) when the call raised. */
static int call_for_effect(PyObject *result)
{
    if (result == NULL)
        return -1;
    Py_DECREF(result);
    return 0;
}

/* What a scan needs besides its arguments: its buffer (the bytearray, for the hooks), the hooks (each
 * None when not needed), the suspect lines of a block and the file's first bytes. */
typedef struct {
    PyObject *buf, *reader, *want_of, *feed, *broken;
    PyObject *spans;  /* a block's suspect lines, when judging */
    PyObject *head;   /* the file's first bytes, when asked for (`keep_head`) */
} ScanContext;

/* The loop of `candidates.Reader.scan`, line for line. Returns -1 with an exception set, else 0 with
 * where the last complete line ends, the candidate line under way (or -1) and the file's size as read. */
static int scan_blocks(ScanContext *cx, unsigned char *buf, Py_ssize_t room, Py_ssize_t block, int fd,
                       Py_ssize_t start, Py_ssize_t *size_p, Needle *needles, Py_ssize_t count, const Plan *plan,
                       PyObject *needles_tuple, PyObject *on_line, Py_ssize_t overlap, Py_ssize_t long_broken,
                       Py_ssize_t keep_head, Py_ssize_t *line_start_p, Py_ssize_t *pending_p)
{
    Py_ssize_t size = *size_p, base = start, line_start = start, pending = -1;
    Py_ssize_t judged = start, begin = start;  /* `judge`'s progress and the line it is in */
    long head = -1, tail = -1, text = 0;
    while (base < size) {
        if (PyErr_CheckSignals() < 0)
            return -1;  /* Ctrl-C within a long file, as between the Python loop's blocks */
        Py_ssize_t want = block < size - base ? block : size - base;
        if (cx->want_of != Py_None) {  /* a scan that hashes: blocks end at the hash's chunk edges */
            PyObject *got = PyObject_CallFunction(cx->want_of, "nn", base, size);
            if (got == NULL)
                return -1;
            want = PyLong_AsSsize_t(got);
            Py_DECREF(got);
            if (want == -1 && PyErr_Occurred())
                return -1;
            if (want < 1 || want > room) {
                PyErr_SetString(PyExc_ValueError, "scan(): a block size beyond the buffer");
                return -1;
            }
        }
        Py_ssize_t n = pread_into(fd, buf, want, base);
        if (n < 0)
            return -1;
        if (n == 0)
            break;  /* the file shrank under us: what is consumed so far stays consistent */
        Py_ssize_t end = base + n;
        if (n < want)
            size = end;  /* shrank while being read: this is its end now */
        if (keep_head && base == 0 && n >= (keep_head < size ? keep_head : size)) {
            Py_XSETREF(cx->head, PyBytes_FromStringAndSize((const char *)buf, n < keep_head ? n : keep_head));
            if (cx->head == NULL)
                return -1;
        }
        if (cx->feed != Py_None && call_for_effect(PyObject_CallFunction(cx->feed, "nn", base, n)) < 0)
            return -1;
        if (cx->broken != Py_None && end > judged) {  /* each byte judged once, as each is hashed once */
            if (judge_block(buf, judged - base, n, base, &begin, &head, &tail, &text, cx->spans) < 0)
                return -1;
            judged = end;
            for (Py_ssize_t k = 0; k < PyList_GET_SIZE(cx->spans); k++)
                if (call_for_effect(PyObject_CallFunction(cx->broken, "nO", base,
                                                          PyList_GET_ITEM(cx->spans, k))) < 0)
                    return -1;
            if (PyList_SetSlice(cx->spans, 0, PyList_GET_SIZE(cx->spans), NULL) < 0)
                return -1;
        }
        Py_ssize_t i = 0;
        if (pending >= 0) {
            const unsigned char *nl = memchr(buf, '\n', (size_t)n);
            if (nl == NULL) {
                base = end;
                continue;
            }
            Py_ssize_t line_end = base + (nl - buf);
            /* `Reader._line`: a line up to `long_broken` long read whole here; a longer one there. */
            PyObject *line = line_end - pending <= long_broken
                ? pread_bytes(fd, line_end - pending, pending)
                : PyObject_CallMethod(cx->reader, "_line", "inn", fd, pending, line_end);
            if (line == NULL)
                return -1;
            int failed = call_for_effect(PyObject_CallOneArg(on_line, line));
            Py_DECREF(line);
            if (failed)
                return -1;
            pending = -1;
            line_start = line_end + 1;
            i = nl - buf + 1;
        } else if (base - line_start > long_broken) {
            PyObject *got = PyObject_CallMethod(cx->reader, "_end_of_long_line", "iOnnnOO", fd, cx->buf, n, base,
                                                line_start, needles_tuple, on_line);
            if (got == NULL)
                return -1;
            int ok = PyTuple_Check(got) && PyTuple_GET_SIZE(got) == 2;
            if (ok) {
                line_start = PyLong_AsSsize_t(PyTuple_GET_ITEM(got, 0));
                i = PyLong_AsSsize_t(PyTuple_GET_ITEM(got, 1));
            }
            Py_DECREF(got);
            if (!ok || PyErr_Occurred() || i < 0 || i > n) {
                if (!PyErr_Occurred())
                    PyErr_SetString(PyExc_TypeError, "scan(): _end_of_long_line must give a line start and an index");
                return -1;
            }
        }
        for (Py_ssize_t k = 0; k < count; k++)
            needles[k].next = needles[k].from = -1;  /* the hits a needle found are the last block's */
        if (block_lines(buf, needles, count, plan, base, &i, n, line_start, fd, on_line, &pending) < 0)
            return -1;
        if (pending < 0 && i > 0 && base + i > line_start)
            line_start = base + i;
        const unsigned char *last_nl = i < n ? memrchr(buf + i, '\n', (size_t)(n - i)) : NULL;
        if (last_nl != NULL && pending < 0)
            line_start = base + (last_nl - buf) + 1;
        /* Unless a candidate line is being followed to its end, the next block starts a little early, so a
         * needle cut by the block edge is found whole. */
        base = end >= size || pending >= 0 ? end : (end - overlap > line_start ? end - overlap : line_start);
    }
    *size_p = size, *line_start_p = line_start, *pending_p = pending;
    return 0;
}

PyDoc_STRVAR(scan_doc,
"scan(buf, block, fd, start, size, needles, on_line, overlap, long_broken, keep_head, hooks)\n"
"    -> (line_start, pending, size, head)\n\n"
"The block loop of openusage.candidates.Reader.scan (the reference), reading into `buf` (the reader's\n"
"bytearray) blocks of `block` bytes. `hooks`: (reader, want_of, feed, broken), each of the last three\n"
"None when not needed: want_of(base, size) -> the next block's size and feed(base, n) for a scan that\n"
"hashes, broken(base, span) for each suspect line when judging; the reader's `_line` and\n"
"`_end_of_long_line` read what is longer than `long_broken`.");

static PyObject *scan(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 11 || !PyByteArray_Check(args[0]) || !PyTuple_Check(args[10]) || PyTuple_GET_SIZE(args[10]) != 4) {
        PyErr_SetString(PyExc_TypeError, "scan() takes 11 arguments: a bytearray first, a tuple of 4 hooks last");
        return NULL;
    }
    Needle needles[MAX_NEEDLES];
    Py_ssize_t count;
    if (load_needles(args[5], needles, &count) < 0)
        return NULL;
    Plan plan = {.count = 0};
    if (find_group != NULL)
        plan_of(args[5], needles, count, &plan);
    Py_ssize_t block = PyLong_AsSsize_t(args[1]), start = PyLong_AsSsize_t(args[3]), size = PyLong_AsSsize_t(args[4]);
    Py_ssize_t overlap = PyLong_AsSsize_t(args[7]), long_broken = PyLong_AsSsize_t(args[8]);
    Py_ssize_t keep_head = PyLong_AsSsize_t(args[9]);
    long fd = PyLong_AsLong(args[2]);
    if (PyErr_Occurred())
        return NULL;
    if (fd < 0 || fd > INT_MAX || start < 0 || overlap < 0 || keep_head < 0) {
        PyErr_SetString(PyExc_ValueError, "scan(): fd, start, overlap and keep_head must not be negative");
        return NULL;
    }
    PyObject *hooks = args[10];
    ScanContext cx = {args[0], PyTuple_GET_ITEM(hooks, 0), PyTuple_GET_ITEM(hooks, 1), PyTuple_GET_ITEM(hooks, 2),
                      PyTuple_GET_ITEM(hooks, 3), NULL, NULL};
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_WRITABLE) < 0)
        return NULL;
    PyObject *out = NULL;
    Py_ssize_t line_start = start, pending = -1;
    if (block < 1 || block > view.len) {
        PyErr_SetString(PyExc_ValueError, "scan(): need 1 <= block <= len(buf)");
    } else if (cx.broken == Py_None || (cx.spans = PyList_New(0)) != NULL) {
        if (scan_blocks(&cx, (unsigned char *)view.buf, view.len, block, (int)fd, start, &size, needles, count, &plan,
                        args[5], args[6], overlap, long_broken, keep_head, &line_start, &pending) == 0)
            out = Py_BuildValue("(nnnO)", line_start, pending, size, cx.head != NULL ? cx.head : Py_None);
    }
    PyBuffer_Release(&view);
    Py_XDECREF(cx.spans);
    Py_XDECREF(cx.head);
    return out;
}

PyDoc_STRVAR(use_search_doc,
"use_search(name) -> str\n\n"
"Search with `name` from now on ('avx512bw', 'avx512bw-each', 'avx2', 'avx2-each', 'sse2' or 'memmem',\n"
"one this CPU runs; judge's scans for line ends and text take the same width) and return the one used\n"
"before. 'avx512bw' and 'avx2' search for all the needles in\n"
"one pass (the group search) where they form groups, and needle by needle otherwise; the '-each' ones\n"
"always needle by needle. Import chooses the widest (SEARCH); the tests run every one this machine has,\n"
"since each must hand over the same lines.");

static PyObject *use_search(PyObject *self, PyObject *arg)
{
    (void)self;
    const char *name = PyUnicode_Check(arg) ? PyUnicode_AsUTF8(arg) : NULL;
    if (name == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "use_search(): the name of a search");
        return NULL;
    }
    find_fn chosen = NULL;
    group_fn chosen_group = NULL;
    const char *chosen_name = NULL;
    if (strcmp(name, "memmem") == 0) {
        chosen = find_scalar;
        chosen_name = "memmem";
    }
#ifdef HOT_X86
    else if (strcmp(name, "sse2") == 0) {
        chosen = find_sse2;
        chosen_name = "sse2";
    } else if (strcmp(name, "avx2") == 0 && __builtin_cpu_supports("avx2")) {
        chosen = find_avx2;
        chosen_group = group_avx2;
        chosen_name = "avx2";
    } else if (strcmp(name, "avx2-each") == 0 && __builtin_cpu_supports("avx2")) {
        chosen = find_avx2;
        chosen_name = "avx2-each";
    } else if (strcmp(name, "avx512bw") == 0 && __builtin_cpu_supports("avx512bw")) {
        chosen = find_avx512;
        chosen_group = group_avx512;
        chosen_name = "avx512bw";
    } else if (strcmp(name, "avx512bw-each") == 0 && __builtin_cpu_supports("avx512bw")) {
        chosen = find_avx512;
        chosen_name = "avx512bw-each";
    }
#endif
    if (chosen == NULL) {
        PyErr_Format(PyExc_ValueError, "use_search(): %s is not a search this machine runs", name);
        return NULL;
    }
    PyObject *previous = PyUnicode_FromString(search_name);
    if (previous == NULL)
        return NULL;
    find = chosen;
    find_group = chosen_group;
    search_name = chosen_name;
#ifdef HOT_X86
    /* judge's scans go with the search's width: AVX-512BW, AVX2, or memchr and byte by byte */
    utf8_vector = chosen == find_avx512 ? 64 : chosen == find_avx2 ? 32 : 0;
#endif
    return previous;
}

/* ---- the ledger's count ------------------------------------------------------------------------------
 *
 * count_in(calls, totals, sessions, scopes, day_tokens, day_sessions, model_days, day): the calls counted
 * into a ledger's parts, as `openusage.summary.count_in` (the reference) does, with the same Python
 * objects in the same shapes and the same insertion order, so that even the marshal bytes of the ledger
 * are the reference's. Every figure stays a Python int: the sums are added with Python's own operators,
 * and those kept in C are C integers only while they fit (`Sum`, `Run`). It saves the interpreter's work
 * per call: a cold scan's parent process counts all ~48,000 calls of a 1 GB history alone, after the
 * workers are done, at ~1.5 us each in Python and ~0.3-0.4 us here.
 */

enum { F_SESSION, F_TS, F_MODEL, F_INPUT, F_OUTPUT, F_CACHE_READ, F_CACHE_WRITE, F_COPIES, F_SCOPE, F_REASONING,
       N_FIELDS };
static const char *const FIELD_NAMES[N_FIELDS] = {"session", "ts", "model", "input", "output", "cache_read",
                                                  "cache_write", "copies", "scope", "reasoning"};
static PyObject *field_names[N_FIELDS];  /* interned when the module is made */

/* Where a call's fields are read. A msgspec Struct (fold.Call, calls.CallRow) keeps each field in a slot
 * at a fixed offset, read there as a plain load instead of an attribute lookup (ten per call). Any other
 * type, or a name that is not a plain slot of it, is read with getattr. The offsets are taken again
 * whenever a call's type differs from the one before. */
typedef struct {
    PyTypeObject *type;  /* a strong reference, or NULL before the first call */
    Py_ssize_t offset[N_FIELDS];  /* -1: getattr */
} Fields;

static void fields_resolve(Fields *fields, PyTypeObject *type)
{
    Py_INCREF(type);
    Py_XSETREF(fields->type, type);
    for (int k = 0; k < N_FIELDS; k++) {
        fields->offset[k] = -1;
        if (type->tp_getattro != PyObject_GenericGetAttr)
            continue;  /* its own attribute lookup: only getattr says what it gives */
        /* A member descriptor is a data descriptor: generic getattr takes it before any instance dict.
         * Asked of the type through the public getattr (a member descriptor read on its class is itself),
         * not the private _PyType_Lookup, which Python may take away. */
        PyObject *descr = PyObject_GetAttr((PyObject *)type, field_names[k]);
        if (descr == NULL) {
            PyErr_Clear();  /* no such attribute on the type: getattr on the call says what it is */
            continue;
        }
        if (Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
            PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
            if (member->type == T_OBJECT_EX)
                fields->offset[k] = member->offset;
        }
        Py_DECREF(descr);
    }
}

/* The call's ten fields, new references; -1 with an exception (none is then held). */
static int fields_read(Fields *fields, PyObject *call, PyObject **out)
{
    if (Py_TYPE(call) != fields->type)
        fields_resolve(fields, Py_TYPE(call));
    for (int k = 0; k < N_FIELDS; k++) {
        PyObject *value = NULL;
        if (fields->offset[k] >= 0) {
            value = *(PyObject **)((char *)call + fields->offset[k]);
            Py_XINCREF(value);
        }
        if (value == NULL)  /* not a slot, or an empty one: getattr reads it or raises as Python would */
            value = PyObject_GetAttr(call, field_names[k]);
        if (value == NULL) {
            while (k--)
                Py_DECREF(out[k]);
            return -1;
        }
        out[k] = value;
    }
    return 0;
}

/* A sum kept in a C integer while every term is an int and it fits, else as the Python object that
 * Python's own `+=` gives from 0: the same value either way. */
typedef struct {
    long long small;
    PyObject *big;  /* NULL while `small` holds the sum */
} Sum;

static int sum_add(Sum *sum, PyObject *term)
{
    if (sum->big == NULL && PyLong_CheckExact(term)) {
        int overflow;
        long long value = PyLong_AsLongLongAndOverflow(term, &overflow), total;
        if (!overflow && !__builtin_add_overflow(sum->small, value, &total)) {
            sum->small = total;  /* (an overflowing add leaves `small` as it was) */
            return 0;
        }
    }
    if (sum->big == NULL && (sum->big = PyLong_FromLongLong(sum->small)) == NULL)
        return -1;
    PyObject *total = PyNumber_InPlaceAdd(sum->big, term);
    if (total == NULL)
        return -1;
    Py_SETREF(sum->big, total);
    return 0;
}

static PyObject *sum_value(const Sum *sum)
{
    if (sum->big != NULL)
        return Py_NewRef(sum->big);
    return PyLong_FromLongLong(sum->small);
}

/* list[k] += term (the list holds the old item until it is replaced) */
static int item_add(PyObject *list, Py_ssize_t k, PyObject *term)
{
    PyObject *old = PyList_GET_ITEM(list, k);
    PyObject *total = PyNumber_InPlaceAdd(old, term);
    if (total == NULL)
        return -1;
    PyList_SET_ITEM(list, k, total);
    Py_DECREF(old);
    return 0;
}

static int check_list(PyObject *value, Py_ssize_t size, const char *what)
{
    if (PyList_CheckExact(value) && PyList_GET_SIZE(value) == size)
        return 0;
    PyErr_Format(PyExc_TypeError, "count_in(): %s must be lists of %zd", what, size);
    return -1;
}

/* int(ts // day) for floats exactly as Python computes it: CPython floors fmod-based (floatobject.c,
 * _float_div_mod), which can differ from floor(ts / day) in the last place, so it is done the same way
 * here. Not for day == 0 (Python raises there). */
static double floor_div(double vx, double wx)
{
    double mod = fmod(vx, wx);
    double div = (vx - mod) / wx;
    if (mod) {
        if ((wx < 0) != (mod < 0))
            div -= 1.0;  /* the remainder takes the divisor's sign */
    }
    if (!div)
        return copysign(0.0, vx / wx);
    double floored = floor(div);
    return div - floored > 0.5 ? floored + 1.0 : floored;  /* snapped to the nearest integral value */
}

/* Whether two names are one key of the ledger's dicts: the same object (None, or a name that the reader
 * shares between calls) or equal str (a name decoded anew for each call, as some readers give them). */
static int same_name(PyObject *a, PyObject *b)
{
    return a == b || (PyUnicode_CheckExact(a) && PyUnicode_CheckExact(b) &&
                      PyUnicode_GET_LENGTH(a) == PyUnicode_GET_LENGTH(b) && PyUnicode_Compare(a, b) == 0);
}

/* A call's day as the count keeps it: the float floor of ts / day; NO_DAY for a call with no time (no
 * time that has a day floors to an infinity: int() refuses it), NaN for a day that Python's own
 * operators gave (equal to nothing, so never taken for the last one). */
#define NO_DAY INFINITY

/* A run: calls in a row with the same session, model, UTC day and scope, most of a history (one
 * session's calls in order: 96 % of the calls of a 1 GB test history continue the one before). Its
 * first call is counted like any other; the others, while their figures are ints that fit in 64 bits,
 * only add to these C sums and put their time on the day, and the sums go into the ledger once, when
 * the run ends (`run_flush`). That spares an int made and freed per figure per call (measured: ~40 % of
 * the count). The ledger ends the same: every figure that a run's calls changed is a new int in both. */
typedef struct {
    PyObject *session, *model, *scope;  /* strong references; session NULL: no run */
    PyObject *sums;  /* model_days[(model, day)] */
    PyObject *day, *per_session;  /* the day's int and day_sessions[day]; NULL for calls with no time */
    PyObject *times;  /* per_session[session] once it is a list, else NULL */
    double floor;  /* the day's floor, NO_DAY for no time */
    long long calls, input, output, cache_read, cache_write, reasoning, tokens, peak;  /* after the first */
} Run;

typedef struct {
    PyObject *sessions, *scopes, *day_tokens, *day_sessions, *model_days, *day;  /* borrowed: the arguments */
    Py_ssize_t calls;
    Sum copies, input, output, cache_read, cache_write, reasoning;
    Fields fields;
    /* Consecutive calls mostly share their model and UTC day (one session's calls, in order): the sums
     * of the last (model, day) and the sessions of the last day are kept (strong references), so that
     * such a call looks neither up again. The ledger's entries are only added to while counting in, so
     * a kept one stays the ledger's. Every call still makes its own day int and key, as the reference
     * does: which objects the ledger shares shows in its marshal bytes, which the two keep equal. */
    PyObject *key_model, *key_sums;  /* model_days[(key_model, the day of key_floor)] is key_sums */
    double key_floor;
    PyObject *day_calls;  /* day_sessions[the day of day_floor] is day_calls */
    double day_floor;
    Run run;
} Count;

static void run_clear(Run *run)
{
    Py_CLEAR(run->session);
    Py_CLEAR(run->model);
    Py_CLEAR(run->scope);
    Py_CLEAR(run->sums);
    Py_CLEAR(run->day);
    Py_CLEAR(run->per_session);
    Py_CLEAR(run->times);
}

static void count_clear(Count *c)
{
    Py_CLEAR(c->copies.big);
    Py_CLEAR(c->input.big);
    Py_CLEAR(c->output.big);
    Py_CLEAR(c->cache_read.big);
    Py_CLEAR(c->cache_write.big);
    Py_CLEAR(c->reasoning.big);
    Py_CLEAR(c->fields.type);
    Py_CLEAR(c->key_model);
    Py_CLEAR(c->key_sums);
    Py_CLEAR(c->day_calls);
    run_clear(&c->run);
}

/* The call's UTC day, int(ts // day), a new reference; its floor in `floored` (NaN: not a float's). */
static PyObject *day_of(Count *c, PyObject *ts, double *floored)
{
    if (PyFloat_CheckExact(ts) && PyFloat_CheckExact(c->day) && PyFloat_AS_DOUBLE(c->day) != 0.0) {
        *floored = floor_div(PyFloat_AS_DOUBLE(ts), PyFloat_AS_DOUBLE(c->day));
        return PyLong_FromDouble(*floored);  /* raises for inf and nan, as int() does */
    }
    *floored = NAN;
    PyObject *quotient = PyNumber_FloorDivide(ts, c->day);
    if (quotient == NULL)
        return NULL;
    PyObject *day = PyNumber_Long(quotient);
    Py_DECREF(quotient);
    return day;
}

/* sessions[session] = sessions.get(session, 0) + 1 */
static int count_session(Count *c, PyObject *session, PyObject *one)
{
    PyObject *calls = PyDict_GetItemWithError(c->sessions, session);
    if (calls == NULL && PyErr_Occurred())
        return -1;
    PyObject *more = calls == NULL ? Py_NewRef(one) : PyNumber_Add(calls, one);  /* 0 + 1 is that 1 */
    if (more == NULL)
        return -1;
    int rc = PyDict_SetItem(c->sessions, session, more);
    Py_DECREF(more);
    return rc;
}

/* scopes[scope] = [calls, input + output], added to */
static int count_scope(Count *c, PyObject **f, PyObject *one)
{
    PyObject *tokens = PyNumber_Add(f[F_INPUT], f[F_OUTPUT]);
    if (tokens == NULL)
        return -1;
    int rc = -1;
    PyObject *kind = PyDict_GetItemWithError(c->scopes, f[F_SCOPE]);
    if (kind == NULL) {
        PyObject *fresh = PyErr_Occurred() ? NULL : PyList_New(2);
        if (fresh != NULL) {
            PyList_SET_ITEM(fresh, 0, Py_NewRef(one));
            PyList_SET_ITEM(fresh, 1, Py_NewRef(tokens));
            rc = PyDict_SetItem(c->scopes, f[F_SCOPE], fresh);
            Py_DECREF(fresh);
        }
    } else if (check_list(kind, 2, "scopes' sums") == 0) {
        rc = item_add(kind, 0, one) < 0 || item_add(kind, 1, tokens) < 0 ? -1 : 0;
    }
    Py_DECREF(tokens);
    return rc;
}

static void keep_key(Count *c, PyObject *model, double floored, PyObject *sums)
{
    Py_XSETREF(c->key_model, Py_NewRef(model));
    Py_XSETREF(c->key_sums, Py_NewRef(sums));
    c->key_floor = floored;
}

/* model_days[(model, day)]: [input, output, cache_read, cache_write, calls, reasoning, peak prompt] */
static int count_model_day(Count *c, PyObject **f, PyObject *day, double floored, PyObject *one)
{
    PyObject *model = f[F_MODEL];
    PyObject *prompt = PyNumber_Add(f[F_INPUT], f[F_CACHE_READ]);
    if (prompt == NULL)
        return -1;
    Py_SETREF(prompt, PyNumber_Add(prompt, f[F_CACHE_WRITE]));
    if (prompt == NULL)
        return -1;
    int rc = -1;
    PyObject *sums = c->key_sums;
    if (sums == NULL || !same_name(model, c->key_model) || floored != c->key_floor) {
        PyObject *key = PyTuple_Pack(2, model, day);
        if (key == NULL)
            goto done;
        sums = PyDict_GetItemWithError(c->model_days, key);
        if (sums == NULL) {  /* the key's first call: its sums are its own figures */
            if (!PyErr_Occurred() && (sums = PyList_New(7)) != NULL) {
                PyObject *items[7] = {f[F_INPUT], f[F_OUTPUT], f[F_CACHE_READ], f[F_CACHE_WRITE], one,
                                      f[F_REASONING], prompt};
                for (int k = 0; k < 7; k++)
                    PyList_SET_ITEM(sums, k, Py_NewRef(items[k]));
                if (PyDict_SetItem(c->model_days, key, sums) == 0) {
                    keep_key(c, model, floored, sums);
                    rc = 0;
                }
                Py_DECREF(sums);
            }
            Py_DECREF(key);
            goto done;
        }
        Py_DECREF(key);
        if (check_list(sums, 7, "model_days' sums") < 0)
            goto done;
        keep_key(c, model, floored, sums);
    }
    if (item_add(sums, 0, f[F_INPUT]) < 0 || item_add(sums, 1, f[F_OUTPUT]) < 0 ||
        item_add(sums, 2, f[F_CACHE_READ]) < 0 || item_add(sums, 3, f[F_CACHE_WRITE]) < 0 ||
        item_add(sums, 4, one) < 0 || item_add(sums, 5, f[F_REASONING]) < 0)
        goto done;
    int higher = PyObject_RichCompareBool(prompt, PyList_GET_ITEM(sums, 6), Py_GT);
    if (higher < 0)
        goto done;
    if (higher) {
        PyObject *old = PyList_GET_ITEM(sums, 6);
        PyList_SET_ITEM(sums, 6, Py_NewRef(prompt));
        Py_DECREF(old);
    }
    rc = 0;
done:
    Py_DECREF(prompt);
    return rc;
}

/* A day's first call: day_sessions[day] = {session: ts}, day_tokens[day] = input + output */
static int first_of_day(Count *c, PyObject *day, double floored, PyObject **f)
{
    PyObject *per_session = PyDict_New();
    PyObject *tokens = PyNumber_Add(f[F_INPUT], f[F_OUTPUT]);
    int rc = -1;
    if (per_session != NULL && tokens != NULL && PyDict_SetItem(per_session, f[F_SESSION], f[F_TS]) == 0 &&
        PyDict_SetItem(c->day_sessions, day, per_session) == 0 && PyDict_SetItem(c->day_tokens, day, tokens) == 0) {
        Py_XSETREF(c->day_calls, Py_NewRef(per_session));
        c->day_floor = floored;
        rc = 0;
    }
    Py_XDECREF(per_session);
    Py_XDECREF(tokens);
    return rc;
}

/* day_tokens[day] += input + output */
static int add_day_tokens(Count *c, PyObject *day, PyObject **f)
{
    PyObject *day_total = PyDict_GetItemWithError(c->day_tokens, day);
    if (day_total == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetObject(PyExc_KeyError, day);
        return -1;
    }
    PyObject *tokens = PyNumber_Add(f[F_INPUT], f[F_OUTPUT]);
    if (tokens == NULL)
        return -1;
    PyObject *more = PyNumber_InPlaceAdd(day_total, tokens);
    Py_DECREF(tokens);
    if (more == NULL)
        return -1;
    int rc = PyDict_SetItem(c->day_tokens, day, more);
    Py_DECREF(more);
    return rc;
}

/* per_session[session]: the session's call time on that day, or its list of them once it has two. The
 * list, when there is one now, is put in `*list` (a new reference; `list` may be NULL). */
static int add_time(PyObject *per_session, PyObject *session, PyObject *ts, PyObject **list)
{
    PyObject *times = PyDict_GetItemWithError(per_session, session);
    if (times == NULL)
        return PyErr_Occurred() ? -1 : PyDict_SetItem(per_session, session, ts);
    if (PyList_Check(times)) {
        if (PyList_Append(times, ts) < 0)
            return -1;
        if (list != NULL)
            *list = Py_NewRef(times);
        return 0;
    }
    PyObject *both = PyList_New(2);  /* its second call that day */
    if (both == NULL)
        return -1;
    PyList_SET_ITEM(both, 0, Py_NewRef(times));
    PyList_SET_ITEM(both, 1, Py_NewRef(ts));
    int rc = PyDict_SetItem(per_session, session, both);
    if (rc == 0 && list != NULL)
        *list = Py_NewRef(both);
    Py_DECREF(both);
    return rc;
}

/* The call on its day: the day's tokens, and day_sessions[day][session], its call time or its list of them */
static int count_day(Count *c, PyObject *day, double floored, PyObject **f)
{
    PyObject *per_session = c->day_calls;
    if (per_session == NULL || floored != c->day_floor) {
        per_session = PyDict_GetItemWithError(c->day_sessions, day);
        if (per_session == NULL)
            return PyErr_Occurred() ? -1 : first_of_day(c, day, floored, f);
        if (!PyDict_CheckExact(per_session)) {
            PyErr_SetString(PyExc_TypeError, "count_in(): day_sessions' values must be dicts");
            return -1;
        }
        Py_XSETREF(c->day_calls, Py_NewRef(per_session));
        c->day_floor = floored;
    }
    if (add_day_tokens(c, day, f) < 0)
        return -1;
    return add_time(per_session, f[F_SESSION], f[F_TS], NULL);
}

/* An int that fits in a long long: 1 and its value in `out`, else 0. */
static int small_int(PyObject *value, long long *out)
{
    int overflow;
    if (!PyLong_CheckExact(value))
        return 0;
    *out = PyLong_AsLongLongAndOverflow(value, &overflow);
    return !overflow;
}

/* container[key] += n (the entry is there: the run's first call made or added to it) */
static int add_count(PyObject *container, Py_ssize_t index, PyObject *key, long long n)
{
    PyObject *term = PyLong_FromLongLong(n);
    if (term == NULL)
        return -1;
    int rc;
    if (key == NULL) {
        rc = item_add(container, index, term);
    } else {
        PyObject *old = PyDict_GetItemWithError(container, key);
        PyObject *total = old == NULL ? NULL : PyNumber_InPlaceAdd(old, term);
        if (old == NULL && !PyErr_Occurred())
            PyErr_SetObject(PyExc_KeyError, key);
        rc = total == NULL ? -1 : PyDict_SetItem(container, key, total);
        Py_XDECREF(total);
    }
    Py_DECREF(term);
    return rc;
}

/* The run's sums into the ledger, and no run after. */
static int run_flush(Count *c)
{
    Run *run = &c->run;
    int rc = 0;
    if (run->session != NULL && run->calls > 0) {
        PyObject *kind = PyDict_GetItemWithError(c->scopes, run->scope);
        rc = kind == NULL || check_list(kind, 2, "scopes' sums") < 0 ||
             add_count(c->sessions, 0, run->session, run->calls) < 0 ||
             add_count(kind, 0, NULL, run->calls) < 0 || add_count(kind, 1, NULL, run->tokens) < 0 ||
             add_count(run->sums, 0, NULL, run->input) < 0 || add_count(run->sums, 1, NULL, run->output) < 0 ||
             add_count(run->sums, 2, NULL, run->cache_read) < 0 ||
             add_count(run->sums, 3, NULL, run->cache_write) < 0 || add_count(run->sums, 4, NULL, run->calls) < 0 ||
             add_count(run->sums, 5, NULL, run->reasoning) < 0 ||
             (run->day != NULL && add_count(c->day_tokens, 0, run->day, run->tokens) < 0) ? -1 : 0;
        if (rc == 0) {
            PyObject *peak = PyLong_FromLongLong(run->peak);
            int higher = peak == NULL ? -1 : PyObject_RichCompareBool(peak, PyList_GET_ITEM(run->sums, 6), Py_GT);
            if (higher > 0) {
                PyObject *old = PyList_GET_ITEM(run->sums, 6);
                PyList_SET_ITEM(run->sums, 6, Py_NewRef(peak));
                Py_DECREF(old);
            }
            Py_XDECREF(peak);
            rc = higher < 0 ? -1 : 0;
        }
        if (rc < 0 && !PyErr_Occurred())
            PyErr_SetString(PyExc_KeyError, "count_in(): a run's scope left the ledger");
    }
    run_clear(run);
    memset(run, 0, sizeof *run);
    return rc;
}

/* A run starts at a call just counted (its model and day's sums, and its day's sessions, are the ones
 * the count keeps). */
static void run_start(Count *c, PyObject **f, PyObject *day, double floored)
{
    Run *run = &c->run;
    if (isnan(floored))
        return;  /* a day Python's operators gave: not compared, no run */
    run->session = Py_NewRef(f[F_SESSION]);
    run->model = Py_NewRef(f[F_MODEL]);
    run->scope = Py_NewRef(f[F_SCOPE]);
    run->sums = Py_NewRef(c->key_sums);
    run->floor = floored;
    if (day != NULL) {
        run->day = Py_NewRef(day);
        run->per_session = Py_NewRef(c->day_calls);
    }
}

/* The call added to the run: 1, or 0 when it does not continue it (nothing done), or -1. */
static int run_take(Count *c, PyObject **f, double floored)
{
    Run *run = &c->run;
    long long i, o, r, w, x, input, output, cache_read, cache_write, reasoning, io, tokens, prompt;
    if (run->session == NULL || floored != run->floor || !same_name(f[F_SESSION], run->session) ||
        !same_name(f[F_MODEL], run->model) || !same_name(f[F_SCOPE], run->scope))
        return 0;
    if (!small_int(f[F_INPUT], &i) || !small_int(f[F_OUTPUT], &o) || !small_int(f[F_CACHE_READ], &r) ||
        !small_int(f[F_CACHE_WRITE], &w) || !small_int(f[F_REASONING], &x) ||
        __builtin_add_overflow(run->input, i, &input) || __builtin_add_overflow(run->output, o, &output) ||
        __builtin_add_overflow(run->cache_read, r, &cache_read) ||
        __builtin_add_overflow(run->cache_write, w, &cache_write) ||
        __builtin_add_overflow(run->reasoning, x, &reasoning) || __builtin_add_overflow(i, o, &io) ||
        __builtin_add_overflow(run->tokens, io, &tokens) || __builtin_add_overflow(i, r, &prompt) ||
        __builtin_add_overflow(prompt, w, &prompt))
        return 0;
    if (run->day != NULL) {
        int rc = run->times != NULL ? PyList_Append(run->times, f[F_TS])
                                    : add_time(run->per_session, f[F_SESSION], f[F_TS], &run->times);
        if (rc < 0)
            return -1;
    }
    if (run->calls == 0 || prompt > run->peak)
        run->peak = prompt;
    run->calls++;
    run->input = input, run->output = output, run->cache_read = cache_read, run->cache_write = cache_write;
    run->reasoning = reasoning, run->tokens = tokens;
    return 1;
}

/* A call that starts no run, or a run's first: counted into the ledger at once. */
static int count_alone(Count *c, PyObject **f, PyObject *one)
{
    if (count_session(c, f[F_SESSION], one) < 0 || count_scope(c, f, one) < 0)
        return -1;
    if (f[F_TS] == Py_None) {  /* no valid time: counted everywhere but on no day */
        if (count_model_day(c, f, Py_None, NO_DAY, one) < 0)
            return -1;
        run_start(c, f, NULL, NO_DAY);
        return 0;
    }
    double floored;
    PyObject *day = day_of(c, f[F_TS], &floored);
    if (day == NULL)
        return -1;
    int rc = count_model_day(c, f, day, floored, one) < 0 || count_day(c, day, floored, f) < 0 ? -1 : 0;
    if (rc == 0)
        run_start(c, f, day, floored);
    Py_DECREF(day);
    return rc;
}

static int count_call(Count *c, PyObject **f, PyObject *one)
{
    c->calls++;
    if (sum_add(&c->copies, f[F_COPIES]) < 0 || sum_add(&c->input, f[F_INPUT]) < 0 ||
        sum_add(&c->output, f[F_OUTPUT]) < 0 || sum_add(&c->cache_read, f[F_CACHE_READ]) < 0 ||
        sum_add(&c->cache_write, f[F_CACHE_WRITE]) < 0 || sum_add(&c->reasoning, f[F_REASONING]) < 0)
        return -1;
    double floored = NO_DAY;  /* the day's floor without its int, to compare with the run's */
    if (f[F_TS] != Py_None)
        floored = PyFloat_CheckExact(f[F_TS]) && PyFloat_CheckExact(c->day) && PyFloat_AS_DOUBLE(c->day) != 0.0
                      ? floor_div(PyFloat_AS_DOUBLE(f[F_TS]), PyFloat_AS_DOUBLE(c->day)) : NAN;
    int taken = run_take(c, f, floored);
    if (taken != 0)
        return taken < 0 ? -1 : 0;
    return run_flush(c) < 0 ? -1 : count_alone(c, f, one);
}

/* totals[k] += each sum, in the order of `totals`: calls, copies, input, output, cache_read, cache_write,
 * reasoning */
static int add_totals(Count *c, PyObject *totals)
{
    const Sum calls = {(long long)c->calls, NULL};
    const Sum *sums[7] = {&calls, &c->copies, &c->input, &c->output, &c->cache_read, &c->cache_write,
                          &c->reasoning};
    for (int k = 0; k < 7; k++) {
        PyObject *value = sum_value(sums[k]);
        if (value == NULL)
            return -1;
        int rc = item_add(totals, k, value);
        Py_DECREF(value);
        if (rc < 0)
            return -1;
    }
    return 0;
}

PyDoc_STRVAR(count_in_doc,
"count_in(calls, totals, sessions, scopes, day_tokens, day_sessions, model_days, day) -> None\n\n"
"The calls counted into a ledger's parts, as openusage.summary.count_in (the reference).");

static PyObject *count_in(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError, "count_in() takes 8 arguments");
        return NULL;
    }
    for (int k = 2; k < 7; k++)
        if (!PyDict_CheckExact(args[k])) {
            PyErr_SetString(PyExc_TypeError, "count_in(): sessions, scopes, day_tokens, day_sessions and "
                                             "model_days must be dicts");
            return NULL;
        }
    if (check_list(args[1], 7, "totals") < 0)
        return NULL;
    PyObject *iter = PyObject_GetIter(args[0]);
    if (iter == NULL)
        return NULL;
    PyObject *one = PyLong_FromLong(1);
    Count c = {.sessions = args[2], .scopes = args[3], .day_tokens = args[4], .day_sessions = args[5],
               .model_days = args[6], .day = args[7]};
    PyObject *call;
    int failed = one == NULL;
    while (!failed && (call = PyIter_Next(iter)) != NULL) {
        PyObject *f[N_FIELDS];
        failed = fields_read(&c.fields, call, f) < 0;
        Py_DECREF(call);
        if (failed)
            break;
        failed = count_call(&c, f, one) < 0;
        for (int k = 0; k < N_FIELDS; k++)
            Py_DECREF(f[k]);
    }
    /* Like the reference, the totals take nothing from a count that failed part way. */
    if (!failed && !PyErr_Occurred())
        failed = run_flush(&c) < 0 || add_totals(&c, args[1]) < 0;
    Py_DECREF(iter);
    Py_XDECREF(one);
    count_clear(&c);
    if (failed || PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}


/* ---- shard_entries: a first run's holders entries, by shard, sorted (`hot.shard_entries`) ------------ */

PyDoc_STRVAR(shard_entries_doc,
"shard_entries(files, id_bits, crc_shift, shards, /) -> list[bytes]\n\n"
"Every (crc << id_bits) | file_id of every (file_id, crcs) in `files` (crcs: an array('I')), in the\n"
"shard crc >> crc_shift, each shard's entries sorted, as the bytes of an array('q'). The twin of\n"
"openusage.hot.shard_entries.");

static int compare_entries(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* One file's (file_id, crcs): the id, and the crcs' buffer (released by the caller). */
static int file_pair(PyObject *pair, long long *file_id, Py_buffer *crcs, int id_bits)
{
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
        PyErr_SetString(PyExc_TypeError, "shard_entries(): each file must be a (file_id, crcs) tuple");
        return -1;
    }
    PyObject *id = PyTuple_GET_ITEM(pair, 0);
    if (!PyLong_Check(id)) {  /* an int: no __index__ of another type runs code between the two passes */
        PyErr_SetString(PyExc_TypeError, "shard_entries(): a file id must be an int");
        return -1;
    }
    *file_id = PyLong_AsLongLong(id);
    if (*file_id == -1 && PyErr_Occurred())
        return -1;
    if (*file_id < 0 || *file_id >= (1LL << id_bits)) {
        PyErr_SetString(PyExc_ValueError, "shard_entries(): a file id out of range");
        return -1;
    }
    if (PyObject_GetBuffer(PyTuple_GET_ITEM(pair, 1), crcs, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    if (crcs->itemsize != 4 || crcs->format == NULL || strcmp(crcs->format, "I") != 0) {
        PyBuffer_Release(crcs);
        PyErr_SetString(PyExc_TypeError, "shard_entries(): crcs must be an array('I')");
        return -1;
    }
    return 0;
}

static PyObject *shard_entries(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 4 || !PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "shard_entries() takes a list of files and three ints");
        return NULL;
    }
    long id_bits = PyLong_AsLong(args[1]), crc_shift = PyLong_AsLong(args[2]);
    Py_ssize_t shards = PyLong_AsSsize_t(args[3]);
    if (PyErr_Occurred())
        return NULL;
    if (id_bits < 0 || id_bits > 31 || crc_shift < 0 || crc_shift > 32 || shards < 1 ||
        (((unsigned long long)0xFFFFFFFFu) >> crc_shift) >= (unsigned long long)shards) {
        PyErr_SetString(PyExc_ValueError, "shard_entries(): bits, shift and shards do not fit");
        return NULL;
    }
    PyObject *files = args[0];
    Py_ssize_t n_files = PyList_GET_SIZE(files);
    Py_ssize_t *start = PyMem_Calloc((size_t)shards + 1, sizeof(Py_ssize_t));
    if (start == NULL)
        return PyErr_NoMemory();
    /* Two passes over the files: each shard's count, then every entry in its place. */
    Py_ssize_t total = 0;
    for (Py_ssize_t f = 0; f < n_files; f++) {
        long long file_id;
        Py_buffer crcs;
        if (file_pair(PyList_GET_ITEM(files, f), &file_id, &crcs, (int)id_bits) < 0) {
            PyMem_Free(start);
            return NULL;
        }
        const unsigned int *crc = crcs.buf;
        Py_ssize_t count = crcs.len / 4;
        for (Py_ssize_t k = 0; k < count; k++)
            start[((uint64_t)crc[k] >> crc_shift) + 1]++;  /* 64 bits: a shift of 32 is defined */
        total += count;
        PyBuffer_Release(&crcs);
    }
    for (Py_ssize_t shard = 0; shard < shards; shard++)
        start[shard + 1] += start[shard];
    long long *entries = PyMem_Malloc((size_t)(total ? total : 1) * sizeof(long long));
    Py_ssize_t *fill = PyMem_Malloc((size_t)shards * sizeof(Py_ssize_t));
    if (entries == NULL || fill == NULL) {
        PyMem_Free(entries);
        PyMem_Free(fill);
        PyMem_Free(start);
        return PyErr_NoMemory();
    }
    memcpy(fill, start, (size_t)shards * sizeof(Py_ssize_t));
    PyObject *result = NULL;
    for (Py_ssize_t f = 0; f < n_files; f++) {
        if (PyList_GET_SIZE(files) != n_files) {  /* not the files the first pass counted */
            PyErr_SetString(PyExc_RuntimeError, "shard_entries(): the files changed while read");
            goto done;
        }
        long long file_id;
        Py_buffer crcs;
        /* The list is the caller's and this holds the GIL: the same files as in the first pass. */
        if (file_pair(PyList_GET_ITEM(files, f), &file_id, &crcs, (int)id_bits) < 0)
            goto done;
        const unsigned int *crc = crcs.buf;
        Py_ssize_t count = crcs.len / 4;
        for (Py_ssize_t k = 0; k < count; k++) {
            Py_ssize_t shard = (Py_ssize_t)((uint64_t)crc[k] >> crc_shift);
            if (fill[shard] >= start[shard + 1]) {  /* an array that grew since the first pass */
                PyBuffer_Release(&crcs);
                PyErr_SetString(PyExc_RuntimeError, "shard_entries(): the files changed while read");
                goto done;
            }
            entries[fill[shard]++] = ((long long)crc[k] << id_bits) | file_id;
        }
        PyBuffer_Release(&crcs);
    }
    result = PyList_New(shards);
    if (result == NULL)
        goto done;
    for (Py_ssize_t shard = 0; shard < shards; shard++) {
        Py_ssize_t lo = start[shard], n = fill[shard] - lo;
        if (n > 1)
            qsort(entries + lo, (size_t)n, sizeof(long long), compare_entries);
        PyObject *part = PyBytes_FromStringAndSize((const char *)(entries + lo), n * (Py_ssize_t)sizeof(long long));
        if (part == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, shard, part);
    }
done:
    PyMem_Free(entries);
    PyMem_Free(fill);
    PyMem_Free(start);
    return result;
}


/* ---- key_crcs: the crc32 of every call key a file's copies hold (`store.key_crcs`) ------------------- */

PyDoc_STRVAR(key_crcs_doc,
"key_crcs(records, tail, /) -> bytes\n\n"
"zlib's crc32 of the UTF-8 (surrogatepass) of every record's `key` in the two lists, each crc once,\n"
"sorted, as the bytes of an array('I'). The twin of openusage.store.key_crcs.");

/* zlib's crc32 (the reflected polynomial 0xEDB88320), eight bytes a step; tables made at import. */
static uint32_t crc_tables[8][256];

static void crc_tables_make(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_tables[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_tables[t][i] = (crc_tables[t - 1][i] >> 8) ^ crc_tables[0][crc_tables[t - 1][i] & 0xFF];
}

static uint32_t crc32_of(const unsigned char *p, Py_ssize_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    while (n >= 8) {
        uint32_t a = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        uint32_t b = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        c = crc_tables[7][a & 0xFF] ^ crc_tables[6][(a >> 8) & 0xFF] ^ crc_tables[5][(a >> 16) & 0xFF] ^
            crc_tables[4][a >> 24] ^ crc_tables[3][b & 0xFF] ^ crc_tables[2][(b >> 8) & 0xFF] ^
            crc_tables[1][(b >> 16) & 0xFF] ^ crc_tables[0][b >> 24];
        p += 8;
        n -= 8;
    }
    while (n-- > 0)
        c = crc_tables[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static PyObject *key_name;  /* "key", interned at import */

/* The crc of one record's key; -1 with an exception set. */
static long long key_crc_of(PyObject *record)
{
    PyObject *key = PyObject_GetAttr(record, key_name);
    if (key == NULL)
        return -1;
    if (!PyUnicode_Check(key)) {
        Py_DECREF(key);
        PyErr_SetString(PyExc_TypeError, "key_crcs(): a record's key must be a str");
        return -1;
    }
    Py_ssize_t n;
    const char *text = PyUnicode_AsUTF8AndSize(key, &n);
    long long crc;
    if (text != NULL) {
        crc = crc32_of((const unsigned char *)text, n);
    } else {  /* a lone surrogate (a name that is not UTF-8): its bytes as surrogatepass makes them */
        PyErr_Clear();
        PyObject *bytes = PyUnicode_AsEncodedString(key, "utf-8", "surrogatepass");
        if (bytes == NULL) {
            Py_DECREF(key);
            return -1;
        }
        crc = crc32_of((const unsigned char *)PyBytes_AS_STRING(bytes), PyBytes_GET_SIZE(bytes));
        Py_DECREF(bytes);
    }
    Py_DECREF(key);
    return crc;
}

static int compare_crcs(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static PyObject *key_crcs(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 2 || !PyList_Check(args[0]) || !PyList_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "key_crcs() takes two lists of records");
        return NULL;
    }
    Py_ssize_t total = PyList_GET_SIZE(args[0]) + PyList_GET_SIZE(args[1]);
    uint32_t *crcs = PyMem_Malloc((size_t)(total ? total : 1) * sizeof(uint32_t));
    if (crcs == NULL)
        return PyErr_NoMemory();
    Py_ssize_t n = 0;
    for (int which = 0; which < 2; which++) {
        PyObject *records = args[which];
        /* The lists are the caller's and this holds the GIL; a key's attribute could still run code. */
        for (Py_ssize_t k = 0; k < PyList_GET_SIZE(records) && n < total; k++) {
            PyObject *record = PyList_GET_ITEM(records, k);
            Py_INCREF(record);
            long long crc = key_crc_of(record);
            Py_DECREF(record);
            if (crc < 0) {
                PyMem_Free(crcs);
                return NULL;
            }
            crcs[n++] = (uint32_t)crc;
        }
    }
    if (n > 1)
        qsort(crcs, (size_t)n, sizeof(uint32_t), compare_crcs);
    Py_ssize_t unique = 0;
    for (Py_ssize_t k = 0; k < n; k++)
        if (unique == 0 || crcs[unique - 1] != crcs[k])
            crcs[unique++] = crcs[k];
    PyObject *result = PyBytes_FromStringAndSize((const char *)crcs, unique * (Py_ssize_t)sizeof(uint32_t));
    PyMem_Free(crcs);
    return result;
}

/* ---- the lines at the top of a file (`hot.head_lines`) ---------------------------------------------- */

/* Whether the whole line s[0:len), its newline at s[len], is an object line: not blanks alone, and not
 * one `judge_block` hands over (the scan's own test, on the line alone; `spans` takes and gives back its
 * suspect span). 1 or 0; -1 with an exception set. */
static int object_line(const unsigned char *s, Py_ssize_t len, PyObject *spans)
{
    Py_ssize_t at = 0;
    while (at < len && blank(s[at]))
        at++;
    if (at == len)
        return 0;  /* blanks alone: nothing */
    Py_ssize_t begin = 0, had = PyList_GET_SIZE(spans);
    long head = -1, tail = -1, text = 0;
    if (judge_block(s, 0, len + 1, 0, &begin, &head, &tail, &text, spans) < 0)
        return -1;
    if (PyList_GET_SIZE(spans) == had)
        return 1;
    return PyList_SetSlice(spans, had, PyList_GET_SIZE(spans), NULL) < 0 ? -1 : 0;
}

static int holds(const unsigned char *s, Py_ssize_t len, PyObject *needle)
{
    Py_ssize_t n = PyBytes_GET_SIZE(needle);
    return n <= len && memmem(s, (size_t)len, PyBytes_AS_STRING(needle), (size_t)n) != NULL;
}

PyDoc_STRVAR(head_lines_doc,
"head_lines(block, start, keep, ends, lines, passes, most) -> (done, start, passes)\n\n"
"The lines at the top of a file, one block at a time, as openusage.hot.head_lines (the reference).");

static PyObject *head_lines(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 7 || !PyBytes_Check(args[2]) || !PyTuple_Check(args[3]) || !PyList_Check(args[4])) {
        PyErr_SetString(PyExc_TypeError, "head_lines() takes a block, a start, a needle (bytes), a tuple of "
                                         "needles, a list and two counts");
        return NULL;
    }
    Py_ssize_t start = PyLong_AsSsize_t(args[1]), passes = PyLong_AsSsize_t(args[5]);
    Py_ssize_t most = PyLong_AsSsize_t(args[6]);
    if (PyErr_Occurred())
        return NULL;
    PyObject *keep = args[2], *ends = args[3], *lines = args[4];
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(ends); k++)
        if (!PyBytes_Check(PyTuple_GET_ITEM(ends, k))) {
            PyErr_SetString(PyExc_TypeError, "head_lines(): every needle must be bytes");
            return NULL;
        }
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    int done = 0;
    if (start < 0 || start > view.len) {
        PyErr_SetString(PyExc_ValueError, "head_lines(): need 0 <= start <= len(block)");
        PyBuffer_Release(&view);
        return NULL;
    }
    PyObject *spans = PyList_New(0);  /* `object_line`'s, empty between lines */
    if (spans == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    const unsigned char *buf = (const unsigned char *)view.buf;
    for (;;) {
        const unsigned char *nl = memchr(buf + start, '\n', (size_t)(view.len - start));
        if (nl == NULL)
            break;
        const unsigned char *line = buf + start;
        Py_ssize_t len = nl - line;
        start += len + 1;
        if (holds(line, len, keep)) {
            PyObject *kept = PyBytes_FromStringAndSize((const char *)line, len);
            if (kept == NULL || PyList_Append(lines, kept) < 0) {
                Py_XDECREF(kept);
                done = -1;
                break;
            }
            Py_DECREF(kept);
            continue;
        }
        int shaped = object_line(line, len, spans);
        if (shaped < 0) {
            done = -1;
            break;
        }
        if (shaped) {
            int body = 0;
            for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(ends) && !body; k++)
                body = holds(line, len, PyTuple_GET_ITEM(ends, k));
            if (body) {
                done = 1;
                break;
            }
        }
        if (++passes > most) {
            done = 1;
            break;
        }
    }
    PyBuffer_Release(&view);
    Py_DECREF(spans);
    return done < 0 ? NULL : Py_BuildValue("(Onn)", done ? Py_True : Py_False, start, passes);
}

static PyMethodDef methods[] = {
    {"lines", (PyCFunction)(void (*)(void))lines, METH_FASTCALL, lines_doc},
    {"judge", (PyCFunction)(void (*)(void))judge, METH_FASTCALL, judge_doc},
    {"count_in", (PyCFunction)(void (*)(void))count_in, METH_FASTCALL, count_in_doc},
    {"shard_entries", (PyCFunction)(void (*)(void))shard_entries, METH_FASTCALL, shard_entries_doc},
    {"key_crcs", (PyCFunction)(void (*)(void))key_crcs, METH_FASTCALL, key_crcs_doc},
    {"head_lines", (PyCFunction)(void (*)(void))head_lines, METH_FASTCALL, head_lines_doc},
    {"scan", (PyCFunction)(void (*)(void))scan, METH_FASTCALL, scan_doc},
    {"use_search", use_search, METH_O, use_search_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "openusage._hot",
    "The candidate reader's block loop, the ledger's count and a first run's holders entries and key crcs, "
    "compiled (see hot.py).", -1, methods, NULL, NULL,
    NULL, NULL,
};

PyMODINIT_FUNC PyInit__hot(void)
{
#ifdef HOT_X86
    __builtin_cpu_init();
    utf8_vector = __builtin_cpu_supports("avx512bw") ? 64 : __builtin_cpu_supports("avx2") ? 32 : 0;
    if (__builtin_cpu_supports("avx512bw")) {
        find = find_avx512;
        find_group = group_avx512;
        search_name = "avx512bw";
    } else if (__builtin_cpu_supports("avx2")) {
        find = find_avx2;
        find_group = group_avx2;
        search_name = "avx2";
    } else {
        find = find_sse2;
        search_name = "sse2";
    }
#endif
    for (int k = 0; k < N_FIELDS; k++)
        if (field_names[k] == NULL && (field_names[k] = PyUnicode_InternFromString(FIELD_NAMES[k])) == NULL)
            return NULL;
    if (key_name == NULL && (key_name = PyUnicode_InternFromString("key")) == NULL)
        return NULL;
    crc_tables_make();
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "KERNEL_VERSION", KERNEL_VERSION) < 0 ||
        PyModule_AddStringConstant(m, "SEARCH", search_name) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

/* Query text handling (words, FTS5 expressions, highlights) and
 * reciprocal-rank fusion. Nothing here touches an index. */
#include "search/index.h"

#include <stdlib.h>
#include <string.h>

/* ---- words --------------------------------------------------------------- */

/* One UTF-8 sequence at s (NUL-terminated): its code point in *cp and its
 * length. Malformed bytes come back one at a time as cp 0, which no word
 * contains, so broken input splits words instead of failing. */
static size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
    uint32_t c = s[0];
    size_t len, i;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        c &= 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        c &= 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        c &= 0x07;
    } else {
        *cp = 0;
        return 1;
    }
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0;
            return 1;
        }
        c = (c << 6) | (s[i] & 0x3F);
    }
    /* Overlong forms, surrogates and values past U+10FFFF. */
    if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
        (c >= 0xD800 && c <= 0xDFFF)) {
        *cp = 0;
        return 1;
    }
    *cp = c;
    return len;
}

static size_t utf8_put(uint32_t c, char *out)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* Letters and digits. Outside ASCII we do not carry Unicode tables: every
 * code point counts as a letter except the blocks of spaces, punctuation
 * and symbols that show up in real text (dashes, curly quotes, NBSP,
 * arrows, emoji...). SQLite's tokenizer splits any remaining symbol itself
 * inside the quoted term, so a miss here costs precision, never safety. */
static int is_word_cp(uint32_t c)
{
    if (c < 0x80)
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (c <= 0xBF)
        return c == 0xAA || c == 0xB5 || c == 0xBA; /* ª µ º */
    if (c == 0xD7 || c == 0xF7)                     /* × ÷ */
        return 0;
    if ((c >= 0x2000 && c <= 0x206F) || /* general punctuation, spaces */
        (c >= 0x20A0 && c <= 0x20CF) || /* currency */
        (c >= 0x2100 && c <= 0x2BFF) || /* letterlike, arrows, math, shapes */
        (c >= 0x2E00 && c <= 0x2E7F) || (c >= 0x3000 && c <= 0x303F) ||
        (c >= 0xFE30 && c <= 0xFE6F) || c == 0xFEFF || (c >= 0xFF00 && c <= 0xFF0F) ||
        (c >= 0xFF1A && c <= 0xFF20) || (c >= 0xFF3B && c <= 0xFF40) ||
        (c >= 0xFF5B && c <= 0xFF65) || (c >= 0xFFF0 && c <= 0xFFFF) ||
        (c >= 0x1F000 && c <= 0x1FAFF))
        return 0;
    return 1;
}

/* The next word at or after s: *start and *len, or NULL at the end. */
static const char *next_word(const char *s, const char **start, size_t *len)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t c;
    size_t n;
    while (*p) {
        n = utf8_next(p, &c);
        if (is_word_cp(c))
            break;
        p += n;
    }
    if (!*p)
        return NULL;
    *start = (const char *)p;
    while (*p) {
        n = utf8_next(p, &c);
        if (!is_word_cp(c))
            break;
        p += n;
    }
    *len = (size_t)((const char *)p - *start);
    return (const char *)p;
}

/* Lower case, and Latin letters with diacritics to their base letter, the
 * way SQLite's "unicode61 remove_diacritics 2" sees them (close enough for
 * highlighting). Tables for U+00C0..U+017F: a letter is the folded form,
 * '.' means "the lower-case letter is the next code point", '#' means
 * "unchanged". */
static const char latin1_fold[] = "aaaaaa.ceeeeiiii"
                                  ".nooooo#.uuuuy.#"
                                  "aaaaaa#ceeeeiiii"
                                  "#nooooo##uuuuy#y";
static const char latin_ext_a_fold[] = "aaaaaaccccccccdd"
                                       ".#eeeeeeeeeegggg"
                                       "gggghh.#iiiiiiii"
                                       "i#.#jjkk#llllll."
                                       "#.#nnnnnn#.#oooo"
                                       "oo.#rrrrrrssssss"
                                       "sstttt.#uuuuuuuu"
                                       "uuuuwwyyyzzzzzz#";

static uint32_t fold_cp(uint32_t c)
{
    char f;
    if (c < 0x80)
        return c >= 'A' && c <= 'Z' ? c + 32 : c;
    if (c >= 0xC0 && c <= 0x17F) {
        f = c < 0x100 ? latin1_fold[c - 0xC0] : latin_ext_a_fold[c - 0x100];
        if (f == '#')
            return c;
        if (f == '.')
            return c < 0x100 ? c + 0x20 : c + 1;
        return (uint32_t)(unsigned char)f;
    }
    if ((c >= 0x391 && c <= 0x3A9) || (c >= 0x410 && c <= 0x42F)) /* Greek, Cyrillic */
        return c + 0x20;
    if (c >= 0x400 && c <= 0x40F)
        return c + 0x50;
    return c;
}

/* Fold a word into out (cap bytes, NUL added); 0 if it does not fit.
 * Folding never lengthens a word, so cap = len + 1 always suffices. */
static size_t fold_word(const char *w, size_t len, char *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)w, *end = p + len;
    size_t o = 0;
    while (p < end) {
        uint32_t c;
        char tmp[4];
        size_t n = utf8_next(p, &c), m = utf8_put(fold_cp(c), tmp);
        if (o + m + 1 > cap)
            return 0;
        memcpy(out + o, tmp, m);
        o += m;
        p += n;
    }
    out[o] = '\0';
    return o;
}

/* Words that only dilute BM25 (they occur in most texts) and make an OR
 * query walk huge posting lists. The vector side still sees them. */
static const char *const stopwords[] = {
    "a",    "an",   "and", "are",  "as",    "at",    "be",   "but",   "by",    "did",
    "do",   "does", "for", "from", "how",   "if",    "in",   "into",  "is",    "it",
    "of",   "on",   "or",  "that", "the",   "their", "then", "there", "these", "they",
    "this", "to",   "was", "what", "which", "who",   "whom", "will",  "with"};

static int is_stopword(const char *folded)
{
    for (size_t i = 0; i < sizeof(stopwords) / sizeof(stopwords[0]); i++)
        if (strcmp(folded, stopwords[i]) == 0)
            return 1;
    return 0;
}

size_t vz_query_terms(const char *query, struct vz_query_term *t)
{
    const char *s = query, *w;
    size_t n = 0, len;
    while (s && n < VZ_INDEX_MAX_TERMS && (s = next_word(s, &w, &len)) != NULL) {
        size_t i;
        if (len > VZ_INDEX_MAX_TERM)
            continue;
        (void)fold_word(w, len, t[n].folded, sizeof(t[n].folded)); /* fits: len <= cap - 1 */
        if (is_stopword(t[n].folded))
            continue;
        for (i = 0; i < n; i++)
            if (strcmp(t[i].folded, t[n].folded) == 0)
                break;
        if (i < n)
            continue;
        t[n].p = w;
        t[n].len = len;
        n++;
    }
    return n;
}

int vz_fts_expr(const struct vz_query_term *t, size_t n, const unsigned char *keep,
                struct vz_buf *out)
{
    size_t start = out->len;
    int rc = VZ_OK, used = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (keep && !keep[i])
            continue;
        /* A quoted string is an FTS5 phrase: whatever it holds (NEAR, *, :,
         * ^, AND...) is text to tokenize, never syntax. Words hold no '"';
         * doubling it anyway keeps this safe if the word rules change. */
        rc = vz_buf_adds(out, used++ ? " OR \"" : "\"");
        for (size_t j = 0; j < t[i].len && rc == 0; j++)
            rc = t[i].p[j] == '"' ? vz_buf_add(out, "\"\"", 2) : vz_buf_addc(out, t[i].p[j]);
        if (rc == 0)
            rc = vz_buf_addc(out, '"');
    }
    if (rc < 0) {
        out->len = start;
        if (out->p)
            out->p[start] = '\0';
        return rc;
    }
    return used;
}

int vz_fts_query(const char *query, struct vz_buf *out)
{
    struct vz_query_term t[VZ_INDEX_MAX_TERMS];
    return vz_fts_expr(t, vz_query_terms(query, t), NULL, out);
}

/* ---- highlights ---------------------------------------------------------- */

char **vz_highlights(const char *query, const char *text, size_t *n)
{
    struct vz_query_term t[VZ_INDEX_MAX_TERMS];
    int found[VZ_INDEX_MAX_TERMS] = {0};
    /* A text word longer than this cannot fold to a query term: folding
     * shrinks a code point to no less than a quarter of its bytes. */
    char buf[4 * VZ_INDEX_MAX_TERM + 1];
    size_t nt = vz_query_terms(query, t), nfound = 0, len, o = 0;
    const char *s = text, *w;
    char **res;

    *n = 0;
    while (text && nfound < nt && (s = next_word(s, &w, &len)) != NULL) {
        if (len >= sizeof(buf) || fold_word(w, len, buf, sizeof(buf)) == 0)
            continue;
        for (size_t i = 0; i < nt; i++) {
            if (!found[i] && strcmp(buf, t[i].folded) == 0) {
                found[i] = 1;
                nfound++;
            }
        }
    }
    res = calloc(nfound + 1, sizeof(*res));
    if (!res)
        return NULL;
    for (size_t i = 0; i < nt; i++) {
        if (!found[i])
            continue;
        res[o] = strndup(t[i].p, t[i].len);
        if (!res[o]) {
            while (o > 0)
                free(res[--o]);
            free(res);
            return NULL;
        }
        o++;
    }
    *n = o;
    return res;
}

/* ---- reciprocal-rank fusion ---------------------------------------------- */

/* 1-based place of id in l[0..n), 0 if absent. Lists are top-k sized (the
 * API caps k at 100), so a linear scan beats building a hash table. */
static int place_of(const struct vz_hit *l, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (l[i].chunk_id == id)
            return (int)i + 1;
    return 0;
}

static double rrf(int ra, int rb)
{
    return (ra ? 1.0 / (VZ_RRF_K0 + ra) : 0.0) + (rb ? 1.0 / (VZ_RRF_K0 + rb) : 0.0);
}

static int better(double s1, int64_t id1, double s2, int64_t id2)
{
    return s1 > s2 || (s1 == s2 && id1 < id2);
}

/* Insert one candidate into out[0..*m), kept sorted best first, at most k;
 * ra/rb (may be NULL) move along with the hits. */
static void keep_best(struct vz_hit *out, int *ra, int *rb, size_t *m, size_t k, int64_t id, int a,
                      int b)
{
    double s = rrf(a, b);
    size_t pos = *m, tail;
    if (*m == k && !better(s, id, out[k - 1].score, out[k - 1].chunk_id))
        return;
    while (pos > 0 && better(s, id, out[pos - 1].score, out[pos - 1].chunk_id))
        pos--;
    if (*m < k)
        (*m)++;
    tail = *m - 1 - pos; /* entries that shift down; the last one falls off when full */
    memmove(out + pos + 1, out + pos, tail * sizeof(*out));
    out[pos].chunk_id = id;
    out[pos].score = s;
    if (ra) {
        memmove(ra + pos + 1, ra + pos, tail * sizeof(*ra));
        ra[pos] = a;
    }
    if (rb) {
        memmove(rb + pos + 1, rb + pos, tail * sizeof(*rb));
        rb[pos] = b;
    }
}

size_t vz_rrf_fuse(const struct vz_hit *a, size_t na, const struct vz_hit *b, size_t nb, size_t k,
                   struct vz_hit *out, int *rank_a, int *rank_b)
{
    size_t m = 0;
    if (k == 0)
        return 0;
    for (size_t i = 0; i < na; i++) {
        if (place_of(a, i, a[i].chunk_id)) /* listed twice: the first place counts */
            continue;
        keep_best(out, rank_a, rank_b, &m, k, a[i].chunk_id, (int)i + 1,
                  place_of(b, nb, a[i].chunk_id));
    }
    for (size_t i = 0; i < nb; i++) {
        if (place_of(b, i, b[i].chunk_id) || place_of(a, na, b[i].chunk_id))
            continue;
        keep_best(out, rank_a, rank_b, &m, k, b[i].chunk_id, 0, (int)i + 1);
    }
    return m;
}

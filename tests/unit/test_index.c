/* Search index: exact vector search matches brute force, keyword search is
 * safe for any text, fusion and highlights do what they say, versions are
 * swapped atomically and damaged files are clean errors. Timings at 200k x
 * 384 are printed, never asserted. */
#include "testutil.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <time.h>

#include "core/util.h"
#include "search/index.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

struct fx {
    char root[1024];
    char dir[1100]; /* root/datasets/ds (created by the writer) */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    vzt_tmpdir(f->root, sizeof(f->root));
    snprintf(f->dir, sizeof(f->dir), "%s/datasets/ds", f->root);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    vzt_rmrf(f->root);
    free(f);
    return 0;
}

/* ---- deterministic data -------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static float rng_unit(uint64_t *s) /* [-1, 1) */
{
    return (float)((double)(rng_next(s) >> 11) / 4503599627370496.0 - 1.0);
}

static void normalise(float *v, int dim)
{
    double ss = 0;
    for (int j = 0; j < dim; j++)
        ss += (double)v[j] * v[j];
    for (int j = 0; j < dim; j++)
        v[j] = (float)(v[j] / sqrt(ss));
}

static void random_unit(uint64_t *s, float *v, int dim)
{
    for (int j = 0; j < dim; j++)
        v[j] = rng_unit(s);
    normalise(v, dim);
}

static const char *const vocab[] = {
    "red",    "green",  "blue",   "order",  "customer", "shipped", "pending", "invoice",
    "lamp",   "table",  "chair",  "desk",   "london",   "paris",   "berlin",  "madrid",
    "small",  "large",  "cotton", "steel",  "wooden",   "express", "return",  "refund",
    "monday", "friday", "winter", "summer", "premium",  "basic",   "gift",    "sample"};
#define NVOCAB (sizeof(vocab) / sizeof(vocab[0]))

/* Text of chunk i (1-based) of a build tagged `tag`. */
static void chunk_text(char *out, size_t cap, const char *tag, int64_t i)
{
    uint64_t s = (uint64_t)i * 7919u;
    int o = snprintf(out, cap, "id: %lld\nversion: %s\nnotes:", (long long)i, tag);
    for (int w = 0; w < 12; w++)
        o += snprintf(out + o, cap - (size_t)o, " %s", vocab[rng_next(&s) % NVOCAB]);
}

/* Add chunks [1..n] in batches of 500: text from chunk_text() unless
 * special() gives one, vectors random from seed. */
static void add_chunks(struct vz_index_writer *w, int64_t n, int dim, uint64_t seed,
                       const char *tag, const char *(*special)(int64_t id))
{
    enum { BATCH = 500 };
    char *texts_mem = malloc((size_t)BATCH * 256), rid_mem[BATCH][24];
    const char *texts[BATCH], *rids[BATCH];
    float *vecs = dim ? malloc(sizeof(float) * BATCH * (size_t)dim) : NULL;
    struct vz_err err = VZ_ERR_INIT;
    uint64_t s = seed;
    assert_non_null(texts_mem);
    for (int64_t done = 0; done < n;) {
        size_t b = (size_t)(n - done < BATCH ? n - done : BATCH);
        for (size_t i = 0; i < b; i++) {
            int64_t id = done + (int64_t)i + 1;
            const char *sp = special ? special(id) : NULL;
            snprintf(rid_mem[i], sizeof(rid_mem[i]), "r%lld", (long long)id);
            rids[i] = rid_mem[i];
            if (sp) {
                texts[i] = sp;
            } else {
                chunk_text(texts_mem + i * 256, 256, tag, id);
                texts[i] = texts_mem + i * 256;
            }
            if (dim)
                random_unit(&s, vecs + i * (size_t)dim, dim);
        }
        assert_int_equal(vz_index_writer_add(w, b, rids, NULL, texts, vecs, &err), 0);
        done += (int64_t)b;
    }
    free(texts_mem);
    free(vecs);
}

static void build(const char *dir, int64_t n, int dim, uint64_t seed, const char *tag,
                  const char *(*special)(int64_t id))
{
    struct vz_index_writer *w = NULL;
    struct vz_err err = VZ_ERR_INIT;
    assert_int_equal(vz_index_writer_open(dir, dim, &w, &err), 0);
    add_chunks(w, n, dim, seed, tag, special);
    assert_int_equal(vz_index_writer_count(w), n);
    assert_int_equal(vz_index_writer_commit(w, &err), 0);
}

/* The vectors build() made, regenerated. */
static float *regen_vectors(int64_t n, int dim, uint64_t seed)
{
    float *v = malloc(sizeof(float) * (size_t)n * (size_t)dim);
    uint64_t s = seed;
    for (int64_t i = 0; i < n; i++)
        random_unit(&s, v + i * dim, dim);
    return v;
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static char *tmp_of(const struct fx *f)
{
    static char p[1200];
    snprintf(p, sizeof(p), "%s.tmp", f->dir);
    return p;
}

/* Text of a chunk as a new string. */
static char *text_of(struct vz_index *ix, int64_t id)
{
    struct vz_err err = VZ_ERR_INIT;
    char *t = NULL;
    assert_int_equal(vz_index_chunk(ix, id, NULL, NULL, &t, &err), 0);
    return t;
}

/* ---- vector search ------------------------------------------------------- */

static void test_vector_search_matches_brute_force(void **state)
{
    struct fx *f = *state;
    const int64_t n = 3000;
    const int dim = 100; /* not a multiple of 8: the tail loop counts too */
    struct vz_index *ix = NULL;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_hit hits[20];
    float *all, q[100];
    uint64_t s = 99;
    size_t nh;

    build(f->dir, n, dim, 1, "v1", NULL);
    all = regen_vectors(n, dim, 1);
    assert_int_equal(vz_index_open(f->dir, &ix, &err), 0);
    assert_int_equal(vz_index_count(ix), (size_t)n);
    assert_int_equal(vz_index_dim(ix), dim);

    for (int t = 0; t < 25; t++) {
        double best[10];
        int64_t best_id[10];
        /* Half the queries are a planted near-copy of one chunk's vector. */
        int64_t planted = t % 2 ? 1 + (int64_t)(rng_next(&s) % (uint64_t)n) : 0;
        if (planted) {
            for (int j = 0; j < dim; j++)
                q[j] = all[(planted - 1) * dim + j] + 0.05f * rng_unit(&s);
            normalise(q, dim);
        } else {
            random_unit(&s, q, dim);
        }
        for (int r = 0; r < 10; r++) {
            best[r] = -2;
            best_id[r] = 0;
        }
        for (int64_t i = 0; i < n; i++) {
            double d = 0;
            for (int j = 0; j < dim; j++)
                d += (double)q[j] * all[i * dim + j];
            for (int r = 0; r < 10; r++) {
                if (d > best[r]) {
                    memmove(best + r + 1, best + r, (size_t)(9 - r) * sizeof(*best));
                    memmove(best_id + r + 1, best_id + r, (size_t)(9 - r) * sizeof(*best_id));
                    best[r] = d;
                    best_id[r] = i + 1;
                    break;
                }
            }
        }
        assert_int_equal(vz_index_vector_search(ix, q, 10, hits, &nh, &err), 0);
        assert_int_equal(nh, 10);
        if (planted)
            assert_int_equal(hits[0].chunk_id, planted);
        for (int r = 0; r < 10; r++) {
            assert_int_equal(hits[r].chunk_id, best_id[r]);
            assert_true(fabs(hits[r].score - best[r]) < 1e-4);
            if (r)
                assert_true(hits[r].score <= hits[r - 1].score);
        }
    }
    /* k beyond the count, and k = 0. */
    assert_int_equal(vz_index_vector_search(ix, q, 0, hits, &nh, &err), 0);
    assert_int_equal(nh, 0);
    vz_index_close(ix);
    free(all);
}

static void test_vector_ties_and_small_k(void **state)
{
    struct fx *f = *state;
    struct vz_index_writer *w = NULL;
    struct vz_index *ix = NULL;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_hit hits[8];
    const char *rids[5] = {"a", "b", "c", "d", "e"}, *texts[5] = {"x", "x", "x", "x", "x"};
    /* Chunks 2, 4 and 5 are the same vector; 1 and 3 point elsewhere. */
    float v[5 * 4] = {0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0};
    float q[4] = {1, 0, 0, 0};
    size_t nh;
    assert_int_equal(vz_index_writer_open(f->dir, 4, &w, &err), 0);
    assert_int_equal(vz_index_writer_add(w, 5, rids, NULL, texts, v, &err), 0);
    assert_int_equal(vz_index_writer_commit(w, &err), 0);
    assert_int_equal(vz_index_open(f->dir, &ix, &err), 0);
    assert_int_equal(vz_index_vector_search(ix, q, 2, hits, &nh, &err), 0);
    assert_int_equal(nh, 2);
    assert_int_equal(hits[0].chunk_id, 2);
    assert_int_equal(hits[1].chunk_id, 4);
    assert_int_equal(vz_index_vector_search(ix, q, 8, hits, &nh, &err), 0);
    assert_int_equal(nh, 5);
    assert_int_equal(hits[2].chunk_id, 5);
    assert_true(hits[3].score == 0 && hits[4].score == 0);
    assert_int_equal(hits[3].chunk_id, 1);
    assert_int_equal(hits[4].chunk_id, 3);
    vz_index_close(ix);
}

/* ---- keyword search ------------------------------------------------------ */

static const char *kw_special(int64_t id)
{
    switch (id) {
    case 1234:
        return "id: 1234\nnotes: shipped by zanzibar freight to a warehouse";
    case 50:
        return "id: 50\nnotes: falcon";
    case 51:
        return "id: 51\nnotes: a falcon among many other words that make this text long, "
               "with red green blue order customer shipped pending invoice lamp table";
    case 52:
        return "id: 52\nnotes: falcon falcon falcon";
    case 60:
        return "id: 60\nnotes: Café Noël in Zürich, naïve façade";
    case 61:
        return "id: 61\ntext: row_id col NEAR quoted \"words\" here";
    default:
        return NULL;
    }
}

static size_t kw(struct vz_index *ix, const char *q, struct vz_hit *hits, size_t k)
{
    struct vz_err err = VZ_ERR_INIT;
    size_t nh = 99;
    int rc = vz_index_keyword_search(ix, q, k, hits, &nh, &err);
    if (rc != 0)
        fail_msg("keyword search for [%s]: %d %s", q, rc, err.msg);
    return nh;
}

static void test_keyword_search(void **state)
{
    struct fx *f = *state;
    struct vz_index *ix = NULL;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_hit hits[10];
    size_t nh;

    build(f->dir, 3000, 16, 2, "v1", kw_special);
    assert_int_equal(vz_index_open(f->dir, &ix, &err), 0);

    /* A rare word finds its chunk, whatever the case. */
    nh = kw(ix, "ZANZIBAR", hits, 10);
    assert_int_equal(nh, 1);
    assert_int_equal(hits[0].chunk_id, 1234);
    assert_true(hits[0].score > 0);

    /* BM25: more occurrences in a shorter text rank higher. */
    nh = kw(ix, "falcon", hits, 10);
    assert_int_equal(nh, 3);
    assert_int_equal(hits[0].chunk_id, 52);
    assert_int_equal(hits[1].chunk_id, 50);
    assert_int_equal(hits[2].chunk_id, 51);
    assert_true(hits[0].score > hits[1].score && hits[1].score > hits[2].score);

    /* OR of terms: both chunks, the one with both words first. */
    nh = kw(ix, "zanzibar falcon warehouse", hits, 10);
    assert_int_equal(nh, 4);
    assert_int_equal(hits[0].chunk_id, 1234);

    /* Diacritics and case fold both ways. */
    nh = kw(ix, "cafe noel zurich", hits, 10);
    assert_int_equal(nh, 1);
    assert_int_equal(hits[0].chunk_id, 60);
    nh = kw(ix, "NAÏVE", hits, 10);
    assert_int_equal(nh, 1);

    /* k limits, common words return many. */
    nh = kw(ix, "red", hits, 5);
    assert_int_equal(nh, 5);
    for (size_t i = 1; i < nh; i++)
        assert_true(hits[i].score <= hits[i - 1].score);
    nh = kw(ix, "red", hits, 0);
    assert_int_equal(nh, 0);
    vz_index_close(ix);
}

/* Our BM25 (token counts from doclen.u32) gives SQLite's bm25() scores. */
static void test_bm25_equals_sqlite(void **state)
{
    struct fx *f = *state;
    struct vz_index *ix = NULL;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_hit hits[20];
    char path[1200];
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    static const char *const queries[] = {"lamp",
                                          "falcon",
                                          "zanzibar warehouse",
                                          "red lamp",
                                          "cafe falcon",
                                          "paris berlin madrid",
                                          "naïve gift",
                                          "steel wooden chair"};

    build(f->dir, 3000, 0, 2, "v1", kw_special);
    assert_int_equal(vz_index_open(f->dir, &ix, &err), 0);
    snprintf(path, sizeof(path), "%s/chunks.db", f->dir);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT rowid, -bm25(chunks_fts) AS s FROM chunks_fts"
                                        " WHERE chunks_fts MATCH ?1 ORDER BY s DESC, rowid"
                                        " LIMIT 20",
                                        -1, &q, NULL),
                     SQLITE_OK);
    for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
        struct vz_buf e = VZ_BUF_INIT(0);
        size_t nh = kw(ix, queries[i], hits, 20), r = 0;
        assert_true(vz_fts_query(queries[i], &e) > 0);
        sqlite3_bind_text(q, 1, e.p, -1, SQLITE_STATIC);
        while (sqlite3_step(q) == SQLITE_ROW) {
            double want = sqlite3_column_double(q, 1);
            assert_true(r < nh);
            assert_int_equal(hits[r].chunk_id, sqlite3_column_int64(q, 0));
            if (fabs(hits[r].score - want) > 1e-9 * fabs(want))
                fail_msg("[%s] rank %zu: %.12f, bm25() says %.12f", queries[i], r, hits[r].score,
                         want);
            r++;
        }
        assert_int_equal(r, nh);
        sqlite3_reset(q);
        vz_buf_release(&e);
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    vz_index_close(ix);
}

/* "id", "notes" and "version" are in every chunk: BM25 gives them no
 * weight, so they never decide the order, and chunks that have nothing else
 * come last, in chunk order. */
static void test_common_terms_rank_last(void **state)
{
    struct fx *f = *state;
    struct vz_index *ix = NULL;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_hit hits[10];
    size_t nh;

    build(f->dir, 3000, 0, 2, "v1", kw_special);
    assert_int_equal(vz_index_open(f->dir, &ix, &err), 0);
    nh = kw(ix, "notes", hits, 5);
    assert_int_equal(nh, 5);
    for (size_t i = 0; i < nh; i++) {
        assert_int_equal(hits[i].chunk_id, (int64_t)i + 1);
        assert_true(hits[i].score == 0);
    }
    nh = kw(ix, "NOTES zanzibar", hits, 4);
    assert_int_equal(nh, 4);
    assert_int_equal(hits[0].chunk_id, 1234);
    assert_true(hits[0].score > 0);
    for (size_t i = 1; i < nh; i++) {
        assert_int_equal(hits[i].chunk_id, (int64_t)i);
        assert_true(hits[i].score == 0);
    }
    /* The ranked part is never repeated in the rest. */
    nh = kw(ix, "id falcon", hits, 10);
    assert_int_equal(nh, 10);
    assert_int_equal(hits[0].chunk_id, 52);
    assert_int_equal(hits[1].chunk_id, 50);
    assert_int_equal(hits[2].chunk_id, 51);
    for (size_t i = 3; i < nh; i++)
        assert_int_equal(hits[i].chunk_id, (int64_t)i - 2);
    /* Enough ranked hits: nothing of the rest. */
    nh = kw(ix, "version lamp", hits, 10);
    assert_int_equal(nh, 10);
    for (size_t i = 0; i < nh; i++)
        assert_true(hits[i].score > 0);
    vz_index_close(ix);
}

static void test_keyword_syntax_is_safe(void **state)
{
    struct fx *f = *state;
    struct vz_index *ix = NULL;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_hit hits[10];
    /* Each holds the rare word, wrapped in something FTS5 would parse. */
    static const char *const hostile[] = {
        "\"zanzibar",        "zanzibar\"",          "\"zanzibar\" OR",
        "zanzibar*",         "*zanzibar",           "NEAR(zanzibar",
        "NEAR(zanzibar, 2)", "-zanzibar",           "zanzibar -freight",
        ":zanzibar",         "text:zanzibar",       "col:zanzibar",
        "row_id:zanzibar",   "{text col}:zanzibar", "^zanzibar",
        "zanzibar AND",      "AND zanzibar OR",     "NOT zanzibar",
        "(zanzibar",         "zanzibar)",           "'; DROP TABLE chunks; -- zanzibar",
        "zanzibar\\",        "zanzibar\x01\x7f",    "zanzibar\xff\xfe",
        "+zanzibar+",        "zanzibar~",           "\"\"zanzibar\"\""};
    build(f->dir, 2000, 0, 3, "v1", kw_special);
    assert_int_equal(vz_index_open(f->dir, &ix, &err), 0);
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        size_t nh = kw(ix, hostile[i], hits, 10);
        int found = 0;
        for (size_t h = 0; h < nh; h++)
            found |= hits[h].chunk_id == 1234;
        if (!found)
            fail_msg("[%s] did not find the chunk", hostile[i]);
    }
    /* Syntax characters alone: no terms, no hits, no error. */
    static const char *const empty[] = {"",     "   ", "\"",   "*",     "NEAR(", "-",  ":",
                                        "col:", "(((", "\"\"", "- * :", "\xff",  "—…", "🙂"};
    for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
        size_t nh = kw(ix, empty[i], hits, 10);
        if (nh != 0 && strcmp(empty[i], "NEAR(") != 0 && strcmp(empty[i], "col:") != 0)
            fail_msg("[%s] found %zu hits", empty[i], nh);
    }
    /* Stopwords only: nothing to look for. */
    assert_int_equal(kw(ix, "the of and", hits, 10), 0);
    assert_int_equal(kw(ix, "What is THE", hits, 10), 0);
    /* Words that are FTS5 keywords or column names are plain words. */
    assert_int_equal(kw(ix, "NEAR", hits, 10), 1);
    assert_int_equal(hits[0].chunk_id, 61);
    assert_int_equal(kw(ix, "row_id", hits, 10), 10); /* "row" OR "id": id is everywhere */
    vz_index_close(ix);
}

static void test_fts_query_text(void **state)
{
    struct vz_buf b = VZ_BUF_INIT(0);
    char longw[200];
    (void)state;
    assert_int_equal(vz_fts_query("name: \"O'Brien\" NEAR(x*", &b), 5);
    assert_string_equal(vz_buf_cstr(&b), "\"name\" OR \"O\" OR \"Brien\" OR \"NEAR\" OR \"x\"");
    vz_buf_release(&b);
    /* Duplicates (ignoring case and accents) and stopwords go. */
    assert_int_equal(vz_fts_query("The Café cafe CAFÉ of paris", &b), 2);
    assert_string_equal(vz_buf_cstr(&b), "\"Café\" OR \"paris\"");
    vz_buf_release(&b);
    assert_int_equal(vz_fts_query("— ... ::", &b), 0);
    assert_string_equal(vz_buf_cstr(&b), "");
    /* Unicode punctuation separates; letters of other scripts stay. */
    assert_int_equal(vz_fts_query("東京—Zürich “quoted”", &b), 3);
    assert_string_equal(vz_buf_cstr(&b), "\"東京\" OR \"Zürich\" OR \"quoted\"");
    vz_buf_release(&b);
    /* Overlong words are dropped, the term count is capped. */
    memset(longw, 'a', sizeof(longw) - 1);
    longw[sizeof(longw) - 1] = '\0';
    assert_int_equal(vz_fts_query(longw, &b), 0);
    {
        char many[1024];
        int o = 0;
        for (int i = 0; i < 100; i++)
            o += snprintf(many + o, sizeof(many) - (size_t)o, "w%d ", i);
        assert_int_equal(vz_fts_query(many, &b), VZ_INDEX_MAX_TERMS);
        vz_buf_release(&b);
    }
}

/* ---- chunks -------------------------------------------------------------- */

static void test_chunk_round_trip(void **state)
{
    struct fx *f = *state;
    struct vz_index_writer *w = NULL;
    struct vz_index *ix = NULL;
    struct vz_err err = VZ_ERR_INIT;
    const char *rids[3] = {"42", "7|eu-west", ""};
    const char *cols[3] = {NULL, "description", NULL};
    const char *texts[3] = {"name: naïve café — 東京 🙂\ncity: Zürich",
                            "description: part 2", ""};
    float v[3 * 2] = {1, 0, 0, 1, 0.6f, 0.8f};
    char *r = NULL, *c = NULL, *t = NULL;

    assert_int_equal(vz_index_writer_open(f->dir, 2, &w, &err), 0);
    assert_int_equal(vz_index_writer_add(w, 3, rids, cols, texts, v, &err), 0);
    assert_int_equal(vz_index_writer_commit(w, &err), 0);
    assert_int_equal(vz_index_open(f->dir, &ix, &err), 0);

    assert_int_equal(vz_index_chunk(ix, 1, &r, &c, &t, &err), 0);
    assert_string_equal(r, "42");
    assert_null(c);
    assert_string_equal(t, texts[0]);
    free(r);
    free(t);
    assert_int_equal(vz_index_chunk(ix, 2, &r, &c, &t, &err), 0);
    assert_string_equal(r, "7|eu-west");
    assert_string_equal(c, "description");
    assert_string_equal(t, "description: part 2");
    free(r);
    free(c);
    free(t);
    assert_int_equal(vz_index_chunk(ix, 3, &r, &c, &t, &err), 0);
    assert_string_equal(r, "");
    assert_string_equal(t, "");
    free(r);
    free(t);
    r = t = (char *)"x";
    assert_int_equal(vz_index_chunk(ix, 0, &r, &c, &t, &err), VZ_ENOTFOUND);
    assert_null(r);
    assert_null(t);
    assert_int_equal(vz_index_chunk(ix, 4, &r, NULL, NULL, &err), VZ_ENOTFOUND);
    assert_int_equal(err.code, VZ_ENOTFOUND);
    /* The unicode text is findable by its words. */
    {
        struct vz_hit h[3];
        assert_int_equal(kw(ix, "東京", h, 3), 1);
        assert_int_equal(h[0].chunk_id, 1);
    }
    vz_index_close(ix);
}

static void test_writer_rejects_bad_input(void **state)
{
    struct fx *f = *state;
    struct vz_index_writer *w = NULL;
    struct vz_index *ix = NULL;
    struct vz_err err = VZ_ERR_INIT;
    const char *rids[2] = {"1", NULL}, *texts[2] = {"a", "b"}, *good_rids[2] = {"1", "2"};
    float v[4] = {1, 0, NAN, 1}, good[4] = {1, 0, 0, 1};

    assert_int_equal(vz_index_writer_open(f->dir, -1, &w, &err), VZ_EINVAL);
    assert_null(w);
    assert_int_equal(vz_index_writer_open(f->dir, VZ_INDEX_MAX_DIM + 1, &w, &err), VZ_EINVAL);
    assert_int_equal(vz_index_writer_open("", 2, &w, &err), VZ_EINVAL);
    assert_int_equal(vz_index_writer_open(f->dir, 2, &w, &err), 0);
    assert_int_equal(vz_index_writer_add(w, 2, rids, NULL, texts, good, &err), VZ_EINVAL);
    assert_int_equal(vz_index_writer_add(w, 2, good_rids, NULL, texts, v, &err), VZ_EINVAL);
    assert_int_equal(vz_index_writer_add(w, 2, good_rids, NULL, texts, NULL, &err), VZ_EINVAL);
    /* Nothing was added; the writer still works. */
    assert_int_equal(vz_index_writer_count(w), 0);
    assert_int_equal(vz_index_writer_add(w, 2, good_rids, NULL, texts, good, &err), 0);
    assert_int_equal(vz_index_writer_add(w, 0, NULL, NULL, NULL, NULL, &err), 0);
    assert_int_equal(vz_index_writer_commit(w, &err), 0);
    assert_int_equal(vz_index_open(f->dir, &ix, &err), 0);
    assert_int_equal(vz_index_count(ix), 2);
    vz_index_close(ix);
}

static void test_keyword_only_and_empty_index(void **state)
{
    struct fx *f = *state;
    struct vz_index *ix = NULL;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_hit hits[4];
    char path[PATH_MAX + 32];
    float q[4] = {1, 0, 0, 0};
    size_t nh;

    build(f->dir, 100, 0, 4, "kw", kw_special);
    snprintf(path, sizeof(path), "%s/vectors.f32", f->dir);
    assert_false(exists(path));
    assert_int_equal(vz_index_open(f->dir, &ix, &err), 0);
    assert_int_equal(vz_index_dim(ix), 0);
    assert_int_equal(vz_index_vector_search(ix, q, 4, hits, &nh, &err), VZ_EUNSUPPORTED);
    assert_int_equal(kw(ix, "falcon", hits, 4), 3);
    vz_index_close(ix);

    /* A dataset with no rows is a valid, empty index. */
    build(f->dir, 0, 4, 5, "empty", NULL);
    assert_int_equal(vz_index_open(f->dir, &ix, &err), 0);
    assert_int_equal(vz_index_count(ix), 0);
    assert_int_equal(vz_index_vector_search(ix, q, 4, hits, &nh, &err), 0);
    assert_int_equal(nh, 0);
    assert_int_equal(kw(ix, "falcon", hits, 4), 0);
    vz_index_close(ix);
}

/* ---- fusion and highlights ----------------------------------------------- */

static void test_rrf_math(void **state)
{
    struct vz_hit a[3] = {{10, 0.9}, {20, 0.8}, {30, 0.7}};
    struct vz_hit b[3] = {{30, 5}, {40, 4}, {10, 3}};
    struct vz_hit out[8];
    int ra[8], rb[8];
    size_t n;
    (void)state;

    n = vz_rrf_fuse(a, 3, b, 3, 8, out, ra, rb);
    assert_int_equal(n, 4);
    /* 10 and 30 both score 1/61 + 1/63; 20 and 40 both 1/62: ids break ties. */
    assert_int_equal(out[0].chunk_id, 10);
    assert_int_equal(out[1].chunk_id, 30);
    assert_int_equal(out[2].chunk_id, 20);
    assert_int_equal(out[3].chunk_id, 40);
    assert_true(fabs(out[0].score - (1.0 / 61 + 1.0 / 63)) < 1e-12);
    assert_true(out[0].score == out[1].score);
    assert_true(fabs(out[2].score - 1.0 / 62) < 1e-12);
    assert_int_equal(ra[0], 1);
    assert_int_equal(rb[0], 3);
    assert_int_equal(ra[1], 3);
    assert_int_equal(rb[1], 1);
    assert_int_equal(ra[2], 2);
    assert_int_equal(rb[2], 0);
    assert_int_equal(ra[3], 0);
    assert_int_equal(rb[3], 2);

    /* k cuts the list; ranks are optional. */
    n = vz_rrf_fuse(a, 3, b, 3, 2, out, NULL, NULL);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].chunk_id, 10);
    assert_int_equal(out[1].chunk_id, 30);
    assert_int_equal(vz_rrf_fuse(a, 3, b, 3, 0, out, ra, rb), 0);

    /* One list empty: the other's order, rank 1 = 1/61. */
    n = vz_rrf_fuse(NULL, 0, b, 3, 8, out, ra, rb);
    assert_int_equal(n, 3);
    assert_int_equal(out[0].chunk_id, 30);
    assert_int_equal(out[2].chunk_id, 10);
    assert_true(fabs(out[0].score - 1.0 / 61) < 1e-12);
    assert_int_equal(ra[0], 0);
    assert_int_equal(rb[2], 3);
    assert_int_equal(vz_rrf_fuse(NULL, 0, NULL, 0, 8, out, ra, rb), 0);

    /* A hit at rank 1 in one list beats one at ranks 3 and 70 in both?
     * 1/61 = 0.01639 < 1/63 + 1/130 = 0.02357: agreement wins. */
    {
        struct vz_hit x[70], y[3] = {{500, 1}, {501, 1}, {7, 1}};
        for (int i = 0; i < 70; i++)
            x[i] = (struct vz_hit){1000 + i, 1};
        x[69].chunk_id = 7;
        x[0].chunk_id = 999;
        n = vz_rrf_fuse(x, 70, y, 3, 1, out, ra, rb);
        assert_int_equal(n, 1);
        assert_int_equal(out[0].chunk_id, 7);
        assert_int_equal(ra[0], 70);
        assert_int_equal(rb[0], 3);
    }
    /* A chunk listed twice counts at its first place. */
    {
        struct vz_hit d[3] = {{5, 1}, {6, 1}, {5, 1}};
        n = vz_rrf_fuse(d, 3, NULL, 0, 8, out, ra, rb);
        assert_int_equal(n, 2);
        assert_int_equal(out[0].chunk_id, 5);
        assert_int_equal(ra[0], 1);
        assert_int_equal(out[1].chunk_id, 6);
    }
}

static void check_hl(const char *q, const char *text, size_t want_n, const char *const *want)
{
    size_t n = 99;
    char **h = vz_highlights(q, text, &n);
    assert_non_null(h);
    if (n != want_n)
        fail_msg("highlights of [%s] in [%s]: %zu, want %zu", q, text, n, want_n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(h[i], want[i]);
        free(h[i]);
    }
    assert_null(h[n]);
    free(h);
}

static void test_highlights(void **state)
{
    (void)state;
    check_hl("Café PARIS the zanzibar paris", "Best cafe in Paris, near the zanzibarian coast", 2,
             (const char *const[]){"Café", "PARIS"});
    /* Query order, not text order; whole words only. */
    check_hl("lamp red", "red: yes\nitem: lamp, lamps, lampshade", 2,
             (const char *const[]){"lamp", "red"});
    check_hl("ZÜRICH noël", "city: zurich\nevent: Noël", 2,
             (const char *const[]){"ZÜRICH", "noël"});
    check_hl("ORDER-42", "order: 42", 2, (const char *const[]){"ORDER", "42"});
    check_hl("", "anything", 0, NULL);
    check_hl("the of", "the of", 0, NULL);
    check_hl("word", "", 0, NULL);
    check_hl("\"*NEAR(", "near", 1, (const char *const[]){"NEAR"});
}

/* ---- versions ------------------------------------------------------------ */

static void assert_version(struct vz_index *ix, const char *tag, size_t n)
{
    char want[64], *t;
    struct vz_hit h[3];
    size_t nh;
    struct vz_err err = VZ_ERR_INIT;
    float q[16] = {1};
    assert_int_equal(vz_index_count(ix), n);
    t = text_of(ix, (int64_t)n);
    snprintf(want, sizeof(want), "version: %s\n", tag);
    assert_non_null(strstr(t, want));
    free(t);
    assert_int_equal(vz_index_vector_search(ix, q, 3, h, &nh, &err), 0);
    assert_int_equal(nh, 3);
    assert_true(kw(ix, tag, h, 3) > 0);
}

static void test_new_version_replaces_old_atomically(void **state)
{
    struct fx *f = *state;
    struct vz_index *v1 = NULL, *v2 = NULL;
    struct vz_err err = VZ_ERR_INIT;

    build(f->dir, 1500, 16, 10, "alpha", NULL);
    assert_int_equal(vz_index_open(f->dir, &v1, &err), 0);
    assert_version(v1, "alpha", 1500);

    build(f->dir, 900, 16, 11, "beta", NULL);
    assert_false(exists(tmp_of(f)));
    /* The open reader keeps its version, files unlinked or not. */
    assert_version(v1, "alpha", 1500);
    assert_int_equal(kw(v1, "beta", (struct vz_hit[3]){0}, 3), 0);
    assert_int_equal(vz_index_open(f->dir, &v2, &err), 0);
    assert_version(v2, "beta", 900);
    assert_int_equal(kw(v2, "alpha", (struct vz_hit[3]){0}, 3), 0);
    vz_index_close(v1);
    vz_index_close(v2);

    /* Aborting a build leaves the live version alone. */
    {
        struct vz_index_writer *w = NULL;
        assert_int_equal(vz_index_writer_open(f->dir, 16, &w, &err), 0);
        add_chunks(w, 100, 16, 12, "gamma", NULL);
        assert_true(exists(tmp_of(f)));
        vz_index_writer_abort(w);
        assert_false(exists(tmp_of(f)));
        vz_index_writer_abort(NULL);
    }
    assert_int_equal(vz_index_open(f->dir, &v2, &err), 0);
    assert_version(v2, "beta", 900);
    vz_index_close(v2);
}

static void test_second_writer_conflicts(void **state)
{
    struct fx *f = *state;
    struct vz_index_writer *a = NULL, *b = NULL;
    struct vz_err err = VZ_ERR_INIT;
    assert_int_equal(vz_index_writer_open(f->dir, 8, &a, &err), 0);
    add_chunks(a, 10, 8, 1, "first", NULL);
    assert_int_equal(vz_index_writer_open(f->dir, 8, &b, &err), VZ_ECONFLICT);
    assert_null(b);
    /* The first writer's files were not touched. */
    add_chunks(a, 10, 8, 2, "first", NULL);
    assert_int_equal(vz_index_writer_commit(a, &err), 0);
    assert_int_equal(vz_index_writer_open(f->dir, 8, &b, &err), 0);
    vz_index_writer_abort(b);
}

static void test_leftover_tmp_is_cleared(void **state)
{
    struct fx *f = *state;
    struct vz_index *ix = NULL;
    struct vz_err err = VZ_ERR_INIT;
    char path[PATH_MAX + 64];

    build(f->dir, 300, 16, 20, "alpha", NULL);
    /* A crashed writer's half-built folder, with junk and a subfolder. */
    assert_int_equal(mkdir(tmp_of(f), 0700), 0);
    snprintf(path, sizeof(path), "%s/chunks.db", tmp_of(f));
    assert_int_equal(vz_write_file_atomic(path, "garbage", 7, 0600, &err), 0);
    snprintf(path, sizeof(path), "%s/sub", tmp_of(f));
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/sub/x", tmp_of(f));
    assert_int_equal(vz_write_file_atomic(path, "x", 1, 0600, &err), 0);
    /* Readers never look at it. */
    assert_int_equal(vz_index_open(f->dir, &ix, &err), 0);
    assert_version(ix, "alpha", 300);
    vz_index_close(ix);

    build(f->dir, 400, 16, 21, "beta", NULL);
    assert_false(exists(tmp_of(f)));
    assert_int_equal(vz_index_open(f->dir, &ix, &err), 0);
    assert_version(ix, "beta", 400);
    vz_index_close(ix);

    /* A complete old version left at .tmp (crash after the swap, before the
     * old one was removed) and a stray file in its place go the same way. */
    {
        char cmd[3 * PATH_MAX];
        snprintf(cmd, sizeof(cmd), "cp -r '%s' '%s'", f->dir, tmp_of(f));
        assert_int_equal(system(cmd), 0);
    }
    build(f->dir, 500, 16, 22, "gamma", NULL);
    assert_false(exists(tmp_of(f)));
    assert_int_equal(vz_write_file_atomic(tmp_of(f), "file", 4, 0600, &err), 0);
    build(f->dir, 600, 16, 23, "delta", NULL);
    assert_false(exists(tmp_of(f)));
    assert_int_equal(vz_index_open(f->dir, &ix, &err), 0);
    assert_version(ix, "delta", 600);
    vz_index_close(ix);
}

/* A writer process that dies without cleaning up (killed mid-build) leaves
 * the live version readable; the next writer clears what it left. */
static void test_crash_mid_build_keeps_old(void **state)
{
    struct fx *f = *state;
    struct vz_index *ix = NULL;
    struct vz_err err = VZ_ERR_INIT;
    int status;
    pid_t pid;

    build(f->dir, 500, 16, 30, "alpha", NULL);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct vz_index_writer *w = NULL;
        if (vz_index_writer_open(f->dir, 16, &w, &err) != 0)
            _exit(3);
        add_chunks(w, 700, 16, 31, "beta", NULL);
        raise(SIGKILL); /* no cleanup of any kind, no core file */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_true(exists(tmp_of(f)));
    assert_int_equal(vz_index_open(f->dir, &ix, &err), 0);
    assert_version(ix, "alpha", 500);
    vz_index_close(ix);
    /* The dead writer's lock died with it. */
    build(f->dir, 800, 16, 32, "gamma", NULL);
    assert_int_equal(vz_index_open(f->dir, &ix, &err), 0);
    assert_version(ix, "gamma", 800);
    vz_index_close(ix);
}

/* Kill a process that builds and commits version after version at random
 * moments, commits included: every time, the folder holds one whole
 * version (whichever), never a mix or nothing. */
static void test_kill_at_any_point(void **state)
{
    struct fx *f = *state;
    struct vz_err err = VZ_ERR_INIT;
    uint64_t s = 4242;
    int seen_new = 0;

    build(f->dir, 50, 8, 40, "v0", NULL);
    for (int round = 0; round < 12; round++) {
        struct vz_index *ix = NULL;
        struct timespec ts;
        char *t;
        int status, ver = -1;
        pid_t pid;
        fflush(NULL);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            for (int v = 1;; v++) {
                struct vz_index_writer *w = NULL;
                char tag[16];
                snprintf(tag, sizeof(tag), "v%d", v);
                if (vz_index_writer_open(f->dir, 8, &w, &err) != 0)
                    _exit(3);
                /* Version v has 50 + v chunks: the count names the version. */
                add_chunks(w, 50 + v, 8, 40 + (uint64_t)v, tag, NULL);
                if (vz_index_writer_commit(w, &err) != 0)
                    _exit(4);
            }
        }
        ts.tv_sec = 0;
        ts.tv_nsec = (long)(rng_next(&s) % 40000000u) + 1000000;
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));

        assert_int_equal(vz_index_open(f->dir, &ix, &err), 0);
        t = text_of(ix, (int64_t)vz_index_count(ix));
        assert_int_equal(sscanf(strstr(t, "version: v"), "version: v%d", &ver), 1);
        assert_int_equal(vz_index_count(ix), (size_t)(50 + ver));
        seen_new |= ver > 0;
        free(t);
        vz_index_close(ix);
    }
    /* Not asserted (timing-dependent), but the loop should get past v0. */
    print_message("kill test: a newer version was committed before a kill: %s\n",
                  seen_new ? "yes" : "no");
}

struct committer {
    const char *dir;
    atomic_int stop;
    int versions, failures;
};

static void *commit_loop(void *p)
{
    struct committer *c = p;
    for (int v = 1; !atomic_load(&c->stop); v++) {
        struct vz_index_writer *w = NULL;
        struct vz_err err = VZ_ERR_INIT;
        char tag[16];
        snprintf(tag, sizeof(tag), "v%d", v);
        if (vz_index_writer_open(c->dir, 8, &w, &err) != 0) {
            c->failures++;
            break;
        }
        add_chunks(w, 50 + v % 40, 8, (uint64_t)v, tag, NULL);
        if (vz_index_writer_commit(w, &err) != 0)
            c->failures++;
        c->versions++;
    }
    return NULL;
}

/* Readers opening while versions are swapped in get one whole version. */
static void test_open_while_committing(void **state)
{
    struct fx *f = *state;
    struct committer c = {.dir = f->dir};
    pthread_t th;
    int opened = 0;
    build(f->dir, 50, 8, 1, "v0", NULL);
    assert_int_equal(pthread_create(&th, NULL, commit_loop, &c), 0);
    for (double end = (double)time(NULL) + 2; (double)time(NULL) < end;) {
        struct vz_index *ix = NULL;
        struct vz_err err = VZ_ERR_INIT;
        char *t;
        int ver = -1;
        int rc = vz_index_open(f->dir, &ix, &err);
        if (rc != 0)
            fail_msg("open during commits: %s", err.msg);
        t = text_of(ix, (int64_t)vz_index_count(ix));
        assert_int_equal(sscanf(strstr(t, "version: v"), "version: v%d", &ver), 1);
        assert_int_equal(vz_index_count(ix), (size_t)(ver == 0 ? 50 : 50 + ver % 40));
        free(t);
        vz_index_close(ix);
        opened++;
    }
    atomic_store(&c.stop, 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(c.failures, 0);
    print_message("opened %d times while %d versions were committed\n", opened, c.versions);
}

/* ---- damaged files ------------------------------------------------------- */

static int open_rc(const char *dir)
{
    struct vz_index *ix = NULL;
    struct vz_err err = VZ_ERR_INIT;
    int rc = vz_index_open(dir, &ix, &err);
    if (rc == 0)
        vz_index_close(ix);
    else
        assert_null(ix);
    assert_int_equal(err.code, rc);
    return rc;
}

static void patch(const char *path, long off, const void *data, size_t n)
{
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, off, SEEK_SET), 0);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static void test_damaged_files_are_clean_errors(void **state)
{
    struct fx *f = *state;
    char vec[PATH_MAX + 32], db[PATH_MAX + 32], path[PATH_MAX + 32];
    uint64_t n;
    uint32_t dim;

    assert_int_equal(open_rc(f->dir), VZ_ENOTFOUND);
    snprintf(vec, sizeof(vec), "%s/vectors.f32", f->dir);
    snprintf(db, sizeof(db), "%s/chunks.db", f->dir);

    build(f->dir, 200, 16, 50, "v1", NULL);
    assert_int_equal(open_rc(f->dir), 0);
    assert_int_equal(truncate(vec, 32 + 199 * 16 * 4 + 10), 0); /* torn last vector */
    assert_int_equal(open_rc(f->dir), VZ_EIO);
    assert_int_equal(truncate(vec, 20), 0); /* torn header */
    assert_int_equal(open_rc(f->dir), VZ_EIO);
    assert_int_equal(truncate(vec, 0), 0);
    assert_int_equal(open_rc(f->dir), VZ_EIO);

    build(f->dir, 200, 16, 50, "v1", NULL);
    patch(vec, 0, "VZVEC2", 6); /* bad magic */
    assert_int_equal(open_rc(f->dir), VZ_EIO);

    build(f->dir, 200, 16, 50, "v1", NULL);
    n = 199; /* header count disagrees with chunks.db (and the size) */
    patch(vec, 16, &n, sizeof(n));
    assert_int_equal(open_rc(f->dir), VZ_EIO);
    n = UINT64_MAX / 2; /* absurd count: no overflow, no huge map */
    patch(vec, 16, &n, sizeof(n));
    assert_int_equal(open_rc(f->dir), VZ_EIO);

    build(f->dir, 200, 16, 50, "v1", NULL);
    dim = 8;
    patch(vec, 8, &dim, sizeof(dim));
    assert_int_equal(open_rc(f->dir), VZ_EIO);

    build(f->dir, 200, 16, 50, "v1", NULL);
    assert_int_equal(unlink(vec), 0); /* vectors gone */
    assert_int_equal(open_rc(f->dir), VZ_EIO);

    build(f->dir, 200, 16, 50, "v1", NULL);
    snprintf(path, sizeof(path), "%s/doclen.u32", f->dir);
    assert_int_equal(truncate(path, 16 + 4 * 199), 0); /* token counts torn */
    assert_int_equal(open_rc(f->dir), VZ_EIO);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(open_rc(f->dir), VZ_EIO);

    build(f->dir, 200, 16, 50, "v1", NULL);
    assert_int_equal(unlink(db), 0); /* chunks gone */
    assert_int_equal(open_rc(f->dir), VZ_EIO);

    build(f->dir, 200, 16, 50, "v1", NULL);
    assert_int_equal(
        vz_write_file_atomic(db, "not a database, just some bytes", 31, 0600, &(struct vz_err){0}),
        0);
    assert_int_equal(open_rc(f->dir), VZ_EIO);
}

/* ---- threads ------------------------------------------------------------- */

struct thread_arg {
    struct vz_index *ix;
    int dim;
    uint64_t seed;
    int failures;
};

static void *search_thread(void *p)
{
    struct thread_arg *a = p;
    struct vz_hit h1[10], h2[10];
    float q[32];
    for (int i = 0; i < 200; i++) {
        struct vz_err err = VZ_ERR_INIT;
        size_t n1 = 0, n2 = 0;
        char *t = NULL;
        random_unit(&a->seed, q, a->dim);
        if (vz_index_vector_search(a->ix, q, 10, h1, &n1, &err) != 0 || n1 != 10)
            a->failures++;
        if (vz_index_keyword_search(a->ix, vocab[i % NVOCAB], 10, h2, &n2, &err) != 0 || n2 == 0)
            a->failures++;
        if (n1 && vz_index_chunk(a->ix, h1[0].chunk_id, NULL, NULL, &t, &err) != 0)
            a->failures++;
        free(t);
    }
    return NULL;
}

static void test_concurrent_searches(void **state)
{
    struct fx *f = *state;
    struct vz_index *ix = NULL;
    struct vz_err err = VZ_ERR_INIT;
    pthread_t th[4];
    struct thread_arg args[4];
    build(f->dir, 2000, 32, 60, "v1", NULL);
    assert_int_equal(vz_index_open(f->dir, &ix, &err), 0);
    for (int i = 0; i < 4; i++) {
        args[i] = (struct thread_arg){ix, 32, (uint64_t)i + 1, 0};
        assert_int_equal(pthread_create(&th[i], NULL, search_thread, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(args[i].failures, 0);
    }
    vz_index_close(ix);
}

/* ---- timings ------------------------------------------------------------- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void pct(const char *what, double *ms, int n)
{
    qsort(ms, (size_t)n, sizeof(*ms), cmp_double);
    print_message("%-40s p50 %7.3f ms  p99 %7.3f ms\n", what, ms[n / 2], ms[(n * 99) / 100]);
}

static void test_latency_200k(void **state)
{
    struct fx *f = *state;
    /* Sanitizers slow everything ~10x: a smaller run still covers the paths. */
    const int64_t n = SANITIZED ? 20000 : 200000;
    const int dim = 384;
    struct vz_index_writer *w = NULL;
    struct vz_index *ix = NULL;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_hit hits[10];
    double ms[100], t0, build_ms = 0;
    float *q = malloc(sizeof(float) * dim);
    uint64_t s = 77;
    size_t nh;
    enum { BATCH = 1000 };
    char *texts_mem = malloc((size_t)BATCH * 256), rid_mem[BATCH][24];
    const char *texts[BATCH], *rids[BATCH];
    float *vecs = malloc(sizeof(float) * BATCH * dim);

    assert_int_equal(vz_index_writer_open(f->dir, dim, &w, &err), 0);
    for (int64_t done = 0; done < n; done += BATCH) {
        for (int i = 0; i < BATCH; i++) {
            snprintf(rid_mem[i], sizeof(rid_mem[i]), "%lld", (long long)(done + i + 1));
            rids[i] = rid_mem[i];
            chunk_text(texts_mem + i * 256, 256, "bench", done + i + 1);
            texts[i] = texts_mem + i * 256;
            random_unit(&s, vecs + (size_t)i * dim, dim);
        }
        t0 = now_ms();
        assert_int_equal(vz_index_writer_add(w, BATCH, rids, NULL, texts, vecs, &err), 0);
        build_ms += now_ms() - t0;
    }
    t0 = now_ms();
    assert_int_equal(vz_index_writer_commit(w, &err), 0);
    print_message("build %lld x %d: add %.0f ms, commit %.0f ms -> %.0f ms per 10k chunks\n",
                  (long long)n, dim, build_ms, now_ms() - t0,
                  (build_ms + now_ms() - t0) * 10000.0 / (double)n);

    for (int i = 0; i < 20; i++) {
        t0 = now_ms();
        assert_int_equal(vz_index_open(f->dir, &ix, &err), 0);
        ms[i] = now_ms() - t0;
        if (i < 19)
            vz_index_close(ix);
    }
    pct("open", ms, 20);
    for (int i = 0; i < 100; i++) {
        random_unit(&s, q, dim);
        t0 = now_ms();
        assert_int_equal(vz_index_vector_search(ix, q, 10, hits, &nh, &err), 0);
        ms[i] = now_ms() - t0;
        assert_int_equal(nh, 10);
    }
    print_message("vector search, %lld x %d, k=10:\n", (long long)n, dim);
    pct("  exact scan (index kept open)", ms, 100);
    vz_index_close(ix);
    for (int i = 0; i < 30; i++) {
        random_unit(&s, q, dim);
        t0 = now_ms();
        assert_int_equal(vz_index_open(f->dir, &ix, &err), 0);
        assert_int_equal(vz_index_vector_search(ix, q, 10, hits, &nh, &err), 0);
        vz_index_close(ix);
        ms[i] = now_ms() - t0;
    }
    pct("  open + scan + close per query", ms, 30);

    assert_int_equal(vz_index_open(f->dir, &ix, &err), 0);
    {
        /* One rare-ish word, two common ones, a mixed question. */
        static const char *const qs[] = {"lamp",
                                         "red green",
                                         "shipped express refund monday",
                                         "which customer ordered a wooden desk in paris?",
                                         "notes",
                                         "notes version lamp"};
        for (size_t j = 0; j < sizeof(qs) / sizeof(qs[0]); j++) {
            char label[80];
            for (int i = 0; i < 100; i++) {
                t0 = now_ms();
                assert_int_equal(vz_index_keyword_search(ix, qs[j], 10, hits, &nh, &err), 0);
                ms[i] = now_ms() - t0;
            }
            snprintf(label, sizeof(label), "  keyword [%.28s]", qs[j]);
            pct(label, ms, 100);
        }
        for (int i = 0; i < 100; i++) {
            t0 = now_ms();
            assert_int_equal(vz_index_keyword_search(ix, "42017", 10, hits, &nh, &err), 0);
            ms[i] = now_ms() - t0;
        }
        pct("  keyword [42017] (one hit)", ms, 100);
        for (int i = 0; i < 100; i++) {
            char *t = NULL;
            t0 = now_ms();
            assert_int_equal(vz_index_chunk(ix, 1 + (i * 997) % n, NULL, NULL, &t, &err), 0);
            ms[i] = now_ms() - t0;
            free(t);
        }
        pct("  chunk fetch", ms, 100);
    }
    vz_index_close(ix);
    free(q);
    free(texts_mem);
    free(vecs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_vector_search_matches_brute_force, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vector_ties_and_small_k, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyword_search, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bm25_equals_sqlite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_common_terms_rank_last, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyword_syntax_is_safe, setup, teardown),
        cmocka_unit_test(test_fts_query_text),
        cmocka_unit_test_setup_teardown(test_chunk_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_rejects_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyword_only_and_empty_index, setup, teardown),
        cmocka_unit_test(test_rrf_math),
        cmocka_unit_test(test_highlights),
        cmocka_unit_test_setup_teardown(test_new_version_replaces_old_atomically, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_writer_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leftover_tmp_is_cleared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_mid_build_keeps_old, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_at_any_point, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_while_committing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_files_are_clean_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_searches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_latency_200k, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* pipeline/embed: the `local` provider runs all-MiniLM-L6-v2 through
 * llama.cpp and gives the vectors the original model gives.
 *
 * Needs deps/ from scripts/setup.sh (the llama.cpp libraries and the
 * converted model); without them every test fails and says so. The
 * reference vectors in tests/vectors/minilm-reference.json come from
 * tests/unit/embed_reference.py, a numpy forward pass over the original
 * safetensors weights that shares no code with llama.cpp or the converter. */
#include "testutil.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <time.h>

#include "core/err.h"
#include "pipeline/embed.h"

#define DIM 384
#define REF_FILE "tests/vectors/minilm-reference.json"

static struct vz_embedder *emb; /* shared by the tests: loading once is enough */
static double load_ms;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int group_setup(void **state)
{
    struct vz_err err = VZ_ERR_INIT;
    double t0 = now_ms();
    int rc = vz_embed_open("local", NULL, &emb, &err);
    (void)state;
    load_ms = now_ms() - t0;
    if (rc < 0) {
        print_error("cannot open the local embedder (%s): %s\n"
                    "The model runtime is missing: run scripts/setup.sh\n",
                    vz_err_name(rc), err.msg);
        return -1;
    }
    printf("# model %s, dim %d, max %d tokens, loaded in %.0f ms\n", vz_embed_model_name(emb),
           vz_embed_dim(emb), vz_embed_max_tokens(emb), load_ms);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    vz_embed_close(emb);
    emb = NULL;
    return 0;
}

static double dot(const float *a, const float *b)
{
    double s = 0;
    for (int i = 0; i < DIM; i++)
        s += (double)a[i] * b[i];
    return s;
}

static void assert_unit(const float *v)
{
    for (int i = 0; i < DIM; i++)
        assert_true(isfinite(v[i]));
    assert_true(fabs(dot(v, v) - 1.0) < 1e-4);
}

static float *embed_n(const char *const *texts, const size_t *lens, size_t n)
{
    struct vz_err err = VZ_ERR_INIT;
    float *out = calloc(n ? n * DIM : 1, sizeof(float));
    assert_non_null(out);
    if (vz_embed_batch(emb, texts, lens, n, out, &err) != 0)
        fail_msg("vz_embed_batch: %s", err.msg);
    return out;
}

static float *embed1(const char *text)
{
    return embed_n(&text, NULL, 1);
}

/* The reference file, found from the current directory (make runs tests
 * from the checkout) or above the test binary. */
static json_t *load_reference(void)
{
    char path[PATH_MAX + 64], exe[PATH_MAX];
    json_error_t jerr;
    json_t *doc;
    ssize_t n;
    if (access(REF_FILE, R_OK) == 0)
        return json_load_file(REF_FILE, 0, &jerr);
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    for (int up = 0; up < 4; up++) {
        char *slash = strrchr(exe, '/');
        assert_non_null(slash);
        *slash = '\0';
        snprintf(path, sizeof(path), "%s/%s", exe, REF_FILE);
        doc = json_load_file(path, 0, &jerr);
        if (doc)
            return doc;
    }
    fail_msg("cannot read %s", REF_FILE);
    return NULL;
}

static void test_reports_model_facts(void **state)
{
    (void)state;
    assert_int_equal(vz_embed_dim(emb), DIM);
    assert_int_equal(vz_embed_max_tokens(emb), 256);
    assert_string_equal(vz_embed_model_name(emb), "all-MiniLM-L6-v2");
    assert_string_equal(vz_embed_provider(emb), "local");
    assert_int_equal(vz_embed_caps(emb) & VZ_EMBED_REMOTE, 0);
}

/* The conversion is right: every reference sentence (plain, accented,
 * CJK, Cyrillic, a pipeline chunk, the empty text, one past the 256-token
 * window) lands within cosine 0.999 of the original model's vector, and
 * grouping texts into one call changes nothing. */
static void test_matches_reference_vectors(void **state)
{
    json_t *doc = load_reference(), *items;
    const char *texts[64];
    size_t n;
    float *all, *ref;
    double min = 1, sum = 0;
    (void)state;
    assert_non_null(doc);
    assert_int_equal(json_integer_value(json_object_get(doc, "dim")), DIM);
    items = json_object_get(doc, "sentences");
    n = json_array_size(items);
    assert_int_equal(n, 20);
    for (size_t i = 0; i < n; i++)
        texts[i] = json_string_value(json_object_get(json_array_get(items, i), "text"));
    all = embed_n(texts, NULL, n);
    ref = calloc(DIM, sizeof(float));
    assert_non_null(ref);
    for (size_t i = 0; i < n; i++) {
        json_t *vec = json_object_get(json_array_get(items, i), "vector");
        float *one;
        double c;
        assert_int_equal(json_array_size(vec), DIM);
        for (int d = 0; d < DIM; d++)
            ref[d] = (float)json_real_value(json_array_get(vec, (size_t)d));
        c = dot(all + i * DIM, ref);
        if (c < 0.999)
            fail_msg("sentence %zu (\"%.40s\"): cosine %.6f < 0.999", i, texts[i], c);
        min = c < min ? c : min;
        sum += c;
        assert_unit(all + i * DIM);
        one = embed1(texts[i]); /* alone in its call */
        assert_true(dot(one, all + i * DIM) > 0.99999);
        free(one);
    }
    printf("# cosine vs reference over %zu sentences: min %.7f mean %.7f\n", n, min, sum / n);
    free(ref);
    free(all);
    json_decref(doc);
}

static void test_paraphrase_is_closer_than_topic_change(void **state)
{
    const char *t[] = {"the cat sits on the mat", "a kitten is on the rug",
                       "quarterly revenue grew"};
    /* sentence-transformers' quickstart example for this model: its
     * published similarities are 0.6660, 0.1046 and 0.1411. */
    const char *w[] = {"The weather is lovely today.", "It's so sunny outside!",
                       "He drove to the stadium."};
    float *v = embed_n(t, NULL, 3), *x = embed_n(w, NULL, 3);
    (void)state;
    assert_true(dot(v, v + DIM) > dot(v, v + 2 * DIM) + 0.3);
    assert_true(fabs(dot(x, x + DIM) - 0.6660) < 0.005);
    assert_true(fabs(dot(x, x + 2 * DIM) - 0.1046) < 0.005);
    assert_true(fabs(dot(x + DIM, x + 2 * DIM) - 0.1411) < 0.005);
    free(v);
    free(x);
}

static void test_edge_texts_give_unit_vectors(void **state)
{
    /* empty, NULL with length 0, invalid UTF-8, an embedded NUL (lens),
     * only whitespace, only emoji, control characters */
    const char *t[] = {"",
                       NULL,
                       "caf\xc3 \xff\xfe broken \xe2\x82",
                       "before\0after",
                       " \t\n  ",
                       "\xf0\x9f\x9a\x80\xf0\x9f\xa6\x99",
                       "\x01\x02 bell \x07"};
    size_t lens[7];
    float *v;
    (void)state;
    for (int i = 0; i < 7; i++)
        lens[i] = t[i] ? strlen(t[i]) : 0;
    lens[3] = 12;
    v = embed_n(t, lens, 7);
    for (int i = 0; i < 7; i++)
        assert_unit(v + i * DIM);
    assert_true(dot(v, v + DIM) > 0.99999); /* NULL is the empty text */
    free(v);
}

/* A megabyte of text costs no more than a paragraph and gives the vector
 * of its first 256 tokens. */
static void test_long_text_is_truncated(void **state)
{
    const char *unit = "Shipment 12 left the Rotterdam warehouse on time. ";
    size_t ul = strlen(unit), big = 1 << 20;
    char *text = malloc(big + 1);
    float *whole, *prefix;
    double t0;
    (void)state;
    assert_non_null(text);
    for (size_t i = 0; i < big; i++)
        text[i] = unit[i % ul];
    text[big] = '\0';
    t0 = now_ms();
    whole = embed1(text);
    assert_true(now_ms() - t0 < 2000);
    text[4000] = '\0'; /* still far more than 256 tokens */
    prefix = embed1(text);
    assert_unit(whole);
    assert_true(dot(whole, prefix) > 0.99999);
    free(whole);
    free(prefix);
    free(text);
}

/* Full-window texts between short ones: a call holds only two of them, so
 * groups are cut by tokens as well as by count; every vector must still be
 * the one the text gets alone. */
static void test_long_and_short_texts_share_calls(void **state)
{
    static char longs[3][3000];
    const char *t[9];
    float *v;
    (void)state;
    for (int i = 0; i < 3; i++) {
        int len = 0;
        for (int w = 0; w < 300; w++)
            len += snprintf(longs[i] + len, sizeof(longs[i]) - (size_t)len, "w%d ", w * (i + 3));
        t[3 * i] = "short one";
        t[3 * i + 1] = longs[i];
        t[3 * i + 2] = i % 2 ? "another short text about invoices" : "";
    }
    v = embed_n(t, NULL, 9);
    for (int i = 0; i < 9; i++) {
        float *one = embed1(t[i]);
        assert_true(dot(one, v + i * DIM) > 0.99999);
        free(one);
    }
    free(v);
}

static void test_batch_of_100(void **state)
{
    char buf[100][96];
    const char *t[100];
    float *v;
    (void)state;
    for (int i = 0; i < 100; i++) {
        snprintf(buf[i], sizeof(buf[i]), "order %d for customer %d: %d units of item %c%d", i,
                 i * 7 % 13, i % 5 + 1, 'A' + i % 26, i * 31);
        t[i] = buf[i];
    }
    v = embed_n(t, NULL, 100);
    for (int i = 0; i < 100; i++)
        assert_unit(v + i * DIM);
    for (int i = 0; i < 100; i += 33) {
        float *one = embed1(t[i]);
        assert_true(dot(one, v + i * DIM) > 0.99999);
        free(one);
    }
    assert_true(dot(v, v + 99 * DIM) < 0.999); /* different texts differ */
    free(v);
}

static void test_bad_calls_fail_cleanly(void **state)
{
    struct vz_err err = VZ_ERR_INIT;
    struct vz_embedder *e = (struct vz_embedder *)&err;
    char dir[PATH_MAX], path[PATH_MAX + 32];
    const char *t[] = {NULL};
    size_t lens[] = {3};
    float out[DIM];
    FILE *f;
    (void)state;

    assert_int_equal(vz_embed_open("word2vec", NULL, &e, &err), VZ_EINVAL);
    assert_null(e);
    assert_int_equal(vz_embed_open("local", "/nonexistent/model.gguf", &e, &err), VZ_ENOTFOUND);
    assert_null(e);

    vzt_tmpdir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/not-a-model.gguf", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("this is not a model", f);
    fclose(f);
    assert_int_equal(vz_embed_open("local", path, &e, &err), VZ_EUNSUPPORTED);
    assert_null(e);

    /* A model directory without the model: the message tells what to do. */
    setenv(VZ_EMBED_ENV_MODEL_DIR, dir, 1);
    assert_int_equal(vz_embed_open("local", NULL, &e, &err), VZ_ENOTFOUND);
    unsetenv(VZ_EMBED_ENV_MODEL_DIR);
    assert_null(e);
    assert_non_null(strstr(err.msg, "scripts/setup.sh"));
    vzt_rmrf(dir);

    assert_int_equal(vz_embed_batch(emb, t, lens, 1, out, &err), VZ_EINVAL);
    assert_int_equal(vz_embed_batch(emb, NULL, NULL, 0, NULL, &err), 0);
    vz_embed_close(NULL);
}

/* texts/s for ~28-token texts, n per vz_embed_batch call. */
static double rate(size_t per_call, size_t total)
{
    static const char *const words[] = {"invoice", "customer", "shipped", "warehouse",
                                        "payment", "overdue",  "pallet",  "region",
                                        "refund",  "status",   "order",   "priority"};
    char(*buf)[200] = calloc(total, sizeof(*buf));
    const char **t = calloc(total, sizeof(*t));
    float *out = calloc(per_call * DIM, sizeof(float));
    struct vz_err err = VZ_ERR_INIT;
    double t0, dt;
    assert_true(buf && t && out);
    for (size_t i = 0; i < total; i++) {
        int len = 0;
        for (int w = 0; w < 22; w++)
            len += snprintf(buf[i] + len, sizeof(buf[i]) - (size_t)len, "%s ",
                            words[(i * 7 + (size_t)w * 5 + (size_t)w * w) % 12]);
        snprintf(buf[i] + len, sizeof(buf[i]) - (size_t)len, "#%zu.", i);
        t[i] = buf[i];
    }
    t0 = now_ms();
    for (size_t i = 0; i < total; i += per_call)
        assert_int_equal(vz_embed_batch(emb, t + i, NULL, per_call, out, &err), 0);
    dt = now_ms() - t0;
    free(out);
    free(t);
    free(buf);
    return (double)total * 1000.0 / dt;
}

static void test_throughput(void **state)
{
    (void)state;
    (void)rate(8, 16); /* warm up */
    printf("# texts/s (~28 tokens each): batch 1 %.0f, batch 8 %.0f, batch 32 %.0f\n", rate(1, 32),
           rate(8, 64), rate(32, 64));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reports_model_facts),
        cmocka_unit_test(test_matches_reference_vectors),
        cmocka_unit_test(test_paraphrase_is_closer_than_topic_change),
        cmocka_unit_test(test_edge_texts_give_unit_vectors),
        cmocka_unit_test(test_long_text_is_truncated),
        cmocka_unit_test(test_long_and_short_texts_share_calls),
        cmocka_unit_test(test_batch_of_100),
        cmocka_unit_test(test_bad_calls_fail_cleanly),
        cmocka_unit_test(test_throughput),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/* The `local` embedding provider (llama.cpp in-process), and the generic
 * embedder functions of embed.h.
 *
 * The generic part sits here while `local` is the only provider; it moves
 * to embed.c with the second one (openai), unchanged.
 *
 * Why dlopen and not a link-time dependency: libllama brings libstdc++,
 * ~30 MB of code and its own thread pools, and deps/llama exists only after
 * scripts/setup-models.sh. Loading it when the first `local` embedder opens
 * keeps ./vectoraiz (and every unit test of other modules) building and
 * running without it, and turns "runtime missing" into an error code
 * instead of a loader failure at start. The price is a table of function
 * pointers; their types come from llama.h itself (__typeof__), so a header
 * and library mismatch cannot silently change a signature. Struct layouts
 * (context params, batch) also come from that header, which is why the
 * headers and libraries are installed from the same release. */
#include "pipeline/embed.h"

#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

/* ---- generic embedder ------------------------------------------------- */

struct vz_embedder {
    const struct vz_embed_ops *ops;
    struct vz_embed_info info;
    void *priv;
};

static const struct vz_embed_ops *const providers[] = {&vz_embed_local_ops};

int vz_embed_open(const char *provider, const char *model_path, struct vz_embedder **out,
                  struct vz_err *err)
{
    const struct vz_embed_ops *ops = NULL;
    struct vz_embedder *e = NULL;
    int rc;

    if (!out)
        return vz_err_set(err, VZ_EINVAL, "no output pointer");
    *out = NULL;
    for (size_t i = 0; provider && i < sizeof(providers) / sizeof(providers[0]); i++)
        if (strcmp(providers[i]->name, provider) == 0)
            ops = providers[i];
    if (!ops)
        return vz_err_set(err, VZ_EINVAL, "unknown embedding provider '%s'",
                          provider ? provider : "(null)");
    e = calloc(1, sizeof(*e));
    if (!e)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    e->ops = ops;
    if (ops->priv_size) {
        e->priv = calloc(1, ops->priv_size);
        if (!e->priv) {
            free(e);
            return vz_err_set(err, VZ_ENOMEM, NULL);
        }
    }
    rc = ops->open(e, model_path, &e->info, err);
    if (rc < 0) {
        free(e->priv);
        free(e);
        return rc;
    }
    *out = e;
    return VZ_OK;
}

int vz_embed_dim(const struct vz_embedder *e)
{
    return e->info.dim;
}

int vz_embed_max_tokens(const struct vz_embedder *e)
{
    return e->info.max_tokens;
}

const char *vz_embed_model_name(const struct vz_embedder *e)
{
    return e->info.model_name;
}

const char *vz_embed_provider(const struct vz_embedder *e)
{
    return e->ops->name;
}

unsigned vz_embed_caps(const struct vz_embedder *e)
{
    return e->ops->caps;
}

void *vz_embed_priv(struct vz_embedder *e)
{
    return e->priv;
}

int vz_embed_batch(struct vz_embedder *e, const char *const *texts, const size_t *lens, size_t n,
                   float *out, struct vz_err *err)
{
    size_t *own = NULL;
    int rc;

    if (!e || (n && (!texts || !out)))
        return vz_err_set(err, VZ_EINVAL, "missing embedder, texts or output");
    if (n == 0)
        return VZ_OK;
    if (n > SIZE_MAX / sizeof(float) / (size_t)e->info.dim)
        return vz_err_set(err, VZ_EINVAL, "too many texts");
    for (size_t i = 0; i < n; i++)
        if (!texts[i] && (!lens || lens[i]))
            return vz_err_set(err, VZ_EINVAL, "text %zu is NULL", i);
    if (!lens) {
        own = malloc(n * sizeof(*own));
        if (!own)
            return vz_err_set(err, VZ_ENOMEM, NULL);
        for (size_t i = 0; i < n; i++)
            own[i] = texts[i] ? strlen(texts[i]) : 0;
        lens = own;
    }
    rc = e->ops->embed(e, texts, lens, n, out, err);
    free(own);
    return rc;
}

void vz_embed_close(struct vz_embedder *e)
{
    if (!e)
        return;
    e->ops->close(e);
    free(e->priv);
    free(e);
}

/* ---- local provider: llama.cpp ---------------------------------------- */

#if defined(__has_include)
#if __has_include(<llama.h>)
#define VZ_HAVE_LLAMA 1
#endif
#endif

#ifdef VZ_HAVE_LLAMA

#include <llama.h>

/* Library file in deps/llama/lib; the headers in deps/llama/include come
 * from the same llama.cpp release (scripts/setup-models.sh). */
#define LLAMA_LIB "libllama.v0.4.0.so"
/* GGUF key written by our converter: the window the model was trained
 * with, shorter than its position table (256 vs 512 for MiniLM). */
#define KEY_MAX_SEQ "sentence_transformers.max_seq_length"
/* Ceiling on the window, whatever a user's model claims: attention memory
 * grows with its square. Texts longer than this are truncated. */
#define MAX_TOKENS_CAP 2048
/* Tokens per inference call. Attention runs over every token of the call
 * (masked per text), so the cost grows with its square: 512 keeps eight
 * ~30-token texts in one call and still fits one full 256-token text
 * twice, without paying for 8 x 256 tokens at once. */
#define CALL_TOKENS 512
/* Bytes of a text handed to the tokenizer: far more than max_tokens tokens
 * ever need (WordPiece averages 4-5 bytes per token in English, 3 for CJK),
 * so a megabyte text costs no more than a paragraph. */
#define BYTES_PER_TOKEN 16

/* Every llama.cpp function we call; the pointer types are the header's. */
#define LLAMA_FUNCS(X)                                                                             \
    X(llama_log_set)                                                                               \
    X(ggml_backend_load_all_from_path)                                                             \
    X(llama_backend_init)                                                                          \
    X(llama_model_default_params)                                                                  \
    X(llama_model_load_from_file)                                                                  \
    X(llama_model_free)                                                                            \
    X(llama_context_default_params)                                                                \
    X(llama_init_from_model)                                                                       \
    X(llama_free)                                                                                  \
    X(llama_model_get_vocab)                                                                       \
    X(llama_model_n_embd_out)                                                                      \
    X(llama_model_n_ctx_train)                                                                     \
    X(llama_model_meta_val_str)                                                                    \
    X(llama_pooling_type)                                                                          \
    X(llama_tokenize)                                                                              \
    X(llama_vocab_sep)                                                                             \
    X(llama_vocab_eos)                                                                             \
    X(llama_batch_init)                                                                            \
    X(llama_batch_free)                                                                            \
    X(llama_get_memory)                                                                            \
    X(llama_memory_clear)                                                                          \
    X(llama_decode)                                                                                \
    X(llama_get_embeddings_seq)

struct llama_api {
#define VZ_FIELD_(f) __typeof__(f) *f;
    LLAMA_FUNCS(VZ_FIELD_)
#undef VZ_FIELD_
};

/* Process-wide by nature, like the dynamic loader itself: the library is
 * loaded once and never unloaded (ggml keeps backend registrations and
 * worker threads; unloading C++ code with live statics is not safe), and
 * llama's log hook is global. Written once under the mutex, read-only
 * after `api_ready` is set. */
static pthread_mutex_t api_mu = PTHREAD_MUTEX_INITIALIZER;
static struct llama_api api;
static int api_ready;

/* The last error llama.cpp logged on this thread: model loading runs on
 * the caller's thread, so this names the reason a load failed. */
static _Thread_local char llama_last_error[160];

static void llama_log_cb(enum ggml_log_level level, const char *text, void *ud)
{
    size_t n = strlen(text);
    (void)ud;
    while (n && (text[n - 1] == '\n' || text[n - 1] == ' '))
        n--;
    if (!n)
        return;
    if (level == GGML_LOG_LEVEL_ERROR)
        snprintf(llama_last_error, sizeof(llama_last_error), "%.*s", (int)n, text);
    /* Everything, errors included, only at debug: we report failures
     * through vz_err, and llama is chatty at info. */
    if (vz_log_get_level() <= VZ_LOG_DEBUG)
        vz_debug("llama: %.*s", (int)n, text);
}

/* Look for rel (e.g. "deps/llama/lib/libllama...so") in the running
 * binary's directory and up to four levels above it: ./vectoraiz sits next
 * to deps/, build/vectoraiz one level down, build/tests/test_x two. */
static int find_near_binary(const char *rel, char *out, size_t n)
{
    char dir[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
    if (len <= 0)
        return 0;
    dir[len] = '\0';
    for (int up = 0; up < 5; up++) {
        char *slash = strrchr(dir, '/');
        if (!slash)
            return 0;
        *slash = '\0';
        if ((size_t)snprintf(out, n, "%s/%s", dir, rel) < n && access(out, R_OK) == 0)
            return 1;
    }
    return 0;
}

static int load_api(struct vz_err *err)
{
    char lib[PATH_MAX], dir[PATH_MAX];
    const char *env = getenv(VZ_EMBED_ENV_LLAMA_DIR), *missing = NULL;
    void *h;
    int rc = VZ_OK;

    pthread_mutex_lock(&api_mu);
    if (api_ready)
        goto out;
    if (env && *env) {
        if ((size_t)snprintf(lib, sizeof(lib), "%s/%s", env, LLAMA_LIB) >= sizeof(lib) ||
            access(lib, R_OK) != 0) {
            rc = vz_err_set(err, VZ_ENOTFOUND, "%s not found in $%s (%s): run scripts/setup.sh",
                            LLAMA_LIB, VZ_EMBED_ENV_LLAMA_DIR, env);
            goto out;
        }
    } else if (!find_near_binary("deps/llama/lib/" LLAMA_LIB, lib, sizeof(lib))) {
        rc = vz_err_set(err, VZ_ENOTFOUND,
                        "llama.cpp runtime (deps/llama/lib/%s) not found near the binary and "
                        "$%s is not set: run scripts/setup.sh",
                        LLAMA_LIB, VZ_EMBED_ENV_LLAMA_DIR);
        goto out;
    }
    /* RTLD_LOCAL: llama's symbols stay out of the global namespace; its
     * own dependencies (libggml*.so) are found through its $ORIGIN
     * runpath. The handle is kept for the life of the process. */
    h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        rc = vz_err_set(err, VZ_EUNSUPPORTED, "cannot load %s: %s", lib, dlerror());
        goto out;
    }
#define VZ_LOAD_(f)                                                                                \
    api.f = (__typeof__(f) *)dlsym(h, #f);                                                         \
    if (!api.f && !missing)                                                                        \
        missing = #f;
    LLAMA_FUNCS(VZ_LOAD_)
#undef VZ_LOAD_
    if (missing) {
        rc = vz_err_set(err, VZ_EUNSUPPORTED, "%s lacks %s: headers and library differ", lib,
                        missing);
        goto out;
    }
    /* Quiet first: loading the backends already logs. */
    api.llama_log_set(llama_log_cb, NULL);
    snprintf(dir, sizeof(dir), "%s", lib);
    *strrchr(dir, '/') = '\0';
    /* The CPU backend is a separate library per instruction set; ggml
     * scores each against this CPU and registers the best one. */
    api.ggml_backend_load_all_from_path(dir);
    api.llama_backend_init();
    api_ready = 1;
    vz_debug("embed: llama.cpp loaded from %s", dir);
out:
    pthread_mutex_unlock(&api_mu);
    return rc;
}

struct local {
    struct llama_model *model;
    struct llama_context *ctx;  /* groups of texts */
    struct llama_context *ctx1; /* one text at a time */
    const struct llama_vocab *vocab;
    struct llama_batch batch;
    int have_batch;
    int dim, max_tokens, call_tokens;
    size_t max_bytes;  /* of text given to the tokenizer */
    llama_token *all;  /* one whole tokenized text: max_bytes + 8 */
    llama_token *toks; /* VZ_EMBED_GROUP slots of max_tokens */
    int n_toks[VZ_EMBED_GROUP];
};

/* Threads per inference call: $VZ_EMBED_THREADS, else one less than the
 * CPUs we may run on (at least one). ggml's threads meet at a spinning
 * barrier after every operation, so one thread preempted by another
 * process stalls them all: on 2 cores with the other core busy, 2 threads
 * gave 17 texts/s and 1 thread 91. Leaving a core free keeps the rest of
 * the server (HTTP, extraction) from turning into that. */
static int thread_count(void)
{
    const char *env = getenv(VZ_EMBED_ENV_THREADS);
    cpu_set_t set;
    long n;
    if (env && *env) {
        n = strtol(env, NULL, 10);
        if (n >= 1 && n <= 256)
            return (int)n;
    }
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        n = CPU_COUNT(&set);
    else
        n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 1 && n < 1024 ? (int)n - 1 : 1;
}

static void local_close(struct vz_embedder *e)
{
    struct local *l = vz_embed_priv(e);
    if (l->have_batch)
        api.llama_batch_free(l->batch);
    if (l->ctx)
        api.llama_free(l->ctx);
    if (l->ctx1)
        api.llama_free(l->ctx1);
    if (l->model)
        api.llama_model_free(l->model);
    free(l->all);
    free(l->toks);
    memset(l, 0, sizeof(*l));
}

static int default_model_path(char *out, size_t n, struct vz_err *err)
{
    const char *env = getenv(VZ_EMBED_ENV_MODEL_DIR);
    if (env && *env) {
        if ((size_t)snprintf(out, n, "%s/%s", env, VZ_EMBED_DEFAULT_MODEL) >= n)
            return vz_err_set(err, VZ_EINVAL, "$%s is too long", VZ_EMBED_ENV_MODEL_DIR);
        if (access(out, R_OK) != 0)
            return vz_err_set(err, VZ_ENOTFOUND,
                              "embedding model %s not found in $%s (%s): run scripts/setup.sh",
                              VZ_EMBED_DEFAULT_MODEL, VZ_EMBED_ENV_MODEL_DIR, env);
        return VZ_OK;
    }
    if (!find_near_binary("deps/models/" VZ_EMBED_DEFAULT_MODEL, out, n))
        return vz_err_set(err, VZ_ENOTFOUND,
                          "embedding model deps/models/%s not found near the binary and $%s is "
                          "not set: run scripts/setup.sh",
                          VZ_EMBED_DEFAULT_MODEL, VZ_EMBED_ENV_MODEL_DIR);
    return VZ_OK;
}

static int check_gguf(const char *path, struct vz_err *err)
{
    char magic[4];
    FILE *f = fopen(path, "rb");
    size_t got;
    if (!f)
        return vz_err_set(err, VZ_ENOTFOUND, "embedding model %s: cannot open", path);
    got = fread(magic, 1, sizeof(magic), f);
    fclose(f);
    if (got != sizeof(magic) || memcmp(magic, "GGUF", 4) != 0)
        return vz_err_set(err, VZ_EUNSUPPORTED, "%s is not a GGUF model file", path);
    return VZ_OK;
}

/* A context for up to n_seq texts of n_tokens in all. Two per embedder,
 * because the fastest attention differs: flash attention computes a call
 * of eight texts twice as fast as the plain path (176 vs 78 texts/s on 2
 * idle cores), and a single text half as fast (70 vs 130/s), and a single
 * text is the search query a user waits for. The second context costs a
 * few MB of scratch buffers; the weights are shared. */
static int make_context(struct local *l, struct llama_context **out, int n_tokens, int n_seq,
                        enum llama_flash_attn_type fa, enum llama_pooling_type pooling,
                        struct vz_err *err)
{
    struct llama_context_params cp = api.llama_context_default_params();
    int threads = thread_count();
    cp.n_ctx = cp.n_batch = cp.n_ubatch = (uint32_t)n_tokens;
    cp.n_seq_max = (uint32_t)n_seq;
    /* One attention buffer for all sequences of a call; without it each
     * sequence would be limited to n_ctx / n_seq_max tokens. */
    cp.kv_unified = true;
    cp.flash_attn_type = fa;
    cp.embeddings = true;
    cp.pooling_type = pooling;
    cp.n_threads = cp.n_threads_batch = threads;
    cp.no_perf = true;
    llama_last_error[0] = '\0';
    *out = api.llama_init_from_model(l->model, cp);
    if (!*out)
        return vz_err_set(err, VZ_EUNSUPPORTED, "llama.cpp could not create a context%s%s",
                          llama_last_error[0] ? ": " : "", llama_last_error);
    return VZ_OK;
}

static int local_open(struct vz_embedder *e, const char *model_path, struct vz_embed_info *info,
                      struct vz_err *err)
{
    struct local *l = vz_embed_priv(e);
    struct llama_model_params mp;
    char path[PATH_MAX], meta[128];
    enum llama_pooling_type pooling;
    int rc, n_ctx_train;

    rc = load_api(err);
    if (rc < 0)
        return rc;
    if (model_path) {
        if ((size_t)snprintf(path, sizeof(path), "%s", model_path) >= sizeof(path))
            return vz_err_set(err, VZ_EINVAL, "model path too long");
    } else {
        rc = default_model_path(path, sizeof(path), err);
        if (rc < 0)
            return rc;
    }
    rc = check_gguf(path, err);
    if (rc < 0)
        return rc;

    mp = api.llama_model_default_params();
    mp.n_gpu_layers = 0;
    llama_last_error[0] = '\0';
    l->model = api.llama_model_load_from_file(path, mp);
    if (!l->model) {
        rc = vz_err_set(err, VZ_EUNSUPPORTED, "llama.cpp could not load %s%s%s", path,
                        llama_last_error[0] ? ": " : "", llama_last_error);
        goto out;
    }
    l->vocab = api.llama_model_get_vocab(l->model);
    l->dim = api.llama_model_n_embd_out(l->model);
    n_ctx_train = api.llama_model_n_ctx_train(l->model);
    if (l->dim <= 0 || n_ctx_train < 2) {
        rc = vz_err_set(err, VZ_EUNSUPPORTED, "%s: no embedding size or context length", path);
        goto out;
    }
    l->max_tokens = n_ctx_train;
    if (api.llama_model_meta_val_str(l->model, KEY_MAX_SEQ, meta, sizeof(meta)) > 0) {
        long v = strtol(meta, NULL, 10);
        if (v >= 2 && v < l->max_tokens)
            l->max_tokens = (int)v;
    }
    if (l->max_tokens > MAX_TOKENS_CAP)
        l->max_tokens = MAX_TOKENS_CAP;
    l->call_tokens = l->max_tokens > CALL_TOKENS ? l->max_tokens : CALL_TOKENS;
    l->max_bytes = (size_t)l->max_tokens * BYTES_PER_TOKEN;

    /* Pooling as the file says (mean for MiniLM, CLS for bge ...); a file
     * that names none gets mean, as sentence-transformers' default. */
    rc = make_context(l, &l->ctx, l->call_tokens, VZ_EMBED_GROUP, LLAMA_FLASH_ATTN_TYPE_AUTO,
                      LLAMA_POOLING_TYPE_UNSPECIFIED, err);
    if (rc < 0)
        goto out;
    pooling = api.llama_pooling_type(l->ctx);
    if (pooling == LLAMA_POOLING_TYPE_NONE) {
        api.llama_free(l->ctx);
        l->ctx = NULL;
        pooling = LLAMA_POOLING_TYPE_MEAN;
        rc = make_context(l, &l->ctx, l->call_tokens, VZ_EMBED_GROUP, LLAMA_FLASH_ATTN_TYPE_AUTO,
                          pooling, err);
        if (rc < 0)
            goto out;
    }
    if (pooling == LLAMA_POOLING_TYPE_RANK) {
        rc = vz_err_set(err, VZ_EUNSUPPORTED, "%s is a reranker, not an embedding model", path);
        goto out;
    }
    rc = make_context(l, &l->ctx1, l->max_tokens, 1, LLAMA_FLASH_ATTN_TYPE_DISABLED, pooling, err);
    if (rc < 0)
        goto out;

    l->batch = api.llama_batch_init(l->call_tokens, 0, 1);
    l->have_batch = 1;
    l->all = malloc((l->max_bytes + 8) * sizeof(*l->all));
    l->toks = malloc((size_t)VZ_EMBED_GROUP * (size_t)l->max_tokens * sizeof(*l->toks));
    if (!l->all || !l->toks || !l->batch.token) {
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
        goto out;
    }

    info->dim = l->dim;
    info->max_tokens = l->max_tokens;
    if (api.llama_model_meta_val_str(l->model, "general.name", meta, sizeof(meta)) > 0) {
        snprintf(info->model_name, sizeof(info->model_name), "%s", meta);
    } else {
        const char *base = strrchr(path, '/');
        snprintf(info->model_name, sizeof(info->model_name), "%.*s",
                 (int)sizeof(info->model_name) - 1, base ? base + 1 : path);
    }
    vz_debug("embed: %s loaded from %s (dim %d, max %d tokens, %d threads)", info->model_name, path,
             l->dim, l->max_tokens, thread_count());
out:
    if (rc < 0)
        local_close(e);
    return rc;
}

/* Byte length of the part of text given to the tokenizer: all of it when
 * short, else cut at max_bytes, moved back to a UTF-8 boundary and, when
 * one is near, to a space so no word is split. */
static size_t tokenizer_len(const struct local *l, const char *text, size_t len)
{
    size_t cut, sp;
    if (len <= l->max_bytes)
        return len;
    cut = l->max_bytes;
    while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80)
        cut--;
    for (sp = cut; sp > 0 && cut - sp < 64; sp--)
        if (text[sp] == ' ' || text[sp] == '\n' || text[sp] == '\t')
            return sp;
    return cut;
}

/* Tokenize text into group slot `slot`, truncated to max_tokens the way
 * sentence-transformers does: the first max_tokens - 1 tokens, then the
 * closing special token the tokenizer added ([SEP] for BERT). */
static int tokenize_into(struct local *l, int slot, const char *text, size_t len,
                         struct vz_err *err)
{
    llama_token *dst = l->toks + (size_t)slot * (size_t)l->max_tokens;
    size_t tl = tokenizer_len(l, text, len);
    int32_t n = api.llama_tokenize(l->vocab, text ? text : "", (int32_t)tl, l->all,
                                   (int32_t)(l->max_bytes + 8), true, false);
    if (n < 0)
        return vz_err_set(err, VZ_EINTERNAL, "tokenizer needed %d tokens for %zu bytes", -n, tl);
    if (n > l->max_tokens) {
        llama_token last = l->all[n - 1];
        int closing =
            last == api.llama_vocab_sep(l->vocab) || last == api.llama_vocab_eos(l->vocab);
        memcpy(dst, l->all, (size_t)l->max_tokens * sizeof(*dst));
        if (closing)
            dst[l->max_tokens - 1] = last;
        n = l->max_tokens;
    } else {
        memcpy(dst, l->all, (size_t)n * sizeof(*dst));
    }
    l->n_toks[slot] = n;
    return VZ_OK;
}

static void normalise(const float *in, float *out, int dim)
{
    double ss = 0;
    for (int i = 0; i < dim; i++)
        ss += (double)in[i] * in[i];
    if (ss <= 0) {
        memset(out, 0, (size_t)dim * sizeof(*out));
        return;
    }
    ss = 1.0 / sqrt(ss);
    for (int i = 0; i < dim; i++)
        out[i] = (float)(in[i] * ss);
}

/* Run one group (slots 0..k-1, all tokenized) and write its vectors. */
static int run_group(struct local *l, int k, float *out, struct vz_err *err)
{
    struct llama_batch *b = &l->batch;
    struct llama_context *ctx = k == 1 ? l->ctx1 : l->ctx;
    int32_t rc;

    b->n_tokens = 0;
    for (int s = 0; s < k; s++) {
        const llama_token *t = l->toks + (size_t)s * (size_t)l->max_tokens;
        for (int j = 0; j < l->n_toks[s]; j++) {
            int i = b->n_tokens++;
            b->token[i] = t[j];
            b->pos[i] = j;
            b->n_seq_id[i] = 1;
            b->seq_id[i][0] = s;
            b->logits[i] = 1;
        }
    }
    for (int s = 0; s < k; s++)
        if (l->n_toks[s] == 0)
            memset(out + (size_t)s * (size_t)l->dim, 0, (size_t)l->dim * sizeof(*out));
    if (b->n_tokens == 0)
        return VZ_OK;
    /* decode, not encode: for encoder-only models (BERT) llama_decode
     * forwards to the encoder, and it also serves decoder-based embedding
     * models, whose cache must start empty for every call. */
    api.llama_memory_clear(api.llama_get_memory(ctx), true);
    llama_last_error[0] = '\0';
    rc = api.llama_decode(ctx, *b);
    if (rc != 0)
        return vz_err_set(err, VZ_EINTERNAL, "llama_decode failed (%d)%s%s", (int)rc,
                          llama_last_error[0] ? ": " : "", llama_last_error);
    for (int s = 0; s < k; s++) {
        const float *v;
        if (l->n_toks[s] == 0)
            continue;
        v = api.llama_get_embeddings_seq(ctx, s);
        if (!v)
            return vz_err_set(err, VZ_EINTERNAL, "no pooled embedding for sequence %d", s);
        normalise(v, out + (size_t)s * (size_t)l->dim, l->dim);
    }
    return VZ_OK;
}

static int local_embed(struct vz_embedder *e, const char *const *texts, const size_t *lens,
                       size_t n, float *out, struct vz_err *err)
{
    struct local *l = vz_embed_priv(e);
    size_t first = 0; /* index of the text in slot 0 */
    int k = 0, used = 0, rc;

    /* Fill slots with up to VZ_EMBED_GROUP texts whose tokens fit one
     * call; run the group when the next text would not fit. Texts keep
     * their order, so slot s is text first + s. */
    for (size_t i = 0; i < n; i++) {
        rc = tokenize_into(l, k, texts[i], lens[i], err);
        if (rc < 0)
            return rc;
        if (k > 0 && used + l->n_toks[k] > l->call_tokens) {
            /* Does not fit: run the others, then move it to slot 0. */
            int moved = l->n_toks[k];
            rc = run_group(l, k, out + first * (size_t)l->dim, err);
            if (rc < 0)
                return rc;
            memmove(l->toks, l->toks + (size_t)k * (size_t)l->max_tokens,
                    (size_t)moved * sizeof(*l->toks));
            l->n_toks[0] = moved;
            first = i;
            k = 0;
            used = 0;
        }
        used += l->n_toks[k];
        k++;
        if (k == VZ_EMBED_GROUP || i + 1 == n) {
            rc = run_group(l, k, out + first * (size_t)l->dim, err);
            if (rc < 0)
                return rc;
            first = i + 1;
            k = 0;
            used = 0;
        }
    }
    return VZ_OK;
}

#else /* !VZ_HAVE_LLAMA */

static int local_open(struct vz_embedder *e, const char *model_path, struct vz_embed_info *info,
                      struct vz_err *err)
{
    (void)e;
    (void)model_path;
    (void)info;
    return vz_err_set(err, VZ_EUNSUPPORTED,
                      "built without llama.cpp headers: run scripts/setup.sh, then rebuild");
}

static int local_embed(struct vz_embedder *e, const char *const *texts, const size_t *lens,
                       size_t n, float *out, struct vz_err *err)
{
    (void)e;
    (void)texts;
    (void)lens;
    (void)n;
    (void)out;
    return vz_err_set(err, VZ_EUNSUPPORTED, NULL);
}

static void local_close(struct vz_embedder *e)
{
    (void)e;
}

#endif

const struct vz_embed_ops vz_embed_local_ops = {
    .name = "local",
    .caps = 0,
#ifdef VZ_HAVE_LLAMA
    .priv_size = sizeof(struct local),
#else
    .priv_size = 0,
#endif
    .open = local_open,
    .embed = local_embed,
    .close = local_close,
};

/* Embedding providers: turn texts into L2-normalised float32 vectors.
 *
 * A provider is a const table of operations (struct vz_embed_ops), one per
 * file, in the manner of curl's TLS backends; generic code opens an embedder
 * by provider name and only it calls through the table. Providers:
 *   "local"  in-process sentence-embedding model run by llama.cpp
 *            (embed_local.c); needs deps/llama and a GGUF model file, both
 *            installed by scripts/setup.sh. Nothing leaves the machine.
 *
 * Threads: an embedder is used by one thread at a time (it owns its
 * inference contexts and scratch memory); different embedders may be
 * used from different threads at once. Opening and closing are
 * thread-safe. A `local` embedder already spreads each batch over the
 * cores ($VZ_EMBED_THREADS, default all but one), so one embedder per
 * process is usually what you want; each one loads its own copy of the
 * model (46 MB for MiniLM).
 *
 * Vectors: vz_embed_dim() floats per text, unit length (a text whose vector
 * would be all zeros stays all zeros). A text gets the same vector whatever
 * it is batched with, up to float rounding (cosine > 0.99999). */
#ifndef VZ_PIPELINE_EMBED_H
#define VZ_PIPELINE_EMBED_H

#include <stddef.h>

#include "core/err.h"

struct vz_embedder; /* opaque */

/* Name of the model file the `local` provider loads when no path is given,
 * and the variables that tell it where to look (see vz_embed_open). */
#define VZ_EMBED_DEFAULT_MODEL "all-MiniLM-L6-v2.gguf"
#define VZ_EMBED_ENV_MODEL_DIR "VZ_MODEL_DIR"
#define VZ_EMBED_ENV_LLAMA_DIR "VZ_LLAMA_DIR"
/* Threads a `local` embedder computes with (default: CPUs - 1, at least 1). */
#define VZ_EMBED_ENV_THREADS "VZ_EMBED_THREADS"

/* Texts per inference call inside vz_embed_batch(). Attention spans the
 * whole call, so larger groups get slower per text (RECIPES.md). */
#define VZ_EMBED_GROUP 8

/* ---- using an embedder ------------------------------------------------ */

/* Open an embedder of `provider` ("local"). model_path is the model file;
 * NULL means the default: $VZ_MODEL_DIR/all-MiniLM-L6-v2.gguf when the
 * variable is set, else deps/models/all-MiniLM-L6-v2.gguf found by walking
 * up from the running binary's directory. The `local` provider loads the
 * llama.cpp libraries on first use from $VZ_LLAMA_DIR or deps/llama/lib
 * (found the same way), and keeps them loaded for the life of the process.
 *
 * On success *out is a new embedder: free it with vz_embed_close(). On
 * failure *out is NULL and the code is one of
 *   VZ_EINVAL       unknown provider, NULL out
 *   VZ_ENOTFOUND    model file or llama.cpp libraries missing (the message
 *                   says "run scripts/setup.sh")
 *   VZ_EUNSUPPORTED the file is not an embedding model llama.cpp can run
 *   VZ_EIO          the model file could not be read or parsed
 *   VZ_ENOMEM
 * Blocks while the model loads (about 50 ms for MiniLM). */
int vz_embed_open(const char *provider, const char *model_path, struct vz_embedder **out,
                  struct vz_err *err) VZ_MUST_CHECK;

/* Vector length (384 for MiniLM). */
int vz_embed_dim(const struct vz_embedder *e);
/* Longest input in model tokens, special tokens included (256 for MiniLM);
 * longer texts are cut to this many tokens, the way sentence-transformers
 * truncates them. The chunker sizes its windows with it. */
int vz_embed_max_tokens(const struct vz_embedder *e);
/* Model name from the file's metadata (e.g. "all-MiniLM-L6-v2"), else the
 * file's base name. Borrowed: valid until vz_embed_close(). */
const char *vz_embed_model_name(const struct vz_embedder *e);
/* Provider name ("local"). Static. */
const char *vz_embed_provider(const struct vz_embedder *e);
/* VZ_EMBED_REMOTE if texts leave the machine (none of today's providers). */
unsigned vz_embed_caps(const struct vz_embedder *e);

/* Embed n texts into out[0 .. n*dim). texts[i] holds lens[i] bytes of
 * UTF-8 (not necessarily NUL-terminated; invalid bytes are ignored); lens
 * may be NULL for NUL-terminated texts; texts[i] may be NULL only when its
 * length is 0. Any length is accepted: an empty text gets the vector of the
 * model's empty input, a long one is truncated (see vz_embed_max_tokens).
 * n == 0 does nothing. Texts are processed VZ_EMBED_GROUP at a time.
 *
 * 0, or VZ_EINVAL (bad arguments), VZ_ENOMEM, VZ_EINTERNAL (the runtime
 * failed); on failure the contents of out are unspecified. Blocks for the
 * whole computation (CPU-bound). */
int vz_embed_batch(struct vz_embedder *e, const char *const *texts, const size_t *lens, size_t n,
                   float *out, struct vz_err *err) VZ_MUST_CHECK;

/* Free the embedder. NULL is a no-op. */
void vz_embed_close(struct vz_embedder *e);

/* ---- for providers ---------------------------------------------------- */

#define VZ_EMBED_REMOTE 1u /* caps bit: texts are sent to another machine */

/* What a provider reports when it opens. */
struct vz_embed_info {
    int dim;
    int max_tokens;
    char model_name[128];
};

struct vz_embed_ops {
    const char *name;
    unsigned caps;
    size_t priv_size; /* zeroed block generic code allocates per embedder */
    /* Fill info and set up the private block (vz_embed_priv). On failure
     * release whatever was set up; close is not called then. */
    int (*open)(struct vz_embedder *e, const char *model_path, struct vz_embed_info *info,
                struct vz_err *err);
    /* Arguments already checked (n > 0, texts valid, lens never NULL).
     * Writes n * info.dim floats, each vector L2-normalised. */
    int (*embed)(struct vz_embedder *e, const char *const *texts, const size_t *lens, size_t n,
                 float *out, struct vz_err *err);
    void (*close)(struct vz_embedder *e); /* cannot fail */
};

extern const struct vz_embed_ops vz_embed_local_ops;

/* The provider's private block (priv_size bytes). */
void *vz_embed_priv(struct vz_embedder *e);

#endif

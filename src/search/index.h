/* Per-dataset search index: chunk texts with a keyword index, and vectors.
 *
 * The index owns its folder (e.g. <data>/datasets/<id>/index): a commit
 * replaces the folder as a whole, so anything else kept in it is lost.
 * Files:
 *   chunks.db     SQLite: chunks(id INTEGER PRIMARY KEY  -- 1..n, in order
 *                                row_id TEXT NOT NULL     -- primary key value(s), as text
 *                                col TEXT                 -- column of a long-text window, or NULL
 *                                text TEXT NOT NULL)      -- "column: value" lines
 *                 chunks_fts: FTS5 over text (external content = chunks,
 *                 tokenizer unicode61 remove_diacritics 2);
 *                 common_terms(term): tokens in at least half the chunks;
 *                 meta(key, value): "dim", "count".
 *                 Never modified after commit (readers open it immutable).
 *   doclen.u32    16-byte header: magic "VZLEN1\0\0", uint64 n; then n uint32:
 *                 chunk i+1's length in tokens (what BM25 normalises by).
 *   vectors.f32   absent when dim = 0; else a 32-byte header: magic
 *                 "VZVEC1\0\0", uint32 dim, uint32 pad (0), uint64 n,
 *                 uint64 reserved (0); then n x dim float32, row i = chunk
 *                 id i+1, L2-normalised (a zero vector is allowed).
 *   All little endian (header fields explicitly, arrays in host order: every
 *   target we build for is little endian).
 *
 * Versions: a writer builds <dir>.tmp/ and vz_index_writer_commit() fsyncs it
 * and swaps it with <dir> in one step (renameat2 RENAME_EXCHANGE), so a crash
 * at any point leaves the old version or the new one, both complete. An open
 * vz_index keeps reading the version it opened, even after a newer one is
 * committed and the old files are unlinked.
 *
 * Vector search is an exact scan, bound by memory bandwidth: ~20-27 ms per
 * query at 200k x 384 on the 2-core development VM.
 * TODO(hnsw): above a size threshold, build an HNSW graph (Debian
 * libhnswlib-dev, through a C++ shim with a C header) into vectors.hnsw at
 * commit, keep vectors.f32 as the source it can be rebuilt from, and choose
 * the scan or the graph in vz_index_vector_search().
 *
 * Layering: depends on core/ and SQLite only. */
#ifndef VZ_SEARCH_INDEX_H
#define VZ_SEARCH_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

#define VZ_INDEX_MAX_DIM 65536
/* Keyword queries keep at most this many distinct terms (the rest are
 * ignored), each at most VZ_INDEX_MAX_TERM bytes (longer ones are dropped). */
#define VZ_INDEX_MAX_TERMS 32
#define VZ_INDEX_MAX_TERM 64
/* Reciprocal-rank fusion constant: score = sum 1 / (VZ_RRF_K0 + rank). */
#define VZ_RRF_K0 60

struct vz_index_writer;
struct vz_index;

/* ---- building a version ------------------------------------------------ */

/* Start a new version of the index at dir, creating dir's parent folders if
 * needed. Builds in <dir>.tmp/; a folder left there by a crashed writer is
 * removed first. dim = 0 for keyword-only datasets (no vectors.f32), else
 * 1..VZ_INDEX_MAX_DIM.
 * One writer per dir at a time: a second one while the first is open gets
 * VZ_ECONFLICT (best effort, via a lock on <dir>.tmp). Readers of dir are not
 * disturbed. On success *out is a new writer that vz_index_writer_commit() or
 * vz_index_writer_abort() frees; on failure *out is NULL.
 * Codes: VZ_EINVAL, VZ_ECONFLICT, VZ_EIO, VZ_ENOSPACE, VZ_EPERM, VZ_ENOMEM. */
int vz_index_writer_open(const char *dir, int dim, struct vz_index_writer **out,
                         struct vz_err *err) VZ_MUST_CHECK;
/* Append n chunks; chunk ids continue from the previous call (the first chunk
 * is 1). row_ids[i] and texts[i] must not be NULL; cols may be NULL (no
 * column for any chunk) or hold NULLs. vecs is n*dim finite floats, NULL when
 * dim = 0. All inputs are borrowed for the call only. One SQLite transaction
 * per call: batches of a few hundred to a few thousand chunks are fastest.
 * VZ_EINVAL (bad input; nothing was added) or an I/O code; after an I/O
 * error the writer can only be aborted. */
int vz_index_writer_add(struct vz_index_writer *w, size_t n, const char *const *row_ids,
                        const char *const *cols, const char *const *texts, const float *vecs,
                        struct vz_err *err) VZ_MUST_CHECK;
/* Chunks added so far. */
int64_t vz_index_writer_count(const struct vz_index_writer *w);
/* Build the keyword index, fsync every file and the folder, and swap
 * <dir>.tmp with <dir>; the previous version is then removed. Frees w, also
 * on failure, when <dir>.tmp is dropped and the previous version stays.
 * VZ_EUNSUPPORTED when the file system cannot exchange two folders
 * atomically (the first version still works there: it is a plain rename). */
int vz_index_writer_commit(struct vz_index_writer *w, struct vz_err *err) VZ_MUST_CHECK;
/* Drop <dir>.tmp; the previous version stays. Frees w. NULL ok. */
void vz_index_writer_abort(struct vz_index_writer *w);

/* ---- searching ---------------------------------------------------------- */

/* Open the committed version at dir for searching: chunks.db read-only,
 * vectors.f32 and doclen.u32 memory-mapped, all checked (magic, dim, size,
 * counts agree). Cheap (~0.1 ms, plus page faults on the first scan), but a
 * long-lived vz_index saves both. VZ_ENOTFOUND when dir does not exist,
 * VZ_EIO for a damaged index, VZ_ENOMEM. On failure *out is NULL.
 * Thread safety: any number of threads may search one vz_index at once
 * (vector scans run in parallel; SQLite calls take turns on one connection).
 * vz_index_close() must not race with a search on the same index. */
int vz_index_open(const char *dir, struct vz_index **out, struct vz_err *err) VZ_MUST_CHECK;
/* NULL ok. */
void vz_index_close(struct vz_index *ix);
/* Number of chunks; dimension (0 = keyword-only). */
size_t vz_index_count(const struct vz_index *ix);
int vz_index_dim(const struct vz_index *ix);

struct vz_hit {
    int64_t chunk_id; /* 1..n */
    double score;     /* cosine for vectors, -bm25 for keywords (higher is better) */
};

/* Top k chunks by dot product with q (dim floats, normalised: the dot
 * product is then the cosine), best first, ties by lower chunk id. out has
 * room for k hits; *n_out = min(k, count). VZ_EUNSUPPORTED for a keyword-only
 * index. */
int vz_index_vector_search(struct vz_index *ix, const float *q, size_t k, struct vz_hit *out,
                           size_t *n_out, struct vz_err *err) VZ_MUST_CHECK;
/* Top k chunks by BM25 (as SQLite's bm25(), k1 = 1.2, b = 0.75) for a user's
 * words, best first, ties by lower chunk id. Any text is safe: it becomes an
 * OR of its terms (vz_query_terms()); no terms means no hits (not an error).
 * Terms found in at least half the chunks (column names, say) get no weight
 * from BM25; they are left out of the ranking, and chunks that match only
 * such terms come after all others, in chunk order, with score 0. */
int vz_index_keyword_search(struct vz_index *ix, const char *query, size_t k, struct vz_hit *out,
                            size_t *n_out, struct vz_err *err) VZ_MUST_CHECK;
/* The stored chunk: new strings (free()) for row_id, col (NULL when the chunk
 * has no column) and text. VZ_ENOTFOUND for an id outside 1..count; on
 * failure all three are NULL. Any output pointer may be NULL if not wanted. */
int vz_index_chunk(struct vz_index *ix, int64_t chunk_id, char **row_id, char **col, char **text,
                   struct vz_err *err) VZ_MUST_CHECK;

/* ---- query text (fuse.c): pure, thread-safe ----------------------------- */

/* A term of a user's query. */
struct vz_query_term {
    const char *p; /* in the query text; not NUL-terminated */
    size_t len;
    char folded[VZ_INDEX_MAX_TERM + 1]; /* lower case, Latin diacritics removed */
};

/* The terms of a user's text, in order, into t (room for VZ_INDEX_MAX_TERMS);
 * returns how many. Terms are words (runs of letters and digits; any
 * non-ASCII letter counts, ASCII and common Unicode punctuation separate)
 * minus English stopwords, de-duplicated ignoring case and accents, at most
 * VZ_INDEX_MAX_TERM bytes each (longer words are skipped). NULL query: 0. */
size_t vz_query_terms(const char *query, struct vz_query_term *t);

/* Append to out an FTS5 MATCH expression: the terms t[i] with keep[i] != 0
 * (all when keep is NULL), each as a quoted string, joined by OR. Returns the
 * number of terms used (0: match nothing, out unchanged) or VZ_ENOMEM /
 * VZ_ETOOBIG from out (out unchanged). */
int vz_fts_expr(const struct vz_query_term *t, size_t n, const unsigned char *keep,
                struct vz_buf *out) VZ_MUST_CHECK;

/* vz_fts_expr() of all of vz_query_terms(query):
 *   `name: "O'Brien" NEAR(x*` -> `"name" OR "O" OR "Brien" OR "NEAR" OR "x"`. */
int vz_fts_query(const char *query, struct vz_buf *out) VZ_MUST_CHECK;

/* Reciprocal-rank fusion of two ranked lists (best first; a chunk id listed
 * twice counts at its first place): out gets at most k hits ordered by fused
 * score sum 1/(VZ_RRF_K0 + rank), ties by lower chunk id, and returns how
 * many. rank_a/rank_b (may be NULL) get each hit's 1-based place in a and b,
 * 0 when absent. Pure; never allocates. */
size_t vz_rrf_fuse(const struct vz_hit *a, size_t na, const struct vz_hit *b, size_t nb, size_t k,
                   struct vz_hit *out, int *rank_a, int *rank_b);

/* The query's terms (vz_query_terms()) that occur in text as whole words,
 * ignoring case and Latin diacritics ("cafe" matches "Café"), each once, in
 * query order, spelled as in the query. Returns a new NULL-terminated array
 * of new strings (free each, then the array) with *n the count, possibly 0;
 * NULL (and *n = 0) when out of memory. */
char **vz_highlights(const char *query, const char *text, size_t *n);

#endif

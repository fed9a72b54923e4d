/* Per-dataset index files: building a version, swapping it in, searching. */
#include "search/index.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"

#define VEC_MAGIC "VZVEC1\0\0"
#define VEC_HEADER 32
#define VEC_OFF_N 16
#define CHUNKS_DB "chunks.db"
#define VECTORS "vectors.f32"
#define DOCLEN "doclen.u32"
#define LEN_MAGIC "VZLEN1\0\0"
#define LEN_HEADER 16
#define LEN_OFF_N 8
#define MAX_FTS_QUERY (16u * 1024u)
/* Tries to open a consistent version while writers keep swapping. */
#define OPEN_TRIES 5

/* ---- small helpers ------------------------------------------------------- */

static int sys_err(struct vz_err *err, const char *what, const char *path)
{
    int e = errno;
    return vz_err_set(err, vz_errno_code(e), "%s %s: %s", what, path, strerror(e));
}

static int sql_code(int rc)
{
    switch (rc & 0xFF) {
    case SQLITE_NOMEM:
        return VZ_ENOMEM;
    case SQLITE_FULL:
        return VZ_ENOSPACE;
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
        return VZ_EPERM;
    default:
        return VZ_EIO;
    }
}

static int sql_err(struct vz_err *err, sqlite3 *db, int rc, const char *what)
{
    return vz_err_set(err, sql_code(rc), "%s: %s", what,
                      db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static void put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int join(char *out, size_t cap, const char *a, const char *b)
{
    return snprintf(out, cap, "%s%s", a, b) < (int)cap ? 0 : -1;
}

/* nftw callback: everything below the top folder (kept itself). */
static int rm_below(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    if (ftw->level == 0)
        return 0;
    return (type == FTW_DP ? rmdir(path) : unlink(path)) == 0 || errno == ENOENT ? 0 : -1;
}

static int fsync_path(const char *path, struct vz_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = VZ_OK;
    if (fd < 0)
        return sys_err(err, "cannot open", path);
    if (fsync(fd) != 0)
        rc = sys_err(err, "fsync", path);
    close(fd);
    return rc;
}

/* ---- writer -------------------------------------------------------------- */

struct vz_index_writer {
    char dir[PATH_MAX], tmp[PATH_MAX];
    int dim;
    int tmpfd; /* <dir>.tmp, flock()ed while this writer lives */
    sqlite3 *db;
    sqlite3_stmt *ins;
    fts5_tokenizer tok; /* SQLite's unicode61, to count tokens per chunk */
    Fts5Tokenizer *tz;
    FILE *vf, *lf; /* vectors.f32, doclen.u32 */
    int64_t n;
    int broken; /* a write failed half-way: only abort is left */
};

/* Take <dir>.tmp for this writer: create it or reuse a leftover, lock it so
 * a second writer backs off, and empty it. The lock is taken before the
 * folder is emptied, so two writers cannot both clear it. */
static int claim_tmp(struct vz_index_writer *w, struct vz_err *err)
{
    for (int attempt = 0;; attempt++) {
        if (mkdir(w->tmp, 0700) != 0 && errno != EEXIST)
            return sys_err(err, "cannot create", w->tmp);
        w->tmpfd = open(w->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (w->tmpfd >= 0)
            break;
        /* Not a folder (a stray file or link): remove it and start over. */
        if ((errno != ENOTDIR && errno != ELOOP) || attempt > 0 || unlink(w->tmp) != 0)
            return sys_err(err, "cannot open", w->tmp);
    }
    if (flock(w->tmpfd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            return vz_err_set(err, VZ_ECONFLICT, "another writer is building %s", w->dir);
        return sys_err(err, "cannot lock", w->tmp);
    }
    if (nftw(w->tmp, rm_below, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return sys_err(err, "cannot clear", w->tmp);
    return VZ_OK;
}

/* The FTS5 API of a connection (NULL if unavailable). */
static fts5_api *fts5_of(sqlite3 *db)
{
    fts5_api *api = NULL;
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_pointer(q, 1, (void *)&api, "fts5_api_ptr", NULL);
        (void)sqlite3_step(q); /* api stays NULL if this fails */
    }
    sqlite3_finalize(q);
    return api;
}

static int writer_db_open(struct vz_index_writer *w, struct vz_err *err)
{
    char path[PATH_MAX], sql[128];
    const char *targs[] = {"remove_diacritics", "2"};
    fts5_api *api;
    void *tud = NULL;
    int rc;
    if (join(path, sizeof(path), w->tmp, "/" CHUNKS_DB) < 0)
        return vz_err_set(err, VZ_EINVAL, "index path too long");
    rc = sqlite3_open_v2(path, &w->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return sql_err(err, w->db, rc, "cannot create chunks.db");
    /* No journal, no syncs, no locking while building: a crash throws the
     * whole <dir>.tmp away anyway, and the commit fsyncs the finished file. */
    rc = sqlite3_exec(w->db,
                      "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                      "PRAGMA locking_mode=EXCLUSIVE; PRAGMA cache_size=-32768;"
                      "PRAGMA temp_store=MEMORY;"
                      "CREATE TABLE chunks(id INTEGER PRIMARY KEY, row_id TEXT NOT NULL,"
                      " col TEXT, text TEXT NOT NULL);"
                      "CREATE VIRTUAL TABLE chunks_fts USING fts5(text, content='chunks',"
                      " content_rowid='id', tokenize='unicode61 remove_diacritics 2');"
                      "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
                      "CREATE TABLE common_terms(term TEXT PRIMARY KEY) WITHOUT ROWID;",
                      NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return sql_err(err, w->db, rc, "cannot create chunks.db tables");
    snprintf(sql, sizeof(sql), "INSERT INTO meta VALUES('dim', %d)", w->dim);
    rc = sqlite3_exec(w->db, sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(w->db, "INSERT INTO chunks(id, row_id, col, text) VALUES(?,?,?,?)",
                                -1, &w->ins, NULL);
    if (rc != SQLITE_OK)
        return sql_err(err, w->db, rc, "cannot prepare chunks.db");
    /* The same tokenizer as chunks_fts, to count each chunk's tokens. */
    api = fts5_of(w->db);
    if (!api || api->xFindTokenizer(api, "unicode61", &tud, &w->tok) != SQLITE_OK ||
        w->tok.xCreate(tud, targs, 2, &w->tz) != SQLITE_OK) {
        w->tz = NULL;
        return vz_err_set(err, VZ_EINTERNAL, "SQLite has no usable FTS5 tokenizer");
    }
    return VZ_OK;
}

/* A file of fixed-size records after a header whose count field is written
 * at commit. */
static int array_open(struct vz_index_writer *w, const char *name, const unsigned char *h,
                      size_t hlen, FILE **out, struct vz_err *err)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/%s", w->tmp, name) >= (int)sizeof(path))
        return vz_err_set(err, VZ_EINVAL, "index path too long");
    *out = fopen(path, "wbe");
    if (!*out)
        return sys_err(err, "cannot create", path);
    /* Records arrive in batches of a few hundred; a large buffer turns them
     * into few big writes. */
    if (setvbuf(*out, NULL, _IOFBF, 1u << 20) != 0)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    if (fwrite(h, 1, hlen, *out) != hlen)
        return sys_err(err, "write", path);
    return VZ_OK;
}

/* Put the final count in the header and make the file durable. */
static int array_finish(FILE **fp, int64_t n, off_t count_at, const char *name, struct vz_err *err)
{
    unsigned char b[8];
    FILE *f = *fp;
    int rc = VZ_OK;
    *fp = NULL;
    put_le64(b, (uint64_t)n);
    if (fflush(f) != 0 || ferror(f))
        rc = sys_err(err, "write", name);
    else if (pwrite(fileno(f), b, sizeof(b), count_at) != (ssize_t)sizeof(b))
        rc = sys_err(err, "write", name);
    else if (fsync(fileno(f)) != 0)
        rc = sys_err(err, "fsync", name);
    if (fclose(f) != 0 && rc == 0)
        rc = sys_err(err, "close", name);
    return rc;
}

static void writer_free(struct vz_index_writer *w)
{
    if (w->tz)
        w->tok.xDelete(w->tz);
    sqlite3_finalize(w->ins);
    sqlite3_close(w->db);
    if (w->vf)
        fclose(w->vf);
    if (w->lf)
        fclose(w->lf);
    if (w->tmpfd >= 0)
        close(w->tmpfd);
    free(w);
}

int vz_index_writer_open(const char *dir, int dim, struct vz_index_writer **out, struct vz_err *err)
{
    struct vz_index_writer *w = NULL;
    char parent[PATH_MAX];
    unsigned char vh[VEC_HEADER] = {0}, lh[LEN_HEADER] = {0};
    const char *slash;
    size_t len = dir ? strlen(dir) : 0;
    int rc;

    *out = NULL;
    while (len > 1 && dir[len - 1] == '/')
        len--;
    if (len == 0 || len + 8 >= PATH_MAX)
        return vz_err_set(err, VZ_EINVAL, "bad index folder");
    if (dim < 0 || dim > VZ_INDEX_MAX_DIM)
        return vz_err_set(err, VZ_EINVAL, "vector dimension %d out of range", dim);
    w = calloc(1, sizeof(*w));
    if (!w)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    w->tmpfd = -1;
    w->dim = dim;
    memcpy(w->dir, dir, len);
    w->dir[len] = '\0';
    memcpy(w->tmp, w->dir, len);
    memcpy(w->tmp + len, ".tmp", 5); /* fits: len + 8 < PATH_MAX */

    slash = strrchr(w->dir, '/');
    if (slash && slash > w->dir) {
        memcpy(parent, w->dir, (size_t)(slash - w->dir));
        parent[slash - w->dir] = '\0';
        rc = vz_mkdir_p(parent, 0700, err);
        if (rc < 0)
            goto fail;
    }
    rc = claim_tmp(w, err);
    if (rc < 0)
        goto fail;
    memcpy(lh, LEN_MAGIC, 8);
    memcpy(vh, VEC_MAGIC, 8);
    put_le32(vh + 8, (uint32_t)dim);
    rc = writer_db_open(w, err);
    if (rc == 0)
        rc = array_open(w, DOCLEN, lh, sizeof(lh), &w->lf, err);
    if (rc == 0 && dim > 0)
        rc = array_open(w, VECTORS, vh, sizeof(vh), &w->vf, err);
    if (rc < 0) {
        /* We hold the lock, so the half-made folder is ours to drop. */
        (void)vz_rm_rf(w->tmp); /* best effort: the next writer clears it too */
        goto fail;
    }
    *out = w;
    return VZ_OK;
fail:
    writer_free(w);
    return rc;
}

int64_t vz_index_writer_count(const struct vz_index_writer *w)
{
    return w->n;
}

static int check_batch(const struct vz_index_writer *w, size_t n, const char *const *row_ids,
                       const char *const *texts, const float *vecs, struct vz_err *err)
{
    if (!row_ids || !texts || (w->dim > 0 && !vecs))
        return vz_err_set(err, VZ_EINVAL, "missing row ids, texts or vectors");
    for (size_t i = 0; i < n; i++) {
        if (!row_ids[i] || !texts[i])
            return vz_err_set(err, VZ_EINVAL, "chunk %zu has no row id or text", i);
        if (strlen(texts[i]) > INT_MAX)
            return vz_err_set(err, VZ_ETOOBIG, "chunk %zu is longer than 2 GB", i);
    }
    /* A NaN would poison every comparison in the scan for good. */
    for (size_t i = 0; w->dim > 0 && i < n * (size_t)w->dim; i++)
        if (!isfinite(vecs[i]))
            return vz_err_set(err, VZ_EINVAL, "vector of chunk %zu is not finite",
                              i / (size_t)w->dim);
    return VZ_OK;
}

static int count_token(void *ud, int flags, const char *tok, int ntok, int start, int end)
{
    (void)tok;
    (void)ntok;
    (void)start;
    (void)end;
    if (!(flags & FTS5_TOKEN_COLOCATED))
        (*(uint32_t *)ud)++;
    return SQLITE_OK;
}

/* The chunk's length in tokens, as FTS5 counts it for BM25. */
static int token_count(struct vz_index_writer *w, const char *text, unsigned char out[4])
{
    uint32_t n = 0;
    int rc =
        w->tok.xTokenize(w->tz, &n, FTS5_TOKENIZE_DOCUMENT, text, (int)strlen(text), count_token);
    put_le32(out, n);
    return rc;
}

int vz_index_writer_add(struct vz_index_writer *w, size_t n, const char *const *row_ids,
                        const char *const *cols, const char *const *texts, const float *vecs,
                        struct vz_err *err)
{
    int rc;
    if (w->broken)
        return vz_err_set(err, VZ_EIO, "index writer failed earlier; abort it");
    if (n == 0)
        return VZ_OK;
    if (n > (size_t)(INT64_MAX - w->n) ||
        (w->dim > 0 && n > SIZE_MAX / sizeof(float) / (size_t)w->dim))
        return vz_err_set(err, VZ_ETOOBIG, "too many chunks");
    rc = check_batch(w, n, row_ids, texts, vecs, err);
    if (rc < 0)
        return rc;

    /* From here a failure leaves part of the batch written, and without a
     * journal SQLite cannot roll it back: the writer is done for. */
    w->broken = 1;
    rc = sqlite3_exec(w->db, "BEGIN", NULL, NULL, NULL);
    for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
        const char *col = cols ? cols[i] : NULL;
        unsigned char len[4];
        sqlite3_bind_int64(w->ins, 1, w->n + (int64_t)i + 1);
        sqlite3_bind_text(w->ins, 2, row_ids[i], -1, SQLITE_STATIC);
        if (col)
            sqlite3_bind_text(w->ins, 3, col, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(w->ins, 3);
        sqlite3_bind_text(w->ins, 4, texts[i], -1, SQLITE_STATIC);
        rc = sqlite3_step(w->ins);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        sqlite3_reset(w->ins);
        if (rc == SQLITE_OK)
            rc = token_count(w, texts[i], len);
        if (rc == SQLITE_OK && fwrite(len, 1, sizeof(len), w->lf) != sizeof(len))
            return sys_err(err, "write", DOCLEN);
    }
    sqlite3_clear_bindings(w->ins);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return sql_err(err, w->db, rc, "cannot add chunks");
    if (w->dim > 0) {
        size_t nf = n * (size_t)w->dim;
        if (fwrite(vecs, sizeof(float), nf, w->vf) != nf)
            return sys_err(err, "write", VECTORS);
    }
    w->n += (int64_t)n;
    w->broken = 0;
    return VZ_OK;
}

static int finish_db(struct vz_index_writer *w, struct vz_err *err)
{
    char sql[512], path[PATH_MAX];
    int rc;
    /* One bulk build of the keyword index beats updating it per insert, and
     * optimize merges it into one segment for fast queries. BM25 gives a
     * token in half the chunks or more no weight (its IDF is clamped to
     * ~0): listing those lets searches skip scoring them. */
    snprintf(sql, sizeof(sql),
             "BEGIN; INSERT INTO chunks_fts(chunks_fts) VALUES('rebuild');"
             " INSERT INTO chunks_fts(chunks_fts) VALUES('optimize');"
             " CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, chunks_fts, row);"
             " INSERT INTO common_terms SELECT term FROM temp.vocab WHERE doc * 2 >= %lld;"
             " DROP TABLE temp.vocab;"
             " INSERT INTO meta VALUES('count', %lld); COMMIT;",
             (long long)w->n, (long long)w->n);
    rc = sqlite3_exec(w->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return sql_err(err, w->db, rc, "cannot build the keyword index");
    w->tok.xDelete(w->tz);
    w->tz = NULL;
    sqlite3_finalize(w->ins);
    w->ins = NULL;
    rc = sqlite3_close(w->db);
    w->db = NULL;
    if (rc != SQLITE_OK)
        return sql_err(err, NULL, rc, "cannot close chunks.db");
    /* synchronous=OFF never synced it; this is the one sync it needs. */
    if (join(path, sizeof(path), w->tmp, "/" CHUNKS_DB) < 0)
        return vz_err_set(err, VZ_EINVAL, "index path too long");
    return fsync_path(path, err);
}

/* Make <dir>.tmp the live version. */
static int swap_in(struct vz_index_writer *w, struct vz_err *err)
{
    int exchanged = 0, rc;
    /* rename(2) cannot replace a non-empty folder; exchanging the two names
     * is one atomic step, so every reader path sees one version or the
     * other. A first version has nothing to exchange with. */
    if (renameat2(AT_FDCWD, w->tmp, AT_FDCWD, w->dir, RENAME_EXCHANGE) == 0) {
        exchanged = 1;
    } else if (errno == ENOENT) {
        if (rename(w->tmp, w->dir) != 0)
            return sys_err(err, "cannot rename to", w->dir);
    } else if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
        /* Moving the old folder aside first would leave a moment with no
         * index at all, which a crash could make permanent. */
        return vz_err_set(err, VZ_EUNSUPPORTED,
                          "the file system of %s cannot swap folders atomically", w->dir);
    } else {
        return sys_err(err, "cannot swap in", w->dir);
    }
    rc = vz_fsync_parent(w->dir, err);
    if (rc < 0)
        return rc;
    /* The old version now sits at <dir>.tmp; readers that have it open keep
     * their files. If removing it fails the next writer clears it. */
    if (exchanged)
        (void)vz_rm_rf(w->tmp);
    return VZ_OK;
}

int vz_index_writer_commit(struct vz_index_writer *w, struct vz_err *err)
{
    int rc;
    if (w->broken) {
        rc = vz_err_set(err, VZ_EIO, "index writer failed earlier; nothing committed");
        goto fail;
    }
    rc = finish_db(w, err);
    if (rc == 0)
        rc = array_finish(&w->lf, w->n, LEN_OFF_N, DOCLEN, err);
    if (rc == 0 && w->dim > 0)
        rc = array_finish(&w->vf, w->n, VEC_OFF_N, VECTORS, err);
    if (rc == 0 && fsync(w->tmpfd) != 0)
        rc = sys_err(err, "fsync", w->tmp);
    if (rc == 0)
        rc = swap_in(w, err);
    if (rc < 0)
        goto fail;
    writer_free(w);
    return VZ_OK;
fail:
    vz_index_writer_abort(w);
    return rc;
}

void vz_index_writer_abort(struct vz_index_writer *w)
{
    if (!w)
        return;
    /* Still locked by us, so it is ours; open handles to unlinked files are
     * fine. If this fails the next writer clears it. */
    (void)vz_rm_rf(w->tmp);
    writer_free(w);
}

/* ---- reader -------------------------------------------------------------- */

struct vz_index {
    sqlite3 *db;
    sqlite3_stmt *kw, *kw_fill, *common, *get;
    /* One connection, used by one thread at a time. A connection per search
     * would reopen chunks.db by name and could land on a newer version than
     * the vectors mapped here; the lock is held for well under a millisecond
     * per call. */
    pthread_mutex_t mu;
    void *map;
    size_t map_len;
    const float *vec; /* n x dim, inside map */
    void *lmap;
    size_t lmap_len;
    const uint32_t *doclen; /* n token counts, inside lmap */
    size_t n;
    int dim;
};

/* ---- BM25 ---------------------------------------------------------------- */

/* Per-query constants of vz_bm25(), computed on its first row. */
struct bm25_query {
    int nphrase;
    double avgdl;
    double *idf, *freq; /* nphrase each, after the struct */
};

static int count_row(const Fts5ExtensionApi *api, Fts5Context *fts, void *ud)
{
    (void)api;
    (void)fts;
    (*(int64_t *)ud)++;
    return SQLITE_OK;
}

static int bm25_prepare(const Fts5ExtensionApi *api, Fts5Context *fts, struct bm25_query **out)
{
    struct bm25_query *q;
    sqlite3_int64 rows = 0, tokens = 0;
    int n = api->xPhraseCount(fts), rc;
    q = sqlite3_malloc64(sizeof(*q) + 2 * sizeof(double) * (size_t)n);
    if (!q)
        return SQLITE_NOMEM;
    q->nphrase = n;
    q->idf = (double *)(q + 1);
    q->freq = q->idf + n;
    rc = api->xRowCount(fts, &rows);
    if (rc == SQLITE_OK)
        rc = api->xColumnTotalSize(fts, -1, &tokens);
    q->avgdl = rows > 0 ? (double)tokens / (double)rows : 1.0;
    for (int i = 0; i < n && rc == SQLITE_OK; i++) {
        int64_t hits = 0;
        rc = api->xQueryPhrase(fts, i, &hits, count_row);
        /* Below 1e-6 as SQLite does: a term in half the rows or more would
         * get a zero or negative weight. */
        q->idf[i] = log(((double)rows - (double)hits + 0.5) / ((double)hits + 0.5));
        if (q->idf[i] <= 0.0)
            q->idf[i] = 1e-6;
    }
    if (rc == SQLITE_OK)
        rc = api->xSetAuxdata(fts, q, sqlite3_free); /* frees q itself on failure */
    else
        sqlite3_free(q);
    *out = rc == SQLITE_OK ? q : NULL;
    return rc;
}

/* vz_bm25(chunks_fts): SQLite's bm25() (k1 1.2, b 0.75, all columns weight
 * 1), except that the row's length comes from doclen.u32 instead of a
 * lookup in the FTS5 size table for every matching row (5x faster when a
 * query matches many rows). */
static void bm25_fn(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int nval,
                    sqlite3_value **val)
{
    const double k1 = 1.2, b = 0.75;
    const struct vz_index *ix = api->xUserData(fts);
    struct bm25_query *q = api->xGetAuxdata(fts, 0);
    sqlite3_int64 rowid = api->xRowid(fts);
    double score = 0, len;
    int rc = SQLITE_OK, ninst = 0;
    (void)nval;
    (void)val;
    if (!q)
        rc = bm25_prepare(api, fts, &q);
    if (rc == SQLITE_OK) {
        memset(q->freq, 0, sizeof(double) * (size_t)q->nphrase);
        rc = api->xInstCount(fts, &ninst);
    }
    for (int i = 0; i < ninst && rc == SQLITE_OK; i++) {
        int phrase, col, off;
        rc = api->xInst(fts, i, &phrase, &col, &off);
        if (rc == SQLITE_OK)
            q->freq[phrase] += 1.0;
    }
    if (rc == SQLITE_OK && rowid >= 1 && (uint64_t)rowid <= ix->n) {
        len = ix->doclen[rowid - 1];
    } else if (rc == SQLITE_OK) {
        int n = 0;
        rc = api->xColumnSize(fts, -1, &n);
        len = n;
    }
    if (rc != SQLITE_OK) {
        sqlite3_result_error_code(ctx, rc);
        return;
    }
    for (int i = 0; i < q->nphrase; i++)
        score += q->idf[i] *
                 ((q->freq[i] * (k1 + 1.0)) / (q->freq[i] + k1 * (1 - b + b * len / q->avgdl)));
    sqlite3_result_double(ctx, -score);
}

/* "file:" URI for a path, for ?immutable=1: '%', '?' and '#' are escaped,
 * and leading slashes collapse so "//x" is not read as an authority. */
static int db_uri(const char *dir, char *out, size_t cap)
{
    size_t o = 0;
    const char *p = dir;
    char path[PATH_MAX];
    if (join(path, sizeof(path), dir, "/" CHUNKS_DB) < 0)
        return -1;
    o = (size_t)snprintf(out, cap, "file:");
    for (p = path; *p == '/' && p[1] == '/'; p++)
        ;
    for (; *p; p++) {
        if (o + 4 >= cap)
            return -1;
        if (*p == '%' || *p == '?' || *p == '#')
            o += (size_t)snprintf(out + o, cap - o, "%%%02X", (unsigned)(unsigned char)*p);
        else
            out[o++] = *p;
    }
    return snprintf(out + o, cap - o, "?immutable=1") < (int)(cap - o) ? 0 : -1;
}

static int64_t meta_int(sqlite3 *db, const char *key, int *rc)
{
    sqlite3_stmt *q = NULL;
    int64_t v = -1;
    *rc = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?", -1, &q, NULL);
    if (*rc == SQLITE_OK) {
        sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
        *rc = sqlite3_step(q);
        if (*rc == SQLITE_ROW && sqlite3_column_type(q, 0) == SQLITE_INTEGER) {
            v = sqlite3_column_int64(q, 0);
            *rc = SQLITE_OK;
        } else if (*rc == SQLITE_ROW || *rc == SQLITE_DONE) {
            *rc = SQLITE_CORRUPT;
        }
    }
    sqlite3_finalize(q);
    return v;
}

static int reader_db_open(struct vz_index *ix, const char *dir, int64_t *dim, int64_t *count,
                          struct vz_err *err)
{
    char uri[3 * PATH_MAX];
    int rc;
    if (db_uri(dir, uri, sizeof(uri)) < 0)
        return vz_err_set(err, VZ_EINVAL, "index path too long");
    /* immutable: the file never changes after commit, so SQLite can skip
     * file locks and change checks on every query. */
    rc = sqlite3_open_v2(uri, &ix->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI,
                         NULL);
    if (rc == SQLITE_OK)
        *dim = meta_int(ix->db, "dim", &rc);
    if (rc == SQLITE_OK)
        *count = meta_int(ix->db, "count", &rc);
    if (rc == SQLITE_OK) {
        fts5_api *api = fts5_of(ix->db);
        if (!api || api->xCreateFunction(api, "vz_bm25", ix, bm25_fn, NULL) != SQLITE_OK)
            return vz_err_set(err, VZ_EINTERNAL, "SQLite has no usable FTS5");
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(ix->db,
                                "SELECT rowid, vz_bm25(chunks_fts) AS s FROM chunks_fts"
                                " WHERE chunks_fts MATCH ?1 ORDER BY s, rowid LIMIT ?2",
                                -1, SQLITE_PREPARE_PERSISTENT, &ix->kw, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(ix->db,
                                "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?1"
                                " ORDER BY rowid LIMIT ?2",
                                -1, SQLITE_PREPARE_PERSISTENT, &ix->kw_fill, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(ix->db, "SELECT 1 FROM common_terms WHERE term = ?", -1,
                                SQLITE_PREPARE_PERSISTENT, &ix->common, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(ix->db, "SELECT row_id, col, text FROM chunks WHERE id = ?", -1,
                                SQLITE_PREPARE_PERSISTENT, &ix->get, NULL);
    if (rc != SQLITE_OK)
        return vz_err_set(err, VZ_EIO, "damaged index %s: chunks.db: %s", dir,
                          ix->db ? sqlite3_errmsg(ix->db) : sqlite3_errstr(rc));
    if (*dim < 0 || *dim > VZ_INDEX_MAX_DIM || *count < 0)
        return vz_err_set(err, VZ_EIO, "damaged index %s: bad dim or count in chunks.db", dir);
    return VZ_OK;
}

/* Map vectors.f32 (opened from the version's folder) after checking that it
 * is whole and agrees with chunks.db. */
static int reader_vec_open(struct vz_index *ix, int dirfd, const char *dir, int64_t dim,
                           int64_t count, struct vz_err *err)
{
    unsigned char h[VEC_HEADER];
    struct stat sb;
    uint64_t hn, hdim, want;
    int fd = openat(dirfd, VECTORS, O_RDONLY | O_CLOEXEC), rc = VZ_OK;
    if (fd < 0) {
        if (errno == ENOENT && dim == 0)
            return VZ_OK;
        return vz_err_set(err, VZ_EIO, "damaged index %s: cannot open vectors.f32: %s", dir,
                          strerror(errno));
    }
    if (dim == 0) {
        rc = vz_err_set(err, VZ_EIO, "damaged index %s: vectors.f32 in a keyword-only index", dir);
        goto out;
    }
    if (fstat(fd, &sb) != 0 || pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
        rc = vz_err_set(err, VZ_EIO, "damaged index %s: vectors.f32 has no header", dir);
        goto out;
    }
    hdim = get_le(h + 8, 4);
    hn = get_le(h + VEC_OFF_N, 8);
    if (memcmp(h, VEC_MAGIC, 8) != 0 || hdim != (uint64_t)dim || hn != (uint64_t)count) {
        rc = vz_err_set(err, VZ_EIO,
                        "damaged index %s: vectors.f32 header does not match chunks.db", dir);
        goto out;
    }
    /* count is bounded by the file size below, so this cannot overflow for
     * any file that passes; check before multiplying anyway. */
    if (hn > (UINT64_MAX - VEC_HEADER) / sizeof(float) / hdim) {
        rc = vz_err_set(err, VZ_EIO, "damaged index %s: vectors.f32 count too large", dir);
        goto out;
    }
    want = VEC_HEADER + hn * hdim * sizeof(float);
    if ((uint64_t)sb.st_size != want || want > SIZE_MAX) {
        rc = vz_err_set(err, VZ_EIO, "damaged index %s: vectors.f32 is %lld bytes, expected %llu",
                        dir, (long long)sb.st_size, (unsigned long long)want);
        goto out;
    }
    ix->map = mmap(NULL, (size_t)want, PROT_READ, MAP_SHARED, fd, 0);
    if (ix->map == MAP_FAILED) {
        ix->map = NULL;
        rc = vz_err_set(err, vz_errno_code(errno), "cannot map %s/vectors.f32: %s", dir,
                        strerror(errno));
        goto out;
    }
    ix->map_len = (size_t)want;
    ix->vec = (const float *)ix->map + VEC_HEADER / sizeof(float);
out:
    close(fd);
    return rc;
}

/* Map doclen.u32 after checking it against chunks.db. */
static int reader_len_open(struct vz_index *ix, int dirfd, const char *dir, int64_t count,
                           struct vz_err *err)
{
    unsigned char h[LEN_HEADER];
    struct stat sb;
    int fd = openat(dirfd, DOCLEN, O_RDONLY | O_CLOEXEC), rc = VZ_OK;
    if (fd < 0)
        return vz_err_set(err, VZ_EIO, "damaged index %s: cannot open doclen.u32: %s", dir,
                          strerror(errno));
    if (fstat(fd, &sb) != 0 || pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
        memcmp(h, LEN_MAGIC, 8) != 0 || get_le(h + 8, 8) != (uint64_t)count ||
        (uint64_t)sb.st_size != LEN_HEADER + 4 * (uint64_t)count) {
        rc = vz_err_set(err, VZ_EIO, "damaged index %s: doclen.u32 does not match chunks.db", dir);
        goto out;
    }
    ix->lmap = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (ix->lmap == MAP_FAILED) {
        ix->lmap = NULL;
        rc = vz_err_set(err, vz_errno_code(errno), "cannot map %s/doclen.u32: %s", dir,
                        strerror(errno));
        goto out;
    }
    ix->lmap_len = (size_t)sb.st_size;
    ix->doclen = (const uint32_t *)ix->lmap + LEN_HEADER / sizeof(uint32_t);
out:
    close(fd);
    return rc;
}

static void reader_release(struct vz_index *ix)
{
    sqlite3_finalize(ix->kw);
    sqlite3_finalize(ix->kw_fill);
    sqlite3_finalize(ix->common);
    sqlite3_finalize(ix->get);
    sqlite3_close(ix->db);
    if (ix->map)
        munmap(ix->map, ix->map_len);
    if (ix->lmap)
        munmap(ix->lmap, ix->lmap_len);
    ix->db = NULL;
    ix->kw = ix->kw_fill = ix->common = ix->get = NULL;
    ix->map = ix->lmap = NULL;
    ix->vec = NULL;
    ix->doclen = NULL;
}

int vz_index_open(const char *dir, struct vz_index **out, struct vz_err *err)
{
    struct vz_index *ix;
    int rc = VZ_OK;

    *out = NULL;
    if (!dir || !*dir)
        return vz_err_set(err, VZ_EINVAL, "bad index folder");
    ix = calloc(1, sizeof(*ix));
    if (!ix)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    for (int tries = 0;; tries++) {
        struct stat a, b;
        int64_t dim = 0, count = 0;
        int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0) {
            rc = errno == ENOENT ? vz_err_set(err, VZ_ENOTFOUND, "no index at %s", dir)
                                 : sys_err(err, "cannot open", dir);
            break;
        }
        if (fstat(dirfd, &a) != 0) {
            rc = sys_err(err, "cannot stat", dir);
            close(dirfd);
            break;
        }
        rc = reader_db_open(ix, dir, &dim, &count, err);
        if (rc == 0)
            rc = reader_vec_open(ix, dirfd, dir, dim, count, err);
        if (rc == 0)
            rc = reader_len_open(ix, dirfd, dir, count, err);
        close(dirfd);
        /* chunks.db went by name, vectors.f32 through the folder we opened
         * first: if a commit swapped versions in between, they may not
         * belong together. Then the name points elsewhere; go again. */
        if (stat(dir, &b) == 0 && (a.st_ino != b.st_ino || a.st_dev != b.st_dev) &&
            tries + 1 < OPEN_TRIES) {
            reader_release(ix);
            continue;
        }
        if (rc == 0) {
            ix->dim = (int)dim;
            ix->n = (size_t)count;
        }
        break;
    }
    if (rc == 0 && pthread_mutex_init(&ix->mu, NULL) != 0)
        rc = vz_err_set(err, VZ_ENOMEM, "cannot create a mutex");
    if (rc < 0) {
        reader_release(ix);
        free(ix);
        return rc;
    }
    *out = ix;
    return VZ_OK;
}

void vz_index_close(struct vz_index *ix)
{
    if (!ix)
        return;
    reader_release(ix);
    pthread_mutex_destroy(&ix->mu);
    free(ix);
}

size_t vz_index_count(const struct vz_index *ix)
{
    return ix->n;
}

int vz_index_dim(const struct vz_index *ix)
{
    return ix->dim;
}

/* ---- vector search ------------------------------------------------------- */

/* The dot product works on eight floats at a time in four independent
 * accumulators. Written with GCC/Clang vector types because a plain loop is
 * not vectorised: without -ffast-math the compiler may not reorder a float
 * sum, and an array of partial sums stays in memory at -O2 (measured: 36 ms
 * against 27 ms per 200k x 384 scan, where only touching the memory takes
 * 22 ms). On x86-64 an AVX2 copy does each group of eight in one
 * instruction, chosen per call by a CPU check: not an ifunc (target_clones),
 * whose resolver runs before the sanitizers' runtime and crashes TSan. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define VZ_SCAN_AVX2 1
#endif

typedef float vz_f8 __attribute__((vector_size(32)));

/* *acc += a[0..8) * b[0..8); memcpy is how to load unaligned vectors. */
static inline void madd8(vz_f8 *acc, const float *a, const float *b)
{
    vz_f8 x, y;
    memcpy(&x, a, sizeof(x));
    memcpy(&y, b, sizeof(y));
    *acc += x * y;
}

/* Is hit x worse than hit y? Lower score, or same score and later chunk. */
static int worse(const struct vz_hit *x, const struct vz_hit *y)
{
    return x->score < y->score || (x->score == y->score && x->chunk_id > y->chunk_id);
}

static void swap_hits(struct vz_hit *h, size_t i, size_t j)
{
    struct vz_hit t = h[i];
    h[i] = h[j];
    h[j] = t;
}

static void sift_down(struct vz_hit *h, size_t m, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < m && worse(&h[l], &h[w]))
            w = l;
        if (r < m && worse(&h[r], &h[w]))
            w = r;
        if (w == i)
            return;
        swap_hits(h, i, w);
        i = w;
    }
}

static void sift_up(struct vz_hit *h, size_t i)
{
    while (i > 0 && worse(&h[i], &h[(i - 1) / 2])) {
        swap_hits(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

/* The best k of rows [0, n) by dot product with q, into hits[0..*m) as a
 * min-heap (hits[0] is the worst kept). Rows arrive in chunk order, so an
 * equal score never displaces an earlier chunk: `s <= floor` skips it. */
static inline __attribute__((always_inline)) void scan(const float *restrict base, size_t n,
                                                       size_t dim, const float *restrict q,
                                                       size_t k, struct vz_hit *hits, size_t *m)
{
    float floor_s = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        const float *restrict v = base + i * dim;
        vz_f8 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0}, t;
        size_t j = 0;
        float s;
        for (; j + 32 <= dim; j += 32) {
            madd8(&s0, v + j, q + j);
            madd8(&s1, v + j + 8, q + j + 8);
            madd8(&s2, v + j + 16, q + j + 16);
            madd8(&s3, v + j + 24, q + j + 24);
        }
        for (; j + 8 <= dim; j += 8)
            madd8(&s0, v + j, q + j);
        t = (s0 + s1) + (s2 + s3);
        s = ((t[0] + t[4]) + (t[1] + t[5])) + ((t[2] + t[6]) + (t[3] + t[7]));
        for (; j < dim; j++)
            s += v[j] * q[j];
        if (*m == k && s <= floor_s)
            continue;
        if (*m < k) {
            hits[*m].chunk_id = (int64_t)i + 1;
            hits[*m].score = s;
            sift_up(hits, (*m)++);
        } else {
            hits[0].chunk_id = (int64_t)i + 1;
            hits[0].score = s;
            sift_down(hits, k, 0);
        }
        if (*m == k)
            floor_s = (float)hits[0].score;
    }
}

static void scan_generic(const float *base, size_t n, size_t dim, const float *q, size_t k,
                         struct vz_hit *hits, size_t *m)
{
    scan(base, n, dim, q, k, hits, m);
}

#ifdef VZ_SCAN_AVX2
__attribute__((target("avx2"))) static void scan_avx2(const float *base, size_t n, size_t dim,
                                                      const float *q, size_t k, struct vz_hit *hits,
                                                      size_t *m)
{
    scan(base, n, dim, q, k, hits, m);
}
#endif

typedef void scan_fn(const float *base, size_t n, size_t dim, const float *q, size_t k,
                     struct vz_hit *hits, size_t *m);

static scan_fn *pick_scan(void)
{
#ifdef VZ_SCAN_AVX2
    if (__builtin_cpu_supports("avx2"))
        return scan_avx2;
#endif
    return scan_generic;
}

static int cmp_hit(const void *x, const void *y)
{
    const struct vz_hit *a = x, *b = y;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return a->chunk_id < b->chunk_id ? -1 : a->chunk_id > b->chunk_id;
}

int vz_index_vector_search(struct vz_index *ix, const float *q, size_t k, struct vz_hit *out,
                           size_t *n_out, struct vz_err *err)
{
    size_t m = 0;
    *n_out = 0;
    if (ix->dim == 0)
        return vz_err_set(err, VZ_EUNSUPPORTED, "this dataset has no vectors (keyword only)");
    if (!q)
        return vz_err_set(err, VZ_EINVAL, "no query vector");
    if (k > ix->n)
        k = ix->n;
    if (k == 0)
        return VZ_OK;
    /* TODO(hnsw): use the graph above the size threshold. */
    pick_scan()(ix->vec, ix->n, (size_t)ix->dim, q, k, out, &m);
    qsort(out, m, sizeof(*out), cmp_hit);
    *n_out = m;
    return VZ_OK;
}

/* ---- keyword search and chunks ------------------------------------------- */

/* Run a MATCH statement (?1 expression, ?2 limit) and append its rows to
 * out[*m..k); scored statements return -bm25 in column 1. */
static int run_match(struct vz_index *ix, sqlite3_stmt *st, const struct vz_buf *expr, size_t k,
                     int scored, struct vz_hit *out, size_t *m, struct vz_err *err)
{
    int rc = SQLITE_DONE;
    sqlite3_bind_text(st, 1, expr->p, (int)expr->len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)(k - *m));
    while (*m < k && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        out[*m].chunk_id = sqlite3_column_int64(st, 0);
        out[*m].score = scored ? -sqlite3_column_double(st, 1) : 0.0;
        (*m)++;
    }
    rc = *m == k || rc == SQLITE_DONE ? VZ_OK : sql_err(err, ix->db, rc, "keyword search failed");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

/* Is a term (folded as the tokenizer folds it) in common_terms? A term the
 * tokenizer would fold differently is simply not found, and then scored
 * like any other: slower, never wrong. */
static int is_common(struct vz_index *ix, const char *folded)
{
    int rc;
    sqlite3_bind_text(ix->common, 1, folded, -1, SQLITE_STATIC);
    rc = sqlite3_step(ix->common);
    sqlite3_reset(ix->common);
    return rc == SQLITE_ROW;
}

int vz_index_keyword_search(struct vz_index *ix, const char *query, size_t k, struct vz_hit *out,
                            size_t *n_out, struct vz_err *err)
{
    struct vz_query_term t[VZ_INDEX_MAX_TERMS];
    unsigned char rare[VZ_INDEX_MAX_TERMS], common[VZ_INDEX_MAX_TERMS];
    struct vz_buf scored = VZ_BUF_INIT(MAX_FTS_QUERY), rest = VZ_BUF_INIT(MAX_FTS_QUERY);
    size_t n, m = 0;
    int rc = VZ_OK, nrare, ncommon;

    *n_out = 0;
    if (!query)
        return vz_err_set(err, VZ_EINVAL, "no query");
    n = vz_query_terms(query, t);
    if (n == 0 || k == 0)
        return VZ_OK;
    if (k > (size_t)INT64_MAX)
        k = (size_t)INT64_MAX;
    pthread_mutex_lock(&ix->mu);
    for (size_t i = 0; i < n; i++) {
        common[i] = (unsigned char)is_common(ix, t[i].folded);
        rare[i] = !common[i];
    }
    /* Rank by the terms that carry weight. If fewer than k chunks hold any
     * of them, all of those came back, and chunks holding only common terms
     * follow: "common NOT rare" cannot repeat one. */
    nrare = vz_fts_expr(t, n, rare, &scored);
    if (nrare > 0)
        rc = run_match(ix, ix->kw, &scored, k, 1, out, &m, err);
    ncommon = rc == 0 && m < k ? vz_fts_expr(t, n, common, &rest) : 0;
    if (ncommon > 0 && nrare > 0) {
        struct vz_buf e = VZ_BUF_INIT(MAX_FTS_QUERY);
        int r = vz_buf_addf(&e, "(%s) NOT (%s)", rest.p, scored.p);
        vz_buf_release(&rest);
        rest = e;
        if (r < 0)
            ncommon = r;
    }
    if (ncommon > 0)
        rc = run_match(ix, ix->kw_fill, &rest, k, 0, out, &m, err);
    pthread_mutex_unlock(&ix->mu);
    if (rc == 0 && (nrare < 0 || ncommon < 0))
        rc = vz_err_set(err, nrare < 0 ? nrare : ncommon, "keyword query too long");
    vz_buf_release(&scored);
    vz_buf_release(&rest);
    if (rc == 0)
        *n_out = m;
    return rc;
}

static int dup_col(sqlite3_stmt *q, int i, char **out)
{
    const unsigned char *s = sqlite3_column_text(q, i);
    if (!out)
        return 0;
    *out = NULL;
    if (!s)
        return sqlite3_column_type(q, i) == SQLITE_NULL ? 0 : -1;
    *out = strdup((const char *)s);
    return *out ? 0 : -1;
}

int vz_index_chunk(struct vz_index *ix, int64_t chunk_id, char **row_id, char **col, char **text,
                   struct vz_err *err)
{
    char *r = NULL, *c = NULL, *t = NULL;
    int rc;
    if (row_id)
        *row_id = NULL;
    if (col)
        *col = NULL;
    if (text)
        *text = NULL;
    if (chunk_id < 1 || (uint64_t)chunk_id > ix->n)
        return vz_err_set(err, VZ_ENOTFOUND, "no chunk %lld", (long long)chunk_id);
    pthread_mutex_lock(&ix->mu);
    sqlite3_bind_int64(ix->get, 1, chunk_id);
    rc = sqlite3_step(ix->get);
    if (rc == SQLITE_ROW) {
        rc = dup_col(ix->get, 0, row_id ? &r : NULL) || dup_col(ix->get, 1, col ? &c : NULL) ||
                     dup_col(ix->get, 2, text ? &t : NULL)
                 ? vz_err_set(err, VZ_ENOMEM, NULL)
                 : VZ_OK;
    } else if (rc == SQLITE_DONE) {
        rc = vz_err_set(err, VZ_EIO, "damaged index: chunk %lld is missing", (long long)chunk_id);
    } else {
        rc = sql_err(err, ix->db, rc, "cannot read chunk");
    }
    sqlite3_reset(ix->get);
    pthread_mutex_unlock(&ix->mu);
    if (rc < 0) {
        free(r);
        free(c);
        free(t);
        return rc;
    }
    if (row_id)
        *row_id = r;
    if (col)
        *col = c;
    if (text)
        *text = t;
    return VZ_OK;
}

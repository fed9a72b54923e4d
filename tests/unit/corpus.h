/* The sqlguard corpus files (the .sql files in tests/sqlguard/; the record format is
 * described at the top of each file), shared by the tests that read them.
 * Header-only, like testutil.h. */
#ifndef VZ_TEST_CORPUS_H
#define VZ_TEST_CORPUS_H

#include "testutil.h"

struct rec {
    char *sql;
    size_t len;
    char expect[200];
    int line; /* first line of the record in its file, for failure messages */
};

struct corpus {
    struct rec *v;
    size_t n;
    char path[PATH_MAX];
};

static inline void corpus_dir(char *out, size_t n)
{
    const char *env = getenv("VZ_SQLGUARD_CORPUS");
    char root[PATH_MAX];
    if (env && *env) {
        vzt_pathf(out, n, "%s", env);
        return;
    }
    vzt_repo_root(root, sizeof(root));
    vzt_pathf(out, n, "%s/tests/sqlguard", root);
}

static inline void corpus_add(struct corpus *c, const char *sql, size_t len, const char *expect,
                              int line)
{
    struct rec *r;
    while (len && sql[len - 1] == '\n') /* the newline before the separator */
        len--;
    if (len == 0)
        return;
    c->v = realloc(c->v, (c->n + 1) * sizeof(*c->v));
    assert_non_null(c->v);
    r = &c->v[c->n++];
    r->sql = malloc(len + 1);
    assert_non_null(r->sql);
    memcpy(r->sql, sql, len);
    r->sql[len] = '\0';
    r->len = len;
    snprintf(r->expect, sizeof(r->expect), "%s", expect);
    r->line = line;
}

/* Split a corpus file into records (see the header of any corpus file). */
static inline void corpus_load(struct corpus *c, const char *name)
{
    static const char sep[] = "-- @@", tag[] = "-- expect: ";
    char dir[PATH_MAX];
    size_t len = 0, pos = 0;
    char *text, *sql;
    size_t sql_len = 0;
    char expect[200] = "";
    int lineno = 0, rec_line = 0, in_header = 1;

    memset(c, 0, sizeof(*c));
    corpus_dir(dir, sizeof(dir));
    vzt_pathf(c->path, sizeof(c->path), "%s/%s", dir, name);
    text = vzt_slurp(c->path, &len);
    if (!text)
        fail_msg("cannot read %s", c->path);
    sql = malloc(len + 1);
    assert_non_null(sql);
    while (pos < len) {
        const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        pos += ll + (nl ? 1 : 0);
        lineno++;
        if (ll == sizeof(sep) - 1 && memcmp(line, sep, ll) == 0) {
            if (!in_header)
                corpus_add(c, sql, sql_len, expect, rec_line);
            in_header = 0;
            sql_len = 0;
            expect[0] = '\0';
            rec_line = lineno + 1;
            continue;
        }
        if (in_header)
            continue;
        if (ll >= sizeof(tag) - 1 && memcmp(line, tag, sizeof(tag) - 1) == 0) {
            snprintf(expect, sizeof(expect), "%.*s", (int)(ll - (sizeof(tag) - 1)),
                     line + sizeof(tag) - 1);
            continue;
        }
        memcpy(sql + sql_len, line, ll);
        sql_len += ll;
        sql[sql_len++] = '\n';
    }
    if (!in_header)
        corpus_add(c, sql, sql_len, expect, rec_line);
    free(sql);
    free(text);
}

static inline void corpus_free(struct corpus *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i].sql);
    free(c->v);
    memset(c, 0, sizeof(*c));
}

#endif

/* sqlguard: decide from the text whether custom SQL is one read-only SELECT.
 *
 * The guard fails closed: anything it cannot understand is rejected. It is
 * not the only defence (the query also runs in a read-only transaction as a
 * SELECT-only role), so it may be stricter than the servers need; it must
 * never be laxer than what it claims.
 *
 * PostgreSQL: libpg_query gives us the server's own grammar. We ask it for
 * the token stream (to find stray ';' and the end of the last real token for
 * wrapping) and for the parse tree as JSON, which jansson reads; then we walk
 * every object in the tree, because "WITH d AS (DELETE ...) SELECT" and
 * "SELECT (SELECT pg_sleep(1))" both look like reads at the top.
 *
 * MySQL/MariaDB: no embeddable parser, so a lexer that follows the server's
 * rules for quotes and comments turns the text into tokens, and rules run on
 * the tokens. Where the server's tokenization depends on sql_mode, the
 * ambiguous spelling is rejected instead of guessed. */
#include "sqlguard/sqlguard.h"

#include <jansson.h>
#include <pg_query.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"

/* ------------------------------------------------------------------------ */
/* Shared helpers                                                           */
/* ------------------------------------------------------------------------ */

/* Locale-independent ASCII helpers: the guard must not change its verdict
 * with the process locale (Turkish dotless i and friends). */
static int ascii_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static int ascii_upper(int c)
{
    return (c >= 'a' && c <= 'z') ? c - ('a' - 'A') : c;
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
 * Returns the offset of the first bad byte, or len when all is well. */
static size_t utf8_first_bad(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t need;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return i;
        }
        if (len - i <= need)
            return i;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += need + 1;
    }
    return len;
}

/* Checks that do not depend on the dialect. */
static int check_input(const char *sql, size_t len, struct vz_err *err)
{
    size_t bad;
    const char *nul;
    if (!sql && len)
        return vz_err_set(err, VZ_EINVAL, "query text is missing");
    if (len > VZ_MAX_SQL)
        return vz_err_set(err, VZ_ETOOBIG, "query is too long (%zu bytes, at most %u)", len,
                          (unsigned)VZ_MAX_SQL);
    if (len == 0)
        return vz_err_set(err, VZ_EINVAL, "query is empty");
    nul = memchr(sql, '\0', len);
    if (nul)
        return vz_err_set(err, VZ_EINVAL, "query contains a NUL byte (at byte %zu)",
                          (size_t)(nul - sql));
    bad = utf8_first_bad((const unsigned char *)sql, len);
    if (bad < len)
        return vz_err_set(err, VZ_EINVAL, "query is not valid UTF-8 (at byte %zu)", bad);
    for (size_t i = 0; i < len; i++)
        if (!is_space((unsigned char)sql[i]))
            return VZ_OK;
    return vz_err_set(err, VZ_EINVAL, "query is empty");
}

/* A denied function: glob pattern (or exact name) on the lower-cased name, and the
 * reason shown to the person who wrote the query. */
struct fn_rule {
    const char *pattern;
    const char *why;
};

/* Shell-style match with '*' as the only wildcard: our own, so the verdict
 * cannot depend on the locale the way fnmatch() can. */
static int glob_match(const char *pat, const char *s)
{
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*pat == '*') {
            star = pat++;
            resume = s;
        } else if (*pat == *s) {
            pat++;
            s++;
        } else if (star) {
            pat = star + 1;
            s = ++resume;
        } else {
            return 0;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

static const struct fn_rule *fn_rule_find(const struct fn_rule *rules, size_t n, const char *name,
                                          size_t name_len)
{
    char low[128];
    if (name_len >= sizeof(low))
        return NULL; /* longer than every pattern (PostgreSQL truncates to 63) */
    for (size_t i = 0; i < name_len; i++)
        low[i] = (char)ascii_lower((unsigned char)name[i]);
    low[name_len] = '\0';
    for (size_t i = 0; i < n; i++)
        if (glob_match(rules[i].pattern, low))
            return &rules[i];
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* PostgreSQL                                                               */
/* ------------------------------------------------------------------------ */

/* Functions a read-only extract must not call, matched against the last part
 * of the (schema-qualified or not) name as the parser resolved it, after
 * lower-casing: a quoted "PG_SLEEP" names a different function that normally
 * does not exist, but rejecting it costs nothing. The read-only transaction
 * stops most writes; these are here because they act outside it (sleep,
 * locks, signals, files, other connections) or because the transaction would
 * let them through (sequences, notifications, settings). */
static const struct fn_rule pg_denied_functions[] = {
    /* Time: hold the connection and a snapshot for as long as asked. */
    {"pg_sleep*", "it stalls the connection"},
    /* Server files and directories, large objects (client and server side). */
    {"pg_read_*", "it reads server files"},
    {"pg_ls_*", "it lists server directories"},
    {"pg_stat_file", "it inspects server files"},
    {"pg_file_*", "it writes server files"}, /* adminpack */
    {"pg_logdir_ls", "it lists server directories"},
    {"lo_*", "it reads or writes large objects and server files"},
    {"lowrite", "it writes large objects"},
    {"loread", "it reads large objects"},
    /* Other connections, and SQL passed as text (the text is not checked). */
    {"dblink*", "it runs SQL on another connection"},
    {"query_to_xml*", "it runs SQL given as text"},
    {"cursor_to_xml*", "it reads from a cursor"},
    {"table_to_xml*", "it dumps a whole table"},
    {"schema_to_xml*", "it dumps a whole schema"},
    {"database_to_xml*", "it dumps the whole database"},
    {"ts_stat", "it runs SQL given as text"},
    {"ts_rewrite", "it can run SQL given as text"},
    /* Other sessions and the server itself. */
    {"pg_terminate_backend", "it ends other sessions"},
    {"pg_cancel_backend", "it cancels other sessions' queries"},
    {"pg_reload_conf", "it reloads the server configuration"},
    {"pg_rotate_logfile*", "it rotates the server log"},
    {"pg_log_backend_memory_contexts", "it writes to the server log"},
    {"pg_promote", "it promotes a standby"},
    {"pg_switch_*", "it forces a WAL switch"},
    {"pg_create_restore_point", "it writes WAL"},
    {"pg_start_backup", "it starts a backup"},
    {"pg_stop_backup", "it stops a backup"},
    {"pg_backup_*", "it starts or stops a backup"},
    {"pg_wal_replay_*", "it pauses or resumes recovery"},
    {"pg_import_system_collations", "it creates collations"},
    {"binary_upgrade_*", "it is for pg_upgrade only"},
    /* Settings: set_config() turns default_transaction_read_only off for the
     * rest of the session (seen working on PostgreSQL 15). */
    {"set_config", "it changes server settings"},
    /* Sequences: a rollback does not undo what these change. */
    {"nextval", "it advances a sequence"},
    {"setval", "it changes a sequence"},
    /* Locks that outlive the statement, and transaction ids. */
    {"pg_advisory_*", "it takes or releases advisory locks"},
    {"pg_try_advisory_*", "it takes advisory locks"},
    {"txid_current", "it assigns a transaction id"},
    {"pg_current_xact_id", "it assigns a transaction id"},
    {"pg_export_snapshot", "it exports a snapshot"},
    /* Messages to other sessions and to logical decoding. */
    {"pg_notify", "it sends notifications"},
    {"pg_logical_*", "it emits or consumes logical decoding messages"},
    /* Replication slots and origins (slot copies are the copy-like helpers). */
    {"pg_create_*_replication_slot", "it creates a replication slot"},
    {"pg_copy_*_replication_slot", "it creates a replication slot"},
    {"pg_drop_replication_slot", "it drops a replication slot"},
    {"pg_replication_slot_advance", "it moves a replication slot"},
    {"pg_replication_origin_*", "it changes replication origins"},
    /* Statistics resets (core and pg_stat_statements). */
    {"pg_stat_reset*", "it resets statistics"},
    {"pg_stat_statements_reset", "it resets statistics"},
    /* Index maintenance that is allowed inside a read-only transaction. */
    {"brin_summarize_*", "it writes to an index"},
    {"brin_desummarize_range", "it writes to an index"},
    {"gin_clean_pending_list", "it writes to an index"},
    {"pg_truncate_visibility_map", "it changes the visibility map"},
};

/* Tokens of pg_query_scan() we look at (values from pg_query.proto). */
enum {
    PGT_OPEN_PAREN = 40,
    PGT_CLOSE_PAREN = 41,
    PGT_COMMA = 44,
    PGT_SEMICOLON = 59,
    PGT_OPEN_BRACKET = 91,
    PGT_CLOSE_BRACKET = 93,
    PGT_SQL_COMMENT = 275,
    PGT_C_COMMENT = 276,
};

struct pg_tok {
    int start, end, token;
};

struct pg_toks {
    struct pg_tok *v;
    size_t n, cap;
};

static int pg_is_comment(const struct pg_tok *t)
{
    return t->token == PGT_SQL_COMMENT || t->token == PGT_C_COMMENT;
}

/* Protobuf decoding of the scanner output. We need four integers per token,
 * so a small reader beats depending on protobuf-c headers Debian does not
 * ship with libpg-query-dev. Any surprise in the encoding fails closed. */
static int pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static int pb_skip(const uint8_t **p, const uint8_t *end, unsigned wire)
{
    uint64_t n;
    switch (wire) {
    case 0:
        return pb_varint(p, end, &n);
    case 1:
        n = 8;
        break;
    case 2:
        if (pb_varint(p, end, &n) < 0)
            return -1;
        break;
    case 5:
        n = 4;
        break;
    default:
        return -1;
    }
    if (n > (uint64_t)(end - *p))
        return -1;
    *p += n;
    return 0;
}

static int pg_decode_token(const uint8_t *p, const uint8_t *end, struct pg_tok *t)
{
    t->start = t->end = t->token = 0;
    while (p < end) {
        uint64_t key, v;
        if (pb_varint(&p, end, &key) < 0)
            return -1;
        if ((key & 7) != 0) {
            if (pb_skip(&p, end, (unsigned)(key & 7)) < 0)
                return -1;
            continue;
        }
        if (pb_varint(&p, end, &v) < 0 || v > INT32_MAX)
            return -1;
        if ((key >> 3) == 1)
            t->start = (int)v;
        else if ((key >> 3) == 2)
            t->end = (int)v;
        else if ((key >> 3) == 4)
            t->token = (int)v;
    }
    return 0;
}

static int pg_decode_tokens(const uint8_t *p, size_t len, size_t text_len, struct pg_toks *out)
{
    const uint8_t *end = p + len;
    while (p < end) {
        uint64_t key, n;
        struct pg_tok t;
        if (pb_varint(&p, end, &key) < 0)
            return VZ_EINTERNAL;
        if (key != ((2u << 3) | 2u)) { /* not "repeated ScanToken tokens = 2" */
            if (pb_skip(&p, end, (unsigned)(key & 7)) < 0)
                return VZ_EINTERNAL;
            continue;
        }
        if (pb_varint(&p, end, &n) < 0 || n > (uint64_t)(end - p))
            return VZ_EINTERNAL;
        if (pg_decode_token(p, p + n, &t) < 0 || t.start < 0 || t.end < t.start ||
            (size_t)t.end > text_len)
            return VZ_EINTERNAL;
        p += n;
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 64;
            struct pg_tok *v = realloc(out->v, cap * sizeof(*v));
            if (!v)
                return VZ_ENOMEM;
            out->v = v;
            out->cap = cap;
        }
        out->v[out->n++] = t;
    }
    return VZ_OK;
}

/* libpg_query prints the parse tree recursively, one C frame chain per tree
 * level, and crashes on a deep enough tree ("SELECT 1+1+...+1" with 60,000
 * terms overflows 8 MiB). We cannot fix the printer, so we bound the depth
 * before parsing. The estimate: within one bracket level, tokens between two
 * commas may all chain into one another (a+b+c nests, list items do not); a
 * bracketed group adds its own estimate to the item that holds it. It
 * over-counts flat constructs (CASE WHEN lists, AND chains) on purpose.
 * Trees that do pass this are still cut at jansson's depth limit. */
#define PG_NESTING_MAX 4000

struct nest_frame {
    size_t seg, inner, best;
};

static size_t pg_nesting_estimate(const struct pg_toks *t)
{
    struct nest_frame *st = calloc(PG_NESTING_MAX + 2, sizeof(*st));
    size_t top = 0, result;
    if (!st)
        return SIZE_MAX;
    for (size_t i = 0; i < t->n; i++) {
        int tok = t->v[i].token;
        struct nest_frame *f = &st[top];
        if (pg_is_comment(&t->v[i]) || tok == PGT_SEMICOLON)
            continue;
        if (tok == PGT_COMMA) {
            if (f->seg + f->inner > f->best)
                f->best = f->seg + f->inner;
            f->seg = f->inner = 0;
        } else if (tok == PGT_OPEN_PAREN || tok == PGT_OPEN_BRACKET) {
            f->seg++;
            if (++top > PG_NESTING_MAX) {
                free(st);
                return SIZE_MAX;
            }
            memset(&st[top], 0, sizeof(st[top]));
        } else if ((tok == PGT_CLOSE_PAREN || tok == PGT_CLOSE_BRACKET) && top > 0) {
            size_t child = (f->seg + f->inner > f->best ? f->seg + f->inner : f->best) + 1;
            top--;
            if (child > st[top].inner)
                st[top].inner = child;
        } else {
            f->seg++;
        }
        if (f->seg + f->inner > PG_NESTING_MAX) {
            free(st);
            return SIZE_MAX;
        }
    }
    /* Unclosed groups: fold them into their parents as if closed. */
    while (top > 0) {
        struct nest_frame *f = &st[top];
        size_t child = (f->seg + f->inner > f->best ? f->seg + f->inner : f->best) + 1;
        top--;
        if (child > st[top].inner)
            st[top].inner = child;
    }
    result = st[0].seg + st[0].inner > st[0].best ? st[0].seg + st[0].inner : st[0].best;
    free(st);
    return result;
}

static int pg_syntax_error(const PgQueryError *e, struct vz_err *err)
{
    const char *msg = e->message && *e->message ? e->message : "syntax error";
    if (e->cursorpos > 0)
        return vz_err_set(err, VZ_ENOT_READONLY, "%s (position %d)", msg, e->cursorpos);
    return vz_err_set(err, VZ_ENOT_READONLY, "%s", msg);
}

/* "AlterTableStmt" -> "ALTER TABLE"; a few node names say it differently. */
static void pg_stmt_words(const char *node, json_t *fields, char *out, size_t n)
{
    static const struct {
        const char *node, *words;
    } names[] = {
        {"VariableSetStmt", "SET"},       {"VariableShowStmt", "SHOW"},
        {"CreateStmt", "CREATE TABLE"},   {"IndexStmt", "CREATE INDEX"},
        {"ViewStmt", "CREATE VIEW"},      {"RuleStmt", "CREATE RULE"},
        {"CheckPointStmt", "CHECKPOINT"}, {"ClosePortalStmt", "CLOSE"},
        {"DeallocateStmt", "DEALLOCATE"}, {"DiscardStmt", "DISCARD"},
    };
    size_t o = 0, k, nlen = strlen(node);
    const char *kind;
    if (n == 0)
        return;
    for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        if (strcmp(node, names[k].node) == 0) {
            snprintf(out, n, "%s", names[k].words);
            return;
        }
    }
    if (strcmp(node, "TransactionStmt") == 0) {
        /* "TRANS_STMT_ROLLBACK_TO" -> "ROLLBACK TO" */
        kind = json_string_value(json_object_get(fields, "kind"));
        if (kind && strncmp(kind, "TRANS_STMT_", 11) == 0) {
            kind += 11;
            if (strcmp(kind, "START") == 0)
                kind = "START_TRANSACTION";
            else if (strcmp(kind, "PREPARE") == 0)
                kind = "PREPARE_TRANSACTION";
            for (; *kind && o + 1 < n; kind++)
                out[o++] = *kind == '_' ? ' ' : *kind;
            out[o] = '\0';
            return;
        }
        snprintf(out, n, "a transaction command");
        return;
    }
    if (strcmp(node, "GrantStmt") == 0) {
        snprintf(out, n, "%s",
                 json_is_true(json_object_get(fields, "is_grant")) ? "GRANT" : "REVOKE");
        return;
    }
    if (strcmp(node, "VacuumStmt") == 0) {
        snprintf(out, n, "%s",
                 json_is_true(json_object_get(fields, "is_vacuumcmd")) ? "VACUUM" : "ANALYZE");
        return;
    }
    if (strcmp(node, "CreateTableAsStmt") == 0) {
        kind = json_string_value(json_object_get(fields, "objtype"));
        snprintf(out, n, "%s",
                 kind && strcmp(kind, "OBJECT_MATVIEW") == 0 ? "CREATE MATERIALIZED VIEW"
                                                             : "CREATE TABLE AS");
        return;
    }
    if (nlen > 4 && strcmp(node + nlen - 4, "Stmt") == 0)
        nlen -= 4;
    for (k = 0; k < nlen && o + 2 < n; k++) {
        unsigned char c = (unsigned char)node[k];
        if (k > 0 && c >= 'A' && c <= 'Z' && node[k - 1] >= 'a' && node[k - 1] <= 'z')
            out[o++] = ' ';
        out[o++] = (char)ascii_upper(c);
    }
    out[o] = '\0';
}

/* The text of a String node, {"String":{"sval":"pg_sleep"}}, or NULL. */
static const char *pg_string(json_t *node)
{
    return json_string_value(json_object_get(json_object_get(node, "String"), "sval"));
}

static int pg_check_name(const char *name, int attribute, struct vz_err *err)
{
    const struct fn_rule *r = fn_rule_find(
        pg_denied_functions, sizeof(pg_denied_functions) / sizeof(pg_denied_functions[0]), name,
        strlen(name));
    if (!r)
        return VZ_OK;
    if (attribute)
        return vz_err_set(err, VZ_ENOT_READONLY,
                          "function %s is not allowed (%s); \".%s\" calls it too", name, r->why,
                          name);
    return vz_err_set(err, VZ_ENOT_READONLY, "function %s is not allowed (%s)", name, r->why);
}

/* FuncCall.funcname is a list of String nodes; the last one is the name. */
static int pg_check_func(json_t *fields, struct vz_err *err)
{
    json_t *names = json_object_get(fields, "funcname");
    size_t n = json_array_size(names);
    const char *name = n ? pg_string(json_array_get(names, n - 1)) : NULL;
    if (!name) /* a shape we do not know: refuse rather than guess */
        return vz_err_set(err, VZ_ENOT_READONLY, "could not read a function name in the query");
    return pg_check_name(name, 0, err);
}

/* PostgreSQL also calls a one-argument function written as a field:
 * "(0.1).pg_sleep" (A_Indirection) and "g.pg_sleep" where g is a FROM item
 * such as generate_series() (a qualified ColumnRef) both run pg_sleep. A
 * bare name is never a call, so one-part ColumnRefs are left alone. The cost
 * is that a qualified column named like a denied function (t.lo_x) is
 * refused too; unqualified it passes. */
static int pg_check_attribute(const char *type, json_t *fields, struct vz_err *err)
{
    int column = strcmp(type, "ColumnRef") == 0;
    json_t *list = json_object_get(fields, column ? "fields" : "indirection");
    size_t n = json_array_size(list);
    if (column) {
        const char *name = n >= 2 ? pg_string(json_array_get(list, n - 1)) : NULL;
        return name ? pg_check_name(name, 1, err) : VZ_OK;
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = pg_string(json_array_get(list, i));
        int rc = name ? pg_check_name(name, 1, err) : VZ_OK;
        if (rc < 0)
            return rc;
    }
    return VZ_OK;
}

static int pg_locking_error(json_t *clause, struct vz_err *err)
{
    /* clause is {"LockingClause":{"strength":"LCS_FORUPDATE",...}} or the inner object */
    json_t *inner = json_object_get(clause, "LockingClause");
    const char *s = json_string_value(json_object_get(inner ? inner : clause, "strength"));
    const char *what = "FOR UPDATE";
    if (s && strcmp(s, "LCS_FORNOKEYUPDATE") == 0)
        what = "FOR NO KEY UPDATE";
    else if (s && strcmp(s, "LCS_FORSHARE") == 0)
        what = "FOR SHARE";
    else if (s && strcmp(s, "LCS_FORKEYSHARE") == 0)
        what = "FOR KEY SHARE";
    return vz_err_set(err, VZ_ENOT_READONLY, "%s locks rows", what);
}

/* A node inside the top SELECT. Node objects are keyed by their type name,
 * which starts with a capital letter; field names start in lower case. */
static int pg_check_node(const char *type, json_t *fields, struct vz_err *err)
{
    static const struct {
        const char *node, *words;
    } dml[] = {
        {"InsertStmt", "INSERT"},
        {"UpdateStmt", "UPDATE"},
        {"DeleteStmt", "DELETE"},
        {"MergeStmt", "MERGE"},
    };
    size_t len = strlen(type);
    char words[64];
    if (strcmp(type, "FuncCall") == 0)
        return pg_check_func(fields, err);
    if (strcmp(type, "ColumnRef") == 0 || strcmp(type, "A_Indirection") == 0)
        return pg_check_attribute(type, fields, err);
    if (strcmp(type, "LockingClause") == 0)
        return pg_locking_error(fields, err);
    if (strcmp(type, "IntoClause") == 0)
        return vz_err_set(err, VZ_ENOT_READONLY, "SELECT INTO creates a table");
    for (size_t i = 0; i < sizeof(dml) / sizeof(dml[0]); i++)
        if (strcmp(type, dml[i].node) == 0)
            return vz_err_set(err, VZ_ENOT_READONLY, "data-modifying CTE: %s", dml[i].words);
    /* Only SelectStmt can legally nest; anything else ending in Stmt is a
     * statement where a query was expected. */
    if (len > 4 && strcmp(type + len - 4, "Stmt") == 0 && strcmp(type, "SelectStmt") != 0) {
        pg_stmt_words(type, fields, words, sizeof(words));
        return vz_err_set(err, VZ_ENOT_READONLY, "only SELECT is allowed, got %s", words);
    }
    return VZ_OK;
}

/* Depth is bounded by jansson's parser (JSON_PARSER_MAX_DEPTH); the counter
 * only makes that visible here. */
static int pg_walk(json_t *v, int depth, struct vz_err *err)
{
    const char *key;
    json_t *val;
    size_t i;
    int rc;
    if (depth > 4096)
        return vz_err_set(err, VZ_ETOOBIG, "query is nested too deeply to check");
    if (json_is_array(v)) {
        json_array_foreach(v, i, val)
        {
            rc = pg_walk(val, depth + 1, err);
            if (rc < 0)
                return rc;
        }
        return VZ_OK;
    }
    if (!json_is_object(v))
        return VZ_OK;
    json_object_foreach(v, key, val)
    {
        if (key[0] >= 'A' && key[0] <= 'Z') {
            rc = pg_check_node(key, val, err);
            if (rc < 0)
                return rc;
        } else if (strcmp(key, "intoClause") == 0) {
            return vz_err_set(err, VZ_ENOT_READONLY, "SELECT INTO creates a table");
        } else if (strcmp(key, "lockingClause") == 0) {
            return pg_locking_error(json_array_get(val, 0), err);
        }
        rc = pg_walk(val, depth + 1, err);
        if (rc < 0)
            return rc;
    }
    return VZ_OK;
}

/* The one statement must be a SelectStmt; returns its fields object. */
static int pg_top_select(json_t *root, json_t **select, struct vz_err *err)
{
    json_t *stmts = json_object_get(root, "stmts"), *stmt;
    const char *type;
    json_t *fields;
    char words[64];
    size_t n = json_array_size(stmts);
    if (n == 0)
        return vz_err_set(err, VZ_EINVAL, "query is empty");
    if (n > 1)
        return vz_err_set(err, VZ_ENOT_READONLY, "only one statement is allowed (found %zu)", n);
    stmt = json_object_get(json_array_get(stmts, 0), "stmt");
    if (!json_is_object(stmt) || json_object_size(stmt) != 1)
        return vz_err_set(err, VZ_ENOT_READONLY, "could not read the parsed statement");
    json_object_foreach(stmt, type, fields)
    {
        if (strcmp(type, "SelectStmt") != 0) {
            pg_stmt_words(type, fields, words, sizeof(words));
            return vz_err_set(err, VZ_ENOT_READONLY, "only SELECT is allowed, got %s", words);
        }
        *select = fields;
    }
    return VZ_OK;
}

/* After the parser agreed there is one statement, a ';' that is followed by
 * another token (";SELECT 1", "SELECT 1;;") can only be an empty statement.
 * Harmless to the server, but it would break wrapping, so refuse it. Also
 * finds where the statement text ends (last token that is neither a comment
 * nor a ';'). */
static int pg_statement_end(const struct pg_toks *t, size_t *body_end, struct vz_err *err)
{
    size_t semis = 0, last = SIZE_MAX;
    for (size_t i = 0; i < t->n; i++) {
        if (pg_is_comment(&t->v[i]))
            continue;
        if (t->v[i].token == PGT_SEMICOLON) {
            semis++;
            continue;
        }
        if (semis)
            return vz_err_set(err, VZ_ENOT_READONLY,
                              "empty statement: only one statement and one trailing ';' are "
                              "allowed");
        last = i;
    }
    if (semis > 1)
        return vz_err_set(err, VZ_ENOT_READONLY,
                          "empty statement: only one statement and one trailing ';' are allowed");
    if (last == SIZE_MAX)
        return vz_err_set(err, VZ_EINVAL, "query is empty");
    *body_end = (size_t)t->v[last].end;
    return VZ_OK;
}

static int pg_check(const char *sql, size_t len, size_t *body_end, struct vz_err *err)
{
    char *text = NULL;
    PgQueryScanResult scan;
    PgQueryParseResult parse;
    struct pg_toks toks = {NULL, 0, 0};
    json_t *root = NULL, *select = NULL;
    json_error_t jerr;
    size_t real = 0;
    int rc;

    memset(&scan, 0, sizeof(scan));
    memset(&parse, 0, sizeof(parse));
    text = malloc(len + 1);
    if (!text) {
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
        goto out;
    }
    memcpy(text, sql, len);
    text[len] = '\0';

    scan = pg_query_scan(text);
    if (scan.error) {
        rc = pg_syntax_error(scan.error, err);
        goto out;
    }
    rc = pg_decode_tokens((const uint8_t *)scan.pbuf.data, scan.pbuf.len, len, &toks);
    if (rc < 0) {
        vz_err_set(err, rc, "could not read the PostgreSQL scanner output");
        goto out;
    }
    for (size_t i = 0; i < toks.n; i++)
        real += !pg_is_comment(&toks.v[i]);
    if (real == 0) {
        rc = vz_err_set(err, VZ_EINVAL, "query is empty (only comments)");
        goto out;
    }
    if (pg_nesting_estimate(&toks) > PG_NESTING_MAX) {
        rc = vz_err_set(err, VZ_ETOOBIG, "query is nested too deeply to check");
        goto out;
    }

    parse = pg_query_parse(text);
    if (parse.error) {
        rc = pg_syntax_error(parse.error, err);
        goto out;
    }
    root = json_loads(parse.parse_tree, 0, &jerr);
    if (!root) {
        if (json_error_code(&jerr) == json_error_stack_overflow)
            rc = vz_err_set(err, VZ_ETOOBIG, "query's parse tree is nested too deeply to check");
        else if (json_error_code(&jerr) == json_error_out_of_memory)
            rc = vz_err_set(err, VZ_ENOMEM, NULL);
        else
            rc = vz_err_set(err, VZ_ENOT_READONLY, "could not analyse the query (%s)", jerr.text);
        goto out;
    }
    rc = pg_top_select(root, &select, err);
    if (rc < 0)
        goto out;
    rc = pg_statement_end(&toks, body_end, err);
    if (rc < 0)
        goto out;
    /* Walk the whole tree: "WITH d AS (DELETE ...) SELECT" starts like a read. */
    rc = pg_walk(select, 0, err);

out:
    json_decref(root);
    pg_query_free_parse_result(parse);
    pg_query_free_scan_result(scan);
    free(toks.v);
    free(text);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* MySQL / MariaDB                                                          */
/* ------------------------------------------------------------------------ */

/* Function-call tokens (a name followed by '(', any case, backticks or not)
 * that must not appear. Names are matched exactly, upper case. */
static const struct fn_rule my_denied_functions[] = {
    {"SLEEP", "it stalls the connection"},
    {"BENCHMARK", "it burns server CPU on purpose"},
    {"LOAD_FILE", "it reads server files"},
    /* Named locks outlive the statement and block other sessions. */
    {"GET_LOCK", "it takes a named lock"},
    {"RELEASE_LOCK", "it releases a named lock"},
    {"RELEASE_ALL_LOCKS", "it releases named locks"},
    {"IS_FREE_LOCK", "it probes named locks"},
    {"IS_USED_LOCK", "it probes named locks"},
    /* Replication waits: block for as long as the caller asks. */
    {"MASTER_POS_WAIT", "it waits on replication"},
    {"SOURCE_POS_WAIT", "it waits on replication"},
    {"MASTER_GTID_WAIT", "it waits on replication"},
    {"WAIT_FOR_EXECUTED_GTID_SET", "it waits on replication"},
    {"WAIT_UNTIL_SQL_THREAD_AFTER_GTIDS", "it waits on replication"},
    /* lib_mysqludf_sys: well-known UDFs that run shell commands. */
    {"SYS_EXEC", "it runs a shell command"},
    {"SYS_EVAL", "it runs a shell command"},
    {"SYS_GET", "it reads the server environment"},
    {"SYS_SET", "it changes the server environment"},
    {"LIB_MYSQLUDF_SYS_INFO", "it belongs to a shell-command UDF library"},
    /* MariaDB sequences. LAST_INSERT_ID is handled apart: only its
     * one-argument form changes state. */
    {"NEXTVAL", "it advances a sequence"},
    {"SETVAL", "it changes a sequence"},
    {"LASTVAL", "it reads sequence state of this session"},
};

/* Reserved words that never belong in a read-only SELECT (they start other
 * statements, or write). Matched only as bare words: `delete`, t.delete and
 * 'delete' are identifiers or strings. Only reserved words are listed, so an
 * unquoted column can never carry one of these names. A word here followed
 * by '(' is left alone when the server has a function of that name too. */
static const struct {
    const char *word;
    int function_ok;
} my_denied_words[] = {
    {"DELETE", 0}, {"UPDATE", 0}, {"INSERT", 1}, {"REPLACE", 1}, {"DROP", 0},
    {"ALTER", 0},  {"CREATE", 0}, {"GRANT", 0},  {"REVOKE", 0},  {"RENAME", 0},
    {"CALL", 0},   {"LOAD", 0},   {"UNLOCK", 0}, {"KILL", 0},    {"PURGE", 0},
};

enum my_kind { MY_WORD, MY_NUMBER, MY_QIDENT, MY_STRING, MY_PUNCT, MY_ASSIGN };

struct my_tok {
    enum my_kind kind;
    size_t start, end; /* byte offsets; QIDENT/STRING include the quotes */
    unsigned char c;   /* MY_PUNCT: the character */
    int attached;      /* MY_WORD part of a qualified name or variable: an identifier */
};

struct my_toks {
    struct my_tok *v;
    size_t n, cap;
};

static int my_push(struct my_toks *t, enum my_kind kind, size_t start, size_t end, unsigned char c,
                   int attached)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct my_tok *v = realloc(t->v, cap * sizeof(*v));
        if (!v)
            return VZ_ENOMEM;
        t->v = v;
        t->cap = cap;
    }
    t->v[t->n].kind = kind;
    t->v[t->n].start = start;
    t->v[t->n].end = end;
    t->v[t->n].c = c;
    t->v[t->n].attached = attached;
    t->n++;
    return VZ_OK;
}

static int my_word_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$' || c >= 0x80;
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Case-insensitive comparison of bytes [s, s+n) with an upper-case word. */
static int word_eq(const char *s, size_t n, const char *word)
{
    size_t k = strlen(word);
    if (n != k)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (ascii_upper((unsigned char)s[i]) != (unsigned char)word[i])
            return 0;
    return 1;
}

static int contains_word_ci(const char *s, size_t n, const char *word)
{
    size_t k = strlen(word);
    for (size_t i = 0; i + k <= n; i++)
        if (word_eq(s + i, k, word))
            return 1;
    return 0;
}

/* A quoted string or identifier starting at sql[i] (the quote). With
 * backslash escapes, '\'' and "\"" end the literal in one sql_mode and not in
 * another (NO_BACKSLASH_ESCAPES, and ANSI_QUOTES for "..."), so they are
 * refused; every other spelling ends at the same byte in every mode. */
static int my_quoted(const char *sql, size_t len, size_t i, size_t *end, struct vz_err *err)
{
    char q = sql[i];
    int escapes = q != '`';
    for (size_t k = i + 1; k < len; k++) {
        if (escapes && sql[k] == '\\') {
            if (k + 1 < len && sql[k + 1] == q)
                return vz_err_set(err, VZ_ENOT_READONLY,
                                  "a backslash before %c inside quotes is read differently "
                                  "depending on sql_mode; double the quote instead (%c%c) "
                                  "(at byte %zu)",
                                  q, q, q, k);
            k++; /* skips the escaped byte; never a quote, so never the end */
            continue;
        }
        if (sql[k] == q) {
            if (k + 1 < len && sql[k + 1] == q) {
                k++; /* doubled quote */
                continue;
            }
            *end = k + 1;
            return VZ_OK;
        }
    }
    return vz_err_set(err, VZ_ENOT_READONLY, "unterminated %s starting at byte %zu",
                      q == '`' ? "quoted identifier" : "string", i);
}

/* Digits, then an optional exponent: e/E, optional sign, at least one digit.
 * Returns the end, or 0 for an 'e' without digits (the server's lexer takes
 * an odd path there; we do not follow it). */
static size_t my_fraction_end(const char *sql, size_t len, size_t k)
{
    while (k < len && is_digit((unsigned char)sql[k]))
        k++;
    if (k < len && (sql[k] == 'e' || sql[k] == 'E')) {
        k++;
        if (k < len && (sql[k] == '+' || sql[k] == '-'))
            k++;
        if (k >= len || !is_digit((unsigned char)sql[k]))
            return 0;
        while (k < len && is_digit((unsigned char)sql[k]))
            k++;
    }
    return k;
}

/* A token that starts with a digit, as the server's lexer reads it: the
 * number may end in the middle of what looks like one word ("1e1into" is
 * 1e1 then INTO, "1.into" is 1. then INTO), and a keyword hidden there must
 * still be seen. Digits followed by other letters make an identifier
 * ("1abc", "0x1F"). Returns the end and sets *kind, or 0 when unreadable. */
static size_t my_number_end(const char *sql, size_t len, size_t i, enum my_kind *kind)
{
    size_t j = i, k;
    while (j < len && is_digit((unsigned char)sql[j]))
        j++;
    *kind = MY_NUMBER;
    if (j < len && (sql[j] == 'e' || sql[j] == 'E')) {
        k = j + 1;
        if (k < len && (sql[k] == '+' || sql[k] == '-'))
            k++;
        if (k < len && is_digit((unsigned char)sql[k]) &&
            (is_digit((unsigned char)sql[j + 1]) || k == j + 2)) {
            while (k < len && is_digit((unsigned char)sql[k]))
                k++;
            return k;
        }
    }
    if (j < len && my_word_char((unsigned char)sql[j])) {
        *kind = MY_WORD;
        while (j < len && my_word_char((unsigned char)sql[j]))
            j++;
        return j;
    }
    if (j < len && sql[j] == '.')
        return my_fraction_end(sql, len, j + 1);
    return j;
}

static int my_tokenize(const char *sql, size_t len, struct my_toks *t, struct vz_err *err)
{
    size_t i = 0, end = 0;
    int rc, sep = 0; /* the previous token is a '.' right after a name */
    while (i < len) {
        unsigned char c = (unsigned char)sql[i];
        int was_sep = sep;
        sep = 0;
        if (is_space(c)) {
            i++;
            continue;
        }
        if (c == '#' || (c == '-' && i + 1 < len && sql[i + 1] == '-' &&
                         (i + 2 == len || (unsigned char)sql[i + 2] <= ' ' ||
                          (unsigned char)sql[i + 2] == 0x7f))) {
            /* "#..." and "-- ..." run to the end of the line. "--" must be
             * followed by a space or control character: "--1" is minus
             * minus one, as on the server. */
            while (i < len && sql[i] != '\n')
                i++;
            continue;
        }
        if (c == '/' && i + 1 < len && sql[i + 1] == '*') {
            const char *close;
            size_t body = i + 2;
            /* The server runs the body of a comment opened with "/" "*!"
             * (MySQL, MariaDB; optionally with a version number) or "/" "*M!"
             * (MariaDB) as code. Rejecting these is simpler and safer than
             * parsing them. */
            if ((body < len && sql[body] == '!') ||
                (body + 1 < len && (sql[body] == 'M' || sql[body] == 'm') && sql[body + 1] == '!'))
                return vz_err_set(err, VZ_ENOT_READONLY,
                                  "executable comments are not allowed (at byte %zu)", i);
            close = NULL;
            for (size_t k = body; k + 1 < len; k++) {
                if (sql[k] == '*' && sql[k + 1] == '/') {
                    close = sql + k;
                    break;
                }
            }
            if (!close)
                return vz_err_set(err, VZ_ENOT_READONLY,
                                  "unterminated comment starting at byte %zu", i);
            /* MySQL 8 optimizer hints (comments opened with "/" "*+") are
             * allowed, but SET_VAR changes session variables for the
             * statement. */
            if (body < len && sql[body] == '+' &&
                contains_word_ci(sql + body, (size_t)(close - (sql + body)), "SET_VAR"))
                return vz_err_set(err, VZ_ENOT_READONLY,
                                  "the SET_VAR optimizer hint is not allowed (it changes "
                                  "session settings)");
            i = (size_t)(close - sql) + 2;
            continue;
        }
        if (c == '\'' || c == '"' || c == '`') {
            rc = my_quoted(sql, len, i, &end, err);
            if (rc < 0)
                return rc;
            rc = my_push(t, c == '`' ? MY_QIDENT : MY_STRING, i, end, 0, 0);
            if (rc < 0)
                return vz_err_set(err, rc, NULL);
            i = end;
            continue;
        }
        if (my_word_char(c)) {
            /* After "name." or "@" the server reads a whole identifier, even
             * a reserved word or one starting with digits. */
            int attached = was_sep || (i > 0 && sql[i - 1] == '@');
            enum my_kind kind = MY_WORD;
            if (attached || !is_digit(c)) {
                end = i;
                while (end < len && my_word_char((unsigned char)sql[end]))
                    end++;
            } else {
                end = my_number_end(sql, len, i, &kind);
                if (!end)
                    return vz_err_set(err, VZ_ENOT_READONLY,
                                      "could not read the number at byte %zu", i);
            }
            rc = my_push(t, kind, i, end, 0, attached);
            if (rc < 0)
                return vz_err_set(err, rc, NULL);
            i = end;
            continue;
        }
        if (c == '.' && i + 1 < len && is_digit((unsigned char)sql[i + 1]) &&
            !(t->n && t->v[t->n - 1].end == i &&
              (t->v[t->n - 1].kind == MY_WORD || t->v[t->n - 1].kind == MY_QIDENT))) {
            /* ".5e1" is a number unless it qualifies a name ("t.5e1"). */
            end = my_fraction_end(sql, len, i + 1);
            if (!end)
                return vz_err_set(err, VZ_ENOT_READONLY, "could not read the number at byte %zu",
                                  i);
            rc = my_push(t, MY_NUMBER, i, end, 0, 0);
            if (rc < 0)
                return vz_err_set(err, rc, NULL);
            i = end;
            continue;
        }
        if (c == ':' && i + 1 < len && sql[i + 1] == '=') {
            rc = my_push(t, MY_ASSIGN, i, i + 2, 0, 0);
            if (rc < 0)
                return vz_err_set(err, rc, NULL);
            i += 2;
            continue;
        }
        if (c == '.' && t->n && t->v[t->n - 1].end == i &&
            (t->v[t->n - 1].kind == MY_WORD || t->v[t->n - 1].kind == MY_QIDENT))
            sep = 1;
        rc = my_push(t, MY_PUNCT, i, i + 1, c, 0);
        if (rc < 0)
            return vz_err_set(err, rc, NULL);
        i++;
    }
    return VZ_OK;
}

static int my_is_word(const char *sql, const struct my_tok *t, const char *word)
{
    return t->kind == MY_WORD && !t->attached && word_eq(sql + t->start, t->end - t->start, word);
}

static int my_is_punct(const struct my_tok *t, unsigned char c)
{
    return t->kind == MY_PUNCT && t->c == c;
}

/* Printable name of a token for messages: words upper-cased, cut short. */
static void my_tok_text(const char *sql, const struct my_tok *t, char *out, size_t n)
{
    size_t len = t->end - t->start, k;
    if (len > 40)
        len = 40;
    for (k = 0; k < len && k + 1 < n; k++)
        out[k] = t->kind == MY_WORD ? (char)ascii_upper((unsigned char)sql[t->start + k])
                                    : sql[t->start + k];
    out[k] = '\0';
}

/* Index just past the ')' matching the '(' at i, or 0 when unbalanced. */
static size_t my_skip_group(const struct my_tok *t, size_t n, size_t i)
{
    size_t depth = 0;
    for (; i < n; i++) {
        if (my_is_punct(&t[i], '('))
            depth++;
        else if (my_is_punct(&t[i], ')') && --depth == 0)
            return i + 1;
    }
    return 0;
}

/* Can this token be a name? "..." is a string by default but an identifier
 * under ANSI_QUOTES, where "SLEEP"(1) calls SLEEP; treat it as both. */
static int my_name_token(const char *sql, const struct my_tok *t)
{
    return t->kind == MY_WORD || t->kind == MY_QIDENT ||
           (t->kind == MY_STRING && sql[t->start] == '"');
}

/* t[i] is WITH. If a CTE list follows (WITH [RECURSIVE] name [(cols)] AS
 * (...), ...), the statement after it must be a SELECT. "WITH ROLLUP" and
 * "WITH QUERY EXPANSION" are not CTE lists and pass. */
static int my_check_with(const char *sql, const struct my_tok *t, size_t n, size_t i,
                         struct vz_err *err)
{
    char got[48];
    size_t k = i + 1;
    if (k < n && my_is_word(sql, &t[k], "RECURSIVE")) {
        k++;
    } else if (!(k + 1 < n && my_name_token(sql, &t[k]) &&
                 (my_is_word(sql, &t[k + 1], "AS") || my_is_punct(&t[k + 1], '(')))) {
        return VZ_OK;
    }
    for (;;) {
        if (k >= n || !my_name_token(sql, &t[k]))
            goto malformed;
        k++;
        if (k < n && my_is_punct(&t[k], '(')) {
            k = my_skip_group(t, n, k);
            if (!k)
                goto malformed;
        }
        if (k >= n || !my_is_word(sql, &t[k], "AS"))
            goto malformed;
        k++;
        if (k >= n || !my_is_punct(&t[k], '('))
            goto malformed;
        k = my_skip_group(t, n, k);
        if (!k)
            goto malformed;
        if (k < n && my_is_punct(&t[k], ',')) {
            k++;
            continue;
        }
        break;
    }
    if (k >= n)
        return vz_err_set(err, VZ_ENOT_READONLY, "WITH must be followed by a SELECT");
    if (my_is_word(sql, &t[k], "SELECT") || my_is_punct(&t[k], '('))
        return VZ_OK;
    my_tok_text(sql, &t[k], got, sizeof(got));
    return vz_err_set(err, VZ_ENOT_READONLY, "only SELECT is allowed after WITH, got %s", got);
malformed:
    return vz_err_set(err, VZ_ENOT_READONLY, "could not understand the WITH clause");
}

static int my_check_call(const char *sql, const struct my_tok *t, size_t n, size_t i,
                         struct vz_err *err)
{
    const struct fn_rule *r;
    const char *name = sql + t[i].start;
    size_t name_len = t[i].end - t[i].start;
    if (t[i].kind != MY_WORD) { /* strip the quotes */
        name++;
        name_len -= 2;
    }
    if (word_eq(name, name_len, "LAST_INSERT_ID")) {
        if (i + 2 < n && !my_is_punct(&t[i + 2], ')'))
            return vz_err_set(err, VZ_ENOT_READONLY,
                              "function LAST_INSERT_ID with an argument is not allowed (it "
                              "changes session state)");
        return VZ_OK;
    }
    for (size_t k = 0; k < sizeof(my_denied_functions) / sizeof(*r); k++) {
        r = &my_denied_functions[k];
        if (word_eq(name, name_len, r->pattern))
            return vz_err_set(err, VZ_ENOT_READONLY, "function %s is not allowed (%s)", r->pattern,
                              r->why);
    }
    return VZ_OK;
}

static int my_check_tokens(const char *sql, const struct my_tok *t, size_t n, struct vz_err *err)
{
    char got[48];
    size_t i = 0;
    int rc;
    while (i < n && my_is_punct(&t[i], '('))
        i++;
    if (i >= n || !(my_is_word(sql, &t[i], "SELECT") || my_is_word(sql, &t[i], "WITH"))) {
        if (i >= n)
            return vz_err_set(err, VZ_ENOT_READONLY, "only SELECT is allowed");
        my_tok_text(sql, &t[i], got, sizeof(got));
        return vz_err_set(err, VZ_ENOT_READONLY, "only SELECT is allowed, got %s", got);
    }
    for (i = 0; i < n; i++) {
        const struct my_tok *k = &t[i];
        int call = i + 1 < n && my_is_punct(&t[i + 1], '(');
        if (k->kind == MY_ASSIGN)
            return vz_err_set(err, VZ_ENOT_READONLY, "variable assignment is not allowed");
        if (call && my_name_token(sql, k)) {
            rc = my_check_call(sql, t, n, i, err);
            if (rc < 0)
                return rc;
        }
        /* MariaDB's Oracle mode reads seq.NEXTVAL as a sequence call. */
        if (k->kind == MY_WORD && k->attached && i > 0 && my_is_punct(&t[i - 1], '.') &&
            word_eq(sql + k->start, k->end - k->start, "NEXTVAL"))
            return vz_err_set(err, VZ_ENOT_READONLY, "sequence.NEXTVAL advances a sequence");
        if (k->kind != MY_WORD || k->attached)
            continue;
        if (my_is_word(sql, k, "INTO"))
            return vz_err_set(err, VZ_ENOT_READONLY, "SELECT ... INTO writes files or variables");
        if (my_is_word(sql, k, "FOR") && i + 1 < n &&
            (my_is_word(sql, &t[i + 1], "UPDATE") || my_is_word(sql, &t[i + 1], "SHARE"))) {
            my_tok_text(sql, &t[i + 1], got, sizeof(got));
            return vz_err_set(err, VZ_ENOT_READONLY, "FOR %s locks rows", got);
        }
        if (my_is_word(sql, k, "LOCK"))
            return vz_err_set(err, VZ_ENOT_READONLY, "LOCK IN SHARE MODE locks rows");
        if (my_is_word(sql, k, "NEXT") && i + 1 < n && my_is_word(sql, &t[i + 1], "VALUE"))
            return vz_err_set(err, VZ_ENOT_READONLY, "NEXT VALUE FOR advances a sequence");
        if (my_is_word(sql, k, "PROCEDURE"))
            return vz_err_set(err, VZ_ENOT_READONLY, "SELECT ... PROCEDURE is not allowed");
        if (my_is_word(sql, k, "WITH")) {
            rc = my_check_with(sql, t, n, i, err);
            if (rc < 0)
                return rc;
        }
        for (size_t w = 0; w < sizeof(my_denied_words) / sizeof(my_denied_words[0]); w++) {
            if (my_is_word(sql, k, my_denied_words[w].word) &&
                !(call && my_denied_words[w].function_ok))
                return vz_err_set(err, VZ_ENOT_READONLY, "%s is not allowed in a read-only query",
                                  my_denied_words[w].word);
        }
    }
    return VZ_OK;
}

static int my_check(const char *sql, size_t len, size_t *body_end, struct vz_err *err)
{
    struct my_toks toks = {NULL, 0, 0};
    size_t n;
    int rc = my_tokenize(sql, len, &toks, err);
    if (rc < 0)
        goto out;
    /* One statement: everything up to the first ';', after which only
     * whitespace and comments may follow. */
    for (n = 0; n < toks.n && !my_is_punct(&toks.v[n], ';'); n++)
        ;
    if (n + 1 < toks.n) {
        rc = vz_err_set(err, VZ_ENOT_READONLY, "only one statement is allowed");
        goto out;
    }
    if (n == 0) {
        rc = vz_err_set(err, VZ_EINVAL, "query is empty");
        goto out;
    }
    rc = my_check_tokens(sql, toks.v, n, err);
    if (rc == 0)
        *body_end = toks.v[n - 1].end;
out:
    free(toks.v);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */
/* ------------------------------------------------------------------------ */

static int guard(enum vz_dialect d, const char *sql, size_t len, size_t *body_end,
                 struct vz_err *err)
{
    int rc;
    if (d != VZ_DIALECT_POSTGRES && d != VZ_DIALECT_MYSQL)
        return vz_err_set(err, VZ_EINVAL, "unknown SQL dialect");
    rc = check_input(sql, len, err);
    if (rc < 0)
        return rc;
    rc = d == VZ_DIALECT_POSTGRES ? pg_check(sql, len, body_end, err)
                                  : my_check(sql, len, body_end, err);
    if (rc == 0)
        vz_err_clear(err);
    return rc;
}

int vz_sqlguard_check(enum vz_dialect d, const char *sql, size_t len, struct vz_err *err)
{
    size_t body_end;
    return guard(d, sql, len, &body_end, err);
}

int vz_sqlguard_wrap_limit(enum vz_dialect d, const char *sql, size_t len, long long limit,
                           struct vz_buf *out, struct vz_err *err)
{
    size_t body_end = 0;
    struct vz_err again = VZ_ERR_INIT;
    int rc;
    if (!out)
        return vz_err_set(err, VZ_EINVAL, "no output buffer");
    vz_buf_reset(out);
    if (limit < 0) {
        rc = vz_err_set(err, VZ_EINVAL, "row limit must not be negative");
        goto out;
    }
    rc = guard(d, sql, len, &body_end, err);
    if (rc < 0)
        goto out;
    /* The user's text is copied, never edited; only what follows its last
     * token (';', spaces, comments) is left out. */
    rc = vz_buf_adds(out, "SELECT * FROM (\n");
    if (rc == 0)
        rc = vz_buf_add(out, sql, body_end);
    if (rc == 0)
        rc = vz_buf_addf(out, "\n) AS vz_q LIMIT %lld", limit);
    if (rc < 0) {
        rc = vz_err_set(err, rc, rc == VZ_ETOOBIG ? "query is too long to wrap" : NULL);
        goto out;
    }
    /* Belt and braces: what we hand out must pass the guard itself. */
    rc = vz_sqlguard_check(d, out->p, out->len, &again);
    if (rc == VZ_ETOOBIG || rc == VZ_ENOMEM)
        rc = vz_err_set(err, rc, "%s", again.msg);
    else if (rc < 0)
        rc = vz_err_set(err, VZ_EINTERNAL, "wrapped query was rejected: %s", again.msg);
out:
    if (rc < 0)
        vz_buf_reset(out);
    else
        vz_err_clear(err);
    return rc;
}

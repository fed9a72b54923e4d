/* extract/typemap: the M2 type mapping, one test per mapping rule and
 * dialect, the decimal modes, warning wording, and annotate_table. */
#include "testutil.h"

#include "extract/typemap.h"

#define PG VZ_DB_POSTGRES
#define MY VZ_DB_MYSQL
#define DBL VZ_DECIMAL_DOUBLE
#define EXACT VZ_DECIMAL_EXACT

/* One column in, the expected mapping out. type NULL means skipped;
 * warning NULL means none expected, otherwise the exact text. */
struct tcase {
    const char *name;
    enum vz_db_type db;
    const char *type_class, *source;
    int precision, scale;
    enum vz_decimal_mode dm;
    const char *type, *conv, *warning;
};

static const struct tcase cases[] = {
    /* booleans */
    {"pg boolean -> BOOLEAN", PG, "bool", "boolean", -1, -1, DBL, "BOOLEAN", "as_is", NULL},
    {"mysql tinyint(1) classed int8 -> BOOLEAN", MY, "int8", "tinyint(1)", 3, 0, DBL, "BOOLEAN",
     "int_to_bool", NULL},
    {"mysql tinyint(1) classed bool -> BOOLEAN", MY, "bool", "tinyint(1)", -1, -1, DBL, "BOOLEAN",
     "int_to_bool", NULL},
    {"mysql tinyint(1) zerofill classed bool -> BOOLEAN", MY, "bool", "tinyint(1) zerofill", 3, 0,
     DBL, "BOOLEAN", "int_to_bool", NULL},
    {"mysql TINYINT(1) upper case -> BOOLEAN", MY, "int8", "TINYINT(1)", -1, -1, DBL, "BOOLEAN",
     "int_to_bool", NULL},
    {"mysql tinyint(4) stays TINYINT", MY, "int8", "tinyint(4)", 3, 0, DBL, "TINYINT", "as_is",
     NULL},
    {"mysql tinyint(1) unsigned -> UTINYINT", MY, "uint8", "tinyint(1) unsigned", 3, 0, DBL,
     "UTINYINT", "as_is", NULL},
    {"pg tinyint(1) spelling is not special", PG, "int16", "tinyint(1)", -1, -1, DBL, "SMALLINT",
     "as_is", NULL},
    /* signed integers */
    {"mysql tinyint -> TINYINT", MY, "int8", "tinyint(4)", 3, 0, DBL, "TINYINT", "as_is", NULL},
    {"pg smallint -> SMALLINT", PG, "int16", "smallint", 16, 0, DBL, "SMALLINT", "as_is", NULL},
    {"mysql smallint -> SMALLINT", MY, "int16", "smallint(6)", 5, 0, DBL, "SMALLINT", "as_is",
     NULL},
    {"pg integer -> INTEGER", PG, "int32", "integer", 32, 0, DBL, "INTEGER", "as_is", NULL},
    {"mysql int -> INTEGER", MY, "int32", "int(11)", 10, 0, DBL, "INTEGER", "as_is", NULL},
    {"mysql mediumint -> INTEGER", MY, "int32", "mediumint(9)", 7, 0, DBL, "INTEGER", "as_is",
     NULL},
    {"pg bigint -> BIGINT", PG, "int64", "bigint", 64, 0, DBL, "BIGINT", "as_is", NULL},
    {"mysql bigint -> BIGINT", MY, "int64", "bigint(20)", 19, 0, DBL, "BIGINT", "as_is", NULL},
    /* unsigned integers */
    {"mysql tinyint unsigned -> UTINYINT", MY, "uint8", "tinyint(3) unsigned", 3, 0, DBL,
     "UTINYINT", "as_is", NULL},
    {"mysql smallint unsigned -> USMALLINT", MY, "uint16", "smallint(5) unsigned", 5, 0, DBL,
     "USMALLINT", "as_is", NULL},
    {"mysql int unsigned -> UINTEGER", MY, "uint32", "int(10) unsigned", 10, 0, DBL, "UINTEGER",
     "as_is", NULL},
    {"mysql bigint unsigned -> UBIGINT", MY, "uint64", "bigint(20) unsigned", 20, 0, DBL, "UBIGINT",
     "as_is", NULL},
    /* floats */
    {"pg real -> FLOAT", PG, "float32", "real", 24, -1, DBL, "FLOAT", "as_is", NULL},
    {"mysql float -> FLOAT", MY, "float32", "float", 12, -1, DBL, "FLOAT", "as_is", NULL},
    {"pg double precision -> DOUBLE", PG, "float64", "double precision", 53, -1, DBL, "DOUBLE",
     "as_is", NULL},
    {"mysql double -> DOUBLE", MY, "float64", "double", 22, -1, DBL, "DOUBLE", "as_is", NULL},
    /* decimal, default (DOUBLE) mode */
    {"pg numeric(10,2) -> DOUBLE, no warning", PG, "decimal", "numeric(10,2)", 10, 2, DBL, "DOUBLE",
     "to_double", NULL},
    {"mysql decimal(10,2) -> DOUBLE, no warning", MY, "decimal", "decimal(10,2)", 10, 2, DBL,
     "DOUBLE", "to_double", NULL},
    {"pg numeric scale 15 -> DOUBLE, no warning", PG, "decimal", "numeric(20,15)", 20, 15, DBL,
     "DOUBLE", "to_double", NULL},
    {"pg numeric scale 20 -> DOUBLE with scale warning", PG, "decimal", "numeric(30,20)", 30, 20,
     DBL, "DOUBLE", "to_double",
     "column amount (numeric(30,20)): scale 20 > 15, converted to DOUBLE with precision loss"},
    {"mysql decimal scale 30 -> DOUBLE with scale warning", MY, "decimal", "decimal(65,30)", 65, 30,
     DBL, "DOUBLE", "to_double",
     "column amount (decimal(65,30)): scale 30 > 15, converted to DOUBLE with precision loss"},
    {"pg unconstrained numeric -> DOUBLE with warning", PG, "decimal", "numeric", -1, -1, DBL,
     "DOUBLE", "to_double",
     "column amount (numeric): no declared precision, converted to DOUBLE; digits beyond about "
     "15 significant ones are lost"},
    {"pg numeric precision from source_type when JSON has none", PG, "decimal", "numeric(40,18)",
     -1, -1, DBL, "DOUBLE", "to_double",
     "column amount (numeric(40,18)): scale 18 > 15, converted to DOUBLE with precision loss"},
    {"pg money -> DOUBLE via numeric", PG, "decimal", "money", -1, -1, DBL, "DOUBLE",
     "money_to_double", NULL},
    {"pg money classed other -> DOUBLE via numeric", PG, "other", "money", -1, -1, EXACT, "DOUBLE",
     "money_to_double", NULL},
    /* decimal, exact mode */
    {"exact pg numeric(10,2) -> DECIMAL(10,2)", PG, "decimal", "numeric(10,2)", 10, 2, EXACT,
     "DECIMAL(10,2)", "decimal", NULL},
    {"exact mysql decimal(38,30) -> DECIMAL(38,30)", MY, "decimal", "decimal(38,30)", 38, 30, EXACT,
     "DECIMAL(38,30)", "decimal", NULL},
    {"exact pg numeric(12) -> DECIMAL(12,0)", PG, "decimal", "numeric(12)", 12, -1, EXACT,
     "DECIMAL(12,0)", "decimal", NULL},
    {"exact mysql decimal(65,30) -> DOUBLE with precision warning", MY, "decimal", "decimal(65,30)",
     65, 30, EXACT, "DOUBLE", "to_double",
     "column amount (decimal(65,30)): precision 65 > 38, converted to DOUBLE with precision "
     "loss"},
    {"exact pg numeric(39,0) -> DOUBLE with precision warning", PG, "decimal", "numeric(39,0)", 39,
     0, EXACT, "DOUBLE", "to_double",
     "column amount (numeric(39,0)): precision 39 > 38, converted to DOUBLE with precision loss"},
    {"exact pg unconstrained numeric -> DOUBLE with warning", PG, "decimal", "numeric", -1, -1,
     EXACT, "DOUBLE", "to_double",
     "column amount (numeric): no declared precision, converted to DOUBLE; digits beyond about "
     "15 significant ones are lost"},
    {"exact pg numeric(3,5) scale > precision -> DOUBLE with warning", PG, "decimal",
     "numeric(3,5)", 3, 5, EXACT, "DOUBLE", "to_double",
     "column amount (numeric(3,5)): scale outside 0..precision, converted to DOUBLE with "
     "precision loss"},
    {"exact pg numeric(5,-2) negative scale -> DOUBLE with warning", PG, "decimal", "numeric(5,-2)",
     5, -1, EXACT, "DOUBLE", "to_double",
     "column amount (numeric(5,-2)): scale outside 0..precision, converted to DOUBLE with "
     "precision loss"},
    /* text-like */
    {"pg text -> VARCHAR", PG, "text", "text", -1, -1, DBL, "VARCHAR", "as_is", NULL},
    {"pg varchar(20) -> VARCHAR", PG, "text", "character varying(20)", -1, -1, DBL, "VARCHAR",
     "as_is", NULL},
    {"mysql varchar(100) -> VARCHAR", MY, "text", "varchar(100)", -1, -1, DBL, "VARCHAR", "as_is",
     NULL},
    {"mysql longtext -> VARCHAR", MY, "text", "longtext", -1, -1, DBL, "VARCHAR", "as_is", NULL},
    {"pg uuid -> VARCHAR uuid_text", PG, "uuid", "uuid", -1, -1, DBL, "VARCHAR", "uuid_text", NULL},
    {"pg json -> VARCHAR json_text", PG, "json", "json", -1, -1, DBL, "VARCHAR", "json_text", NULL},
    {"pg jsonb -> VARCHAR json_text", PG, "json", "jsonb", -1, -1, DBL, "VARCHAR", "json_text",
     NULL},
    {"mysql json -> VARCHAR json_text", MY, "json", "json", -1, -1, DBL, "VARCHAR", "json_text",
     NULL},
    {"pg integer[] -> VARCHAR array_json", PG, "array", "integer[]", -1, -1, DBL, "VARCHAR",
     "array_json", NULL},
    {"pg text[][] nested -> VARCHAR array_json", PG, "array", "text[][]", -1, -1, DBL, "VARCHAR",
     "array_json", NULL},
    {"pg numeric(30,20)[] -> VARCHAR array_json, no decimal warning", PG, "array",
     "numeric(30,20)[]", 30, 20, DBL, "VARCHAR", "array_json", NULL},
    {"pg hstore -> VARCHAR hstore_json", PG, "hstore", "hstore", -1, -1, DBL, "VARCHAR",
     "hstore_json", NULL},
    {"pg enum -> VARCHAR enum_text", PG, "enum", "order_status", -1, -1, DBL, "VARCHAR",
     "enum_text", NULL},
    {"mysql enum -> VARCHAR enum_text", MY, "enum", "enum('a','b')", -1, -1, DBL, "VARCHAR",
     "enum_text", NULL},
    {"mysql set -> VARCHAR set_text", MY, "set", "set('red','green')", -1, -1, DBL, "VARCHAR",
     "set_text", NULL},
    /* dates and times */
    {"pg date -> DATE", PG, "date", "date", -1, -1, DBL, "DATE", "as_is", NULL},
    {"mysql date -> DATE", MY, "date", "date", -1, -1, DBL, "DATE", "as_is", NULL},
    {"pg time -> TIME", PG, "time", "time without time zone", -1, -1, DBL, "TIME", "as_is", NULL},
    {"mysql time -> TIME", MY, "time", "time", -1, -1, DBL, "TIME", "as_is", NULL},
    {"pg timetz -> VARCHAR timetz_text", PG, "timetz", "time with time zone", -1, -1, DBL,
     "VARCHAR", "timetz_text", NULL},
    {"pg timestamp -> TIMESTAMP", PG, "timestamp", "timestamp without time zone", -1, -1, DBL,
     "TIMESTAMP", "as_is", NULL},
    {"mysql datetime -> TIMESTAMP", MY, "timestamp", "datetime", -1, -1, DBL, "TIMESTAMP", "as_is",
     NULL},
    {"mysql datetime(6) -> TIMESTAMP", MY, "timestamp", "datetime(6)", -1, -1, DBL, "TIMESTAMP",
     "as_is", NULL},
    {"pg timestamptz -> TIMESTAMP WITH TIME ZONE to_utc", PG, "timestamptz",
     "timestamp with time zone", -1, -1, DBL, "TIMESTAMP WITH TIME ZONE", "to_utc", NULL},
    {"mysql timestamp classed timestamp -> TIMESTAMP WITH TIME ZONE", MY, "timestamp", "timestamp",
     -1, -1, DBL, "TIMESTAMP WITH TIME ZONE", "to_utc", NULL},
    {"mysql timestamp(3) classed timestamptz -> TIMESTAMP WITH TIME ZONE", MY, "timestamptz",
     "timestamp(3)", -1, -1, DBL, "TIMESTAMP WITH TIME ZONE", "to_utc", NULL},
    {"pg interval -> VARCHAR text", PG, "interval", "interval", -1, -1, DBL, "VARCHAR",
     "interval_text", NULL},
    {"mysql year -> SMALLINT", MY, "year", "year(4)", -1, -1, DBL, "SMALLINT", "as_is", NULL},
    /* bits */
    {"pg bit(8) -> VARCHAR bit_text", PG, "bit", "bit(8)", 8, -1, DBL, "VARCHAR", "bit_text", NULL},
    {"pg bit(1) -> VARCHAR bit_text", PG, "bit", "bit(1)", 1, -1, DBL, "VARCHAR", "bit_text", NULL},
    {"pg bit varying -> VARCHAR bit_text", PG, "bit", "bit varying", -1, -1, DBL, "VARCHAR",
     "bit_text", NULL},
    {"mysql bit(1) -> BOOLEAN", MY, "bit", "bit(1)", 1, -1, DBL, "BOOLEAN", "bit_to_bool", NULL},
    {"mysql bit(8) -> BIGINT", MY, "bit", "bit(8)", 8, -1, DBL, "BIGINT", "bit_int", NULL},
    {"mysql bit(63) -> BIGINT", MY, "bit", "bit(63)", 63, -1, DBL, "BIGINT", "bit_int", NULL},
    {"mysql bit(64) -> UBIGINT", MY, "bit", "bit(64)", 64, -1, DBL, "UBIGINT", "bit_int", NULL},
    {"mysql bit width from source_type -> BIGINT", MY, "bit", "bit(12)", -1, -1, DBL, "BIGINT",
     "bit_int", NULL},
    {"mysql bit width unknown -> UBIGINT", MY, "bit", "bit", -1, -1, DBL, "UBIGINT", "bit_int",
     NULL},
    /* binary: skipped */
    {"pg bytea skipped", PG, "binary", "bytea", -1, -1, DBL, NULL, "skip",
     "column amount (bytea) skipped: binary data is not extracted"},
    {"mysql blob skipped", MY, "binary", "blob", -1, -1, DBL, NULL, "skip",
     "column amount (blob) skipped: binary data is not extracted"},
    {"mysql longblob skipped", MY, "binary", "longblob", -1, -1, DBL, NULL, "skip",
     "column amount (longblob) skipped: binary data is not extracted"},
    {"mysql binary(16) skipped", MY, "binary", "binary(16)", 16, -1, DBL, NULL, "skip",
     "column amount (binary(16)) skipped: binary data is not extracted"},
    {"mysql varbinary skipped", MY, "binary", "varbinary(255)", -1, -1, DBL, NULL, "skip",
     "column amount (varbinary(255)) skipped: binary data is not extracted"},
    /* geometry */
    {"mysql geometry -> VARCHAR wkt_text", MY, "geometry", "geometry", -1, -1, DBL, "VARCHAR",
     "wkt_text", NULL},
    {"mysql point -> VARCHAR wkt_text", MY, "geometry", "point", -1, -1, DBL, "VARCHAR", "wkt_text",
     NULL},
    {"pg postgis geometry -> VARCHAR wkt_text", PG, "geometry", "geometry(Point,4326)", -1, -1, DBL,
     "VARCHAR", "wkt_text", NULL},
    /* unknown: text with a warning */
    {"pg inet -> VARCHAR with unknown warning", PG, "other", "inet", -1, -1, DBL, "VARCHAR",
     "text_fallback", "column amount (inet): unknown type, extracted as text"},
    {"pg cidr -> VARCHAR with unknown warning", PG, "other", "cidr", -1, -1, DBL, "VARCHAR",
     "text_fallback", "column amount (cidr): unknown type, extracted as text"},
    {"pg macaddr -> VARCHAR with unknown warning", PG, "other", "macaddr", -1, -1, DBL, "VARCHAR",
     "text_fallback", "column amount (macaddr): unknown type, extracted as text"},
    {"pg xml -> VARCHAR with unknown warning", PG, "other", "xml", -1, -1, DBL, "VARCHAR",
     "text_fallback", "column amount (xml): unknown type, extracted as text"},
    {"pg tsvector -> VARCHAR with unknown warning", PG, "other", "tsvector", -1, -1, DBL, "VARCHAR",
     "text_fallback", "column amount (tsvector): unknown type, extracted as text"},
    {"pg point -> VARCHAR with unknown warning", PG, "other", "point", -1, -1, DBL, "VARCHAR",
     "text_fallback", "column amount (point): unknown type, extracted as text"},
    {"class not in the list -> VARCHAR with unknown warning", MY, "float128", "float128", -1, -1,
     DBL, "VARCHAR", "text_fallback", "column amount (float128): unknown type, extracted as text"},
    {"no type_class -> VARCHAR with unknown warning", PG, NULL, "mystery", -1, -1, DBL, "VARCHAR",
     "text_fallback", "column amount (mystery): unknown type, extracted as text"},
    {"no type information at all -> VARCHAR with unknown warning", MY, NULL, NULL, -1, -1, DBL,
     "VARCHAR", "text_fallback", "column amount (unknown type): unknown type, extracted as text"},
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

static void run_case(void **state)
{
    const struct tcase *c = *state;
    struct vz_type_map m;
    memset(&m, 0xAB, sizeof(m)); /* the mapping must fill every field */
    vz_typemap_column(c->db, "amount", c->type_class, c->source, c->precision, c->scale, c->dm, &m);
    if (c->type) {
        assert_int_equal(m.skip, 0);
        assert_string_equal(m.duckdb_type, c->type);
    } else {
        assert_int_equal(m.skip, 1);
        assert_string_equal(m.duckdb_type, "");
    }
    assert_string_equal(m.conversion, c->conv);
    assert_string_equal(vz_conv_name(m.conv), c->conv);
    assert_string_equal(m.warning, c->warning ? c->warning : "");
}

/* Every warning names the column and its source type, whatever the rule. */
static void test_warnings_name_column_and_type(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES; i++) {
        const struct tcase *c = &cases[i];
        struct vz_type_map m;
        if (!c->warning || !c->source)
            continue;
        vz_typemap_column(c->db, "photo_äß", c->type_class, c->source, c->precision, c->scale,
                          c->dm, &m);
        assert_true(strncmp(m.warning, "column photo_äß (", strlen("column photo_äß (")) == 0);
        assert_non_null(strstr(m.warning, c->source));
    }
}

static void test_spec_examples_word_for_word(void **state)
{
    struct vz_type_map m;
    (void)state;
    vz_typemap_column(PG, "photo", "binary", "bytea", -1, -1, DBL, &m);
    assert_string_equal(m.warning, "column photo (bytea) skipped: binary data is not extracted");
    vz_typemap_column(PG, "x", "other", "tsvector", -1, -1, DBL, &m);
    assert_string_equal(m.warning, "column x (tsvector): unknown type, extracted as text");
}

/* A long name is cut at a character boundary with "...": still valid UTF-8,
 * so it can go into JSON. */
static void test_long_warning_is_cut_cleanly(void **state)
{
    char name[600];
    struct vz_type_map m;
    json_t *s;
    (void)state;
    /* 300 bytes of 2-byte characters, then the same one byte later, so the
       cut falls once on a lead byte and once on a continuation byte. */
    for (int shift = 0; shift < 2; shift++) {
        strcpy(name, shift ? "a" : "");
        for (int i = 0; i < 150; i++)
            strcat(name, "é");
        vz_typemap_column(PG, name, "other", "tsvector", -1, -1, DBL, &m);
        assert_true(strlen(m.warning) < sizeof(m.warning));
        assert_true(strlen(m.warning) >= sizeof(m.warning) - 6);
        assert_string_equal(m.warning + strlen(m.warning) - 3, "...");
        s = json_string(m.warning);
        assert_non_null(s); /* NULL would mean invalid UTF-8 */
        json_decref(s);
    }
}

static void test_conv_names_are_distinct(void **state)
{
    (void)state;
    for (int i = 0; i < VZ_CONV_COUNT_; i++)
        for (int j = i + 1; j < VZ_CONV_COUNT_; j++)
            assert_string_not_equal(vz_conv_name((enum vz_conv)i), vz_conv_name((enum vz_conv)j));
    assert_string_equal(vz_conv_name(VZ_CONV_COUNT_), "unknown");
    assert_string_equal(vz_conv_name((enum vz_conv) - 1), "unknown");
}

static const char *table_json =
    "{\"name\":\"products\",\"schema\":\"public\",\"columns\":["
    "{\"name\":\"id\",\"type_class\":\"int32\",\"source_type\":\"integer\","
    "\"precision\":32,\"scale\":0},"
    "{\"name\":\"photo\",\"type_class\":\"binary\",\"source_type\":\"bytea\","
    "\"precision\":null,\"scale\":null},"
    "{\"name\":\"price\",\"type_class\":\"decimal\",\"source_type\":\"numeric(30,20)\","
    "\"precision\":30,\"scale\":20,\"warning\":\"stale\"},"
    "{\"name\":\"tags\",\"type_class\":\"array\",\"source_type\":\"text[]\"},"
    "{\"name\":\"ip\",\"type_class\":\"other\",\"source_type\":\"inet\"},"
    "{\"name\":\"unit_price\",\"type_class\":\"decimal\",\"source_type\":\"numeric(10,2)\","
    "\"precision\":10,\"scale\":2,\"warning\":\"stale\"}]}";

static void test_annotate_table_default_mode(void **state)
{
    json_error_t jerr;
    json_t *t = json_loads(table_json, 0, &jerr), *cols, *w;
    struct vz_err err = VZ_ERR_INIT;
    (void)state;
    assert_non_null(t);
    assert_int_equal(vz_typemap_annotate_table(PG, t, DBL, &err), 0);
    cols = json_object_get(t, "columns");

    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 0), "parquet_type")),
                        "INTEGER");
    assert_true(json_is_false(json_object_get(json_array_get(cols, 0), "skipped")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 0), "conversion")),
                        "as_is");
    assert_null(json_object_get(json_array_get(cols, 0), "warning"));

    assert_true(json_is_null(json_object_get(json_array_get(cols, 1), "parquet_type")));
    assert_true(json_is_true(json_object_get(json_array_get(cols, 1), "skipped")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 1), "conversion")),
                        "skip");

    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 2), "parquet_type")),
                        "DOUBLE");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(cols, 2), "warning")),
        "column price (numeric(30,20)): scale 20 > 15, converted to DOUBLE with precision loss");

    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 3), "conversion")),
                        "array_json");
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 4), "parquet_type")),
                        "VARCHAR");
    /* a stale warning from an earlier annotation is removed */
    assert_null(json_object_get(json_array_get(cols, 5), "warning"));
    /* the input fields are left alone */
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 5), "source_type")),
                        "numeric(10,2)");

    w = json_object_get(t, "warnings");
    assert_true(json_is_array(w));
    assert_int_equal(json_array_size(w), 3);
    assert_string_equal(json_string_value(json_array_get(w, 0)),
                        "column photo (bytea) skipped: binary data is not extracted");
    assert_non_null(strstr(json_string_value(json_array_get(w, 1)), "column price"));
    assert_string_equal(json_string_value(json_array_get(w, 2)),
                        "column ip (inet): unknown type, extracted as text");

    /* Annotating again (e.g. in the other mode) replaces, never appends. */
    assert_int_equal(vz_typemap_annotate_table(PG, t, EXACT, &err), 0);
    assert_int_equal(json_array_size(json_object_get(t, "warnings")), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 2), "parquet_type")),
                        "DECIMAL(30,20)");
    assert_null(json_object_get(json_array_get(cols, 2), "warning"));
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 5), "parquet_type")),
                        "DECIMAL(10,2)");
    json_decref(t);
}

static void test_annotate_table_mysql(void **state)
{
    json_t *t =
        json_pack("{s:[{s:s,s:s,s:s,s:i,s:i},{s:s,s:s,s:s}]}", "columns", "name", "active",
                  "type_class", "int8", "source_type", "tinyint(1)", "precision", 3, "scale", 0,
                  "name", "created", "type_class", "timestamp", "source_type", "timestamp");
    json_t *cols;
    struct vz_err err = VZ_ERR_INIT;
    (void)state;
    assert_non_null(t);
    assert_int_equal(vz_typemap_annotate_table(MY, t, DBL, &err), 0);
    cols = json_object_get(t, "columns");
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 0), "parquet_type")),
                        "BOOLEAN");
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 1), "parquet_type")),
                        "TIMESTAMP WITH TIME ZONE");
    assert_int_equal(json_array_size(json_object_get(t, "warnings")), 0);
    /* the same JSON read as PostgreSQL gives the PostgreSQL reading */
    assert_int_equal(vz_typemap_annotate_table(PG, t, DBL, &err), 0);
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 0), "parquet_type")),
                        "TINYINT");
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 1), "parquet_type")),
                        "TIMESTAMP");
    json_decref(t);
}

static void test_annotate_table_rejects_bad_input(void **state)
{
    struct vz_err err = VZ_ERR_INIT;
    json_t *t;
    (void)state;
    t = json_pack("{s:s}", "name", "t");
    assert_int_equal(vz_typemap_annotate_table(PG, t, DBL, &err), VZ_EINVAL);
    assert_int_equal(err.code, VZ_EINVAL);
    json_decref(t);

    t = json_pack("{s:[i]}", "columns", 1);
    assert_int_equal(vz_typemap_annotate_table(PG, t, DBL, &err), VZ_EINVAL);
    json_decref(t);

    t = json_pack("{s:[{s:s}]}", "columns", "type_class", "text");
    assert_int_equal(vz_typemap_annotate_table(PG, t, DBL, &err), VZ_EINVAL);
    assert_non_null(strstr(err.msg, "name"));
    json_decref(t);

    t = json_pack("{s:[]}", "columns");
    assert_int_equal(vz_typemap_annotate_table((enum vz_db_type)7, t, DBL, &err), VZ_EINVAL);
    assert_int_equal(vz_typemap_annotate_table(PG, NULL, DBL, &err), VZ_EINVAL);
    /* an empty table is fine: no warnings */
    assert_int_equal(vz_typemap_annotate_table(MY, t, DBL, &err), 0);
    assert_int_equal(json_array_size(json_object_get(t, "warnings")), 0);
    json_decref(t);
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_warnings_name_column_and_type),
        cmocka_unit_test(test_spec_examples_word_for_word),
        cmocka_unit_test(test_long_warning_is_cut_cleanly),
        cmocka_unit_test(test_conv_names_are_distinct),
        cmocka_unit_test(test_annotate_table_default_mode),
        cmocka_unit_test(test_annotate_table_mysql),
        cmocka_unit_test(test_annotate_table_rejects_bad_input),
    };
    const size_t nfixed = sizeof(fixed) / sizeof(fixed[0]);
    struct CMUnitTest tests[NCASES + sizeof(fixed) / sizeof(fixed[0])];

    /* One named test per mapping case, so a failure names the rule. */
    for (size_t i = 0; i < NCASES; i++) {
        struct CMUnitTest t = {cases[i].name, run_case, NULL, NULL, (void *)&cases[i]};
        tests[i] = t;
    }
    for (size_t i = 0; i < nfixed; i++)
        tests[NCASES + i] = fixed[i];
    return _cmocka_run_group_tests("typemap", tests, NCASES + nfixed, NULL, NULL);
}

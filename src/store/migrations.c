#include "store/migrations.h"

/* Never edit a migration that has shipped: its checksum is recorded in every
 * store it ran on and a change is refused at start. Add a new one instead. */

/* 1: the spec's database_connections table (section 5, column for column),
 * plus datasets and jobs. */
static const char m1_sql[] =
    "CREATE TABLE database_connections (\n"
    "  id VARCHAR(36) NOT NULL PRIMARY KEY,\n"
    "  name VARCHAR(255) NOT NULL,\n"
    "  db_type VARCHAR(32) NOT NULL,\n"
    "  host VARCHAR(512) NOT NULL,\n"
    "  port INTEGER NOT NULL,\n"
    "  database VARCHAR(255) NOT NULL,\n"
    "  username VARCHAR(255) NOT NULL,\n"
    "  password_encrypted TEXT NOT NULL,\n"
    "  ssl_mode VARCHAR(32) DEFAULT 'prefer',\n"
    "  extra_options TEXT,\n"
    "  last_connected_at DATETIME,\n"
    "  last_sync_at DATETIME,\n"
    "  table_count INTEGER,\n"
    "  status VARCHAR(32) DEFAULT 'configured',\n"
    "  error_message TEXT,\n"
    "  created_at DATETIME NOT NULL,\n"
    "  updated_at DATETIME NOT NULL\n"
    ");\n"
    "CREATE TABLE datasets (\n"
    "  id VARCHAR(36) NOT NULL PRIMARY KEY,\n"
    "  name VARCHAR(255) NOT NULL,\n"
    "  source_type VARCHAR(16) NOT NULL DEFAULT 'file'\n"
    "    CHECK (source_type IN ('file', 'database')),\n"
    "  source_connection_id VARCHAR(36)\n"
    "    REFERENCES database_connections(id) ON DELETE SET NULL,\n"
    "  source_table TEXT,\n"
    "  status VARCHAR(32) NOT NULL DEFAULT 'queued',\n"
    "  row_count INTEGER,\n"
    "  warnings TEXT NOT NULL DEFAULT '[]',\n"
    "  raw_path TEXT,\n"
    "  processed_path TEXT,\n"
    "  error_message TEXT,\n"
    "  created_at DATETIME NOT NULL,\n"
    "  updated_at DATETIME NOT NULL\n"
    ");\n"
    "CREATE INDEX datasets_by_source ON datasets(source_connection_id, source_table);\n"
    "CREATE TABLE jobs (\n"
    "  id VARCHAR(36) NOT NULL PRIMARY KEY,\n"
    "  dataset_id VARCHAR(36) REFERENCES datasets(id) ON DELETE CASCADE,\n"
    "  kind VARCHAR(32) NOT NULL,\n"
    "  state VARCHAR(32) NOT NULL DEFAULT 'queued'\n"
    "    CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),\n"
    "  progress REAL NOT NULL DEFAULT 0,\n"
    "  rows_done INTEGER NOT NULL DEFAULT 0,\n"
    "  rows_total INTEGER,\n"
    "  error TEXT,\n"
    "  created_at DATETIME NOT NULL,\n"
    "  started_at DATETIME,\n"
    "  finished_at DATETIME,\n"
    "  updated_at DATETIME NOT NULL\n"
    ");\n"
    "CREATE INDEX jobs_by_dataset ON jobs(dataset_id);\n"
    "CREATE INDEX jobs_by_state ON jobs(state);\n";

/* 2: what extraction records beyond the spec's columns: the SQL that ran,
 * the request options, sizes and timings; job phase and live counters. */
static const char m2_sql[] =
    "ALTER TABLE datasets ADD COLUMN source_sql TEXT;\n"
    "ALTER TABLE datasets ADD COLUMN options TEXT NOT NULL DEFAULT '{}';\n"
    "ALTER TABLE datasets ADD COLUMN byte_size INTEGER;\n"
    "ALTER TABLE datasets ADD COLUMN extract_seconds REAL;\n"
    "ALTER TABLE datasets ADD COLUMN last_job_id VARCHAR(36);\n"
    "ALTER TABLE jobs ADD COLUMN phase VARCHAR(32);\n"
    "ALTER TABLE jobs ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE jobs ADD COLUMN rate REAL NOT NULL DEFAULT 0;\n"
    "CREATE UNIQUE INDEX datasets_one_per_source ON datasets(source_connection_id, source_table)\n"
    "  WHERE source_type = 'database' AND source_table <> 'custom_query';\n";

/* 3: what the pipeline records on a dataset: the column profile (JSON),
 * the embedding provider, model and dimension, the chunk count and where
 * the search index is. */
static const char m3_sql[] = "ALTER TABLE datasets ADD COLUMN profile TEXT;\n"
                             "ALTER TABLE datasets ADD COLUMN embed_provider TEXT;\n"
                             "ALTER TABLE datasets ADD COLUMN embed_model TEXT;\n"
                             "ALTER TABLE datasets ADD COLUMN embed_dim INTEGER;\n"
                             "ALTER TABLE datasets ADD COLUMN chunk_count INTEGER;\n"
                             "ALTER TABLE datasets ADD COLUMN index_path TEXT;\n";

static const struct vz_migration migrations[] = {
    {1, "connections_datasets_jobs", m1_sql},
    {2, "extraction_details", m2_sql},
    {3, "pipeline", m3_sql},
};

const struct vz_migration *vz_migrations(size_t *n)
{
    *n = sizeof(migrations) / sizeof(migrations[0]);
    return migrations;
}

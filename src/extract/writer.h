/* Writing an open result stream to a Parquet file, atomically.
 *
 * The rows go from the source backend straight into DuckDB data chunks (see
 * extract/stream.h), through a table function, into
 * COPY ... TO '<out_path>.tmp' (FORMAT parquet, COMPRESSION zstd). Only a
 * complete file is fsync'ed and renamed over out_path (spec M1: the caller
 * passes <data>/<dataset_id>.parquet); after any failure or cancel the .tmp
 * file is gone and an existing out_path is untouched. Memory stays bounded
 * whatever the row count: one chunk of rows plus one Parquet row group (at
 * most VZ_EXTRACT_ROW_GROUP_BYTES of encoded data, or 122880 rows).
 *
 * Layer: extract/stream, sources/source (the stream_* calls), core/, DuckDB. */
#ifndef VZ_EXTRACT_WRITER_H
#define VZ_EXTRACT_WRITER_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/err.h"
#include "extract/stream.h"
#include "sources/source.h"

/* Target size of one Parquet row group; a row group is buffered in memory
 * before it is written, so this caps memory for wide rows. */
#define VZ_EXTRACT_ROW_GROUP_BYTES "32MB"
#define VZ_EXTRACT_MEMORY_LIMIT "512MB" /* DuckDB's memory_limit when none is given */

/* Shared with other threads while vz_extract_write() runs: they may read rows
 * and bytes at any time and set cancel to 1 to stop the run. The caller owns
 * it and zeroes it before the run. */
struct vz_extract_progress {
    _Atomic uint64_t rows;  /* rows handed to the Parquet writer so far */
    _Atomic uint64_t bytes; /* source wire bytes received so far (st->bytes) */
    _Atomic int cancel;     /* set to 1 to stop; checked before each chunk */
};

struct vz_extract_opts {
    const char *out_path;                 /* final file, e.g. <data>/<dataset_id>.parquet */
    uint64_t max_rows;                    /* M3 (DB_EXTRACT_MAX_ROWS); 0 = no cap */
    struct vz_extract_progress *progress; /* may be NULL */
    const char *duckdb_memory_limit;      /* e.g. "256MB"; NULL = VZ_EXTRACT_MEMORY_LIMIT */
    const char *tmp_dir;                  /* DuckDB spill directory; NULL = out_path's dir */
};

struct vz_extract_result {
    uint64_t rows;          /* rows in the written file */
    uint64_t bytes_written; /* size of the final file */
    double seconds;         /* wall time of the whole call */
};

/* Read st to its end into out_path (see above).
 *
 * st must be open (vz_source_stream_open() on src succeeded) with at least
 * one kept column; this function calls vz_source_stream_fill() until the end
 * or the first error, on the calling thread, and never closes the stream: the
 * caller calls vz_source_stream_close() afterwards in every case. Another
 * thread may set o->progress->cancel; a fill blocked in the network returns
 * only when the caller also calls vz_source_cancel(src).
 *
 * res (may be NULL) is filled on success and zeroed on failure.
 * Errors:
 *   the source's own code and message when a fill fails (VZ_ESOURCE,
 *     VZ_ETIMEOUT, ...), unchanged;
 *   VZ_ECANCELLED  progress->cancel was set (also when the source then failed);
 *   VZ_ELIMIT      more than max_rows rows; the message names the cap and how
 *                  to get past it;
 *   VZ_ENOSPACE    the disk filled up (the .tmp file is removed);
 *   VZ_EUNSUPPORTED no column left to extract (every column skipped);
 *   VZ_EINVAL      no out_path, or a path DuckDB cannot take;
 *   VZ_EIO, VZ_ENOMEM, VZ_EINTERNAL  anything else from DuckDB or the file
 *                  system, with its message.
 * One failure comes too late to keep the old file: when the fsync of the
 * directory after the rename fails (VZ_EIO), the new file is in place but
 * may not survive a crash. */
int vz_extract_write(struct vz_source *src, struct vz_stream *st, const struct vz_extract_opts *o,
                     struct vz_extract_result *res, struct vz_err *err) VZ_MUST_CHECK;

/* The Parquet column names for st's kept columns, in chunk order, as
 * vz_extract_write() will write them: empty names become "column<N>" (N the
 * 1-based result position) and names that repeat, ignoring ASCII case (DuckDB
 * and MySQL do), get "_1", "_2"... until unique; invalid UTF-8 becomes
 * U+FFFD. On success *out is a new array of st->nout new strings; free with
 * vz_extract_names_free(). 0 or VZ_ENOMEM. */
int vz_extract_column_names(const struct vz_stream *st, char ***out,
                            struct vz_err *err) VZ_MUST_CHECK;
void vz_extract_names_free(char **names, size_t n);

#endif

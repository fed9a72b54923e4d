/* Background jobs: a fixed pool of worker threads and a queue.
 *
 * A job is a function run on a worker with a struct vz_job_ctl that carries
 * its cancel flag and live counters. While a job runs, a ticker thread calls
 * its tick callback about twice a second (for progress records), and
 * vz_runner_cancel() can reach it from any thread: it sets the flag and, if
 * the job registered a source with vz_job_ctl_set_source(), asks the source
 * server to stop the running statement. */
#ifndef VZ_JOBS_RUNNER_H
#define VZ_JOBS_RUNNER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "core/err.h"

struct vz_source;
struct vz_runner;

struct vz_job_ctl {
    char job_id[40];
    atomic_int cancel;         /* 1: stop as soon as possible */
    atomic_uint_fast64_t rows; /* live counters the job updates */
    atomic_uint_fast64_t bytes;
    int64_t rows_total; /* estimate, -1 unknown (set before submit) */
    int64_t started_ms;
    /* private to the runner */
    pthread_mutex_t mu;
    struct vz_source *src;
    void *arg;
    void (*fn)(void *arg, struct vz_job_ctl *ctl);
    void (*tick)(void *arg, struct vz_job_ctl *ctl);
    void (*free_arg)(void *arg);
    struct vz_job_ctl *next;
    int running;
};

/* Start nworkers threads (1-64). *out is new; stop with vz_runner_stop(). */
int vz_runner_start(int nworkers, struct vz_runner **out, struct vz_err *err) VZ_MUST_CHECK;

/* Cancel every job, wait for the workers, free. Queued jobs never run: their
 * fn is called with cancel already set, so each can record the outcome. */
void vz_runner_stop(struct vz_runner *r);

/* Queue fn(arg, ctl). tick (may be NULL) runs on the ticker thread while fn
 * runs; free_arg (may be NULL) frees arg after fn returned. The runner owns
 * arg from this call on, also when it fails. */
int vz_runner_submit(struct vz_runner *r, const char *job_id, int64_t rows_total,
                     void (*fn)(void *arg, struct vz_job_ctl *ctl),
                     void (*tick)(void *arg, struct vz_job_ctl *ctl), void *arg,
                     void (*free_arg)(void *arg), struct vz_err *err) VZ_MUST_CHECK;

/* 0 if the job was found (queued or running) and told to stop, else
 * VZ_ENOTFOUND. Returns at once; the job ends on its own thread. */
int vz_runner_cancel(struct vz_runner *r, const char *job_id);

/* Jobs call these: the source to cancel on request (NULL to clear, before
 * closing it). */
void vz_job_ctl_set_source(struct vz_job_ctl *ctl, struct vz_source *src);

#endif

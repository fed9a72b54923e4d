#include "jobs/runner.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/util.h"
#include "sources/source.h"

struct vz_runner {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct vz_job_ctl *queue_head, *queue_tail; /* waiting */
    struct vz_job_ctl *active;                  /* running (linked by next) */
    int stopping;
    int nworkers;
    pthread_t *workers;
    pthread_t ticker;
    int ticker_started;
};

static void ctl_free(struct vz_job_ctl *c)
{
    if (!c)
        return;
    if (c->free_arg)
        c->free_arg(c->arg);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void vz_job_ctl_set_source(struct vz_job_ctl *ctl, struct vz_source *src)
{
    pthread_mutex_lock(&ctl->mu);
    ctl->src = src;
    pthread_mutex_unlock(&ctl->mu);
}

static void ctl_cancel(struct vz_job_ctl *c)
{
    struct vz_err err = VZ_ERR_INIT;
    atomic_store(&c->cancel, 1);
    pthread_mutex_lock(&c->mu);
    if (c->src && vz_source_cancel(c->src, &err) < 0)
        vz_warn("job %s: cancel request to the source failed: %s", c->job_id, err.msg);
    pthread_mutex_unlock(&c->mu);
}

static void unlink_active(struct vz_runner *r, struct vz_job_ctl *c)
{
    for (struct vz_job_ctl **p = &r->active; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            return;
        }
    }
}

static void *worker_main(void *arg)
{
    struct vz_runner *r = arg;
    for (;;) {
        struct vz_job_ctl *c;
        pthread_mutex_lock(&r->mu);
        while (!r->queue_head && !r->stopping)
            pthread_cond_wait(&r->cv, &r->mu);
        if (!r->queue_head) {
            pthread_mutex_unlock(&r->mu);
            return NULL;
        }
        c = r->queue_head;
        r->queue_head = c->next;
        if (!r->queue_head)
            r->queue_tail = NULL;
        if (r->stopping)
            atomic_store(&c->cancel, 1);
        c->next = r->active;
        r->active = c;
        c->running = 1;
        c->started_ms = vz_mono_ms();
        pthread_mutex_unlock(&r->mu);

        c->fn(c->arg, c);

        pthread_mutex_lock(&r->mu);
        unlink_active(r, c);
        pthread_mutex_unlock(&r->mu);
        ctl_free(c);
    }
}

/* Progress for running jobs, about twice a second. The tick callbacks run
 * under the runner lock so a job cannot finish (and free its arg) mid-tick;
 * they only write a progress row, which is quick. */
static void *ticker_main(void *arg)
{
    struct vz_runner *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!r->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 500 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
        for (struct vz_job_ctl *c = r->active; c && !r->stopping; c = c->next)
            if (c->tick)
                c->tick(c->arg, c);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

int vz_runner_start(int nworkers, struct vz_runner **out, struct vz_err *err)
{
    struct vz_runner *r;
    *out = NULL;
    if (nworkers < 1 || nworkers > 64)
        return vz_err_set(err, VZ_EINVAL, "worker count must be 1-64");
    r = calloc(1, sizeof(*r));
    if (!r)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    r->workers = calloc((size_t)nworkers, sizeof(pthread_t));
    if (!r->workers) {
        free(r);
        return vz_err_set(err, VZ_ENOMEM, NULL);
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    for (int i = 0; i < nworkers; i++) {
        if (pthread_create(&r->workers[i], NULL, worker_main, r) != 0) {
            vz_runner_stop(r);
            return vz_err_set(err, VZ_ENOMEM, "cannot start worker threads");
        }
        r->nworkers++;
    }
    if (pthread_create(&r->ticker, NULL, ticker_main, r) != 0) {
        vz_runner_stop(r);
        return vz_err_set(err, VZ_ENOMEM, "cannot start the progress thread");
    }
    r->ticker_started = 1;
    *out = r;
    return VZ_OK;
}

void vz_runner_stop(struct vz_runner *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stopping = 1;
    for (struct vz_job_ctl *c = r->active; c; c = c->next)
        ctl_cancel(c);
    for (struct vz_job_ctl *c = r->queue_head; c; c = c->next)
        atomic_store(&c->cancel, 1);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    for (int i = 0; i < r->nworkers; i++)
        pthread_join(r->workers[i], NULL);
    if (r->ticker_started)
        pthread_join(r->ticker, NULL);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r->workers);
    free(r);
}

int vz_runner_submit(struct vz_runner *r, const char *job_id, int64_t rows_total,
                     void (*fn)(void *arg, struct vz_job_ctl *ctl),
                     void (*tick)(void *arg, struct vz_job_ctl *ctl), void *arg,
                     void (*free_arg)(void *arg), struct vz_err *err)
{
    struct vz_job_ctl *c = calloc(1, sizeof(*c));
    if (!c) {
        if (free_arg)
            free_arg(arg);
        return vz_err_set(err, VZ_ENOMEM, NULL);
    }
    snprintf(c->job_id, sizeof(c->job_id), "%s", job_id);
    pthread_mutex_init(&c->mu, NULL);
    c->rows_total = rows_total;
    c->fn = fn;
    c->tick = tick;
    c->arg = arg;
    c->free_arg = free_arg;
    pthread_mutex_lock(&r->mu);
    if (r->stopping) {
        pthread_mutex_unlock(&r->mu);
        ctl_free(c);
        return vz_err_set(err, VZ_ECANCELLED, "the server is shutting down");
    }
    if (r->queue_tail)
        r->queue_tail->next = c;
    else
        r->queue_head = c;
    r->queue_tail = c;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return VZ_OK;
}

int vz_runner_cancel(struct vz_runner *r, const char *job_id)
{
    int rc = VZ_ENOTFOUND;
    pthread_mutex_lock(&r->mu);
    for (struct vz_job_ctl *c = r->active; c; c = c->next) {
        if (strcmp(c->job_id, job_id) == 0) {
            ctl_cancel(c);
            rc = VZ_OK;
        }
    }
    for (struct vz_job_ctl *c = r->queue_head; c; c = c->next) {
        if (strcmp(c->job_id, job_id) == 0) {
            atomic_store(&c->cancel, 1);
            rc = VZ_OK;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

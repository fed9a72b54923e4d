/* The model alone, for bench/pipeline.sh: embed the texts of a file (each
 * text ends with a NUL byte) with the `local` provider, VZ_PIPELINE_BATCH
 * texts per vz_embed_batch() call like the pipeline, and print
 * "<texts> <seconds> <texts/s>". Only the embedding calls are timed (not the
 * model load or reading the file).
 * Usage: embed_raw FILE [MAX_TEXTS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pipeline/embed.h"
#include "pipeline/pipeline.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    struct vz_err err = VZ_ERR_INIT;
    struct vz_embedder *e = NULL;
    FILE *f;
    char *data = NULL, **texts = NULL;
    size_t cap = 0, len = 0, n = 0, max, i, *lens = NULL;
    float *out;
    double t0, secs;

    if (argc < 2) {
        fprintf(stderr, "usage: embed_raw FILE [MAX_TEXTS]\n");
        return 2;
    }
    max = argc > 2 ? strtoull(argv[2], NULL, 10) : (size_t)-1;
    if (!(f = fopen(argv[1], "rb"))) {
        perror(argv[1]);
        return 1;
    }
    for (;;) {
        size_t got;
        if (len + 65536 > cap) {
            cap = cap ? cap * 2 : 1 << 20;
            if (!(data = realloc(data, cap)))
                return 1;
        }
        got = fread(data + len, 1, cap - len, f);
        if (!got)
            break;
        len += got;
    }
    fclose(f);
    for (i = 0; i < len; i++)
        if (data[i] == '\0')
            n++;
    if (n > max)
        n = max;
    texts = calloc(n ? n : 1, sizeof(*texts));
    lens = calloc(n ? n : 1, sizeof(*lens));
    if (!texts || !lens)
        return 1;
    {
        size_t k = 0, start = 0;
        for (i = 0; i < len && k < n; i++)
            if (data[i] == '\0') {
                texts[k] = data + start;
                lens[k++] = i - start;
                start = i + 1;
            }
    }
    if (vz_embed_open("local", NULL, &e, &err) < 0) {
        fprintf(stderr, "embed_raw: %s\n", err.msg);
        return 1;
    }
    out = malloc(sizeof(float) * (size_t)vz_embed_dim(e) * VZ_PIPELINE_BATCH);
    if (!out)
        return 1;
    t0 = now();
    for (i = 0; i < n; i += VZ_PIPELINE_BATCH) {
        size_t m = n - i < VZ_PIPELINE_BATCH ? n - i : VZ_PIPELINE_BATCH;
        if (vz_embed_batch(e, (const char *const *)texts + i, lens + i, m, out, &err) < 0) {
            fprintf(stderr, "embed_raw: %s\n", err.msg);
            return 1;
        }
    }
    secs = now() - t0;
    printf("%zu %.3f %.1f\n", n, secs, secs > 0 ? (double)n / secs : 0.0);
    vz_embed_close(e);
    free(out);
    free(texts);
    free(lens);
    free(data);
    return 0;
}

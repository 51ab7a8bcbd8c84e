/* Concurrency through the C ABI: one model shared by 8 threads classifying different images
 * gives exactly the single-threaded results, two models with different thread counts run
 * side by side, and the worker pool sleeps once calls return (no CPU used while idle).
 * Usage: test_threads MODEL.onnx IMAGE... (8 images or more is best) */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "manako.h"

#define THREADS 8
#define ROUNDS 6
#define TOP 5

typedef struct job {
    manako_model_t model;
    const char **images;
    int image_count, first;
    const manako_prediction (*expected)[TOP];
    int mismatches, errors;
} job;

static int same(const manako_prediction *a, const manako_prediction *b) {
    for (int k = 0; k < TOP; k++)  /* bit-identical probabilities, not merely close */
        if (a[k].index != b[k].index || memcmp(&a[k].probability, &b[k].probability, sizeof(float)) != 0) return 0;
    return 1;
}

static void *classify_many(void *argument) {
    job *j = argument;
    for (int round = 0; round < ROUNDS; round++)
        for (int i = 0; i < j->image_count; i++) {
            int which = (j->first + i + round) % j->image_count;  /* threads start on different images */
            manako_prediction top[TOP];
            size_t count = 0;
            if (manako_model_classify_file(j->model, j->images[which], top, TOP, &count) != MANAKO_OK || count != TOP) {
                j->errors++;
                fprintf(stderr, "thread error on %s: %s\n", j->images[which], manako_last_error());
            } else if (!same(top, j->expected[which])) {
                j->mismatches++;
            }
        }
    return NULL;
}

/* Classifies until the shared handle is freed under it: every call must end OK (it started
 * before the free) or with MANAKO_INVALID_ARGUMENT (after), never crash. */
typedef struct racer {
    manako_model_t model;
    const char *image;
    int ok, refused, other;
} racer;

static void *classify_until_freed(void *argument) {
    racer *r = argument;
    for (int i = 0; i < 100000; i++) {
        manako_prediction top[TOP];
        size_t count = 0;
        manako_status status = manako_model_classify_file(r->model, r->image, top, TOP, &count);
        if (status == MANAKO_OK) r->ok++;
        else if (status == MANAKO_INVALID_ARGUMENT) { r->refused++; break; }
        else { r->other++; break; }
    }
    return NULL;
}

static manako_model_t load(const char *path, int threads) {
    manako_options options;
    manako_options_init(&options);
    options.threads = threads;
    manako_model_t model = NULL;
    if (manako_model_load(path, &options, &model) != MANAKO_OK) {
        fprintf(stderr, "load: %s\n", manako_last_error());
        exit(2);
    }
    return model;
}

/* Runs one job per model in `models` (cycled over `count` threads) and returns the failures. */
static int run_jobs(manako_model_t *models, int model_count, int count, const char **images, int image_count,
                    manako_prediction (*expected)[TOP], const char *what) {
    pthread_t threads[THREADS];
    job jobs[THREADS];
    for (int t = 0; t < count; t++) {
        jobs[t] = (job){models[t % model_count], images, image_count, t, (const manako_prediction (*)[TOP])expected, 0, 0};
        pthread_create(&threads[t], NULL, classify_many, &jobs[t]);
    }
    int failures = 0;
    for (int t = 0; t < count; t++) {
        pthread_join(threads[t], NULL);
        failures += jobs[t].mismatches + jobs[t].errors;
    }
    printf("%s: %d threads x %d classifications, %d differing from single-threaded results\n", what, count,
           ROUNDS * image_count, failures);
    return failures;
}

/* Process CPU time (user + system), in seconds. */
static double cpu_seconds(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (double)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + (double)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: test_threads MODEL IMAGE...\n"); return 2; }
    const char **images = (const char **)argv + 2;
    int image_count = argc - 2;
    manako_prediction (*expected)[TOP] = calloc((size_t)image_count, sizeof *expected);
    manako_model_t shared = load(argv[1], 2);  /* 8 callers contend for its worker pool too */
    for (int i = 0; i < image_count; i++) {
        size_t count = 0;
        if (manako_model_classify_file(shared, images[i], expected[i], TOP, &count) != MANAKO_OK) {
            fprintf(stderr, "%s: %s\n", images[i], manako_last_error());
            return 2;
        }
    }
    int failures = run_jobs(&shared, 1, THREADS, images, image_count, expected, "one model shared");
    /* Output does not depend on the thread count, so both models must match the same results. */
    manako_model_t pair[2] = {load(argv[1], 1), load(argv[1], 2)};
    failures += run_jobs(pair, 2, 2, images, image_count, expected, "models with 1 and 2 threads side by side");
    manako_model_free(&pair[0]);
    manako_model_free(&pair[1]);

    /* Free a model while 4 threads use it. */
    manako_model_t doomed = load(argv[1], 1);
    pthread_t racers[4];
    racer states[4];
    for (int t = 0; t < 4; t++) {
        states[t] = (racer){doomed, images[t % image_count], 0, 0, 0};
        pthread_create(&racers[t], NULL, classify_until_freed, &states[t]);
    }
    struct timespec pause = {0, 300 * 1000 * 1000};
    nanosleep(&pause, NULL);
    manako_model_free(&doomed);
    int ok = 0, refused = 0;
    for (int t = 0; t < 4; t++) {
        pthread_join(racers[t], NULL);
        ok += states[t].ok;
        refused += states[t].refused;
        failures += states[t].other;
    }
    failures += refused != 4;
    printf("model freed under 4 threads: %d calls finished before, %d refused after, no crash\n", ok, refused);
    /* Workers poll between the parallel loops of a run, never after it: 0.3 s of quiet after a
     * 2-thread classification must cost (almost) no CPU. */
    size_t count = 0;
    manako_prediction top[TOP];
    manako_model_classify_file(shared, images[0], top, TOP, &count);
    double before = cpu_seconds();
    nanosleep(&pause, NULL);
    double idle = cpu_seconds() - before;
    printf("CPU used in 0.3 s of quiet after a 2-thread call: %.4f s\n", idle);
    failures += idle > 0.03;
    manako_model_free(&shared);
    free(expected);
    return failures ? 1 : 0;
}

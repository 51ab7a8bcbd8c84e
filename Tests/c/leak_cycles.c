/* Load, classify and free a model N times through the C ABI and report the heap in use after
 * each free (glibc's mallinfo2: exact, unlike RSS, which moves as the allocator trims): it must
 * stay flat. Usage: leak_cycles MODEL.onnx IMAGE CYCLES [MAX_GROWTH_KB]
 * Exits 1 when the heap in use grows by more than MAX_GROWTH_KB (default 256) between cycle
 * CYCLES/10 and the end. */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manako.h"

static long resident_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kb = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    return kb;
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: leak_cycles MODEL IMAGE CYCLES [MAX_GROWTH_MB]\n"); return 2; }
    long cycles = strtol(argv[3], NULL, 10), max_growth_kb = argc > 4 ? strtol(argv[4], NULL, 10) : 256;
    long baseline = 0, peak = 0, in_use = 0;
    /* A fixed mmap threshold: glibc's moves with the sizes freed, and then the same retained
     * chunk (the small-weight chunk being filled, 4 MB at 2 MB alignment) was counted 2 MB
     * larger in some cycles than in others, on heap or on its own mapping, in no trend. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    manako_options options;
    manako_options_init(&options);
    options.threads = 1;
    for (long i = 0; i < cycles; i++) {
        manako_model_t model = NULL;
        manako_prediction top[5];
        size_t count = 0;
        if (manako_model_load(argv[1], &options, &model) != MANAKO_OK ||
            manako_model_classify_file(model, argv[2], top, 5, &count) != MANAKO_OK) {
            fprintf(stderr, "cycle %ld: %s\n", i, manako_last_error());
            return 2;
        }
        /* A failing call too: error paths must not leak either. */
        manako_model_classify_file(model, "/nonexistent.png", top, 5, &count);
        manako_model_free(&model);
        struct mallinfo2 heap = mallinfo2();
        in_use = (long)((heap.uordblks + heap.hblkhd) / 1024);
        long rss = resident_kb();
        if (rss > peak) peak = rss;
        if (i == cycles / 10) baseline = in_use;
        if (cycles >= 10 && (i + 1) % (cycles / 10) == 0)
            printf("cycle %ld: heap in use %ld KB, RSS %ld MB\n", i + 1, in_use, rss / 1024);
    }
    long growth = in_use - baseline;
    printf("%ld cycles: heap in use %ld KB after cycle %ld and %ld KB at the end (growth %ld KB); peak RSS %ld MB\n",
           cycles, baseline, cycles / 10, in_use, growth, peak / 1024);
    return growth > max_growth_kb ? 1 : 0;
}

/* Classifies images with Manako through its C ABI.
 * Build: cc -std=c99 examples/c/classify.c -I include -L .build/static/release -lmanako \
 *            -Wl,-rpath,.build/static/release -o classify
 * Run:   ./classify Resources/efficientnet-lite0.onnx Resources/chelsea.png [TOP_K]
 */
#include <stdio.h>
#include <stdlib.h>

#include "manako.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.onnx IMAGE.png [TOP_K]\n", argv[0]);
        return 2;
    }
    size_t top_k = argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) : 5;
    if (top_k < 1 || top_k > 1000) top_k = 5;

    manako_options options;
    manako_options_init(&options);
    options.threads = 1;

    manako_model_t model = NULL;
    if (manako_model_load(argv[1], &options, &model) != MANAKO_OK) {
        fprintf(stderr, "cannot load model: %s\n", manako_last_error());
        return 1;
    }

    manako_prediction *top = calloc(top_k, sizeof *top);
    size_t count = 0;
    manako_status status = manako_model_classify_file(model, argv[2], top, top_k, &count);
    if (status != MANAKO_OK) {
        fprintf(stderr, "cannot classify %s: %s\n", argv[2], manako_last_error());
    } else {
        for (size_t i = 0; i < count; i++) {
            printf("%6.2f%%  %4d  %s\n", top[i].probability * 100.0, (int)top[i].index,
                   top[i].label ? top[i].label : "(no label)");
        }
    }
    free(top);
    manako_model_free(&model);
    return status == MANAKO_OK ? 0 : 1;
}

/* Runs Tests/Malformed/cases.tsv through the C ABI: every hostile model and image must give its
 * status and a message naming the problem, never a crash.
 * Usage: test_malformed CASES_FOLDER DEFAULT_MODEL.onnx */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manako.h"

static const char *status_names[] = {"OK", "INVALID_ARGUMENT", "INVALID_MODEL", "UNSUPPORTED_OPERATOR", "SHAPE_MISMATCH",
                                     "IO_ERROR", "INVALID_IMAGE", "LIMIT_EXCEEDED", "BUFFER_TOO_SMALL", "INTERNAL_ERROR"};

static manako_status outcome(const char *kind, const char *path, manako_model_t classifier) {
    manako_model_t model = NULL;
    manako_status status;
    if (strcmp(kind, "image") == 0) {
        manako_prediction top[5];
        size_t count = 0;
        return manako_model_classify_file(classifier, path, top, 5, &count);
    }
    status = manako_model_load(path, NULL, &model);
    if (status != MANAKO_OK || strcmp(kind, "load") == 0) {
        manako_model_free(&model);
        return status;
    }
    float zeros[192] = {0}, result[4096];
    int64_t shape[4] = {1, 3, 8, 8};
    manako_input input = {"x", zeros, shape, 4};
    manako_output output = {NULL, result, 4096, {0}, 0};
    status = manako_model_run(model, &input, 1, &output, 1);
    manako_model_free(&model);
    return status;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: test_malformed CASES_FOLDER DEFAULT_MODEL\n"); return 2; }
    char path[4096], line[1024];
    snprintf(path, sizeof path, "%s/cases.tsv", argv[1]);
    FILE *cases = fopen(path, "r");
    if (!cases) { fprintf(stderr, "cannot open %s\n", path); return 2; }
    manako_model_t classifier = NULL;
    if (manako_model_load(argv[2], NULL, &classifier) != MANAKO_OK) { fprintf(stderr, "%s\n", manako_last_error()); return 2; }
    int tried = 0, failures = 0;
    while (fgets(line, sizeof line, cases)) {
        if (line[0] == '#') continue;
        line[strcspn(line, "\r\n")] = 0;
        char *kind = strtok(line, "\t"), *file = strtok(NULL, "\t"), *expected = strtok(NULL, "\t"), *fragment = strtok(NULL, "\t");
        if (!kind || !file || !expected || !fragment) { fprintf(stderr, "bad line in cases.tsv\n"); return 2; }
        snprintf(path, sizeof path, "%s/%s", argv[1], file);
        manako_status status = outcome(kind, path, classifier);
        const char *name = (unsigned)status < sizeof status_names / sizeof *status_names ? status_names[status] : "?";
        tried++;
        if (strcmp(name, expected) != 0 || strstr(manako_last_error(), fragment) == NULL) {
            failures++;
            fprintf(stderr, "FAIL %s: %s (expected %s), message: %s\n", file, name, expected, manako_last_error());
        }
    }
    fclose(cases);
    manako_model_free(&classifier);
    if (failures) { fprintf(stderr, "%d of %d hostile inputs misbehaved\n", failures, tried); return 1; }
    printf("%d hostile inputs refused with their status and message through the C ABI\n", tried);
    return 0;
}

/* Tests of the C ABI: results, misuse (NULLs, stale handles, short buffers, wrong shapes)
 * and pixel formats. Usage: test_capi MODEL.onnx IMAGE.png */
#include <math.h>
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manako.h"

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
    fprintf(stderr, __VA_ARGS__); fprintf(stderr, " (last error: %s)\n", manako_last_error()); } } while (0)

static unsigned char *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc((size_t)n);
    *size = fread(data, 1, (size_t)n, f);
    fclose(f);
    return data;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: test_capi MODEL IMAGE\n"); return 2; }
    const char *model_path = argv[1], *image_path = argv[2];
    manako_model_t model = NULL;
    manako_prediction top[5];
    size_t count = 0;

    CHECK(strcmp(manako_version(), "") != 0, "empty version");

    /* Loading: NULLs, missing file, garbage bytes. */
    CHECK(manako_model_load(NULL, NULL, &model) == MANAKO_INVALID_ARGUMENT, "NULL path accepted");
    CHECK(strstr(manako_last_error(), "path") != NULL, "message does not name the path: %s", manako_last_error());
    CHECK(manako_model_load(model_path, NULL, NULL) == MANAKO_INVALID_ARGUMENT, "NULL out pointer accepted");
    CHECK(manako_model_load("/nonexistent/model.onnx", NULL, &model) == MANAKO_IO_ERROR, "missing file");
    CHECK(model == NULL, "handle set on failure");
    const char garbage[] = "this is not an onnx model at all";
    CHECK(manako_model_load_memory(garbage, sizeof garbage, NULL, &model) == MANAKO_INVALID_MODEL, "garbage accepted");
    manako_options bad_options = {0};
    CHECK(manako_model_load(model_path, &bad_options, &model) == MANAKO_INVALID_ARGUMENT, "uninitialised options accepted");

    /* Load from a path and from memory. */
    manako_options options;
    CHECK(manako_options_init(&options) == MANAKO_OK, "options_init");
    options.threads = 1;
    CHECK(manako_model_load(model_path, &options, &model) == MANAKO_OK, "load");
    size_t model_size = 0;
    unsigned char *model_bytes = read_file(model_path, &model_size);
    manako_model_t from_memory = NULL;
    CHECK(manako_model_load_memory(model_bytes, model_size, &options, &from_memory) == MANAKO_OK, "load from memory");
    free(model_bytes);

    /* Inspection. */
    size_t inputs = 0, outputs = 0, rank = 0;
    const char *name = NULL;
    int64_t shape[MANAKO_MAX_RANK];
    CHECK(manako_model_io_count(model, &inputs, &outputs) == MANAKO_OK && inputs == 1 && outputs == 1, "io count");
    CHECK(manako_model_input_info(model, 0, &name, shape, MANAKO_MAX_RANK, &rank) == MANAKO_OK, "input info");
    CHECK(rank == 4 && shape[1] == 3 && shape[2] == 224 && shape[3] == 224 && strcmp(name, "input") == 0, "input shape");
    CHECK(manako_model_input_info(model, 0, &name, shape, 2, &rank) == MANAKO_BUFFER_TOO_SMALL, "short shape buffer");
    CHECK(manako_model_input_info(model, 7, &name, shape, 8, &rank) == MANAKO_INVALID_ARGUMENT, "index out of range");
    CHECK(manako_model_output_info(model, 0, &name, shape, 8, &rank) == MANAKO_OK && rank == 2 && shape[1] == 1000, "output info");

    /* Classify a file: a cat first. */
    CHECK(manako_model_classify_file(model, image_path, top, 5, &count) == MANAKO_OK, "classify file");
    CHECK(count == 5 && top[0].index >= 281 && top[0].index <= 285, "top-1 is %d, not a cat", (int)top[0].index);
    CHECK(top[0].label && strcmp(top[0].label, "tiger cat") == 0, "label %s", top[0].label ? top[0].label : "NULL");
    CHECK(top[0].probability > top[1].probability && top[0].probability < 1, "ordering");
    manako_prediction from_file = top[0];

    /* Encoded bytes from memory give the same answer; corrupt bytes give an image error. */
    size_t image_size = 0;
    unsigned char *image = read_file(image_path, &image_size);
    CHECK(manako_model_classify_encoded(from_memory, image, image_size, top, 5, &count) == MANAKO_OK, "classify encoded");
    CHECK(top[0].index == from_file.index && fabsf(top[0].probability - from_file.probability) < 1e-6f, "encoded differs");
    CHECK(manako_model_classify_encoded(model, image, image_size / 2, top, 5, &count) == MANAKO_INVALID_IMAGE, "truncated PNG");
    CHECK(manako_model_classify_encoded(model, "GIF89a", 6, top, 5, &count) == MANAKO_INVALID_IMAGE, "wrong magic");
    CHECK(manako_model_classify_file(model, "/nonexistent.png", top, 5, &count) == MANAKO_IO_ERROR, "missing image");
    CHECK(manako_model_classify_encoded(model, image, SIZE_MAX, top, 5, &count) == MANAKO_LIMIT_EXCEEDED, "huge size");
    manako_model_t scratch = NULL;
    CHECK(manako_model_load_memory(image, SIZE_MAX, NULL, &scratch) == MANAKO_LIMIT_EXCEEDED && scratch == NULL,
          "huge model size");

    /* Raw pixels: RGB, BGR and RGBA with padded rows agree with the file. */
    png_image png;
    memset(&png, 0, sizeof png);
    png.version = PNG_IMAGE_VERSION;
    CHECK(png_image_begin_read_from_memory(&png, image, image_size), "libpng");
    png.format = PNG_FORMAT_RGB;
    int w = (int)png.width, h = (int)png.height;
    unsigned char *rgb = malloc((size_t)w * h * 3);
    png_image_finish_read(&png, NULL, rgb, 0, NULL);
    CHECK(manako_model_classify_pixels(model, rgb, (size_t)w * h * 3, w, h, (size_t)w * 3, MANAKO_PIXEL_RGB, top, 5, &count) == MANAKO_OK, "pixels rgb");
    CHECK(top[0].index == from_file.index && fabsf(top[0].probability - from_file.probability) < 1e-6f, "rgb differs");
    size_t stride = (size_t)w * 4 + 16;
    unsigned char *bgra = calloc(stride * h, 1);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            unsigned char *s = rgb + ((size_t)y * w + x) * 3, *d = bgra + y * stride + (size_t)x * 4;
            d[0] = s[2]; d[1] = s[1]; d[2] = s[0]; d[3] = 7;
        }
    CHECK(manako_model_classify_pixels(model, bgra, stride * h, w, h, stride, MANAKO_PIXEL_BGRA, top, 5, &count) == MANAKO_OK, "pixels bgra");
    CHECK(top[0].index == from_file.index && fabsf(top[0].probability - from_file.probability) < 1e-6f, "bgra differs");
    CHECK(manako_model_classify_pixels(model, rgb, 100, w, h, (size_t)w * 3, MANAKO_PIXEL_RGB, top, 5, &count) == MANAKO_BUFFER_TOO_SMALL, "short pixel buffer");
    CHECK(manako_model_classify_pixels(model, rgb, (size_t)w * h * 3, w, h, 2, MANAKO_PIXEL_RGB, top, 5, &count) == MANAKO_INVALID_ARGUMENT, "stride too small");
    CHECK(manako_model_classify_pixels(model, rgb, (size_t)w * h * 3, -3, h, (size_t)w * 3, MANAKO_PIXEL_RGB, top, 5, &count) == MANAKO_INVALID_IMAGE, "negative width");
    CHECK(manako_model_classify_pixels(model, rgb, (size_t)w * h * 3, w, h, (size_t)w * 3, (manako_pixel_format)42, top, 5, &count) == MANAKO_INVALID_ARGUMENT, "bad format");
    CHECK(manako_model_classify_pixels(model, NULL, 0, w, h, (size_t)w * 3, MANAKO_PIXEL_RGB, top, 5, &count) == MANAKO_INVALID_ARGUMENT, "NULL pixels");
    CHECK(manako_model_classify_pixels(model, rgb, SIZE_MAX, w, h, (size_t)w * 3, MANAKO_PIXEL_RGB, top, 5, &count) == MANAKO_LIMIT_EXCEEDED, "huge pixel size");
    CHECK(manako_model_classify_pixels(model, rgb, (size_t)w * h * 3, w, h, SIZE_MAX, MANAKO_PIXEL_RGB, top, 5, &count) == MANAKO_INVALID_ARGUMENT, "huge stride");
    CHECK(manako_model_classify_file(model, image_path, NULL, 5, &count) == MANAKO_INVALID_ARGUMENT, "NULL predictions");
    CHECK(manako_model_classify_file(model, image_path, top, 0, &count) == MANAKO_INVALID_ARGUMENT, "zero capacity");

    /* Raw run: wrong shape, short output buffer (shape still reported), then success. */
    float *input = calloc(3 * 224 * 224, sizeof(float));
    int64_t good_shape[4] = {1, 3, 224, 224}, bad_shape[4] = {1, 3, 200, 224};

    /* Preprocessing gives the tensor classification feeds: running it reproduces the top class. */
    manako_output tensor = {NULL, input, 10, {0}, 0};
    CHECK(manako_model_preprocess_file(model, image_path, &tensor) == MANAKO_BUFFER_TOO_SMALL, "short preprocess buffer");
    CHECK(tensor.rank == 4 && tensor.shape[1] == 3 && tensor.shape[2] == 224, "preprocess shape not reported");
    tensor.capacity = 3 * 224 * 224;
    CHECK(manako_model_preprocess_file(model, image_path, &tensor) == MANAKO_OK, "preprocess file");
    manako_input fed = {NULL, input, good_shape, 4};
    float fed_logits[1000];
    manako_output fed_out = {NULL, fed_logits, 1000, {0}, 0};
    CHECK(manako_model_run(model, &fed, 1, &fed_out, 1) == MANAKO_OK, "run preprocessed");
    int best = 0;
    for (int i = 1; i < 1000; i++) if (fed_logits[i] > fed_logits[best]) best = i;
    CHECK(best == from_file.index, "preprocess + run gives %d, classify %d", best, (int)from_file.index);
    /* Aligned input is read in place, unaligned input copied: the same logits either way, and
     * the caller's input is left as it was. */
    size_t input_floats = 3 * 224 * 224;
    float *saved = malloc(input_floats * sizeof(float)), *shifted_storage = malloc((input_floats + 1) * sizeof(float));
    memcpy(saved, input, input_floats * sizeof(float));
    CHECK(((uintptr_t)input) % 16 == 0, "calloc gave an input that is not 16-byte aligned");
    CHECK(manako_model_run(model, &fed, 1, &fed_out, 1) == MANAKO_OK, "second run in place");
    CHECK(memcmp(saved, input, input_floats * sizeof(float)) == 0, "run wrote into its input");
    float *shifted = ((uintptr_t)shifted_storage % 16 == 0) ? shifted_storage + 1 : shifted_storage;
    memcpy(shifted, input, input_floats * sizeof(float));
    float copied_logits[1000];
    manako_input unaligned = {NULL, shifted, good_shape, 4};
    manako_output copied_out = {NULL, copied_logits, 1000, {0}, 0};
    CHECK(((uintptr_t)shifted) % 16 != 0, "the shifted input is aligned");
    CHECK(manako_model_run(model, &unaligned, 1, &copied_out, 1) == MANAKO_OK, "run unaligned");
    CHECK(memcmp(copied_logits, fed_logits, sizeof(fed_logits)) == 0, "in-place and copied inputs give different logits");
    /* An output buffer that is the input's own memory: the input is copied first, so the
     * logits are the same and only the output's floats change. */
    float *shared = malloc(input_floats * sizeof(float));
    memcpy(shared, saved, input_floats * sizeof(float));
    manako_input shared_in = {NULL, shared, good_shape, 4};
    manako_output shared_out = {NULL, shared, 1000, {0}, 0};
    CHECK(manako_model_run(model, &shared_in, 1, &shared_out, 1) == MANAKO_OK, "run into its own input");
    CHECK(memcmp(shared, fed_logits, sizeof(fed_logits)) == 0, "an output over the input gives different logits");
    CHECK(memcmp(shared + 1000, saved + 1000, (input_floats - 1000) * sizeof(float)) == 0, "wrote past the output's floats");
    free(shared);
    free(saved);
    free(shifted_storage);
    CHECK(manako_model_preprocess_encoded(model, image, image_size, &tensor) == MANAKO_OK, "preprocess encoded");
    CHECK(manako_model_preprocess_pixels(model, rgb, (size_t)w * h * 3, w, h, (size_t)w * 3, MANAKO_PIXEL_RGB, &tensor) == MANAKO_OK,
          "preprocess pixels");
    CHECK(manako_model_preprocess_file(model, image_path, NULL) == MANAKO_INVALID_ARGUMENT, "NULL preprocess output");
    manako_input in = {NULL, input, bad_shape, 4};
    float logits[1000];
    manako_output out = {NULL, logits, 10, {0}, 0};
    CHECK(manako_model_run(model, &in, 1, &out, 1) == MANAKO_SHAPE_MISMATCH, "wrong input shape");
    in.shape = good_shape;
    CHECK(manako_model_run(model, &in, 1, &out, 1) == MANAKO_BUFFER_TOO_SMALL, "short output");
    CHECK(out.rank == 2 && out.shape[0] == 1 && out.shape[1] == 1000, "output shape not reported");
    out.capacity = 1000;
    CHECK(manako_model_run(model, &in, 1, &out, 1) == MANAKO_OK, "run");
    in.data = NULL;
    CHECK(manako_model_run(model, &in, 1, &out, 1) == MANAKO_INVALID_ARGUMENT, "NULL input data");
    in.data = input;
    in.name = "no_such_input";
    CHECK(manako_model_run(model, &in, 1, &out, 1) == MANAKO_INVALID_ARGUMENT, "unknown input name");
    CHECK(strstr(manako_last_error(), "no_such_input") != NULL, "message does not name the input");
    CHECK(manako_model_run(model, NULL, 1, &out, 1) == MANAKO_INVALID_ARGUMENT, "NULL inputs");

    /* Run misuse: rank over the maximum, negative dimensions, more inputs or outputs than the model has. */
    int64_t negative_shape[4] = {1, 3, -224, 224};
    manako_input odd = {NULL, input, good_shape, MANAKO_MAX_RANK + 1};
    CHECK(manako_model_run(model, &odd, 1, &out, 1) == MANAKO_INVALID_ARGUMENT, "rank over the maximum");
    odd.rank = 4;
    odd.shape = negative_shape;
    CHECK(manako_model_run(model, &odd, 1, &out, 1) == MANAKO_INVALID_ARGUMENT, "negative dimension");
    manako_input two[2] = {in, in};
    CHECK(manako_model_run(model, two, 2, &out, 1) == MANAKO_INVALID_ARGUMENT, "too many inputs");
    manako_output outs[2] = {out, out};
    CHECK(manako_model_run(model, &in, 1, outs, 2) == MANAKO_INVALID_ARGUMENT, "too many outputs");

    /* Limits: every field is honoured, 0 is refused, and a caller compiled against the header
     * before the limit fields existed (a smaller struct_size) still loads with the defaults. */
    manako_options limited;
    CHECK(manako_options_init(&limited) == MANAKO_OK && limited.max_tensor_elements == 268435456 &&
          limited.max_nodes == 100000 && limited.max_file_bytes == 4294967296LL, "limit defaults");
    limited.max_nodes = 10;
    CHECK(manako_model_load(model_path, &limited, &scratch) == MANAKO_LIMIT_EXCEEDED && scratch == NULL, "max_nodes");
    CHECK(strstr(manako_last_error(), "maxNodes") != NULL, "max_nodes message: %s", manako_last_error());
    manako_options_init(&limited);
    limited.max_tensor_elements = 1000;
    CHECK(manako_model_load(model_path, &limited, &scratch) == MANAKO_LIMIT_EXCEEDED, "max_tensor_elements");
    manako_options_init(&limited);
    limited.max_weight_bytes = 1000000;
    CHECK(manako_model_load(model_path, &limited, &scratch) == MANAKO_LIMIT_EXCEEDED, "max_weight_bytes");
    manako_options_init(&limited);
    limited.max_file_bytes = 1000;
    CHECK(manako_model_load(model_path, &limited, &scratch) == MANAKO_LIMIT_EXCEEDED, "max_file_bytes");
    CHECK(manako_model_load_memory(image, image_size, &limited, &scratch) == MANAKO_LIMIT_EXCEEDED, "max_file_bytes, memory");
    manako_options_init(&limited);
    limited.max_nodes = 0;
    CHECK(manako_model_load(model_path, &limited, &scratch) == MANAKO_INVALID_ARGUMENT, "zero limit accepted");
    limited.struct_size = (uint32_t)offsetof(manako_options, max_file_bytes);  /* max_nodes = 0 is beyond it */
    CHECK(manako_model_load(model_path, &limited, &scratch) == MANAKO_OK, "options of the older size");
    manako_model_free(&scratch);
    limited.struct_size = 7;
    CHECK(manako_model_load(model_path, &limited, &scratch) == MANAKO_INVALID_ARGUMENT, "odd struct_size accepted");

    /* Handles: NULL, freed, double free. */
    CHECK(manako_model_classify_file(NULL, image_path, top, 5, &count) == MANAKO_INVALID_ARGUMENT, "NULL model");
    manako_model_t stale = from_memory;
    CHECK(manako_model_free(&from_memory) == MANAKO_OK && from_memory == NULL, "free");
    CHECK(manako_model_free(&from_memory) == MANAKO_OK, "double free through the same variable");
    CHECK(manako_model_free(NULL) == MANAKO_OK, "free(NULL)");
    CHECK(manako_model_classify_file(stale, image_path, top, 5, &count) == MANAKO_INVALID_ARGUMENT, "stale handle used");
    manako_model_t successor = NULL;  /* a new model never takes over a freed handle */
    CHECK(manako_model_load(model_path, &options, &successor) == MANAKO_OK && successor != stale, "handle reused");
    CHECK(manako_model_classify_file(stale, image_path, top, 5, &count) == MANAKO_INVALID_ARGUMENT, "stale handle after a new load");
    manako_model_free(&successor);
    CHECK(manako_model_free(&stale) == MANAKO_INVALID_ARGUMENT, "stale handle freed");

    manako_model_free(&model);
    free(input); free(rgb); free(bgra); free(image);
    png_image_free(&png);
    if (failures) { fprintf(stderr, "%d C ABI check(s) failed\n", failures); return 1; }
    printf("C ABI tests passed\n");
    return 0;
}

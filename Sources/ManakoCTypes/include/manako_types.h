/* Types of the Manako C ABI (hand-written; the functions are generated from Swift). */
#ifndef MANAKO_TYPES_H
#define MANAKO_TYPES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Result of every call. On failure, manako_last_error() returns a message for the calling thread. */
typedef enum manako_status {
    MANAKO_OK = 0,
    MANAKO_INVALID_ARGUMENT = 1,     /**< a NULL pointer, a bad size or option */
    MANAKO_INVALID_MODEL = 2,        /**< the model file is malformed or inconsistent */
    MANAKO_UNSUPPORTED_OPERATOR = 3, /**< the model uses operators Manako does not implement */
    MANAKO_SHAPE_MISMATCH = 4,       /**< a tensor has the wrong shape or type */
    MANAKO_IO_ERROR = 5,             /**< a file cannot be read or written */
    MANAKO_INVALID_IMAGE = 6,        /**< an image is corrupt, truncated or of an unsupported format */
    MANAKO_LIMIT_EXCEEDED = 7,       /**< an input is larger than a configured limit */
    MANAKO_BUFFER_TOO_SMALL = 8,     /**< a caller-provided buffer is too small */
    MANAKO_INTERNAL_ERROR = 9        /**< a bug in Manako; please report it */
} manako_status;

/** Layouts of 8-bit pixel buffers given to manako_model_classify_pixels. */
typedef enum manako_pixel_format {
    MANAKO_PIXEL_RGB = 0,
    MANAKO_PIXEL_BGR = 1,
    MANAKO_PIXEL_RGBA = 2, /**< alpha is ignored */
    MANAKO_PIXEL_BGRA = 3, /**< alpha is ignored */
    MANAKO_PIXEL_GRAY = 4
} manako_pixel_format;

/** A loaded model (opaque). Created by manako_model_load*, released by manako_model_free.
 *  A model is immutable once loaded: any number of threads may use it at once. */
typedef struct manako_model_impl *manako_model_t;

/** Load options. Initialise with manako_options_init, then change what you need.
 *  The limits bound what a model file or image may make Manako read or allocate; each is
 *  checked before the allocation it guards and fails with MANAKO_LIMIT_EXCEEDED. 0 (or a
 *  negative value from a caller compiled against an older header) is refused; the fields
 *  after `preset` are read only when `struct_size` covers them. */
typedef struct manako_options {
    uint32_t struct_size;         /**< sizeof(manako_options), set by manako_options_init */
    int32_t threads;              /**< worker threads; 0 = library default */
    int64_t max_image_pixels;     /**< images with more pixels are refused before decoding (default 100 M) */
    const char *labels_path;      /**< labels file (one per line) overriding the model's own; may be NULL */
    const char *preset;           /**< preprocessing (a preset name or a JSON configuration, see README)
                                       overriding the model's metadata; may be NULL */
    int64_t max_file_bytes;       /**< largest model file, model buffer or external-data file (default 4 GiB) */
    int64_t max_tensor_elements;  /**< largest tensor, stored or computed, in elements (default 2^28) */
    int64_t max_weight_bytes;     /**< total size of the decoded weights (default 4 GiB) */
    int64_t max_nodes;            /**< most nodes in the graph (default 100000) */
} manako_options;

/** One ranked class. `label` points into the model (valid until manako_model_free) and is
 *  NULL when the model has no labels. */
typedef struct manako_prediction {
    int32_t index;
    float probability;
    const char *label;
} manako_prediction;

#define MANAKO_MAX_RANK 8

/** A float32 input tensor for manako_model_run. `name` NULL means the i-th model input. */
typedef struct manako_input {
    const char *name;
    const float *data;
    const int64_t *shape;
    size_t rank;
} manako_input;

/** A caller-provided output buffer for manako_model_run. `name` NULL means the i-th model
 *  output. Manako fills `shape` and `rank` even when `capacity` (in floats) is too small,
 *  so the caller can allocate and retry. */
typedef struct manako_output {
    const char *name;
    float *data;
    size_t capacity;
    int64_t shape[MANAKO_MAX_RANK];
    size_t rank;
} manako_output;

#ifdef __cplusplus
}
#endif

#endif /* MANAKO_TYPES_H */

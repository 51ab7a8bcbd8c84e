#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <png.h>
#include "manako_codecs.h"

/* Reads from memory, refusing to run past the end (libpng then reports a truncated file). */
typedef struct png_source {
    const unsigned char *data;
    size_t size;
    size_t position;
    char message[200];
} png_source;

static void read_bytes(png_structp png, png_bytep out, size_t length) {
    png_source *source = (png_source *)png_get_io_ptr(png);
    if (length > source->size - source->position) png_error(png, "truncated PNG (premature end of data)");
    memcpy(out, source->data + source->position, length);
    source->position += length;
}

static void on_error(png_structp png, png_const_charp text) {
    png_source *source = (png_source *)png_get_error_ptr(png);
    snprintf(source->message, sizeof source->message, "%s", text);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp text) { (void)png; (void)text; }

int mk_png_decode(const unsigned char *data, size_t size, int64_t max_pixels, mk_image *image,
                  char *message, size_t message_size) {
    png_source source = {data, size, 0, {0}};
    memset(image, 0, sizeof *image);
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &source, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_read_struct(&png, NULL, NULL);
        snprintf(message, message_size, "out of memory");
        return 1;
    }
    /* volatile: read after longjmp */
    unsigned char *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        snprintf(message, message_size, "%s", source.message);
        png_destroy_read_struct(&png, &info, NULL);
        free(pixels);
        free(rows);
        return 1;
    }
    png_set_read_fn(png, &source, read_bytes);
    png_read_info(png, info);
    png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
    int64_t count = (int64_t)width * (int64_t)height;
    if (count > max_pixels || count <= 0) {
        snprintf(message, message_size, "PNG of %ux%u exceeds the limit of %lld pixels", width, height, (long long)max_pixels);
        png_destroy_read_struct(&png, &info, NULL);
        return 2;
    }
    png_set_strip_16(png);
    png_set_packing(png);
    png_set_palette_to_rgb(png);
    png_set_expand_gray_1_2_4_to_8(png);
    png_set_gray_to_rgb(png);
    png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t row = png_get_rowbytes(png, info);
    if (row != (size_t)width * 3) png_error(png, "unexpected row layout after conversion to RGB");
    pixels = malloc(row * height);
    rows = malloc(sizeof(png_bytep) * height);
    if (!pixels || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + row * y;
    png_read_image(png, rows);
    free(rows);
    rows = NULL;
    image->width = (int)width;
    image->height = (int)height;
    image->components = 3;
    image->pixels = pixels;
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

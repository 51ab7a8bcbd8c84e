#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>
#include "manako_codecs.h"

/* libjpeg's error manager, extended with a jump target and the "premature end" warning. */
typedef struct guarded_error {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    int truncated;
} guarded_error;

static void on_error(j_common_ptr info) {
    longjmp(((guarded_error *)info->err)->jump, 1);
}

static void on_message(j_common_ptr info, int level) {
    guarded_error *err = (guarded_error *)info->err;
    /* A truncated file only warns (and libjpeg fills gray); Manako refuses it, as Pillow does. */
    if (level < 0 && err->base.msg_code == JWRN_JPEG_EOF) err->truncated = 1;
}

int mk_jpeg_decode(const unsigned char *data, size_t size, int64_t max_pixels, mk_image *image,
                   char *message, size_t message_size) {
    struct jpeg_decompress_struct info;
    guarded_error err;
    /* volatile: read after longjmp */
    unsigned char *volatile pixels = NULL;
    memset(image, 0, sizeof *image);
    info.err = jpeg_std_error(&err.base);
    err.base.error_exit = on_error;
    err.base.emit_message = on_message;
    err.truncated = 0;
    if (setjmp(err.jump)) {
        char text[JMSG_LENGTH_MAX];
        err.base.format_message((j_common_ptr)&info, text);
        snprintf(message, message_size, "%s", text);
        jpeg_destroy_decompress(&info);
        free(pixels);
        return 1;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, data, (unsigned long)size);
    jpeg_read_header(&info, TRUE);
    int64_t count = (int64_t)info.image_width * (int64_t)info.image_height;
    if (count > max_pixels || count <= 0) {
        snprintf(message, message_size, "JPEG of %ux%u exceeds the limit of %lld pixels",
                 info.image_width, info.image_height, (long long)max_pixels);
        jpeg_destroy_decompress(&info);
        return 2;
    }
    int cmyk = info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK;
    info.out_color_space = cmyk ? JCS_CMYK : info.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&info);
    size_t row = (size_t)info.output_width * (size_t)info.output_components;
    pixels = malloc(row * info.output_height);
    if (!pixels) {
        snprintf(message, message_size, "out of memory for a %ux%u JPEG", info.output_width, info.output_height);
        jpeg_destroy_decompress(&info);
        return 1;
    }
    while (info.output_scanline < info.output_height) {
        JSAMPROW line = pixels + row * info.output_scanline;
        jpeg_read_scanlines(&info, &line, 1);
    }
    if (err.truncated) {
        snprintf(message, message_size, "truncated JPEG (premature end of data)");
        jpeg_destroy_decompress(&info);
        free(pixels);
        return 1;
    }
    /* Finish before handing the pixels over: finishing can fail (a corrupt tail jumps to the
     * error path, which frees `pixels`), and the caller must never hold a freed buffer. */
    jpeg_finish_decompress(&info);
    image->width = (int)info.output_width;
    image->height = (int)info.output_height;
    image->components = info.output_components;
    image->adobe_inverted = cmyk && info.saw_Adobe_marker;
    image->pixels = pixels;
    jpeg_destroy_decompress(&info);
    return 0;
}

void mk_image_free(mk_image *image) {
    free(image->pixels);
    image->pixels = NULL;
}

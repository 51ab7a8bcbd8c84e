/* JPEG decoding for Manako through libjpeg(-turbo). libjpeg reports errors with longjmp,
 * which Swift cannot catch, so this small C layer turns them into return codes. Internal. */
#ifndef MANAKO_JPEG_H
#define MANAKO_JPEG_H
#include <stddef.h>
#include <stdint.h>

typedef struct mk_jpeg_image {
    int width;
    int height;
    int components;      /* 1 (gray), 3 (RGB) or 4 (CMYK, raw as stored) */
    int adobe_inverted;  /* CMYK stored inverted, as Adobe writes it */
    unsigned char *pixels; /* width * height * components bytes; free with mk_jpeg_free */
} mk_jpeg_image;

/* Returns 0 on success; otherwise 1 and a message. Images over max_pixels are refused
 * (return 2) after reading the header, before any pixel memory is allocated. */
__attribute__((visibility("hidden")))
int mk_jpeg_decode(const unsigned char *data, size_t size, int64_t max_pixels, mk_jpeg_image *image,
                   char *message, size_t message_size);

__attribute__((visibility("hidden")))
void mk_jpeg_free(mk_jpeg_image *image);

#endif

/* Image decoding for Manako through libjpeg(-turbo) and libpng. Both report errors with
 * longjmp, which Swift cannot catch, so this small C layer turns them into return codes. Internal. */
#ifndef MANAKO_CODECS_H
#define MANAKO_CODECS_H
#include <stddef.h>
#include <stdint.h>

typedef struct mk_image {
    int width;
    int height;
    int components;      /* 1 (gray), 3 (RGB) or 4 (CMYK, raw as stored) */
    int adobe_inverted;  /* CMYK stored inverted, as Adobe writes it */
    unsigned char *pixels; /* width * height * components bytes; free with mk_image_free */
} mk_image;

/* Returns 0 on success; otherwise 1 and a message. Images over max_pixels are refused
 * (return 2) after reading the header, before any pixel memory is allocated. */
__attribute__((visibility("hidden")))
int mk_jpeg_decode(const unsigned char *data, size_t size, int64_t max_pixels, mk_image *image,
                   char *message, size_t message_size);

__attribute__((visibility("hidden")))
void mk_image_free(mk_image *image);

/* PNG of any colour type, bit depth and interlacing, to 8-bit RGB: 16-bit samples keep their
 * high byte, low bit depths are scaled, palettes expanded, gray replicated, alpha dropped.
 * No gamma or colour conversion. Returns 0, 1 (error, message set) or 2 (over max_pixels). */
__attribute__((visibility("hidden")))
int mk_png_decode(const unsigned char *data, size_t size, int64_t max_pixels, mk_image *image,
                  char *message, size_t message_size);

#endif

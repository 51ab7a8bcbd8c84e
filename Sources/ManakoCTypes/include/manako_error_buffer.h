/* Per-thread storage of the last error message (internal, not installed). */
#ifndef MANAKO_ERROR_BUFFER_H
#define MANAKO_ERROR_BUFFER_H
__attribute__((visibility("hidden"))) void mk_error_set(const char *message);
__attribute__((visibility("hidden"))) const char *mk_error_get(void);
#endif

#include <string.h>
#include "manako_error_buffer.h"

/* A fixed per-thread buffer: no allocation, nothing to free at thread exit. */
static _Thread_local char last_error[4096];

void mk_error_set(const char *message) {
    if (!message) { last_error[0] = 0; return; }
    size_t n = strlen(message);
    if (n >= sizeof last_error) {
        n = sizeof last_error - 4;
        memcpy(last_error, message, n);
        memcpy(last_error + n, "...", 4);
    } else {
        memcpy(last_error, message, n + 1);
    }
}

const char *mk_error_get(void) { return last_error; }

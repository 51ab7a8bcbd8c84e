/* SwiftPM links each executable with `--defsym main=<Target>_main`, a symbol that
 * -parse-as-library (which libFuzzer needs) never emits. These entry points hand control to
 * libFuzzer's driver with the target's LLVMFuzzerTestOneInput, so `main` needs no libFuzzer main. */
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

static int run(int argc, char **argv) { return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput); }

int FuzzONNX_main(int argc, char **argv) { return run(argc, argv); }
int FuzzPNG_main(int argc, char **argv) { return run(argc, argv); }
int FuzzJPEG_main(int argc, char **argv) { return run(argc, argv); }
int FuzzNPY_main(int argc, char **argv) { return run(argc, argv); }
int FuzzMetadata_main(int argc, char **argv) { return run(argc, argv); }

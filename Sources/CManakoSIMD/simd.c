/* The target is header-only (manako_simd.h); SwiftPM needs one source file. */
#include "manako_simd.h"

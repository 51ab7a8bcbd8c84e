/* Nothing to include: the entry points below are found by the linker. */

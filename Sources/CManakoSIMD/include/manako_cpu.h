/* Thread placement for the worker pool: Linux only (elsewhere every call reports failure and
 * nothing moves). CPUs are numbered as the kernel does; only CPUs 0-63 are ever chosen. */
#ifndef MANAKO_CPU_H
#define MANAKO_CPU_H

/* The CPU the calling thread is running on, or -1 where that cannot be told. */
int mk_current_cpu(void);

/* The lowest-numbered CPU below 64 the calling thread may run on that is neither `avoid` nor
 * set in `taken` (bit c for CPU c), or -1 if there is none. */
int mk_free_cpu(int avoid, unsigned long long taken);

/* Restricts the calling thread to CPU `cpu` alone. Returns 1 on success, else 0. */
int mk_pin_to_cpu(int cpu);

/* Moves the calling thread to CPU `cpu`, then allows it every CPU it was allowed before (the
 * scheduler leaves it where it landed). Returns 1 if it ran on `cpu` before the allowance was
 * restored, else 0. */
int mk_move_to_cpu(int cpu);

#endif

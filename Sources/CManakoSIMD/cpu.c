/* Thread placement helpers (manako_cpu.h). _GNU_SOURCE before any header: cpu_set_t's macros. */
#define _GNU_SOURCE
#include "manako_cpu.h"

#if defined(__linux__)
#include <sched.h>

int mk_current_cpu(void) { return sched_getcpu(); }

int mk_free_cpu(int avoid, unsigned long long taken) {
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return -1;
    for (int c = 0; c < 64 && c < CPU_SETSIZE; c++) {
        if (c != avoid && !(taken >> c & 1) && CPU_ISSET(c, &allowed)) return c;
    }
    return -1;
}

int mk_pin_to_cpu(int cpu) {
    if (cpu < 0 || cpu >= CPU_SETSIZE) return 0;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return sched_setaffinity(0, sizeof one, &one) == 0;
}

int mk_move_to_cpu(int cpu) {
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || !mk_pin_to_cpu(cpu)) return 0;
    int landed = sched_getcpu() == cpu;
    sched_setaffinity(0, sizeof allowed, &allowed);
    return landed;
}
#else
int mk_current_cpu(void) { return -1; }
int mk_free_cpu(int avoid, unsigned long long taken) { (void)avoid; (void)taken; return -1; }
int mk_pin_to_cpu(int cpu) { (void)cpu; return 0; }
int mk_move_to_cpu(int cpu) { (void)cpu; return 0; }
#endif

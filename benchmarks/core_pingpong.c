/* How far apart the machine's first two cores are: two threads, pinned to CPUs 0 and 1, pass
 * one cache line back and forth (each waits for the other's store). Prints the round trip and
 * the one-way time.  cc -O2 -pthread benchmarks/core_pingpong.c -o /tmp/pingpong && /tmp/pingpong */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdatomic.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
_Alignas(64) atomic_long flag;
#define N 1000000
void* other(void*a){ cpu_set_t s; CPU_ZERO(&s); CPU_SET(1,&s); pthread_setaffinity_np(pthread_self(),sizeof s,&s);
  for(long i=0;i<N;i++){ while(atomic_load_explicit(&flag,memory_order_acquire)!=2*i+1); atomic_store_explicit(&flag,2*i+2,memory_order_release);} return 0;}
int main(){ cpu_set_t s; CPU_ZERO(&s); CPU_SET(0,&s); pthread_setaffinity_np(pthread_self(),sizeof s,&s);
  pthread_t t; pthread_create(&t,0,other,0); double t0=now();
  for(long i=0;i<N;i++){ atomic_store_explicit(&flag,2*i+1,memory_order_release); while(atomic_load_explicit(&flag,memory_order_acquire)!=2*i+2);}
  double dt=now()-t0; pthread_join(t,0); printf("round trip %.1f ns (one way %.1f)\n", dt/N*1e9, dt/N*1e9/2); }

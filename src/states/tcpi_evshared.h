/*
 * tcpi_evshared.h — the one structure the kernel-side state counter
 * (src/states/bpf/tcpi_evstates.bpf.c) and user space (tcpi_evstates.c) share:
 * the value of the single-element, mmap-able BPF array that holds the
 * event-kept counts of full TCP sockets per scope and kernel state.
 *
 * Plain fixed-size types only: it is compiled by clang for the BPF target
 * and by gcc for the module, and both must lay it out the same.
 */
#ifndef TCPI_EVSHARED_H
#define TCPI_EVSHARED_H

#define TCPI_EV_NSCOPES 3           /* front, backend, backend_local */
#define TCPI_EV_NKSTATES 16         /* kernel TCP states 0..15 */

typedef struct {
    /* Written by the kernel programs (atomic adds; may dip below zero for
     * an instant while a transition and the seeding walk cross). */
    long long count[TCPI_EV_NSCOPES][TCPI_EV_NKSTATES];
    unsigned long long events;      /* state changes seen in our netns */
    unsigned long long seeded;      /* sockets the seeding walk added */
    unsigned long long lost;        /* a socket could not be tracked (map
                                       full) or forgotten: the counts are
                                       wrong */
    unsigned long long changes;     /* in-scope count changes: a check
                                       against a dump that saw this move
                                       gives no verdict */
    unsigned long long raced;       /* the walk and the tracepoint met on
                                       one socket (an insert found the
                                       other's entry) */
    /* Written by the owner (the httpd parent) through its read-write
     * mapping. */
    unsigned int seeding;           /* 1 while the seeding walk runs */
    unsigned int valid;             /* 1 once seeded, 0 once closed */
    unsigned int off;               /* 1 once closed: a program still
                                       attached through a descriptor some
                                       other forked process kept does
                                       nothing */
    unsigned int pad;
} tcpi_ev_counts_t;

/* The programs' read-only configuration (their .rodata), set by the
 * loader before the load: one structure, so its layout is fixed. */
typedef struct {
    unsigned int netns_ino;         /* the network namespace to count */
    unsigned int pad;
    unsigned long long front_bits[1024];    /* 65536-bit port sets */
    unsigned long long backend_bits[1024];
} tcpi_ev_config_t;

#endif

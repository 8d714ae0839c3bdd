// SPDX-License-Identifier: GPL-2.0
/*
 * evil_portsw.bpf.c with cub_ports declared writable by programs (no
 * BPF_F_RDONLY_PROG): the broker refuses the map, as not declared in
 * cube.bpf.h.  The same program body, built with the flag changed
 * (style rule 26).
 */
#define CUB_PORTS_MAP_FLAGS 0
#include "evil_portsw.bpf.c"

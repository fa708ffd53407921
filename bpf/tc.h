/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Layouts shared by bpf/tc.bpf.c and the user side (src/collector/tc.ts, offsets from src/bpf/layouts.ts). */
#ifndef EOA_TC_H
#define EOA_TC_H

#include <linux/types.h>
#include "net.h"

enum tc_direction {
	TC_DIRECTION_RECEIVE = 0,  /* tcx ingress */
	TC_DIRECTION_TRANSMIT = 1, /* tcx egress */
};

/* Key of tc_counts (per-CPU hash). Size: 8 bytes. */
struct tc_key {
	__u32 ifindex;
	__u8 direction; /* enum tc_direction */
	__u8 layer;     /* enum net_layer */
	__u8 transport; /* enum net_transport */
	__u8 flags;     /* enum net_key_flag bits */
};

/* Value of tc_counts. */
struct tc_value {
	__u64 packets; /* socket buffers: a GSO/GRO super-packet is one, as in the interface's own counters */
	__u64 bytes;   /* frame length from the Ethernet header on (a VLAN tag the kernel took out included), no FCS */
};

/* Slots of the tc_drops per-CPU array (its key type, so the object's BTF has the slots). */
enum tc_drop {
	TC_DROP_COUNTS_FULL = 0, /* a new key did not fit in tc_counts: the packet was not counted */
	TC_DROP_MAX,
};

#endif /* EOA_TC_H */

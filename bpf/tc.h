/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Layouts shared by bpf/tc.bpf.c and the user side (src/collector/tc.ts, offsets from src/bpf/layouts.ts). */
#ifndef EOA_TC_H
#define EOA_TC_H

#include <linux/types.h>
#include "net.h"

enum tc_direction {
	TC_DIRECTION_RECEIVE = 0,  /* tcx ingress */
	TC_DIRECTION_TRANSMIT = 1, /* tcx egress */
	TC_DIRECTION_MAX,
};

/*
 * tc_counts is a per-CPU array: each counted interface has a slot (given by the user side when it attaches, kept
 * in tc_slot_near for ifindexes below TC_IFINDEX_NEAR, tc_slot_far for the others) of TC_SLOT_ENTRIES counters,
 * one per class. Entry of a packet: slot * TC_SLOT_ENTRIES + class, where
 *   class = ((direction * NET_LAYER_MAX + layer) * NET_TRANSPORT_MAX + transport) * 2 + truncated.
 * An enum so that the object's BTF carries the sizes to the user side.
 */
enum tc_geometry {
	TC_SLOTS = 256,        /* interfaces counted at once */
	TC_IFINDEX_NEAR = 16384, /* entries of tc_slot_near (ifindexes below it: an array lookup, no hash) */
	TC_SLOT_ENTRIES = TC_DIRECTION_MAX * NET_LAYER_MAX * NET_TRANSPORT_MAX * 2,
};

/* Value of tc_slot_near and tc_slot_far: the interface's slot + 1; 0 (or no entry): not counted. */
struct tc_slot {
	__u32 slot_plus_one;
};

/* Value of tc_counts. */
struct tc_value {
	__u64 packets; /* socket buffers: a GSO/GRO super-packet is one, as in the interface's own counters */
	__u64 bytes;   /* frame length from the Ethernet header on (a VLAN tag the kernel took out included), no FCS */
};

/* Slots of the tc_drops per-CPU array (its key type, so the object's BTF has the slots). */
enum tc_drop {
	TC_DROP_COUNTS_FULL = 0, /* a packet on an interface with no slot (all TC_SLOTS in use, or one being given or
				    taken back as the program ran): not counted */
	TC_DROP_MAX,
};

#endif /* EOA_TC_H */

/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Layouts shared by bpf/xdp.bpf.c and the user side (src/collector/xdp.ts, offsets from src/bpf/layouts.ts). */
#ifndef EOA_XDP_H
#define EOA_XDP_H

#include <linux/types.h>
#include "net.h"

/* Key of xdp_counts (per-CPU hash). Size: 8 bytes. */
struct xdp_key {
	__u32 ifindex;
	__u8 layer;     /* enum net_layer */
	__u8 transport; /* enum net_transport */
	__u8 flags;     /* enum net_key_flag bits */
	__u8 _pad;
};

/* Value of xdp_counts. */
struct xdp_value {
	__u64 packets;
	__u64 bytes; /* frame length from the Ethernet header on, without FCS */
};

/* Slots of the xdp_drops per-CPU array (its key type, so the object's BTF has the slots). */
enum xdp_drop {
	XDP_DROP_COUNTS_FULL = 0, /* a new key did not fit in xdp_counts: the packet was not counted */
	XDP_DROP_MAX,
};

#endif /* EOA_XDP_H */

/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Layouts shared by bpf/xdp.bpf.c and the user side (src/collector/xdp.ts, offsets from src/bpf/layouts.ts). */
#ifndef EOA_XDP_H
#define EOA_XDP_H

#include <linux/types.h>

enum xdp_layer {
	XDP_LAYER_IPV4 = 0,
	XDP_LAYER_IPV6 = 1,
	XDP_LAYER_ARP = 2,
	XDP_LAYER_OTHER = 3,
};

enum xdp_transport {
	XDP_TRANSPORT_TCP = 0,
	XDP_TRANSPORT_UDP = 1,
	XDP_TRANSPORT_ICMP = 2,
	XDP_TRANSPORT_ICMPV6 = 3,
	XDP_TRANSPORT_OTHER = 4,
};

/* Bits of xdp_key.flags. */
enum xdp_key_flag {
	XDP_KEY_TRUNCATED = 0x1, /* the frame ended inside a header: counted, but not parsed past that header */
};

/* Key of xdp_counts (per-CPU hash). Size: 8 bytes. */
struct xdp_key {
	__u32 ifindex;
	__u8 layer;     /* enum xdp_layer */
	__u8 transport; /* enum xdp_transport */
	__u8 flags;     /* enum xdp_key_flag bits */
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

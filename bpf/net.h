/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Label values shared by the network programs (bpf/xdp.bpf.c, bpf/tc.bpf.c) and the user side: the classification
 * of bpf/net_classify.bpf.h, the same for both programs.
 */
#ifndef EOA_NET_H
#define EOA_NET_H

#include <linux/types.h>

enum net_layer {
	NET_LAYER_IPV4 = 0,
	NET_LAYER_IPV6 = 1,
	NET_LAYER_ARP = 2,
	NET_LAYER_OTHER = 3,
	NET_LAYER_MAX,
};

enum net_transport {
	NET_TRANSPORT_TCP = 0,
	NET_TRANSPORT_UDP = 1,
	NET_TRANSPORT_ICMP = 2,
	NET_TRANSPORT_ICMPV6 = 3,
	NET_TRANSPORT_OTHER = 4,
	NET_TRANSPORT_MAX,
};

/* Bits of the flags byte of a network key (xdp_key.flags, tc_key.flags). */
enum net_key_flag {
	NET_KEY_TRUNCATED = 0x1, /* the frame ended inside a header: counted, but not parsed past that header */
};

#endif /* EOA_NET_H */

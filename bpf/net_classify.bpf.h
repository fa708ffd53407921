/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The packet classification of the network programs (bpf/xdp.bpf.c, bpf/tc.bpf.c), written once: network layer and
 * transport of a frame that starts at its Ethernet header, looking through up to two VLAN tags and a bounded chain
 * of IPv6 extension headers; a frame that ends inside a header is flagged truncated and classified as far as it
 * was parsed. Reads only: it never changes the packet.
 */
#ifndef EOA_NET_CLASSIFY_BPF_H
#define EOA_NET_CLASSIFY_BPF_H

#include <linux/types.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf_endian.h>
#include "net.h"

/* What eoa_net_classify finds: enum net_layer, enum net_transport, enum net_key_flag bits. */
struct eoa_net_class {
	__u8 layer;
	__u8 transport;
	__u8 flags;
};

#define MAX_VLAN_TAGS 2
#define MAX_IPV6_EXT_HEADERS 6

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

struct eth_hdr {
	__u8 dst[6];
	__u8 src[6];
	__be16 proto;
};

struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

struct ipv4_hdr {
	__u8 ver_ihl;
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__be16 check;
	__be32 saddr;
	__be32 daddr;
};

struct ipv6_hdr {
	__be32 ver_tc_flow;
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u8 saddr[16];
	__u8 daddr[16];
};

struct ipv6_ext_hdr {
	__u8 nexthdr;
	__u8 hdrlen;
};

static __always_inline __u8 eoa_transport_of(__u8 proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return NET_TRANSPORT_TCP;
	case IPPROTO_UDP:
		return NET_TRANSPORT_UDP;
	case IPPROTO_ICMP:
		return NET_TRANSPORT_ICMP;
	case 58: /* IPPROTO_ICMPV6 */
		return NET_TRANSPORT_ICMPV6;
	default:
		return NET_TRANSPORT_OTHER;
	}
}

/* Fills key->layer, key->transport and key->flags from the frame in [data, data_end). */
static __always_inline void eoa_net_classify(void *data, void *data_end, struct eoa_net_class *key)
{
	struct eth_hdr *eth = data;
	void *cursor = data + sizeof(*eth);
	__u16 proto;
	int i;

	key->layer = NET_LAYER_OTHER;
	key->transport = NET_TRANSPORT_OTHER;
	if (cursor > data_end) {
		key->flags |= NET_KEY_TRUNCATED;
		return;
	}
	proto = bpf_ntohs(eth->proto);

#pragma unroll
	for (i = 0; i < MAX_VLAN_TAGS; i++) {
		struct vlan_hdr *vlan = cursor;

		if (proto != ETH_P_8021Q && proto != ETH_P_8021AD)
			break;
		if ((void *)(vlan + 1) > data_end) {
			key->flags |= NET_KEY_TRUNCATED;
			return;
		}
		proto = bpf_ntohs(vlan->proto);
		cursor = vlan + 1;
	}

	if (proto == ETH_P_IP) {
		struct ipv4_hdr *ip = cursor;
		__u32 ihl;

		key->layer = NET_LAYER_IPV4;
		if ((void *)(ip + 1) > data_end) {
			key->flags |= NET_KEY_TRUNCATED;
			return;
		}
		ihl = (ip->ver_ihl & 0x0f) * 4;
		if (ihl < sizeof(*ip) || cursor + ihl > data_end) {
			key->flags |= NET_KEY_TRUNCATED;
			return;
		}
		key->transport = eoa_transport_of(ip->protocol);
		return;
	}

	if (proto == ETH_P_IPV6) {
		struct ipv6_hdr *ip6 = cursor;
		__u8 next;

		key->layer = NET_LAYER_IPV6;
		if ((void *)(ip6 + 1) > data_end) {
			key->flags |= NET_KEY_TRUNCATED;
			return;
		}
		next = ip6->nexthdr;
		cursor = ip6 + 1;
#pragma unroll
		for (i = 0; i < MAX_IPV6_EXT_HEADERS; i++) {
			struct ipv6_ext_hdr *ext = cursor;

			if (next != 0 && next != 43 && next != 44 && next != 60 && next != 51)
				break;
			if ((void *)(ext + 1) > data_end) {
				key->flags |= NET_KEY_TRUNCATED;
				return;
			}
			if (next == 44) /* fragment header: fixed 8 bytes */
				cursor += 8;
			else if (next == 51) /* authentication header: length in 4-byte units, minus 2 */
				cursor += ((__u32)ext->hdrlen + 2) * 4;
			else /* hop-by-hop, routing, destination options: 8-byte units, not counting the first 8 */
				cursor += ((__u32)ext->hdrlen + 1) * 8;
			next = ext->nexthdr;
		}
		key->transport = eoa_transport_of(next);
		return;
	}

	if (proto == ETH_P_ARP)
		key->layer = NET_LAYER_ARP;
}

#endif /* EOA_NET_CLASSIFY_BPF_H */

// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * xdp: packets and bytes per (interface, network layer, transport). Looks through up to two VLAN tags and a
 * bounded chain of IPv6 extension headers. Never changes a packet and always returns XDP_PASS.
 */
#include "common.bpf.h"
#include "xdp.h"
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Never read: put the label enums and key flags, which no map names, into the object's BTF for src/bpf/layouts.ts. */
const enum xdp_layer *btf_xdp_layer __attribute__((unused));
const enum xdp_transport *btf_xdp_transport __attribute__((unused));
const enum xdp_key_flag *btf_xdp_key_flag __attribute__((unused));

#define MAX_VLAN_TAGS 2
#define MAX_IPV6_EXT_HEADERS 6

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct xdp_key);
	__type(value, struct xdp_value);
} xdp_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDP_DROP_MAX);
	__type(key, enum xdp_drop);
	__type(value, __u64);
} xdp_drops SEC(".maps");

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

static __always_inline __u8 transport_of(__u8 proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return XDP_TRANSPORT_TCP;
	case IPPROTO_UDP:
		return XDP_TRANSPORT_UDP;
	case IPPROTO_ICMP:
		return XDP_TRANSPORT_ICMP;
	case 58: /* IPPROTO_ICMPV6 */
		return XDP_TRANSPORT_ICMPV6;
	default:
		return XDP_TRANSPORT_OTHER;
	}
}

/* Fills key->layer, key->transport and key->flags from the frame in [data, data_end). */
static __always_inline void classify(void *data, void *data_end, struct xdp_key *key)
{
	struct eth_hdr *eth = data;
	void *cursor = data + sizeof(*eth);
	__u16 proto;
	int i;

	key->layer = XDP_LAYER_OTHER;
	key->transport = XDP_TRANSPORT_OTHER;
	if (cursor > data_end) {
		key->flags |= XDP_KEY_TRUNCATED;
		return;
	}
	proto = bpf_ntohs(eth->proto);

#pragma unroll
	for (i = 0; i < MAX_VLAN_TAGS; i++) {
		struct vlan_hdr *vlan = cursor;

		if (proto != ETH_P_8021Q && proto != ETH_P_8021AD)
			break;
		if ((void *)(vlan + 1) > data_end) {
			key->flags |= XDP_KEY_TRUNCATED;
			return;
		}
		proto = bpf_ntohs(vlan->proto);
		cursor = vlan + 1;
	}

	if (proto == ETH_P_IP) {
		struct ipv4_hdr *ip = cursor;
		__u32 ihl;

		key->layer = XDP_LAYER_IPV4;
		if ((void *)(ip + 1) > data_end) {
			key->flags |= XDP_KEY_TRUNCATED;
			return;
		}
		ihl = (ip->ver_ihl & 0x0f) * 4;
		if (ihl < sizeof(*ip) || cursor + ihl > data_end) {
			key->flags |= XDP_KEY_TRUNCATED;
			return;
		}
		key->transport = transport_of(ip->protocol);
		return;
	}

	if (proto == ETH_P_IPV6) {
		struct ipv6_hdr *ip6 = cursor;
		__u8 next;

		key->layer = XDP_LAYER_IPV6;
		if ((void *)(ip6 + 1) > data_end) {
			key->flags |= XDP_KEY_TRUNCATED;
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
				key->flags |= XDP_KEY_TRUNCATED;
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
		key->transport = transport_of(next);
		return;
	}

	if (proto == ETH_P_ARP)
		key->layer = XDP_LAYER_ARP;
}

SEC("xdp.frags")
int eoa_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct xdp_key key = { .ifindex = ctx->ingress_ifindex };
	struct xdp_value *value;
	__u64 len = bpf_xdp_get_buff_len(ctx);

	classify(data, data_end, &key);
	value = bpf_map_lookup_elem(&xdp_counts, &key);
	if (!value) {
		struct xdp_value zero = {};

		if (bpf_map_update_elem(&xdp_counts, &key, &zero, BPF_NOEXIST) && bpf_map_lookup_elem(&xdp_counts, &key) == NULL) {
			eoa_count_drop(&xdp_drops, XDP_DROP_COUNTS_FULL);
			return XDP_PASS;
		}
		value = bpf_map_lookup_elem(&xdp_counts, &key);
		if (!value)
			return XDP_PASS;
	}
	/* Per-CPU value, and XDP runs with preemption off for the packet: plain adds are exact. */
	value->packets += 1;
	value->bytes += len;
	return XDP_PASS;
}

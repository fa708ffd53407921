// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * tc: packets and bytes per (interface, direction, network layer, transport) on tcx ingress and egress, classified
 * by bpf/net_classify.bpf.h exactly as bpf/xdp.bpf.c classifies. Attached through tcx links (BPF_TCX_INGRESS /
 * BPF_TCX_EGRESS, Linux 6.6 and later), appended after whatever is on the hook already, so it replaces nothing.
 *
 * It never changes, drops or redirects a packet, and always returns TCX_NEXT: the rest of the tcx chain and any
 * classic tc (clsact) filters after it run as if it were not there. (TC_ACT_OK would end the chain here and the
 * programs after it would never see the packet.)
 */
#include "common.bpf.h"
#include "net_classify.bpf.h"
#include "tc.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* include/uapi/linux/bpf.h of Linux 6.6 (TC_ACT_UNKNOWN): go on with the next program; older headers lack it. */
#ifndef TCX_NEXT
#define TCX_NEXT -1
#endif

/* Never read: put the label enums and key flags, which no map names, into the object's BTF for src/bpf/layouts.ts. */
const enum net_layer *btf_net_layer __attribute__((unused));
const enum net_transport *btf_net_transport __attribute__((unused));
const enum net_key_flag *btf_net_key_flag __attribute__((unused));
const enum tc_direction *btf_tc_direction __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct tc_key);
	__type(value, struct tc_value);
} tc_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TC_DROP_MAX);
	__type(key, enum tc_drop);
	__type(value, __u64);
} tc_drops SEC(".maps");

static __always_inline int count(struct __sk_buff *skb, __u8 direction)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct tc_key key = { .ifindex = skb->ifindex, .direction = direction };
	struct eoa_net_class class = {};
	struct tc_value *value;
	/*
	 * skb->len starts at the Ethernet header in both directions (the kernel pushes it back before tc ingress). On
	 * receive the kernel has already taken an outer VLAN tag out of the frame into skb->vlan_tci (skb_vlan_untag,
	 * before tc): the classification looks through the tag either way, and its 4 bytes are added back so the
	 * length is the frame's, as XDP counts it. A tag to be inserted by the driver on transmit is counted the same.
	 */
	__u64 len = skb->len + (skb->vlan_present ? 4 : 0);

	eoa_net_classify(data, data_end, &class);
	key.layer = class.layer;
	key.transport = class.transport;
	key.flags = class.flags;
	value = bpf_map_lookup_elem(&tc_counts, &key);
	if (!value) {
		struct tc_value zero = {};

		if (bpf_map_update_elem(&tc_counts, &key, &zero, BPF_NOEXIST) && bpf_map_lookup_elem(&tc_counts, &key) == NULL) {
			eoa_count_drop(&tc_drops, TC_DROP_COUNTS_FULL);
			return TCX_NEXT;
		}
		value = bpf_map_lookup_elem(&tc_counts, &key);
		if (!value)
			return TCX_NEXT;
	}
	/* Per-CPU value, and tc runs with preemption (bottom halves) off for the packet: plain adds are exact. */
	value->packets += 1;
	value->bytes += len;
	return TCX_NEXT;
}

SEC("tc")
int eoa_tc_ingress(struct __sk_buff *skb)
{
	return count(skb, TC_DIRECTION_RECEIVE);
}

SEC("tc")
int eoa_tc_egress(struct __sk_buff *skb)
{
	return count(skb, TC_DIRECTION_TRANSMIT);
}

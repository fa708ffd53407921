// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * tc: packets and bytes per (interface, direction, network layer, transport) on tcx ingress and egress, classified
 * by bpf/net_classify.bpf.h exactly as bpf/xdp.bpf.c classifies. Attached through tcx links (BPF_TCX_INGRESS /
 * BPF_TCX_EGRESS, Linux 6.6 and later), appended after whatever is on the hook already, so it replaces nothing.
 *
 * It never changes, drops or redirects a packet, and always returns TCX_NEXT: the rest of the tcx chain and any
 * classic tc (clsact) filters after it run as if it were not there. (TC_ACT_OK would end the chain here and the
 * programs after it would never see the packet.)
 *
 * The hot path has no hash and no insert: the interface's slot comes from an array indexed by ifindex (a hash only
 * for ifindexes past TC_IFINDEX_NEAR), and its counter is an index into a preallocated per-CPU array (bpf/tc.h).
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

const enum tc_geometry *btf_tc_geometry __attribute__((unused));

/* Interface → slot, written by the user side before it attaches and read-only here: an array by ifindex for the
 * usual small ifindexes (a bounds check and an add, inlined by the verifier), a hash for the rest. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TC_IFINDEX_NEAR);
	__type(key, __u32);
	__type(value, struct tc_slot);
} tc_slot_near SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TC_SLOTS);
	__type(key, __u32);
	__type(value, struct tc_slot);
} tc_slot_far SEC(".maps");

/* TC_SLOTS × TC_SLOT_ENTRIES counters (see tc.h): per-CPU and preallocated, so the hot path never inserts. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TC_SLOTS * TC_SLOT_ENTRIES);
	__type(key, __u32);
	__type(value, struct tc_value);
} tc_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TC_DROP_MAX);
	__type(key, enum tc_drop);
	__type(value, __u64);
} tc_drops SEC(".maps");

/* Out of line so that clang cannot merge its lookup with tc_slot_near's (see count()). */
static __noinline struct tc_slot *far_slot(__u32 ifindex)
{
	return bpf_map_lookup_elem(&tc_slot_far, &ifindex);
}

static __always_inline int count(struct __sk_buff *skb, __u32 direction)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u32 ifindex = skb->ifindex;
	struct eoa_net_class class = {};
	struct tc_slot *slot;
	struct tc_value *value;
	__u32 index;
	/*
	 * skb->len starts at the Ethernet header in both directions (the kernel pushes it back before tc ingress). On
	 * receive the kernel has already taken an outer VLAN tag out of the frame into skb->vlan_tci (skb_vlan_untag,
	 * before tc): the classification looks through the tag either way, and its 4 bytes are added back so the
	 * length is the frame's, as XDP counts it. A tag to be inserted by the driver on transmit is counted the same.
	 */
	__u64 len = skb->len + (skb->vlan_present ? 4 : 0);

	/* Two call sites, each with one map: a lookup whose map differs by path is not inlined by the verifier (and
	 * costs an indirect call, ~30 ns here), which is what clang makes of a plain if/else. */
	slot = ifindex < TC_IFINDEX_NEAR ? bpf_map_lookup_elem(&tc_slot_near, &ifindex) : far_slot(ifindex);
	if (!slot || slot->slot_plus_one == 0 || slot->slot_plus_one > TC_SLOTS) {
		eoa_count_drop(&tc_drops, TC_DROP_COUNTS_FULL);
		return TCX_NEXT;
	}
	eoa_net_classify(data, data_end, &class);
	index = (slot->slot_plus_one - 1) * TC_SLOT_ENTRIES +
		((direction * NET_LAYER_MAX + class.layer) * NET_TRANSPORT_MAX + class.transport) * 2 +
		(class.flags & NET_KEY_TRUNCATED ? 1 : 0);
	value = bpf_map_lookup_elem(&tc_counts, &index);
	if (!value)
		return TCX_NEXT; /* cannot happen: every index above is below max_entries */
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

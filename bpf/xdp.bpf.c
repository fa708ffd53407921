// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * xdp: packets and bytes per (interface, network layer, transport), classified by bpf/net_classify.bpf.h (the same
 * classification as bpf/tc.bpf.c). Never changes a packet and always returns XDP_PASS.
 */
#include "common.bpf.h"
#include "net_classify.bpf.h"
#include "xdp.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Never read: put the label enums and key flags, which no map names, into the object's BTF for src/bpf/layouts.ts. */
const enum net_layer *btf_net_layer __attribute__((unused));
const enum net_transport *btf_net_transport __attribute__((unused));
const enum net_key_flag *btf_net_key_flag __attribute__((unused));

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

SEC("xdp.frags")
int eoa_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct xdp_key key = { .ifindex = ctx->ingress_ifindex };
	struct xdp_value *value;
	__u64 len = bpf_xdp_get_buff_len(ctx);
	struct eoa_net_class class = {};

	eoa_net_classify(data, data_end, &class);
	key.layer = class.layer;
	key.transport = class.transport;
	key.flags = class.flags;
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

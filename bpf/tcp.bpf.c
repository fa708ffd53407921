// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * tcp: per-process counts of retransmitted segments, resets sent and received, connect attempts and failures, and
 * a connect-latency histogram (SYN_SENT → ESTABLISHED), from tracepoints only: sock:inet_sock_set_state,
 * tcp:tcp_retransmit_skb, tcp:tcp_send_reset, tcp:tcp_receive_reset.
 *
 * Most of these fire in softirq (a SYN-ACK or a reset arriving, a retransmit timer), where the current task is
 * whoever was interrupted, not the socket's owner. So the owner is remembered per socket in tcp_socks, written in
 * the owner's own context: at CLOSE → SYN_SENT (connect() runs it in the caller), or for an accepted socket its
 * listener's owner (listen() runs CLOSE → LISTEN in the caller; the accepted socket is created as LISTEN →
 * SYN_RECV with the listener's port and network namespace). The entry goes when the socket reaches CLOSE. Counts
 * are kept by tgid as the syscalls program keeps them (bpf/process.bpf.h): created in process context only, so an
 * event in softirq adds to an existing entry or is counted as unowned (TCP_DROP_UNOWNED).
 */
#include "process.bpf.h"
#include "tcp.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define EOA_IPPROTO_TCP 6
/* include/net/tcp_states.h */
#define EOA_TCP_ESTABLISHED 1
#define EOA_TCP_SYN_SENT 2
#define EOA_TCP_SYN_RECV 3
#define EOA_TCP_CLOSE 7
#define EOA_TCP_LISTEN 10

/* Never read: put the types no map names into the object's BTF for src/bpf/layouts.ts. */
const enum tcp_event *btf_tcp_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct tcp_counts);
} tcp_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct process_info);
} tcp_procs SEC(".maps");

/* Sockets between connect() (or accept) and CLOSE: 64 Ki sockets, 1.5 MiB with the hash's overhead. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct tcp_sock_owner);
} tcp_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct tcp_listener_key);
	__type(value, struct tcp_listener);
} tcp_listeners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 18);
} tcp_exits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 18);
} tcp_cgroups SEC(".maps");

/* Writes to tcp_procs (new entries, execs): the user side reads tcp_procs only when this moved. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} tcp_info_writes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PROCESS_DROP_MAX);
	__type(key, enum process_drop);
	__type(value, __u64);
} tcp_drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TCP_DROP_MAX);
	__type(key, enum tcp_drop);
	__type(value, __u64);
} tcp_sock_drops SEC(".maps");

/* The network namespace of a socket: sk->__sk_common.skc_net.net->ns.inum. */
struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct net {
	struct ns_common ns;
} __attribute__((preserve_access_index));

typedef struct {
	struct net *net;
} possible_net_t;

struct sock_common {
	possible_net_t skc_net;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
} __attribute__((preserve_access_index));

/*
 * The tracepoints' records as tracefs's format files give them (events/sock/inet_sock_set_state/format, ...), after
 * the 8-byte common header. Plain structs, not CO-RE: a record's layout is the tracepoint's ABI (the fields used here
 * have kept their offsets since protocol was added in 4.16), while the kernel's BTF names for them change
 * (trace_event_raw_tcp_event_sk_skb became trace_event_raw_tcp_retransmit_skb).
 */
struct inet_sock_set_state_record {
	__u64 common;
	const void *skaddr;
	int oldstate;
	int newstate;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u16 protocol;
};

/* tcp_retransmit_skb and tcp_send_reset: skbaddr, skaddr (NULL for a reset sent for no socket), the socket's state. */
struct tcp_skb_sk_record {
	__u64 common;
	const void *skbaddr;
	const void *skaddr;
	int state;
};

/*
 * Kernels since 6.14 trace failed retransmits too (err: -EBUSY while the original is still in a host queue, such as
 * a neighbour's waiting for ARP). Read by CO-RE: the field exists only there (under this struct name).
 */
struct trace_event_raw_tcp_retransmit_skb {
	int err;
} __attribute__((preserve_access_index));

/* tcp_receive_reset: skaddr first. */
struct tcp_sk_record {
	__u64 common;
	const void *skaddr;
};

/* The counts of the current process, made on its first event (process context only). */
static __always_inline struct tcp_counts *current_counts(__u32 tgid)
{
	struct tcp_counts zero = {};
	struct tcp_counts *counts = bpf_map_lookup_elem(&tcp_counts, &tgid);

	if (counts)
		return counts;
	return process_first_seen(&tcp_counts, &tcp_procs, &tcp_info_writes, &tcp_drops, tgid, &zero);
}

/*
 * The counts of a socket's owner, in any context: NULL for an excluded owner (not counted, silently) and for a
 * socket without a known owner or whose owner's counts are gone (counted as unowned).
 */
static __always_inline struct tcp_counts *owner_counts(struct tcp_sock_owner *owner)
{
	struct tcp_counts *counts;

	if (!owner) {
		eoa_count_drop(&tcp_sock_drops, TCP_DROP_UNOWNED);
		return NULL;
	}
	if (process_excluded(owner->tgid))
		return NULL;
	counts = bpf_map_lookup_elem(&tcp_counts, &owner->tgid);
	if (!counts)
		eoa_count_drop(&tcp_sock_drops, TCP_DROP_UNOWNED);
	return counts;
}

static __always_inline void count_socket_event(const void *sk, __u32 event)
{
	__u64 key = (__u64)sk;
	struct tcp_counts *counts;

	if (event >= TCP_EVENT_MAX)
		return;
	counts = owner_counts(bpf_map_lookup_elem(&tcp_socks, &key));
	/* Per-CPU value and tracepoint programs do not migrate: a plain add is exact. */
	if (counts)
		counts->events[event] += 1;
}

static __always_inline void remember_owner(__u64 sk, __u32 tgid, __u64 syn_ns)
{
	struct tcp_sock_owner owner = { .tgid = tgid, .syn_ns = syn_ns };

	if (bpf_map_update_elem(&tcp_socks, &sk, &owner, BPF_ANY) == -E2BIG)
		eoa_count_drop(&tcp_sock_drops, TCP_DROP_SOCKS_FULL);
}

static __always_inline struct tcp_listener_key listener_key(const void *sk, __u16 port)
{
	struct tcp_listener_key key = { .port = port };

	key.netns = BPF_CORE_READ((struct sock *)sk, __sk_common.skc_net.net, ns.inum);
	return key;
}

/* connect() in the caller's context: one attempt, and the socket's owner from now on. */
static __noinline int on_syn_sent(__u64 sk)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct tcp_counts *counts;

	/* The agent's own sockets are remembered too (as excluded), so their later events are not "unowned". */
	remember_owner(sk, tgid, bpf_ktime_get_ns());
	if (process_excluded(tgid))
		return 0;
	counts = current_counts(tgid);
	if (counts)
		counts->events[TCP_EVENT_CONNECT_ATTEMPTS] += 1;
	return 0;
}

/* SYN_SENT → ESTABLISHED (often in softirq): the handshake's time into its bucket. */
static __noinline int on_established(__u64 sk)
{
	struct tcp_sock_owner *owner = bpf_map_lookup_elem(&tcp_socks, &sk);
	struct tcp_counts *counts;
	__u64 delta, syn_ns;
	__u32 i;

	if (!owner || owner->syn_ns == 0) {
		owner_counts(NULL);
		return 0;
	}
	syn_ns = owner->syn_ns;
	owner->syn_ns = 0;
	counts = owner_counts(owner);
	if (!counts)
		return 0;
	delta = bpf_ktime_get_ns() - syn_ns;
	counts->latency_sum_ns += delta;
	for (i = 0; i < TCP_LATENCY_BUCKETS - 1; i++) {
		if (delta <= (1000ULL << (i + TCP_LATENCY_MIN_LOG2_US)))
			break;
	}
	/* i is TCP_LATENCY_BUCKETS - 1 (+Inf) when no finite bound held it. */
	if (i < TCP_LATENCY_BUCKETS)
		counts->latency_buckets[i] += 1;
	return 0;
}

/* listen() in the caller's context: its accepted sockets will be counted under this process. */
static __noinline int on_listen(const void *skaddr, __u16 port)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct tcp_listener_key key = listener_key(skaddr, port);
	struct tcp_listener listener = { .sk = (__u64)skaddr, .tgid = tgid };

	if (bpf_map_update_elem(&tcp_listeners, &key, &listener, BPF_ANY) == -E2BIG)
		eoa_count_drop(&tcp_sock_drops, TCP_DROP_LISTENERS_FULL);
	if (!process_excluded(tgid))
		current_counts(tgid);
	return 0;
}

/* A listener closed: forget it, unless another socket has the port now (SO_REUSEPORT: the last listen() wins). */
static __noinline int on_listen_closed(const void *skaddr, __u16 port)
{
	struct tcp_listener_key key = listener_key(skaddr, port);
	struct tcp_listener *listener = bpf_map_lookup_elem(&tcp_listeners, &key);

	if (listener && listener->sk == (__u64)skaddr)
		bpf_map_delete_elem(&tcp_listeners, &key);
	return 0;
}

/* An accepted socket is made (in softirq): it takes its listener's owner. */
static __noinline int on_child(const void *skaddr, __u16 port)
{
	struct tcp_listener_key key = listener_key(skaddr, port);
	struct tcp_listener *listener = bpf_map_lookup_elem(&tcp_listeners, &key);

	if (listener)
		remember_owner((__u64)skaddr, listener->tgid, 0);
	return 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int eoa_tcp_state(struct inet_sock_set_state_record *ctx)
{
	__u64 sk = (__u64)ctx->skaddr;
	int oldstate = ctx->oldstate;
	int newstate = ctx->newstate;
	__u16 port = ctx->sport;

	if (ctx->protocol != EOA_IPPROTO_TCP)
		return 0;
	if (newstate == EOA_TCP_SYN_SENT)
		return on_syn_sent(sk);
	if (newstate == EOA_TCP_LISTEN)
		return on_listen((const void *)sk, port);
	if (oldstate == EOA_TCP_LISTEN && newstate == EOA_TCP_SYN_RECV)
		return on_child((const void *)sk, port);
	if (oldstate == EOA_TCP_SYN_SENT && newstate == EOA_TCP_ESTABLISHED)
		return on_established(sk);
	if (newstate != EOA_TCP_CLOSE)
		return 0;
	if (oldstate == EOA_TCP_SYN_SENT)
		count_socket_event((const void *)sk, TCP_EVENT_CONNECT_FAILURES);
	else if (oldstate == EOA_TCP_LISTEN)
		on_listen_closed((const void *)sk, port);
	bpf_map_delete_elem(&tcp_socks, &sk);
	return 0;
}

SEC("tracepoint/tcp/tcp_retransmit_skb")
int eoa_tcp_retransmit(struct tcp_skb_sk_record *ctx)
{
	struct trace_event_raw_tcp_retransmit_skb *record = (void *)ctx;

	/* Segments retransmitted, as the kernel's TCPRetransSegs counts them: not the attempts that failed. */
	if (bpf_core_field_exists(record->err) && BPF_CORE_READ(record, err) != 0)
		return 0;
	count_socket_event(ctx->skaddr, TCP_EVENT_RETRANSMITS);
	return 0;
}

SEC("tracepoint/tcp/tcp_send_reset")
int eoa_tcp_send_reset(struct tcp_skb_sk_record *ctx)
{
	const void *sk = ctx->skaddr;

	__u64 key = (__u64)sk;
	struct tcp_counts *counts;
	__u32 tgid;

	/* No socket: the kernel answering a segment for a port nobody has (a SYN to a closed port): no workload's. */
	if (!sk)
		return 0;
	if (bpf_map_lookup_elem(&tcp_socks, &key) || ctx->state != EOA_TCP_CLOSE) {
		count_socket_event(sk, TCP_EVENT_RESETS_SENT);
		return 0;
	}
	/*
	 * An abortive close (close() with unread data, SO_LINGER 0, an out-of-memory orphan) sets CLOSE, which forgot
	 * the owner, and then sends the reset: that is tcp_close() or tcp_disconnect(), run by the closing process
	 * itself, so the current process is the owner. (Timer resets, such as a keepalive's, come before CLOSE.)
	 */
	tgid = bpf_get_current_pid_tgid() >> 32;
	if (process_excluded(tgid))
		return 0;
	counts = current_counts(tgid);
	if (counts)
		counts->events[TCP_EVENT_RESETS_SENT] += 1;
	return 0;
}

SEC("tracepoint/tcp/tcp_receive_reset")
int eoa_tcp_receive_reset(struct tcp_sk_record *ctx)
{
	count_socket_event(ctx->skaddr, TCP_EVENT_RESETS_RECEIVED);
	return 0;
}

SEC("tracepoint/sched/sched_process_exec")
int eoa_tcp_exec(void *ctx)
{
	process_exec(&tcp_procs, &tcp_info_writes);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int eoa_tcp_exit(struct trace_event_raw_sched_process_exit *ctx)
{
	process_exit(ctx, &tcp_counts, &tcp_procs, &tcp_exits, &tcp_drops);
	return 0;
}

SEC("raw_tracepoint/cgroup_mkdir")
int eoa_tcp_cgroup_mkdir(struct bpf_raw_tracepoint_args *ctx)
{
	process_cgroup_mkdir(ctx, &tcp_cgroups, &tcp_drops);
	return 0;
}

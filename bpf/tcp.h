/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Layouts shared by bpf/tcp.bpf.c and the user side (src/collector/tcp.ts). Counts are kept per process (tgid),
 * with the process info, exit event and drop slots of bpf/process.h, so the series come out of the same two views
 * as the syscall counts (executable × container/pod, and per process).
 */
#ifndef EOA_TCP_H
#define EOA_TCP_H

#include <linux/types.h>
#include "process.h"

/* The events counted: the first lanes of struct tcp_counts. The user side's names are these, in lower case. */
enum tcp_event {
	TCP_EVENT_RETRANSMITS = 0,	/* tcp:tcp_retransmit_skb: segments retransmitted (SYNs included) */
	TCP_EVENT_RESETS_SENT = 1,	/* tcp:tcp_send_reset on a socket (not the kernel's answer for no socket) */
	TCP_EVENT_RESETS_RECEIVED = 2, /* tcp:tcp_receive_reset */
	TCP_EVENT_CONNECT_ATTEMPTS = 3, /* CLOSE → SYN_SENT: connect() started a handshake */
	TCP_EVENT_CONNECT_FAILURES = 4, /* SYN_SENT → CLOSE: refused (a reset), timed out, or given up */
	TCP_EVENT_MAX,
};

/*
 * Connect latency (SYN_SENT → ESTABLISHED) buckets: bucket i counts handshakes of at most 2^(i + 3) µs
 * (TCP_LATENCY_MIN_LOG2_US), 8 µs to 4.19 s (2^22 µs) in 20 buckets; the last one (TCP_LATENCY_BUCKETS - 1) counts
 * the longer ones (le="+Inf").
 */
#define TCP_LATENCY_MIN_LOG2_US 3
#define TCP_LATENCY_BUCKETS 21

/*
 * Value of tcp_counts (per-CPU hash keyed by __u32 tgid). Size: 216 bytes. One entry per process: the latency
 * buckets of a process that never connects stay 0 and make no series.
 */
struct tcp_counts {
	__u64 events[TCP_EVENT_MAX];
	__u64 latency_sum_ns;				/* sum of the handshakes' SYN_SENT → ESTABLISHED times */
	__u64 latency_buckets[TCP_LATENCY_BUCKETS]; /* not cumulative */
};

/*
 * Value of tcp_socks (hash keyed by the struct sock address): the process a socket is counted under, set in the
 * process's own context (connect(): CLOSE → SYN_SENT; listen(): the listener; an accepted socket takes its
 * listener's) and deleted when the socket reaches CLOSE. Size: 16 bytes.
 */
struct tcp_sock_owner {
	__u32 tgid;
	__u32 _pad;
	__u64 syn_ns; /* bpf_ktime_get_ns() at SYN_SENT; 0 once the handshake is over (or for a passive socket) */
};

/* Key of tcp_listeners: a listening port in a network namespace (by its inode number). Size: 8 bytes. */
struct tcp_listener_key {
	__u32 netns;
	__u16 port; /* host order */
	__u16 _pad;
};

/* Value of tcp_listeners: the listening process, and which socket (so closing another one leaves it). Size: 16. */
struct tcp_listener {
	__u64 sk;
	__u32 tgid;
	__u32 _pad;
};

/* Slots of the tcp_sock_drops per-CPU array (its key type, so the object's BTF has the slots). */
enum tcp_drop {
	TCP_DROP_SOCKS_FULL = 0,    /* a socket did not fit in tcp_socks: its later events are not attributed */
	TCP_DROP_LISTENERS_FULL = 1, /* a listener did not fit in tcp_listeners: its accepted sockets are not */
	TCP_DROP_UNOWNED = 2,	     /* an event on a socket with no known owner (opened before the agent started, not
				      * stored, or its process's counts already gone): not counted under any workload */
	TCP_DROP_MAX,
};

#endif /* EOA_TCP_H */

// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * floor.c - what the kernel alone costs for one poll: BPF_MAP_LOOKUP_BATCH of every entry of a map filled with
 * N entries, timed in C with nothing else (no summing, no decoding, no JavaScript). The floor under the agent's
 * poll, for its layout and for two alternatives.
 *
 *   floor N LAYOUT REPEAT   prints the median time in ms of REPEAT reads (after one warm-up)
 *
 * LAYOUT: percpu   per-CPU hash, key (tgid, syscall), u64 value: the agent's syscall_counts (N entries)
 *         hash     plain hash, same key and value (N entries; counts would need atomic adds)
 *         perproc  per-CPU hash, key tgid, value u64[4]: one entry per process (N/4 entries)
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: floor N percpu|hash|perproc REPEAT\n");
		return 2;
	}
	int n = atoi(argv[1]), repeat = atoi(argv[3]);
	const char *layout = argv[2];
	int perproc = strcmp(layout, "perproc") == 0;
	int type = strcmp(layout, "hash") == 0 ? BPF_MAP_TYPE_HASH : BPF_MAP_TYPE_PERCPU_HASH;
	int ncpu = libbpf_num_possible_cpus();
	int entries = perproc ? (n + 3) / 4 : n;
	unsigned key_size = perproc ? 4 : 8, value_size = perproc ? 32 : 8;
	unsigned stride = type == BPF_MAP_TYPE_HASH ? value_size : value_size * ncpu;
	int max = 1;

	while (max < entries + entries / 10)
		max <<= 1;
	int fd = bpf_map_create(type, "floor", key_size, value_size, max, NULL);
	if (fd < 0) {
		fprintf(stderr, "floor: cannot create the map: %s (run as root)\n", strerror(errno));
		return 1;
	}
	uint8_t *value = calloc(1, stride), *keys = malloc((size_t)max * key_size), *values = malloc((size_t)max * stride);
	for (int i = 0; i < entries; i++) {
		uint32_t key[2] = { 1000000 + (perproc ? i : i / 4), perproc ? 0 : i % 4 };
		memcpy(value, &i, sizeof(i));
		if (bpf_map_update_elem(fd, key, value, BPF_NOEXIST) < 0) {
			fprintf(stderr, "floor: cannot fill the map: %s\n", strerror(errno));
			return 1;
		}
	}
	double *times = calloc(repeat + 1, sizeof(double));
	for (int r = 0; r <= repeat; r++) {
		double start = now_ms();
		int got = 0, first = 1;
		uint64_t in = 0, out = 0;
		while (got < max) {
			__u32 count = max - got;
			int err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys + (size_t)got * key_size,
						       values + (size_t)got * stride, &count, NULL);
			if (err < 0 && err != -ENOENT) {
				fprintf(stderr, "floor: batch lookup: %s\n", strerror(-err));
				return 1;
			}
			got += count;
			first = 0;
			in = out;
			if (err == -ENOENT)
				break;
		}
		if (got != entries) {
			fprintf(stderr, "floor: read %d entries, expected %d\n", got, entries);
			return 1;
		}
		times[r] = now_ms() - start;
	}
	qsort(times + 1, repeat, sizeof(double), cmp);
	printf("%.3f\n", times[1 + repeat / 2]);
	return 0;
}

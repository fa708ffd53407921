// SPDX-License-Identifier: Apache-2.0
/*
 * The syscall loop of bench/syscall-cost: N raw system calls, then exit.
 *   loop read N [report]     N x read(/dev/zero, buf, 1)
 *   loop getppid N [report]  N x getppid()            (not traced by the syscalls program)
 *   loop mixed N [report]    N/4 x (1 read + 3 getppid): N calls in all
 * Calls go through syscall(2), never a libc wrapper that could cache or batch. hyperfine times the whole process
 * (ns per call = wall time / N). With a report path the loop also appends one line about itself:
 *   <wall ns> <cpu ns> <steady ns per call>
 * wall and cpu of the loop alone (CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID), and "steady": the loop is timed in
 * 50 equal chunks and this is the 10th-percentile chunk's time per call. Interference from other jobs and other
 * guests comes in bursts that only add time (here: +20-30 % for ~100 ms at a time); the steady figure leaves the
 * bursts out and keeps every cost paid on every call, which is what a BPF program adds.
 * Environment: LOOP_CHUNKS (default 50) sets the number of chunks; LOOP_CHUNK_LOG=path writes every chunk as a
 * line "<start ns> <end ns> <calls>" (CLOCK_MONOTONIC), for matching chunks with what was attached at the time.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long long now(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *chunk_log = getenv("LOOP_CHUNK_LOG");
	long chunks = getenv("LOOP_CHUNKS") ? atol(getenv("LOOP_CHUNKS")) : 50;
	int mode, calls_per_iter, fd;
	long n, iters, i, k;
	long long *ends;
	double *per_call;
	char buf[1];

	if (argc < 3 || chunks < 1 || (n = atol(argv[2])) < 4 * chunks) {
		fprintf(stderr, "usage: %s read|getppid|mixed N [report-file]  (N >= 4 x LOOP_CHUNKS)\n", argv[0]);
		return 2;
	}
	per_call = calloc(chunks, sizeof(*per_call));
	ends = calloc(chunks + 1, sizeof(*ends));
	if (!per_call || !ends)
		return 1;
	if (strcmp(argv[1], "read") == 0)
		mode = 0, calls_per_iter = 1;
	else if (strcmp(argv[1], "getppid") == 0)
		mode = 1, calls_per_iter = 1;
	else if (strcmp(argv[1], "mixed") == 0)
		mode = 2, calls_per_iter = 4;
	else {
		fprintf(stderr, "unknown workload %s\n", argv[1]);
		return 2;
	}
	fd = open("/dev/zero", O_RDONLY);
	if (fd < 0) {
		perror("/dev/zero");
		return 1;
	}
	iters = n / calls_per_iter;

	long long wall = now(CLOCK_MONOTONIC), cpu = now(CLOCK_PROCESS_CPUTIME_ID), mark = wall;
	ends[0] = wall;
	for (k = 0; k < chunks; k++) {
		/* the last chunk takes the remainder */
		long chunk = k < chunks - 1 ? iters / chunks : iters - (chunks - 1) * (iters / chunks);

		for (i = 0; i < chunk; i++) {
			if (mode == 1) {
				syscall(SYS_getppid);
				continue;
			}
			if (syscall(SYS_read, fd, buf, 1) != 1)
				return 1;
			if (mode == 2) {
				syscall(SYS_getppid);
				syscall(SYS_getppid);
				syscall(SYS_getppid);
			}
		}
		long long t = now(CLOCK_MONOTONIC);

		per_call[k] = (double)(t - mark) / (double)(chunk * calls_per_iter);
		ends[k + 1] = mark = t;
	}
	cpu = now(CLOCK_PROCESS_CPUTIME_ID) - cpu;
	wall = mark - wall;
	if (chunk_log) {
		FILE *f = fopen(chunk_log, "w");

		for (k = 0; f && k < chunks; k++) {
			long chunk = k < chunks - 1 ? iters / chunks : iters - (chunks - 1) * (iters / chunks);

			fprintf(f, "%lld %lld %ld\n", ends[k], ends[k + 1], chunk * calls_per_iter);
		}
		if (!f || fclose(f) != 0) {
			perror(chunk_log);
			return 1;
		}
	}
	if (argc > 3) {
		FILE *f = fopen(argv[3], "a");

		qsort(per_call, chunks, sizeof(per_call[0]), by_value);
		if (!f || fprintf(f, "%lld %lld %.2f\n", wall, cpu, per_call[chunks / 10]) < 0 || fclose(f) != 0) {
			perror(argv[3]);
			return 1;
		}
	}
	return 0;
}

// The exits test's workload (test/integration/exits.test.ts): ends in one known way.
//   exiter [--cgroup <cgroup.procs>]... exit <status>   exit(status)
//   exiter ... segv                                     a real SIGSEGV (a write through NULL), no core dump
//   exiter ... wait                                     says "ready" on stdout, then waits for a signal
//   exiter ... hog                                      touches memory 1 MiB at a time until killed (the OOM test)
// Every --cgroup file gets the helper's own pid first (as a container runtime moves its init), so it runs, and ends,
// in those cgroups. Core dumps are off (RLIMIT_CORE 0), so a fatal signal never writes one.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void join_cgroup(const char *procs)
{
	FILE *f = fopen(procs, "w");

	if (f == NULL || fprintf(f, "%d\n", getpid()) < 0 || fclose(f) != 0) {
		perror(procs);
		exit(100);
	}
}

int main(int argc, char **argv)
{
	struct rlimit no_core = { 0, 0 };
	int i = 1;

	setrlimit(RLIMIT_CORE, &no_core);
	while (i + 1 < argc && strcmp(argv[i], "--cgroup") == 0) {
		join_cgroup(argv[i + 1]);
		i += 2;
	}
	if (i >= argc)
		return 101;
	if (strcmp(argv[i], "exit") == 0 && i + 1 < argc)
		return atoi(argv[i + 1]);
	if (strcmp(argv[i], "segv") == 0) {
		volatile int *p = NULL;
		*p = 1;
		return 102;
	}
	if (strcmp(argv[i], "wait") == 0) {
		printf("ready\n");
		fflush(stdout);
		for (;;)
			pause();
	}
	if (strcmp(argv[i], "hog") == 0) {
		for (;;) {
			char *chunk = malloc(1 << 20);

			if (chunk == NULL)
				return 103;
			memset(chunk, 1, 1 << 20);
		}
	}
	return 101;
}

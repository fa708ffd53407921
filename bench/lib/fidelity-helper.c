/*
 * fidelity-helper.c - process and container workloads of bench/fidelity.ts that node's spawn() is too slow or
 * too coarse for. Built static by bench/lib/fidelity.ts (gcc -O2 -static -Wall -Werror).
 *
 *   fidelity-helper fleet SYSCALLER N
 *       Starts N `SYSCALLER 1` processes (test/helpers/syscaller.c: setup, stop, one call of each counted
 *       syscall on SIGCONT, stop again), 64 at a time: each batch is waited for until every member has stopped
 *       after its setup (waitpid WUNTRACED), so at most 64 are runnable. Then every one is continued and waited
 *       for until it has stopped again after its calls. Prints "ready STARTED" (fewer than N when fork failed,
 *       with the reason on stderr) and then waits for stdin to close (or SIGTERM/SIGINT), SIGKILLs every child
 *       and reaps them all, and prints "done". Each child has PR_SET_PDEATHSIG SIGKILL: if this process dies,
 *       so does the fleet.
 *
 *   fidelity-helper cgroup-exec DIR PROG [ARG...]
 *       Moves itself into the cgroup DIR (writes "0" to DIR/cgroup.procs, as a runtime's init does before it
 *       execs a container's entrypoint) and execs PROG. It makes none of the counted syscalls (openat, read,
 *       write, connect) before the exec: the file is opened with open(2) and written with writev(2), so the
 *       first count of the process is the exec'd program's, in its cgroup.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define BATCH 64

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Waits until pid has stopped; returns 0, or -1 if it exited or could not be waited for. */
static int wait_stopped(pid_t pid)
{
	int status;
	pid_t r;

	do
		r = waitpid(pid, &status, WUNTRACED);
	while (r < 0 && errno == EINTR && !stopping);
	if (r != pid || !WIFSTOPPED(status))
		return -1;
	return 0;
}

static int mode_fleet(const char *syscaller, long n)
{
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	struct sigaction sa;
	pid_t *pids = calloc((size_t)n, sizeof(pid_t));
	long started = 0, i, batch_start;
	char c;
	int bad = 0;
	ssize_t r;

	if (!pids) {
		perror("calloc");
		return 1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* Root bypasses RLIMIT_NPROC with CAP_SYS_RESOURCE; raise it anyway where that is not so. */
	setrlimit(RLIMIT_NPROC, &unlimited);

	for (batch_start = 0; batch_start < n && !stopping && started == batch_start; batch_start += BATCH) {
		for (i = batch_start; i < n && i < batch_start + BATCH; i++) {
			pid_t pid = fork();

			if (pid < 0) {
				fprintf(stderr, "fidelity-helper: fork failed after %ld processes: %s\n", started,
					strerror(errno));
				break;
			}
			if (pid == 0) {
				char *argv[] = { (char *)syscaller, "1", NULL };

				prctl(PR_SET_PDEATHSIG, SIGKILL);
				if (getppid() == 1)
					_exit(1);
				execv(syscaller, argv);
				_exit(127);
			}
			pids[started++] = pid;
		}
		for (i = batch_start; i < started; i++) {
			if (wait_stopped(pids[i]) != 0) {
				fprintf(stderr, "fidelity-helper: process %d did not stop after its setup\n", pids[i]);
				bad = 1;
				stopping = 1;
				break;
			}
		}
	}
	for (i = 0; i < started && !stopping; i++)
		kill(pids[i], SIGCONT);
	for (i = 0; i < started && !stopping; i++) {
		if (wait_stopped(pids[i]) != 0) {
			fprintf(stderr, "fidelity-helper: process %d did not stop after its calls\n", pids[i]);
			bad = 1;
			stopping = 1;
		}
	}
	if (!stopping) {
		printf("ready %ld\n", started);
		fflush(stdout);
		/* Until the benchmark closes stdin (or dies) or signals. */
		do
			r = read(0, &c, 1);
		while (!stopping && (r > 0 || (r < 0 && errno == EINTR)));
	}
	for (i = 0; i < started; i++)
		kill(pids[i], SIGKILL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	printf("done\n");
	fflush(stdout);
	return bad;
}

static int mode_cgroup_exec(const char *dir, char **argv)
{
	char procs[4096];
	struct iovec iov = { .iov_base = "0", .iov_len = 1 };
	long fd;

	if ((size_t)snprintf(procs, sizeof procs, "%s/cgroup.procs", dir) >= sizeof procs)
		return 2;
	fd = syscall(SYS_open, procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || syscall(SYS_writev, fd, &iov, 1) != 1) {
		perror(procs);
		return 3;
	}
	syscall(SYS_close, fd);
	execv(argv[0], argv);
	perror(argv[0]);
	return 127;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "fleet") == 0) {
		long n = strtol(argv[3], NULL, 10);

		if (n <= 0)
			return 2;
		return mode_fleet(argv[2], n);
	}
	if (argc >= 4 && strcmp(argv[1], "cgroup-exec") == 0)
		return mode_cgroup_exec(argv[2], argv + 3);
	fprintf(stderr, "usage: fidelity-helper fleet SYSCALLER N\n"
			"       fidelity-helper cgroup-exec DIR PROG [ARG...]\n");
	return 2;
}

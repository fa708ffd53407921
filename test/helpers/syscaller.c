/*
 * syscaller.c - exact syscall workload generator for the eBPF metrics agent
 * integration tests.
 *
 * Build:  gcc -O2 -Wall -Werror -o syscaller syscaller.c
 *
 * Modes:
 *
 *   syscaller N
 *       Setup: opens /dev/zero (read fd) and /dev/null (write fd), creates an
 *       AF_INET/SOCK_DGRAM socket and a sockaddr_in for 127.0.0.1:9, then
 *       raise(SIGSTOP).  The test waits for state 'T' in /proc/<pid>/stat,
 *       takes a baseline and sends SIGCONT.  The program then issues EXACTLY
 *       N each of the raw syscalls
 *           openat(AT_FDCWD, "/dev/null", O_RDONLY|O_CLOEXEC)  (+ close)
 *           read(zerofd, buf, 1)
 *           write(nullfd, buf, 1)
 *           connect(udpfd, 127.0.0.1:9)   (UDP connect: no packet sent)
 *       and nothing else that could issue openat/read/write/connect (no libc
 *       I/O, no allocation).  Failures are only recorded in a flag.  Then it
 *       raise(SIGSTOP)s again; after the second SIGCONT it reports failures
 *       (if any) on stderr and exits 1, otherwise exits 0.
 *
 *   syscaller --spin MS CPU
 *       Pins itself to CPU, spins for MS milliseconds of wall time (reading
 *       the clock through the vDSO, no syscalls), then raise(SIGSTOP)s so its
 *       CPU samples stay in place until the test has read them; exits 0 on
 *       SIGCONT.  Used by the CPU sampling test.
 *
 *   syscaller --exit-after N
 *       No stops and no output: opens /dev/zero, does exactly N raw reads of
 *       1 byte and _exit(0) immediately (exit 1 if any read failed).  Used to
 *       check that a process's final count is exported after it exits.
 *
 *   syscaller --cgroup-exit-after DIR N
 *       Moves itself into the cgroup DIR (writes "0" to DIR/cgroup.procs, as a
 *       runtime's init does before it execs the entrypoint; one openat and one
 *       write, no read), then exactly as --exit-after N.  Used to check short
 *       jobs in their own container cgroups.
 *
 *   syscaller --cgroup-connect-exit-after DIR N
 *       As --cgroup-exit-after DIR N, with exactly N UDP connects to
 *       127.0.0.1:9 (no packet sent) between the move and the reads.
 *
 *   syscaller --churn COUNT N
 *       Opens /dev/zero once in the parent, then forks COUNT children, at
 *       most 2 alive at any time.  Each child does exactly N raw 1-byte reads
 *       of the inherited fd and _exit(0) (1 on read failure).  The parent
 *       reaps every child with waitpid(); exits 0 if all children exited 0,
 *       else 1.
 *
 *   syscaller --exec COUNT PATH
 *       fork + execv(PATH, {PATH, NULL}) COUNT times, at most 2 children
 *       alive at once, reaping all of them.  Exits 0 only if every child
 *       exited with status 0 (a failed execv makes the child _exit(127)).
 *
 *   syscaller --comm NAME N
 *       prctl(PR_SET_NAME, NAME) first (the comm becomes NAME, cut to 15
 *       bytes; the executable stays this file), then exactly as
 *       `syscaller N`.  Used to check that a process is named by its
 *       executable, not its comm.
 *
 *   syscaller --exec-after N PATH [ARG...]
 *       Opens /dev/zero, raise(SIGSTOP)s; on SIGCONT does exactly N raw
 *       1-byte reads and raise(SIGSTOP)s again; on SIGCONT replaces itself
 *       (same pid) with execv(PATH, {PATH, ARG..., NULL}) (exit 127 if that
 *       fails).  Used to check that the reads before an exec stay with the
 *       old executable and those after go to the new one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static char buf[64];

static void usage(void)
{
	fprintf(stderr,
		"usage: syscaller N\n"
		"       syscaller --exit-after N\n"
		"       syscaller --cgroup-exit-after DIR N\n"
		"       syscaller --cgroup-connect-exit-after DIR N\n"
		"       syscaller --churn COUNT N\n"
		"       syscaller --exec COUNT PATH\n"
		"       syscaller --comm NAME N\n"
		"       syscaller --exec-after N PATH [ARG...]\n");
	exit(2);
}

static unsigned long parse_count(const char *s)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-')
		usage();
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end)
		usage();
	return v;
}

/* Exactly n raw 1-byte reads of fd; returns 0 if all succeeded. */
static int do_reads(int fd, unsigned long n)
{
	int failed = 0;
	unsigned long i;

	for (i = 0; i < n; i++)
		if (syscall(SYS_read, fd, buf, 1) != 1)
			failed = 1;
	return failed;
}

static int mode_main(unsigned long n)
{
	struct sockaddr_in addr;
	int zerofd, nullfd, udpfd;
	/* bitmask of failed syscall kinds, reported after the second stop */
	unsigned failed = 0;
	unsigned long i;

	zerofd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	if (zerofd < 0) {
		perror("open /dev/zero");
		return 1;
	}
	nullfd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (nullfd < 0) {
		perror("open /dev/null");
		return 1;
	}
	udpfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (udpfd < 0) {
		perror("socket");
		return 1;
	}
	memset(&addr, 0, sizeof addr);
	addr.sin_family = AF_INET;
	addr.sin_port = htons(9);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(buf, 'x', sizeof buf);

	raise(SIGSTOP);

	/* ---- measured region: only raw syscalls below ---- */
	for (i = 0; i < n; i++) {
		long fd = syscall(SYS_openat, AT_FDCWD, "/dev/null",
				  O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			failed |= 1;
		else if (syscall(SYS_close, fd) != 0)
			failed |= 16;
	}
	for (i = 0; i < n; i++)
		if (syscall(SYS_read, zerofd, buf, 1) != 1)
			failed |= 2;
	for (i = 0; i < n; i++)
		if (syscall(SYS_write, nullfd, buf, 1) != 1)
			failed |= 4;
	for (i = 0; i < n; i++)
		if (syscall(SYS_connect, udpfd, &addr, sizeof addr) != 0)
			failed |= 8;
	/* ---- end of measured region ---- */

	raise(SIGSTOP);

	if (failed) {
		fprintf(stderr, "syscaller: failures:%s%s%s%s%s\n",
			(failed & 1) ? " openat" : "",
			(failed & 2) ? " read" : "",
			(failed & 4) ? " write" : "",
			(failed & 8) ? " connect" : "",
			(failed & 16) ? " close" : "");
		return 1;
	}
	return 0;
}

static int mode_exit_after(unsigned long n)
{
	int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		_exit(1);
	_exit(do_reads(fd, n) ? 1 : 0);
}

/* Moves the calling process into the cgroup DIR (one openat and one write of "0" to DIR/cgroup.procs). */
static void join_cgroup(const char *dir)
{
	char procs[4096];
	int fd;

	if ((size_t)snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir) >= sizeof(procs))
		_exit(2);
	fd = open(procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "0", 1) != 1)
		_exit(3);
	close(fd);
}

static int mode_cgroup_exit_after(const char *dir, unsigned long n)
{
	join_cgroup(dir);
	return mode_exit_after(n);
}

/*
 * As --cgroup-exit-after, with exactly N UDP connects to 127.0.0.1:9 (no packet is sent) before the reads: connect is
 * a call the rest of a machine makes rarely, so a test can compare totals over every series of it.
 */
static int mode_cgroup_connect_exit_after(const char *dir, unsigned long n)
{
	struct sockaddr_in addr;
	unsigned long i;
	int udpfd;

	join_cgroup(dir);
	udpfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (udpfd < 0)
		_exit(4);
	memset(&addr, 0, sizeof addr);
	addr.sin_family = AF_INET;
	addr.sin_port = htons(9);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < n; i++)
		if (syscall(SYS_connect, udpfd, &addr, sizeof addr) != 0)
			_exit(5);
	return mode_exit_after(n);
}

static int mode_exec_after(unsigned long n, char **argv)
{
	int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		perror("open /dev/zero");
		return 1;
	}
	raise(SIGSTOP);
	if (do_reads(fd, n)) {
		fprintf(stderr, "syscaller: read failed\n");
		return 1;
	}
	raise(SIGSTOP);
	execv(argv[0], argv);
	perror(argv[0]);
	return 127;
}

/* Wait for one child; returns 0 if it exited with status 0, 1 otherwise,
 * -1 if there was no child to wait for. */
static int reap_one(void)
{
	int status;
	pid_t p;

	do
		p = waitpid(-1, &status, 0);
	while (p < 0 && errno == EINTR);
	if (p < 0)
		return -1;
	return (WIFEXITED(status) && WEXITSTATUS(status) == 0) ? 0 : 1;
}

/*
 * Fork count children, at most 2 alive at once.  Each child runs
 * child_fn(arg) which must not return.
 */
static int fork_many(unsigned long count, void (*child_fn)(void *), void *arg)
{
	unsigned long started = 0;
	int alive = 0, bad = 0, r;

	while (started < count || alive > 0) {
		if (started < count && alive < 2) {
			pid_t pid = fork();

			if (pid < 0) {
				if (alive == 0) {
					perror("fork");
					return 1;
				}
				/* transient failure: reap and retry */
			} else if (pid == 0) {
				child_fn(arg);
				_exit(127);
			} else {
				started++;
				alive++;
				continue;
			}
		}
		r = reap_one();
		if (r < 0) {
			perror("waitpid");
			return 1;
		}
		alive--;
		if (r)
			bad++;
	}
	if (bad) {
		fprintf(stderr, "syscaller: %d child(ren) failed\n", bad);
		return 1;
	}
	return 0;
}

struct churn_arg {
	int fd;
	unsigned long n;
};

static void churn_child(void *p)
{
	struct churn_arg *a = p;

	_exit(do_reads(a->fd, a->n) ? 1 : 0);
}

static void exec_child(void *p)
{
	char *argv[] = { (char *)p, NULL };

	execv((char *)p, argv);
	_exit(127);
}

static int mode_spin(unsigned long ms, unsigned long cpu)
{
	struct timespec start, now;
	cpu_set_t set;
	volatile unsigned long spins = 0;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0) {
		perror("sched_setaffinity");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		for (int i = 0; i < 10000; i++)
			spins++;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while ((unsigned long)((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000) < ms);
	raise(SIGSTOP);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--spin") == 0)
		return mode_spin(parse_count(argv[2]), parse_count(argv[3]));

	if (argc == 2 && argv[1][0] != '-')
		return mode_main(parse_count(argv[1]));

	if (argc == 4 && strcmp(argv[1], "--comm") == 0) {
		unsigned long n = parse_count(argv[3]);

		if (prctl(PR_SET_NAME, argv[2], 0, 0, 0) != 0) {
			perror("prctl PR_SET_NAME");
			return 1;
		}
		return mode_main(n);
	}

	if (argc >= 4 && strcmp(argv[1], "--exec-after") == 0)
		return mode_exec_after(parse_count(argv[2]), argv + 3);

	if (argc == 3 && strcmp(argv[1], "--exit-after") == 0)
		mode_exit_after(parse_count(argv[2]));

	if (argc == 4 && strcmp(argv[1], "--cgroup-exit-after") == 0)
		mode_cgroup_exit_after(argv[2], parse_count(argv[3]));

	if (argc == 4 && strcmp(argv[1], "--cgroup-connect-exit-after") == 0)
		mode_cgroup_connect_exit_after(argv[2], parse_count(argv[3]));

	if (argc == 4 && strcmp(argv[1], "--churn") == 0) {
		struct churn_arg a;

		a.n = parse_count(argv[3]);
		a.fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
		if (a.fd < 0) {
			perror("open /dev/zero");
			return 1;
		}
		return fork_many(parse_count(argv[2]), churn_child, &a);
	}

	if (argc == 4 && strcmp(argv[1], "--exec") == 0) {
		unsigned long count = parse_count(argv[2]);

		if (access(argv[3], X_OK) != 0) {
			perror(argv[3]);
			return 1;
		}
		return fork_many(count, exec_child, argv[3]);
	}

	usage();
	return 2;
}

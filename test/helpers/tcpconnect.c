/*
 * tcpconnect.c - exact TCP connect workload for the tcp program's tests and bench (test/integration/tcp.test.ts,
 * bench/tcp-cost.sh). The tests copy the binary under names of their own, so their counts are told apart by
 * process.executable.name from everything else on the machine.
 *
 * Build:  gcc -O2 -static -Wall -Werror -o tcpconnect tcpconnect.c
 *
 *   tcpconnect [--syncnt N] [--reset] [--parallel] ADDR PORT COUNT
 *       COUNT blocking IPv4 connects to ADDR:PORT, each socket closed right after (no data). With --syncnt N each
 *       socket gets TCP_SYNCNT N (its SYN is retransmitted at most N times). With --reset a connected socket is
 *       closed with SO_LINGER 0, so the close sends a reset. With --parallel, COUNT children make
 *       one connect each at the same time (the parent waits for them all). Prints
 *       "ok=<successes> failed=<failures> retrans=<retransmits>" and exits 0 whatever the outcomes. retrans is the
 *       kernel's own count of the sockets' retransmits (TCP_INFO tcpi_total_retrans), read while a --syncnt connect
 *       waits (a failed connect may clear it); 0 without --syncnt.
 *
 *   tcpconnect --listen ADDR PORT
 *       Listens on ADDR:PORT (SO_REUSEADDR), prints "listening" once it does, then accepts and closes connections
 *       until killed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static struct sockaddr_in address(const char *ip, const char *port)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)atoi(port));
	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
		fprintf(stderr, "tcpconnect: not an IPv4 address: %s\n", ip);
		exit(2);
	}
	return sa;
}

/*
 * A non-blocking connect, waited for with the socket's retransmits read every 10 ms (the SYN's are 1 s apart):
 * the most it showed goes to *retrans. 1 on success, 0 on failure.
 */
static int connect_watched(int fd, const struct sockaddr_in *sa, int *retrans)
{
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
		perror("fcntl");
		exit(2);
	}
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
		return 1;
	if (errno != EINPROGRESS)
		return 0;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		struct tcp_info info;
		socklen_t len = sizeof(info);
		int n = poll(&p, 1, 10);

		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0 && (int)info.tcpi_total_retrans > *retrans)
			*retrans = (int)info.tcpi_total_retrans;
		if (n > 0) {
			int err = 0;
			socklen_t size = sizeof(err);

			return getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &size) == 0 && err == 0;
		}
		if (n < 0 && errno != EINTR) {
			perror("poll");
			exit(2);
		}
	}
}

/* One connect: 1 on success, 0 on failure; with --syncnt its socket's retransmits are added to *retrans. */
static int connect_once(const struct sockaddr_in *sa, int syncnt, int reset, int *retrans)
{
	struct linger abort_close = { .l_onoff = 1, .l_linger = 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int ok;

	if (fd < 0) {
		perror("socket");
		exit(2);
	}
	if (syncnt > 0 && setsockopt(fd, IPPROTO_TCP, TCP_SYNCNT, &syncnt, sizeof(syncnt)) != 0) {
		perror("setsockopt TCP_SYNCNT");
		exit(2);
	}
	if (syncnt > 0) {
		int seen = 0;

		ok = connect_watched(fd, sa, &seen);
		*retrans += seen;
	} else {
		ok = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	}
	if (ok && reset && setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_close, sizeof(abort_close)) != 0) {
		perror("setsockopt SO_LINGER");
		exit(2);
	}
	close(fd);
	return ok;
}

static int listen_forever(const struct sockaddr_in *sa)
{
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) != 0 || listen(fd, 1024) != 0) {
		perror("listen");
		return 2;
	}
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		int conn = accept(fd, NULL, NULL);

		if (conn >= 0)
			close(conn);
	}
}

int main(int argc, char **argv)
{
	int syncnt = 0, reset = 0, parallel = 0, i = 1, count, ok = 0, retrans = 0;
	struct sockaddr_in sa;

	if (argc == 4 && strcmp(argv[1], "--listen") == 0) {
		sa = address(argv[2], argv[3]);
		return listen_forever(&sa);
	}
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--syncnt") == 0 && i + 1 < argc)
			syncnt = atoi(argv[++i]);
		else if (strcmp(argv[i], "--reset") == 0)
			reset = 1;
		else if (strcmp(argv[i], "--parallel") == 0)
			parallel = 1;
		else
			break;
	}
	if (argc - i != 3) {
		fprintf(stderr, "usage: tcpconnect [--syncnt N] [--reset] [--parallel] ADDR PORT COUNT | --listen ADDR PORT\n");
		return 2;
	}
	sa = address(argv[i], argv[i + 1]);
	count = atoi(argv[i + 2]);
	if (!parallel) {
		for (int n = 0; n < count; n++)
			ok += connect_once(&sa, syncnt, reset, &retrans);
	} else {
		for (int n = 0; n < count; n++) {
			pid_t pid = fork();

			if (pid < 0) {
				perror("fork");
				return 2;
			}
			if (pid == 0) {
				/* The exit status: bit 0 set on failure, the retransmits above it. */
				int mine = 0;
				int failed = !connect_once(&sa, syncnt, reset, &mine);

				_exit(failed | (mine > 127 ? 127 : mine) << 1);
			}
		}
		for (int n = 0; n < count; n++) {
			int status;

			if (wait(&status) > 0 && WIFEXITED(status)) {
				ok += (WEXITSTATUS(status) & 1) == 0;
				retrans += WEXITSTATUS(status) >> 1;
			}
		}
	}
	printf("ok=%d failed=%d retrans=%d\n", ok, count - ok, retrans);
	return 0;
}

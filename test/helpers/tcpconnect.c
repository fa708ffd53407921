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
 *       one connect each at the same time (the parent waits for them all). Prints "ok=<successes> failed=<failures>"
 *       and exits 0 whatever the outcomes.
 *
 *   tcpconnect --listen ADDR PORT
 *       Listens on ADDR:PORT (SO_REUSEADDR), prints "listening" once it does, then accepts and closes connections
 *       until killed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

/* One connect: 1 on success, 0 on failure. */
static int connect_once(const struct sockaddr_in *sa, int syncnt, int reset)
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
	ok = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
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
	int syncnt = 0, reset = 0, parallel = 0, i = 1, count, ok = 0;
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
			ok += connect_once(&sa, syncnt, reset);
	} else {
		for (int n = 0; n < count; n++) {
			pid_t pid = fork();

			if (pid < 0) {
				perror("fork");
				return 2;
			}
			if (pid == 0)
				_exit(connect_once(&sa, syncnt, reset) ? 0 : 1);
		}
		for (int n = 0; n < count; n++) {
			int status;

			if (wait(&status) > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
				ok++;
		}
	}
	printf("ok=%d failed=%d\n", ok, count - ok);
	return 0;
}

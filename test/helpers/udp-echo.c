/*
 * udp-echo.c - the network workload of the k8s end-to-end test (test/integration/k8s.test.ts): a pod that sends
 * back every UDP datagram it receives, unchanged, to where it came from, so the test knows exactly which datagrams
 * cross the pod's veth in each direction.
 *
 * Build:  gcc -O2 -static -Wall -Werror -o udp-echo udp-echo.c
 *
 *   udp-echo PORT
 *       Binds 0.0.0.0:PORT and echoes each datagram (up to 65535 bytes) until killed.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
	static char buf[65536];
	struct sockaddr_in addr;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PORT\n", argv[0]);
		return 2;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((unsigned short)atoi(argv[1]));
	addr.sin_addr.s_addr = htonl(INADDR_ANY);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		perror("bind");
		return 1;
	}
	for (;;) {
		struct sockaddr_in from;
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen);

		if (n < 0) {
			perror("recvfrom");
			return 1;
		}
		if (sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fromlen) != n) {
			perror("sendto");
			return 1;
		}
	}
}

// Fixed CPU work for the sampling overhead benchmark: a long integer hash loop, no syscalls in the loop.
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 400000000UL;
	unsigned long h = 1469598103934665603UL;

	for (unsigned long i = 0; i < n; i++)
		h = (h ^ i) * 1099511628211UL;
	printf("%lu\n", h & 1);
	return 0;
}

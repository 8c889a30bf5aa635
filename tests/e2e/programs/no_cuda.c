/* no_cuda.c — a program with no CUDA at all that still exercises what the shim
 * overrides (dlsym) and prints and exits with values a test can compare: under the
 * shim it must behave exactly as without it and leave no trace behind. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	size_t (*len)(const char *);
	void *libc = dlopen("libc.so.6", RTLD_NOW);

	*(void **)&len = libc ? dlsym(libc, "strlen") : NULL;
	if (!len || dlsym(RTLD_DEFAULT, "cudaMemcpy") || dlsym(RTLD_DEFAULT, "cuInit"))
		printf("no_cuda: unexpected dlsym answers\n");
	printf("no_cuda: %d args, strlen(argv[0]) = %zu\n", argc, len ? len(argv[0]) : 0);
	fprintf(stderr, "no_cuda: to stderr\n");
	return 3;
}

/* no_cuda.c — a program with no CUDA at all that still exercises what the shim
 * overrides (dlsym) and prints and exits with values a test can compare: under the
 * shim it must behave exactly as without it and leave no trace behind.
 * With --probe it also asks dlsym(RTLD_DEFAULT) for CUDA entry points, as
 * libraries do to find out whether CUDA is present, and prints the answers. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	size_t (*len)(const char *);
	void *libc = dlopen("libc.so.6", RTLD_NOW);

	*(void **)&len = libc ? dlsym(libc, "strlen") : NULL;
	printf("no_cuda: %d args, strlen(argv[0]) = %zu\n", argc, len ? len(argv[0]) : 0);
	if (argc > 1 && !strcmp(argv[1], "--probe"))
		printf("no_cuda: cudaMemcpy %s, cuInit %s, cudnnCreate %s\n",
		       dlsym(RTLD_DEFAULT, "cudaMemcpy") ? "found" : "absent",
		       dlsym(RTLD_DEFAULT, "cuInit") ? "found" : "absent",
		       dlsym(RTLD_DEFAULT, "cudnnCreate") ? "found" : "absent");
	fprintf(stderr, "no_cuda: to stderr\n");
	return 3;
}

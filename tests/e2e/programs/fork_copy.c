/* fork_copy.c — a forked child writes its own trace, with only its own events:
 * child A is forked before the parent touches CUDA and copies on its own (a child
 * may not use a context created before the fork, on a real GPU or the fake);
 * child B is forked after the parent has copied, makes no CUDA call, and must not
 * write out the parent's not-yet-flushed events as its own. */
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static char host[8192];

static int copy(size_t n, const char *who)
{
	static void *dev;
	cudaError_t err = dev ? cudaSuccess : cudaMalloc(&dev, sizeof(host));

	if (err == cudaSuccess)
		err = cudaMemcpy(dev, host, n, cudaMemcpyHostToDevice);
	if (err != cudaSuccess) {
		fprintf(stderr, "fork_copy: %s copy failed: %s\n", who, cudaGetErrorName(err));
		return -1;
	}
	return 0;
}

/* Fork child A or B (see above) and wait for it. */
static pid_t child(int which)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork_copy: fork");
		exit(1);
	}
	if (pid == 0)
		/* exit, not _exit: the shim flushes its trace at exit */
		exit(which == 'A' ? (copy(2000, "child A") ? 1 : 0) : 0);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "fork_copy: child %c failed\n", which);
		exit(1);
	}
	return pid;
}

int main(void)
{
	pid_t a, b;

	a = child('A');
	if (copy(1000, "parent"))
		return 1;
	b = child('B');
	if (copy(3000, "parent"))
		return 1;
	printf("fork_copy: parent %d child %d quiet %d\n", (int)getpid(), (int)a, (int)b);
	return 0;
}

/* fork_copy.c — copies before a fork, in the child, and after it in the parent.
 * Each process must end with its own trace holding only its own copies (the
 * fake CUDA keeps working in a child, which a real driver does not promise). */
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static char host[8192];

static int copy(void *dev, size_t n, const char *who)
{
	cudaError_t err = cudaMemcpy(dev, host, n, cudaMemcpyHostToDevice);

	if (err != cudaSuccess) {
		fprintf(stderr, "fork_copy: %s copy failed: %s\n", who, cudaGetErrorName(err));
		return -1;
	}
	return 0;
}

int main(void)
{
	void *dev = NULL;
	int status;
	pid_t pid;

	if (cudaMalloc(&dev, sizeof(host)) != cudaSuccess || copy(dev, 1000, "parent"))
		return 1;
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork_copy: fork");
		return 1;
	}
	if (pid == 0)
		exit(copy(dev, 2000, "child") ? 1 : 0); /* exit, not _exit: the trace is flushed at exit */
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "fork_copy: child failed\n");
		return 1;
	}
	if (copy(dev, 3000, "parent"))
		return 1;
	cudaFree(dev);
	printf("fork_copy: parent %d child %d\n", (int)getpid(), (int)pid);
	return 0;
}

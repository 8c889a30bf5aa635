/* hooks_dlsym.c — the two doors through which programs find CUDA entry points
 * without linking them: dlsym, and the driver's cuGetProcAddress (which the real
 * runtime uses for everything, including to fetch cuGetProcAddress itself). Both
 * hand out the shim's wrapper when it has one for that exact ABI, and remember the
 * real function in the wrapper's slot. Every other name passes through untouched. */
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>
#include <dlfcn.h>

#include "entry_points.h"
#include "internal.h"

/* Called by the dlsym entry stub. Returns 1 with *out set when the shim answers;
 * 0 to let the real dlsym answer, reached by a tail jump so that it sees the
 * program's own return address (RTLD_NEXT is relative to the caller). */
int ms_dlsym_route(void *handle, const char *name, void *caller, void **out);

MS_NO_SANITIZE int ms_dlsym_route(void *handle, const char *name, void *caller, void **out)
{
	int id;
	void *real;

	ms_real_dlsym_init();
	if (MS_UNLIKELY(!ms_dlsym_next)) {
		*out = NULL; /* no real dlsym to jump to: answer "not found" */
		return 1;
	}
	id = ms_entry_find(name);
	if (id < 0 || !ms_entries[id].wrapped)
		return 0;
	if (handle == RTLD_NEXT) {
		Dl_info di;

		real = NULL;
		if (dladdr(caller, &di) && di.dli_fbase)
			real = ms_lookup_after((uintptr_t)di.dli_fbase, name);
	} else {
		real = ms_real_dlsym(handle, name);
		/* A global search (RTLD_DEFAULT, the main program's handle) finds the
		 * shim's own export first. What the program would have found without us
		 * is the next definition; with none (no CUDA loaded), answer "not found"
		 * — that lookup also sets dlerror as the real one would. */
		if (real && ms_in_shim(real)) {
			real = ms_real_dlsym(RTLD_NEXT, name);
			if (!real) {
				*out = NULL;
				return 1;
			}
		}
	}
	if (!real)
		return 0; /* the real dlsym gives the same answer and sets dlerror */
	*out = ms_route_sym(name, real);
	return *out != NULL;
}

#if defined(__x86_64__)
/* dlsym itself: save the arguments, ask ms_dlsym_route, and either return its
 * answer or restore the arguments and jump to the real dlsym with the caller's
 * return address still on top of the stack. */
__asm__(".pushsection .text\n"
        ".globl dlsym\n"
        ".type dlsym, @function\n"
        ".p2align 4\n"
        "dlsym:\n"
        ".cfi_startproc\n"
        "	endbr64\n"
        "	pushq %rdi\n"
        ".cfi_adjust_cfa_offset 8\n"
        "	pushq %rsi\n"
        ".cfi_adjust_cfa_offset 8\n"
        "	subq $24, %rsp\n"
        ".cfi_adjust_cfa_offset 24\n"
        "	movq 40(%rsp), %rdx\n" /* the caller's return address */
        "	leaq 8(%rsp), %rcx\n"  /* out */
        "	call ms_dlsym_route\n"
        "	testl %eax, %eax\n"
        "	jnz 1f\n"
        "	addq $24, %rsp\n"
        ".cfi_adjust_cfa_offset -24\n"
        "	popq %rsi\n"
        ".cfi_adjust_cfa_offset -8\n"
        "	popq %rdi\n"
        ".cfi_adjust_cfa_offset -8\n"
        "	jmp *ms_dlsym_next(%rip)\n"
        "1:\n"
        ".cfi_adjust_cfa_offset 40\n"
        "	movq 8(%rsp), %rax\n"
        "	addq $40, %rsp\n"
        ".cfi_adjust_cfa_offset -40\n"
        "	ret\n"
        ".cfi_endproc\n"
        ".size dlsym, .-dlsym\n"
        ".popsection\n");
#else
/* Elsewhere: the same in C; RTLD_NEXT for names not ours is searched by hand. */
__attribute__((visibility("default"))) void *dlsym(void *handle, const char *name)
{
	void *caller = __builtin_return_address(0), *out = NULL;
	Dl_info di;

	if (ms_dlsym_route(handle, name, caller, &out))
		return out;
	if (handle == RTLD_NEXT && dladdr(caller, &di) && di.dli_fbase)
		return ms_lookup_after((uintptr_t)di.dli_fbase, name);
	return ms_real_dlsym(handle, name);
}
#endif

/* ------------------------------------------------------------ cuGetProcAddress */
/* Wrap only what the real driver returned for that exact symbol, version and
 * flags; symbolStatus and the result code go back untouched. */
CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int driverVersion, cuuint64_t flags,
                             CUdriverProcAddressQueryResult *symbolStatus)
{
	__typeof__(&cuGetProcAddress_v2) real = MS_REAL(cuGetProcAddress_v2);
	CUresult rc;

	if (!real)
		return CUDA_ERROR_NOT_FOUND;
	rc = real(symbol, pfn, driverVersion, flags, symbolStatus);
	if (rc == CUDA_SUCCESS && pfn && *pfn)
		*pfn = ms_route_proc(symbol, driverVersion, flags, *pfn);
	return rc;
}

CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags)
{
	__typeof__(&cuGetProcAddress) real = MS_REAL(cuGetProcAddress);
	CUresult rc;

	if (!real)
		return CUDA_ERROR_NOT_FOUND;
	rc = real(symbol, pfn, cudaVersion, flags);
	if (rc == CUDA_SUCCESS && pfn && *pfn)
		*pfn = ms_route_proc(symbol, cudaVersion, flags, *pfn);
	return rc;
}

#define GPA_ROW(sym, proc, version, pt) [MS_EP_##sym] = (void *)sym,
#define NO_ROW(sym, proc, version, pt)
void *const ms_wrappers_gpa[MS_EP_COUNT] = { MS_ENTRY_POINTS(NO_ROW, NO_ROW, GPA_ROW, NO_ROW) };

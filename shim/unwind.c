/* unwind.c — call stacks as trie ids (placeholder: backtraces off). */
#include "internal.h"

uint32_t ms_stack_id(void) { return 0; }

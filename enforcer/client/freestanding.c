// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What a freestanding cgfence-hook needs in place of libc's start-up (see
 * rt.h): the entry point, and the two functions compilers may call for
 * struct copies and initializers.
 */
#include "rt.h"

#ifdef CGF_FREESTANDING
int main(int argc, char **argv, char **envp);

/* The kernel starts us with argc, argv..., NULL, envp..., NULL on the stack. */
__attribute__((used, noreturn)) void cgf_start(long *sp)
{
	int argc = (int)sp[0];
	char **argv = (char **)(sp + 1);

	rt_exit(main(argc, argv, argv + argc + 1));
}

__asm__(".text\n"
	".global _start\n"
	"_start:\n"
	"	xor %rbp, %rbp\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call cgf_start\n"
	"	hlt\n");

void *memcpy(void *dst, const void *src, size_t n)
{
	char *d = dst;
	const char *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	char *d = dst;

	while (n--)
		*d++ = (char)c;
	return dst;
}
#endif

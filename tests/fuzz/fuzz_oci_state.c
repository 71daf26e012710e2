// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer: the OCI state a runtime writes to the hook's stdin. */
#include <stdint.h>
#include <string.h>

#include "oci_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oci_state s;
	char why[256];

	if (oci_state_parse((const char *)data, size, &s, why, sizeof(why)) ==
	    0) {
		/* What the hook reads from a parsed state. */
		for (size_t i = 0; i < s.nannotations; i++)
			if (strlen(s.annotations[i].key) == 0)
				__builtin_trap();
		oci_state_annotation(&s, "cgfence.policy");
		oci_state_free(&s);
	}
	return 0;
}

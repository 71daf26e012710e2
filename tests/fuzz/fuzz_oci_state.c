// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer: the OCI state a runtime writes to the hook's stdin. */
#include <stdint.h>
#include <string.h>

#include "k8s_identity.h"
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
		/* The pod the hook's records name: bounded, printable. */
		struct k8s_identity pod;

		if (k8s_identity_from_annotations(s.annotations, s.nannotations,
						  &pod)) {
			if (!pod.namespace_[0] || !pod.pod[0] ||
			    strlen(pod.pod) > K8S_POD_MAX)
				__builtin_trap();
		}
		oci_state_free(&s);
	}
	return 0;
}

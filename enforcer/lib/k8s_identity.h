/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Which Kubernetes pod a container belongs to, from the OCI annotations
 * its runtime wrote (kubelet hands the names over CRI; each runtime files
 * them under keys of its own):
 *
 *   CRI-O       io.kubernetes.pod.namespace, io.kubernetes.pod.name,
 *               io.kubernetes.container.name ("POD" for the infra
 *               container, whose io.kubernetes.cri-o.ContainerType is
 *               "sandbox")
 *   containerd  io.kubernetes.cri.sandbox-namespace,
 *               io.kubernetes.cri.sandbox-name,
 *               io.kubernetes.cri.container-name (none for the pause
 *               container, whose io.kubernetes.cri.container-type is
 *               "sandbox")
 *
 * A pod needs a namespace and a name; the container's name is absent for
 * a sandbox. A value longer than Kubernetes allows (63 for a namespace or
 * a container, 253 for a pod) or with a byte outside printable ASCII is no
 * kubelet's: the container is then taken for no pod's, rather than for a
 * cut name that `cgfence log --pod` could confuse with another pod's.
 * Pure: no kernel, no libbpf.
 */
#ifndef CGFENCE_K8S_IDENTITY_H
#define CGFENCE_K8S_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "oci_state.h"

#define K8S_NAMESPACE_MAX 63
#define K8S_POD_MAX	  253
#define K8S_CONTAINER_MAX 63

struct k8s_identity {
	char namespace_[K8S_NAMESPACE_MAX + 1];
	char pod[K8S_POD_MAX + 1];
	char container[K8S_CONTAINER_MAX + 1]; /* "" for a sandbox */
	bool sandbox;	     /* the pod's pause (infra) container */
	const char *runtime; /* "cri-o" or "containerd": whose keys */
};

/*
 * 1 and the identity when the annotations name a pod (CRI-O's keys
 * first, then containerd's), 0 (and out zeroed) when they do not.
 */
int k8s_identity_from_annotations(const struct oci_annotation *annotations,
				  size_t n, struct k8s_identity *out);

/*
 * Adds "kubernetes": {"namespace": ..., "pod": ..., "container": ...} to a
 * record ("container": null and "sandbox": true for the pause container);
 * nothing when id is NULL. The records' one shape for it.
 */
void k8s_identity_add_json(cJSON *obj, const struct k8s_identity *id);

#endif

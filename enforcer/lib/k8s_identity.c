// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <string.h>

#include "k8s_identity.h"

struct runtime_keys {
	const char *runtime;
	const char *namespace_, *pod, *container, *type;
};

static const struct runtime_keys runtimes[] = {
	{"cri-o", "io.kubernetes.pod.namespace", "io.kubernetes.pod.name",
	 "io.kubernetes.container.name", "io.kubernetes.cri-o.ContainerType"},
	{"containerd", "io.kubernetes.cri.sandbox-namespace",
	 "io.kubernetes.cri.sandbox-name", "io.kubernetes.cri.container-name",
	 "io.kubernetes.cri.container-type"},
};

static const char *lookup(const struct oci_annotation *a, size_t n,
			  const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(a[i].key, key))
			return a[i].value;
	return NULL;
}

/* Copies value when it is printable ASCII of at most max bytes. */
static bool take(char *to, const char *value, size_t max, bool may_be_empty)
{
	size_t len = 0;

	if (!value)
		return may_be_empty;
	for (const char *p = value; *p; p++, len++)
		if (len >= max || *p <= 0x20 || *p >= 0x7f)
			return false;
	if (!len && !may_be_empty)
		return false;
	memcpy(to, value, len + 1);
	return true;
}

static bool identity_by(const struct runtime_keys *k,
			const struct oci_annotation *a, size_t n,
			struct k8s_identity *out)
{
	const char *type = lookup(a, n, k->type);

	memset(out, 0, sizeof(*out));
	out->sandbox = type && !strcmp(type, "sandbox");
	if (!take(out->namespace_, lookup(a, n, k->namespace_),
		  K8S_NAMESPACE_MAX, false) ||
	    !take(out->pod, lookup(a, n, k->pod), K8S_POD_MAX, false))
		return false;
	/* CRI-O names its infra container "POD": no container of the spec. */
	if (!out->sandbox && !take(out->container, lookup(a, n, k->container),
				   K8S_CONTAINER_MAX, true))
		return false;
	out->runtime = k->runtime;
	return true;
}

int k8s_identity_from_annotations(const struct oci_annotation *annotations,
				  size_t n, struct k8s_identity *out)
{
	for (size_t i = 0; i < sizeof(runtimes) / sizeof(runtimes[0]); i++)
		if (identity_by(&runtimes[i], annotations, n, out))
			return 1;
	memset(out, 0, sizeof(*out));
	return 0;
}

void k8s_identity_add_json(cJSON *obj, const struct k8s_identity *id)
{
	cJSON *k;

	if (!id || !id->pod[0])
		return;
	k = cJSON_AddObjectToObject(obj, "kubernetes");
	if (!k)
		return;
	cJSON_AddStringToObject(k, "namespace", id->namespace_);
	cJSON_AddStringToObject(k, "pod", id->pod);
	if (id->container[0])
		cJSON_AddStringToObject(k, "container", id->container);
	else
		cJSON_AddNullToObject(k, "container");
	if (id->sandbox)
		cJSON_AddBoolToObject(k, "sandbox", true);
}

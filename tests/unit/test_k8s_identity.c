// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Pod identity from the annotations CRI-O and containerd write. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "k8s_identity.h"
#include "unit.h"

#define ANN(k, v)                                                              \
	{                                                                      \
		(char *)(k), (char *)(v)                                       \
	}
#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_crio(void)
{
	/* As CRI-O writes them into config.json (trimmed). */
	struct oci_annotation a[] = {
		ANN("io.kubernetes.cri-o.ContainerType", "container"),
		ANN("io.kubernetes.pod.namespace", "shop"),
		ANN("io.kubernetes.pod.name", "web-7d4b9c-x2x"),
		ANN("io.kubernetes.container.name", "nginx"),
		ANN("io.kubernetes.pod.uid", "8f1c"),
	};
	struct k8s_identity id;

	CHECK(k8s_identity_from_annotations(a, N(a), &id) == 1, "cri-o pod");
	CHECK(!strcmp(id.namespace_, "shop") &&
		      !strcmp(id.pod, "web-7d4b9c-x2x") &&
		      !strcmp(id.container, "nginx") && !id.sandbox &&
		      !strcmp(id.runtime, "cri-o"),
	      "cri-o: %s/%s/%s", id.namespace_, id.pod, id.container);
}

static void test_containerd(void)
{
	struct oci_annotation a[] = {
		ANN("io.kubernetes.cri.container-type", "container"),
		ANN("io.kubernetes.cri.sandbox-id", "4b1e"),
		ANN("io.kubernetes.cri.sandbox-namespace", "shop"),
		ANN("io.kubernetes.cri.sandbox-name", "api-0"),
		ANN("io.kubernetes.cri.container-name", "app"),
	};
	struct k8s_identity id;

	CHECK(k8s_identity_from_annotations(a, N(a), &id) == 1,
	      "containerd pod");
	CHECK(!strcmp(id.namespace_, "shop") && !strcmp(id.pod, "api-0") &&
		      !strcmp(id.container, "app") && !id.sandbox &&
		      !strcmp(id.runtime, "containerd"),
	      "containerd: %s/%s/%s", id.namespace_, id.pod, id.container);
}

static void test_sandbox(void)
{
	struct oci_annotation ctrd[] = {
		ANN("io.kubernetes.cri.container-type", "sandbox"),
		ANN("io.kubernetes.cri.sandbox-namespace", "shop"),
		ANN("io.kubernetes.cri.sandbox-name", "api-0"),
	};
	struct oci_annotation crio[] = {
		ANN("io.kubernetes.cri-o.ContainerType", "sandbox"),
		ANN("io.kubernetes.pod.namespace", "shop"),
		ANN("io.kubernetes.pod.name", "api-0"),
		ANN("io.kubernetes.container.name", "POD"),
	};
	struct k8s_identity id;

	CHECK(k8s_identity_from_annotations(ctrd, N(ctrd), &id) == 1 &&
		      id.sandbox && !id.container[0] &&
		      !strcmp(id.pod, "api-0"),
	      "containerd sandbox");
	CHECK(k8s_identity_from_annotations(crio, N(crio), &id) == 1 &&
		      id.sandbox && !id.container[0],
	      "cri-o sandbox: container '%s'", id.container);
}

static void test_none_and_partial(void)
{
	struct oci_annotation plain[] = {ANN("cgfence.policy", "web")};
	struct oci_annotation no_ns[] = {
		ANN("io.kubernetes.pod.name", "web"),
		ANN("io.kubernetes.container.name", "nginx"),
	};
	struct oci_annotation no_pod[] = {
		ANN("io.kubernetes.cri.sandbox-namespace", "shop"),
		ANN("io.kubernetes.cri.container-name", "app"),
	};
	struct oci_annotation mixed[] = {
		/* one runtime's namespace, the other's pod: no pod */
		ANN("io.kubernetes.pod.namespace", "shop"),
		ANN("io.kubernetes.cri.sandbox-name", "api-0"),
	};
	struct oci_annotation no_container[] = {
		ANN("io.kubernetes.pod.namespace", "shop"),
		ANN("io.kubernetes.pod.name", "web"),
	};
	struct oci_annotation empty[] = {
		ANN("io.kubernetes.pod.namespace", ""),
		ANN("io.kubernetes.pod.name", "web"),
	};
	struct k8s_identity id;

	CHECK(k8s_identity_from_annotations(NULL, 0, &id) == 0 && !id.pod[0],
	      "no annotations");
	CHECK(k8s_identity_from_annotations(plain, N(plain), &id) == 0,
	      "not a pod");
	CHECK(k8s_identity_from_annotations(no_ns, N(no_ns), &id) == 0 &&
		      !id.pod[0],
	      "no namespace");
	CHECK(k8s_identity_from_annotations(no_pod, N(no_pod), &id) == 0,
	      "no pod name");
	CHECK(k8s_identity_from_annotations(mixed, N(mixed), &id) == 0,
	      "keys of two runtimes");
	CHECK(k8s_identity_from_annotations(no_container, N(no_container),
					    &id) == 1 &&
		      !id.container[0],
	      "a pod without the container's name");
	CHECK(k8s_identity_from_annotations(empty, N(empty), &id) == 0,
	      "empty namespace");
}

static void test_bounds(void)
{
	char ns63[64], ns64[65], pod253[254], pod254[255];
	struct oci_annotation a[3] = {
		ANN("io.kubernetes.pod.namespace", ns63),
		ANN("io.kubernetes.pod.name", pod253),
		ANN("io.kubernetes.container.name", "c"),
	};
	struct k8s_identity id;

	memset(ns63, 'n', 63);
	ns63[63] = '\0';
	memset(ns64, 'n', 64);
	ns64[64] = '\0';
	memset(pod253, 'p', 253);
	pod253[253] = '\0';
	memset(pod254, 'p', 254);
	pod254[254] = '\0';
	CHECK(k8s_identity_from_annotations(a, N(a), &id) == 1 &&
		      strlen(id.namespace_) == 63 && strlen(id.pod) == 253,
	      "longest names");
	a[0].value = ns64;
	CHECK(k8s_identity_from_annotations(a, N(a), &id) == 0,
	      "namespace over 63");
	a[0].value = ns63;
	a[1].value = pod254;
	CHECK(k8s_identity_from_annotations(a, N(a), &id) == 0, "pod over 253");
	a[1].value = "web\n{\"x\":1}";
	CHECK(k8s_identity_from_annotations(a, N(a), &id) == 0,
	      "control bytes");
	a[1].value = "web";
	a[2].value = ns64;
	CHECK(k8s_identity_from_annotations(a, N(a), &id) == 0,
	      "container over 63");
}

static void test_json(void)
{
	struct oci_annotation a[] = {
		ANN("io.kubernetes.cri.container-type", "sandbox"),
		ANN("io.kubernetes.cri.sandbox-namespace", "shop"),
		ANN("io.kubernetes.cri.sandbox-name", "api-0"),
	};
	struct k8s_identity id;
	cJSON *obj = cJSON_CreateObject();
	char *text;

	k8s_identity_add_json(obj, NULL);
	CHECK(!cJSON_GetObjectItem(obj, "kubernetes"), "absent when no pod");
	k8s_identity_from_annotations(a, N(a), &id);
	k8s_identity_add_json(obj, &id);
	text = cJSON_PrintUnformatted(obj);
	CHECK(text && !strcmp(text, "{\"kubernetes\":{\"namespace\":\"shop\","
				    "\"pod\":\"api-0\",\"container\":null,"
				    "\"sandbox\":true}}"),
	      "json: %s", text);
	free(text);
	cJSON_Delete(obj);
}

int main(void)
{
	test_crio();
	test_containerd();
	test_sandbox();
	test_none_and_partial();
	test_bounds();
	test_json();
	return unit_done("k8s_identity");
}

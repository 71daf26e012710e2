// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "hashtab.h"
#include "metrics.h"
#include "util.h"

void metrics_labels_init(struct metrics_labels *l)
{
	l->text[0] = '\0';
	l->len = 0;
	l->too_long = false;
}

/* Appends n bytes, or marks the labels too long (never a cut value). */
static void labels_append(struct metrics_labels *l, const char *p, size_t n)
{
	if (l->len + n >= sizeof(l->text)) {
		l->too_long = true;
		return;
	}
	memcpy(l->text + l->len, p, n);
	l->len += n;
	l->text[l->len] = '\0';
}

void metrics_label(struct metrics_labels *l, const char *key, const char *value)
{
	size_t n;

	if (!value || !*value || l->too_long)
		return;
	if (l->len)
		labels_append(l, ",", 1);
	labels_append(l, key, strlen(key));
	labels_append(l, "=\"", 2);
	/* The format's three escapes; everything else is taken as it is. */
	while (*value) {
		n = strcspn(value, "\\\"\n");
		labels_append(l, value, n);
		value += n;
		if (*value == '\n')
			labels_append(l, "\\n", 2);
		else if (*value)
			labels_append(l, (char[]){'\\', *value}, 2);
		if (*value)
			value++;
	}
	labels_append(l, "\"", 1);
}

int metrics_table_init(struct metrics_table *t, const char *name,
		       size_t max_series)
{
	size_t capacity = 16;

	while (capacity < 2 * max_series)
		capacity *= 2;
	*t = (struct metrics_table){
		.name = name, .capacity = capacity, .max_series = max_series};
	/* calloc: pages no series touched stay unallocated. */
	t->slots = calloc(capacity, sizeof(*t->slots));
	return t->slots ? 0 : -ENOMEM;
}

void metrics_table_free(struct metrics_table *t)
{
	free(t->slots);
	t->slots = NULL;
}

/* The slot of these labels, or the empty one where they would go. */
static struct metrics_series *find_slot(const struct metrics_table *t,
					const struct metrics_labels *l,
					uint32_t hash)
{
	size_t mask = t->capacity - 1;

	/* At most half full: there is always an empty slot to stop at. */
	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		struct metrics_series *s = &t->slots[i];

		if (!atomic_load_explicit(&s->ready, memory_order_acquire))
			return s;
		if (s->hash == hash && !strcmp(s->labels, l->text))
			return s;
	}
}

struct metrics_series *metrics_table_series(struct metrics_table *t,
					    const struct metrics_labels *l)
{
	uint32_t hash = (uint32_t)hashtab_hash_bytes(l->text, l->len, 0);
	struct metrics_series *s;

	if (!t->slots || l->too_long)
		return NULL;
	s = find_slot(t, l, hash);
	if (!atomic_load_explicit(&s->ready, memory_order_relaxed)) {
		if (t->used >= t->max_series)
			return NULL;
		memcpy(s->labels, l->text, l->len + 1);
		s->hash = hash;
		atomic_store_explicit(&s->value, 0, memory_order_relaxed);
		/* Readers see the labels complete, or not the series. */
		atomic_store_explicit(&s->ready, 1, memory_order_release);
		t->used++;
	}
	return s;
}

void metrics_table_add(struct metrics_table *t, const struct metrics_labels *l,
		       uint64_t delta)
{
	struct metrics_series *s = metrics_table_series(t, l);

	if (s)
		metrics_series_add(s, delta);
	else
		metrics_table_overflow(t, delta);
}

uint64_t metrics_table_get(const struct metrics_table *t,
			   const struct metrics_labels *l)
{
	uint32_t hash = (uint32_t)hashtab_hash_bytes(l->text, l->len, 0);
	struct metrics_series *s;

	if (!t->slots || l->too_long)
		return 0;
	s = find_slot(t, l, hash);
	if (!atomic_load_explicit(&s->ready, memory_order_acquire))
		return 0;
	return atomic_load_explicit(&s->value, memory_order_relaxed);
}

void metrics_family(FILE *out, const char *name, const char *type,
		    const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_sample(FILE *out, const char *name, const char *labels,
		    uint64_t value)
{
	if (labels && *labels)
		fprintf(out, "%s{%s} %" PRIu64 "\n", name, labels, value);
	else
		fprintf(out, "%s %" PRIu64 "\n", name, value);
}

void metrics_table_render(const struct metrics_table *t, FILE *out)
{
	for (size_t i = 0; t->slots && i < t->capacity; i++) {
		const struct metrics_series *s = &t->slots[i];

		if (atomic_load_explicit(&s->ready, memory_order_acquire))
			metrics_sample(
				out, t->name, s->labels,
				atomic_load_explicit(&s->value,
						     memory_order_relaxed));
	}
}

void metrics_render_overflow(FILE *out, const struct metrics_table *const *t,
			     size_t n)
{
	static const char name[] = "cgfence_metrics_series_overflow_total";

	metrics_family(out, name, "counter",
		       "Counts that found no room for a new series in their "
		       "family (its distinct label sets are capped); they are "
		       "in no series of that family.");
	for (size_t i = 0; i < n; i++) {
		struct metrics_labels l;

		metrics_labels_init(&l);
		metrics_label(&l, "family", t[i]->name);
		metrics_sample(out, name, l.text,
			       atomic_load_explicit(&t[i]->overflow,
						    memory_order_relaxed));
	}
}

int metrics_parse_listen(const char *text, struct sockaddr_storage *addr,
			 socklen_t *len, const char **why)
{
	const char *colon = strrchr(text, ':');
	char host[INET6_ADDRSTRLEN + 2];
	unsigned long long port;
	size_t host_len;

	memset(addr, 0, sizeof(*addr));
	if (!colon) {
		*why = "expected ADDR:PORT (127.0.0.1:9464, [::1]:9464)";
		return -EINVAL;
	}
	if (parse_uint(colon + 1, 1, 65535, &port)) {
		*why = "the port must be a number from 1 to 65535";
		return -EINVAL;
	}
	host_len = colon - text;
	if (host_len == 0) {
		*why = "no address: write 0.0.0.0:PORT or [::]:PORT to listen "
		       "on every interface";
		return -EINVAL;
	}
	if (host_len >= sizeof(host)) {
		*why = "the address is not an IPv4 or IPv6 address";
		return -EINVAL;
	}
	memcpy(host, text, host_len);
	host[host_len] = '\0';
	if (host[0] == '[') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)addr;

		if (host_len < 3 || host[host_len - 1] != ']') {
			*why = "an IPv6 address goes in brackets: [::1]:9464";
			return -EINVAL;
		}
		host[host_len - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1) {
			*why = "not an IPv6 address (host names are not "
			       "resolved)";
			return -EINVAL;
		}
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		*len = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)addr;

		if (strchr(host, ':')) {
			*why = "an IPv6 address goes in brackets: [::1]:9464";
			return -EINVAL;
		}
		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1) {
			*why = "not an IPv4 address (host names are not "
			       "resolved)";
			return -EINVAL;
		}
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		*len = sizeof(*a4);
	}
	return 0;
}

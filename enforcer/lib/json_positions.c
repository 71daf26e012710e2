// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_positions.h"

static size_t utf8_bom_len(const char *text, size_t len)
{
	return len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3) ? 3 : 0;
}

/* i is at the opening quote; returns the index after the closing one. */
static size_t skip_json_string(const char *text, size_t len, size_t i,
			       size_t *nul_escape)
{
	for (i++; i < len; i++) {
		if (text[i] == '"')
			return i + 1;
		if (text[i] != '\\')
			continue;
		if (*nul_escape == SIZE_MAX &&
		    !strncmp(text + i + 1, "u0000", 5))
			*nul_escape = i;
		i++;
	}
	return len;
}

static bool is_json_delimiter(unsigned char c)
{
	/* cJSON takes every byte up to the space as whitespace. */
	return c <= ' ' || c == ',' || c == ':' || c == ']' || c == '}';
}

/* Numbers, true, false, null. */
static size_t skip_json_scalar(const char *text, size_t len, size_t i)
{
	while (i < len && !is_json_delimiter(text[i]))
		i++;
	return i;
}

/*
 * Records where each key and value starts, in document order, storing at
 * most max of them; returns how many there are. The text has already been
 * accepted by cJSON, so the first byte of each token tells what it is.
 */
static size_t scan_token_starts(const char *text, size_t len,
				struct json_event *events, size_t max,
				size_t *nul_escape)
{
	size_t i = utf8_bom_len(text, len), n = 0;

	while (i < len) {
		unsigned char c = text[i];

		if (is_json_delimiter(c)) {
			i++;
			continue;
		}
		if (n < max)
			events[n].offset = i;
		n++;
		if (c == '"')
			i = skip_json_string(text, len, i, nul_escape);
		else if (c == '{' || c == '[')
			i++;
		else
			i = skip_json_scalar(text, len, i);
	}
	return n;
}

/* Columns count characters (UTF-8 sequences), a tab counts as one. */
static void advance_pos(const char *text, size_t from, size_t to,
			struct src_pos *pos)
{
	for (size_t i = from; i < to; i++) {
		if (text[i] == '\n') {
			pos->line++;
			pos->col = 1;
		} else if (((unsigned char)text[i] & 0xc0) != 0x80) {
			pos->col++;
		}
	}
}

struct src_pos offset_to_pos(const char *text, size_t len, size_t offset)
{
	struct src_pos pos = {.line = 1, .col = 1};
	size_t start = utf8_bom_len(text, len);

	if (offset > start)
		advance_pos(text, start, offset, &pos);
	return pos;
}

static void resolve_event_positions(const char *text, size_t len,
				    struct json_event *events, size_t n)
{
	struct src_pos pos = {.line = 1, .col = 1};
	size_t at = utf8_bom_len(text, len);

	for (size_t i = 0; i < n; i++) {
		advance_pos(text, at, events[i].offset, &pos);
		at = events[i].offset;
		events[i].pos = pos;
	}
}

/* Keys and values under node (a key counts for each object member). */
static size_t count_tokens(const cJSON *node, bool keyed, size_t *nnodes)
{
	size_t n = keyed ? 2 : 1;

	(*nnodes)++;
	for (const cJSON *child = node->child; child; child = child->next)
		n += count_tokens(child, cJSON_IsObject(node), nnodes);
	return n;
}

static bool is_node(const void *nodes, uint32_t id, const void *node)
{
	return ((const struct node_events *)nodes)[id].node == node;
}

static uint64_t node_hash(const cJSON *node)
{
	return hashtab_hash_u64((uintptr_t)node);
}

/* Pre-order, as the events are: node i is nodes[i]. */
static int assign_events(struct json_positions *jp, const cJSON *node,
			 bool keyed, uint32_t *next)
{
	struct node_events *n = &jp->nodes[jp->nnodes];
	int err;

	n->node = node;
	n->key_event = keyed ? (*next)++ : NO_EVENT;
	n->value_event = (*next)++;
	err = hashtab_insert(&jp->by_node, node_hash(node), jp->nnodes++);
	for (const cJSON *child = node->child; child && !err;
	     child = child->next)
		err = assign_events(jp, child, cJSON_IsObject(node), next);
	return err;
}

void json_positions_free(struct json_positions *jp)
{
	free(jp->events);
	free(jp->nodes);
	hashtab_free(&jp->by_node);
	jp->events = NULL;
	jp->nodes = NULL;
}

int json_positions_build(struct json_positions *jp, const char *text,
			 size_t len, const cJSON *root)
{
	size_t nnodes = 0, n;
	uint32_t next = 0;
	int err;

	memset(jp, 0, sizeof(*jp));
	jp->nul_escape = SIZE_MAX;
	jp->nevents = count_tokens(root, false, &nnodes);
	jp->events = calloc(jp->nevents, sizeof(*jp->events));
	if (!jp->events)
		return -ENOMEM;
	n = scan_token_starts(text, len, jp->events, jp->nevents,
			      &jp->nul_escape);
	if (n != jp->nevents) {
		/* The scanner and cJSON disagree: report without positions. */
		json_positions_free(jp);
		return 0;
	}
	resolve_event_positions(text, len, jp->events, jp->nevents);

	jp->nodes = calloc(nnodes, sizeof(*jp->nodes));
	err = jp->nodes ? hashtab_init(&jp->by_node, nnodes, is_node, jp->nodes)
			: -ENOMEM;
	if (!err)
		err = assign_events(jp, root, false, &next);
	if (err)
		json_positions_free(jp);
	return err;
}

static uint32_t node_index(const struct json_positions *jp, const cJSON *node)
{
	return hashtab_find(&jp->by_node, node_hash(node), node);
}

static const struct json_event *event_of(const struct json_positions *jp,
					 uint32_t id, bool key)
{
	uint32_t ev = key ? jp->nodes[id].key_event : jp->nodes[id].value_event;

	return ev < jp->nevents ? &jp->events[ev] : NULL;
}

/* The event of a node's value (or, with key, of its member's key), or NULL. */
const struct json_event *json_positions_event(const struct json_positions *jp,
					      const cJSON *node, bool key)
{
	uint32_t id;

	if (!jp->nodes || !node)
		return NULL;
	id = node_index(jp, node);
	return id == HASHTAB_NONE ? NULL : event_of(jp, id, key);
}

const struct json_event *
json_positions_next_event(const struct json_positions *jp, const cJSON *node,
			  uint32_t *cursor)
{
	uint32_t id = *cursor;

	if (!jp->nodes || !node)
		return NULL;
	if (id == 0 || id >= jp->nnodes || jp->nodes[id].node != node)
		id = node_index(jp, node);
	if (id == HASHTAB_NONE)
		return NULL;
	*cursor = id + 1;
	return event_of(jp, id, false);
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where each JSON node starts in the text: cJSON checks the syntax and
 * builds the tree but records no positions, so a second linear pass over
 * the text lists where every key and value starts, in document order;
 * cJSON keeps document order too, so a pre-order walk of the tree pairs
 * each node with its entries one to one, and a pointer hash table answers
 * "where is this node" in O(1). Pure.
 */
#ifndef CGFENCE_JSON_POSITIONS_H
#define CGFENCE_JSON_POSITIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "diag.h"
#include "hashtab.h"

#define NO_EVENT UINT32_MAX

struct json_event {
	uint32_t offset; /* files are at most POLICY_MAX_FILE_SIZE bytes */
	struct src_pos pos;
};

struct node_events {
	const cJSON *node;
	uint32_t key_event; /* NO_EVENT for array elements and the root */
	uint32_t value_event;
};

struct json_positions {
	struct json_event *events; /* keys and values, in document order */
	size_t nevents;
	struct node_events *nodes; /* in pre-order; NULL: positions unknown */
	size_t nnodes;
	struct hashtab by_node; /* node -> its index in nodes */
	size_t nul_escape;	/* offset of the first "\u0000", or SIZE_MAX */
};

/* Lists and pairs the positions of every node of root, parsed from text. */
int json_positions_build(struct json_positions *jp, const char *text,
			 size_t len, const cJSON *root);
void json_positions_free(struct json_positions *jp);
/* The event of a node's value (or, with key, of its member's key), or NULL. */
const struct json_event *json_positions_event(const struct json_positions *jp,
					      const cJSON *node, bool key);
/*
 * The same for siblings read in order (the items of an array): *cursor
 * starts at 0 and is kept between calls. A node without children is
 * followed in pre-order by its next sibling, so for an array of strings
 * each lookup is one comparison instead of a hash probe.
 */
const struct json_event *
json_positions_next_event(const struct json_positions *jp, const cJSON *node,
			  uint32_t *cursor);
/* Line and column of a byte offset (for cJSON's syntax errors). */
struct src_pos offset_to_pos(const char *text, size_t len, size_t offset);

#endif

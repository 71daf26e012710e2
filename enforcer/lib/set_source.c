// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What a policy's tables were compiled from; see set_source.h. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <nettle/sha2.h>

#include "set_source.h"
#include "util.h"

#define RECORD_MAX (64u << 20)

static void record_name(uint32_t id, char buf[32])
{
	snprintf(buf, 32, "setsource-%08x", id);
}

void set_source_text_sha256(const char *text, size_t len, uint8_t out[32])
{
	struct sha256_ctx ctx;

	sha256_init(&ctx);
	sha256_update(&ctx, len, (const uint8_t *)text);
	sha256_digest(&ctx, 32, out);
}

void set_source_free(struct set_source *s)
{
	free(s->policy_dir);
	free(s->policy);
	free(s->file);
	for (size_t i = 0; i < s->nsets; i++)
		free(s->sets[i].name);
	free(s->sets);
	for (size_t i = 0; i < s->nrules; i++) {
		free(s->rules[i].addrs);
		for (size_t k = 0; k < s->rules[i].nsets; k++)
			free(s->rules[i].sets[k]);
		free(s->rules[i].sets);
	}
	free(s->rules);
	memset(s, 0, sizeof(*s));
}

static int add_rule(struct set_source *s, uint8_t direction, uint32_t index,
		    const struct policy_net_rule *r)
{
	struct set_source_rule *rules =
		reallocarray(s->rules, s->nrules + 1, sizeof(*rules));
	struct set_source_rule *out;

	if (!rules)
		return -ENOMEM;
	s->rules = rules;
	out = &s->rules[s->nrules++];
	memset(out, 0, sizeof(*out));
	out->direction = direction;
	out->rule = index;
	out->addrs = calloc(r->naddrs ? r->naddrs : 1, sizeof(*out->addrs));
	out->sets = calloc(r->nsets, sizeof(*out->sets));
	if (!out->addrs || !out->sets)
		return -ENOMEM;
	if (r->naddrs)
		memcpy(out->addrs, r->addrs, r->naddrs * sizeof(*r->addrs));
	out->naddrs = r->naddrs;
	for (size_t k = 0; k < r->nsets; k++) {
		out->sets[k] = strdup(r->sets[k].name);
		if (!out->sets[k])
			return -ENOMEM;
		out->nsets++;
	}
	return 0;
}

int set_source_of_policy(const struct policy *p, const char *policy_dir,
			 const uint8_t digest[32], struct set_source *out)
{
	const struct policy_net_section *sections[2] = {
		[CGF_DIR_EGRESS] = &p->egress, [CGF_DIR_INGRESS] = &p->ingress};
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (p->last_good || !p->nsets || !p->source || !p->path)
		return -ENODATA;
	for (size_t i = 0; i < p->nsets; i++)
		if (!p->sets[i]->version.ino)
			return -ENODATA;
	memcpy(out->digest, digest, 32);
	set_source_text_sha256(p->source, p->source_len, out->text_sha256);
	out->policy_dir = strdup(policy_dir);
	out->policy = strdup(p->name);
	out->file = strdup(p->path);
	out->sets = calloc(p->nsets, sizeof(*out->sets));
	if (!out->policy_dir || !out->policy || !out->file || !out->sets) {
		set_source_free(out);
		return -ENOMEM;
	}
	for (size_t i = 0; i < p->nsets; i++) {
		out->sets[i].name = strdup(p->sets[i]->name);
		out->sets[i].version = p->sets[i]->version;
		out->nsets++;
		if (!out->sets[i].name)
			err = -ENOMEM;
	}
	for (uint8_t d = 0; d < 2 && !err; d++) {
		const struct policy_net_section *sec = sections[d];

		for (size_t r = 0; sec->present && r < sec->nrules && !err; r++)
			if (sec->rules[r].nsets)
				err = add_rule(out, d, r, &sec->rules[r]);
	}
	if (err)
		set_source_free(out);
	return err;
}

static void hex_of(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static int hex_to(const char *hex, uint8_t *b, size_t n)
{
	if (!hex || strlen(hex) != 2 * n)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++) {
		unsigned int v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -EBADMSG;
		b[i] = v;
	}
	return 0;
}

static cJSON *version_json(const struct file_version *v)
{
	cJSON *a = cJSON_CreateArray();
	char buf[7][24];
	int64_t f[7] = {(int64_t)v->dev, (int64_t)v->ino,  (int64_t)v->size,
			v->mtime.tv_sec, v->mtime.tv_nsec, v->ctime.tv_sec,
			v->ctime.tv_nsec};

	/* As strings: a JSON number is a double, which rounds. */
	for (int i = 0; a && i < 7; i++) {
		snprintf(buf[i], sizeof(buf[i]), "%" PRId64, f[i]);
		cJSON_AddItemToArray(a, cJSON_CreateString(buf[i]));
	}
	return a;
}

static int version_of_json(const cJSON *a, struct file_version *v)
{
	int64_t f[7];
	int i = 0;
	const cJSON *x;

	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 7)
		return -EBADMSG;
	cJSON_ArrayForEach(x, a)
	{
		char *end;

		if (!cJSON_IsString(x))
			return -EBADMSG;
		f[i++] = strtoll(x->valuestring, &end, 10);
		if (*end)
			return -EBADMSG;
	}
	*v = (struct file_version){.dev = f[0], .ino = f[1], .size = f[2]};
	v->mtime.tv_sec = f[3];
	v->mtime.tv_nsec = f[4];
	v->ctime.tv_sec = f[5];
	v->ctime.tv_nsec = f[6];
	return 0;
}

int set_source_write(int run_fd, uint32_t policy_id, const struct set_source *s)
{
	cJSON *obj = cJSON_CreateObject(), *sets, *rules;
	char hex[65], name[32], *text = NULL;
	int err = -ENOMEM;

	if (!obj)
		return -ENOMEM;
	hex_of(s->digest, 32, hex);
	cJSON_AddStringToObject(obj, "digest", hex);
	cJSON_AddStringToObject(obj, "policy_dir", s->policy_dir);
	cJSON_AddStringToObject(obj, "policy", s->policy);
	cJSON_AddStringToObject(obj, "file", s->file);
	hex_of(s->text_sha256, 32, hex);
	cJSON_AddStringToObject(obj, "text_sha256", hex);
	sets = cJSON_AddArrayToObject(obj, "sets");
	for (size_t i = 0; sets && i < s->nsets; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddItemToArray(sets, o);
		cJSON_AddStringToObject(o, "name", s->sets[i].name);
		cJSON_AddItemToObject(o, "version",
				      version_json(&s->sets[i].version));
	}
	rules = cJSON_AddArrayToObject(obj, "rules");
	for (size_t i = 0; rules && i < s->nrules; i++) {
		const struct set_source_rule *r = &s->rules[i];
		cJSON *o = cJSON_CreateObject(), *addrs, *names;

		cJSON_AddItemToArray(rules, o);
		cJSON_AddNumberToObject(o, "direction", r->direction);
		cJSON_AddNumberToObject(o, "rule", r->rule);
		addrs = cJSON_AddArrayToObject(o, "addrs");
		for (size_t a = 0; addrs && a < r->naddrs; a++) {
			char t[INET6_ADDRSTRLEN + 8];

			addr_set_cidr_text(&r->addrs[a], t, sizeof(t));
			cJSON_AddItemToArray(addrs, cJSON_CreateString(t));
		}
		names = cJSON_AddArrayToObject(o, "sets");
		for (size_t k = 0; names && k < r->nsets; k++)
			cJSON_AddItemToArray(names,
					     cJSON_CreateString(r->sets[k]));
	}
	text = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	if (!text)
		return -ENOMEM;
	record_name(policy_id, name);
	err = write_file_at(run_fd, name, text, strlen(text), 0600);
	free(text);
	return err;
}

static char *string_of(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
}

static int rule_of_json(const cJSON *o, struct set_source_rule *r)
{
	const cJSON *dir = cJSON_GetObjectItemCaseSensitive(o, "direction");
	const cJSON *idx = cJSON_GetObjectItemCaseSensitive(o, "rule");
	const cJSON *addrs = cJSON_GetObjectItemCaseSensitive(o, "addrs");
	const cJSON *names = cJSON_GetObjectItemCaseSensitive(o, "sets");
	const cJSON *x;
	char why[128];

	if (!cJSON_IsNumber(dir) || !cJSON_IsNumber(idx) ||
	    !cJSON_IsArray(addrs) || !cJSON_IsArray(names) ||
	    (dir->valueint != CGF_DIR_EGRESS &&
	     dir->valueint != CGF_DIR_INGRESS) ||
	    idx->valueint < 0 || idx->valueint >= CGF_MAX_RULES)
		return -EBADMSG;
	r->direction = dir->valueint;
	r->rule = idx->valueint;
	r->addrs = calloc(cJSON_GetArraySize(addrs) + 1, sizeof(*r->addrs));
	r->sets = calloc(cJSON_GetArraySize(names) + 1, sizeof(*r->sets));
	if (!r->addrs || !r->sets)
		return -ENOMEM;
	cJSON_ArrayForEach(x, addrs)
	{
		if (!cJSON_IsString(x) ||
		    policy_parse_cidr(x->valuestring, &r->addrs[r->naddrs], why,
				      sizeof(why)))
			return -EBADMSG;
		r->naddrs++;
	}
	cJSON_ArrayForEach(x, names)
	{
		if (!cJSON_IsString(x) ||
		    !(r->sets[r->nsets] = strdup(x->valuestring)))
			return -EBADMSG;
		r->nsets++;
	}
	return 0;
}

static int parse_record(const char *text, struct set_source *s)
{
	cJSON *obj = cJSON_Parse(text);
	const cJSON *sets, *rules, *x;
	char *hex;
	int err = -EBADMSG;

	if (!obj)
		return -EBADMSG;
	hex = string_of(obj, "digest");
	if (hex_to(hex, s->digest, 32))
		goto out;
	free(hex);
	hex = string_of(obj, "text_sha256");
	if (hex_to(hex, s->text_sha256, 32))
		goto out;
	s->policy_dir = string_of(obj, "policy_dir");
	s->policy = string_of(obj, "policy");
	s->file = string_of(obj, "file");
	sets = cJSON_GetObjectItemCaseSensitive(obj, "sets");
	rules = cJSON_GetObjectItemCaseSensitive(obj, "rules");
	if (!s->policy_dir || !s->policy || !s->file || !cJSON_IsArray(sets) ||
	    !cJSON_IsArray(rules))
		goto out;
	s->sets = calloc(cJSON_GetArraySize(sets) + 1, sizeof(*s->sets));
	s->rules = calloc(cJSON_GetArraySize(rules) + 1, sizeof(*s->rules));
	if (!s->sets || !s->rules) {
		err = -ENOMEM;
		goto out;
	}
	cJSON_ArrayForEach(x, sets)
	{
		struct set_source_set *e = &s->sets[s->nsets];

		e->name = string_of(x, "name");
		s->nsets++;
		if (!e->name ||
		    version_of_json(
			    cJSON_GetObjectItemCaseSensitive(x, "version"),
			    &e->version))
			goto out;
	}
	cJSON_ArrayForEach(x, rules)
	{
		int e = rule_of_json(x, &s->rules[s->nrules++]);

		if (e) {
			err = e;
			goto out;
		}
	}
	err = 0;
out:
	free(hex);
	cJSON_Delete(obj);
	return err;
}

int set_source_read(int run_fd, uint32_t policy_id, struct set_source *s)
{
	char name[32], *text = NULL;
	int err;

	memset(s, 0, sizeof(*s));
	record_name(policy_id, name);
	err = read_file_at(run_fd, name, RECORD_MAX, &text, NULL);
	if (err)
		return err;
	err = parse_record(text, s);
	free(text);
	if (err)
		set_source_free(s);
	return err;
}

int set_source_remove(int run_fd, uint32_t policy_id)
{
	char name[32];

	record_name(policy_id, name);
	return unlinkat(run_fd, name, 0) && errno != ENOENT ? -errno : 0;
}

bool set_source_names(const struct set_source *s, const char *set)
{
	for (size_t i = 0; i < s->nrules; i++)
		for (size_t k = 0; k < s->rules[i].nsets; k++)
			if (!strcmp(s->rules[i].sets[k], set))
				return true;
	return false;
}

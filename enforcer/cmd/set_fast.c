// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A set change without a recompile; see set_fast.h. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <nettle/sha2.h>

#include "addr_set.h"
#include "attach.h"
#include "cgroup.h"
#include "container_record.h"
#include "lifecycle.h"
#include "policy_store.h"
#include "set_delta.h"
#include "set_fast.h"
#include "set_index.h"
#include "set_source.h"
#include "tables.h"
#include "util.h"

/* Within this file: what cannot be shown to hold, so the full path. */
#define UNTRUSTED (-100000)

/* One policy's tables that the change reaches, planned before any write. */
struct target {
	uint32_t id;
	struct cgf_policy_info info;
	struct set_source src;
	struct table_map map;
	struct delta_plan plan;
	bool planned;
	struct container_record *recs; /* the containers running it */
	size_t nrecs;
	struct tables_change change;
};

/* Another set a changed rule names: its index, looked up by entry. */
struct other_index {
	char *name;
	struct set_index ix;
	bool ok;
};

struct fast {
	const struct set_fast_request *rq;
	struct cgf_state st;
	bool st_open;
	struct set_index ix; /* of the set changed */
	struct stat set_st;
	char set_path[4400];
	struct target *targets;
	size_t ntargets;
	unsigned int containers;
	struct other_index *others;
	size_t nothers;
	const char *why; /* the full path is taken: the reason, for -v */
	/* lists() of the target being planned */
	const struct target *planning;
	bool lists_failed;
};

static void mirror_name(char buf[16], uint32_t id)
{
	snprintf(buf, 16, "%08x", id);
}

static uint8_t kind_of(uint8_t direction, uint8_t family)
{
	if (direction == CGF_DIR_INGRESS)
		return family == 4 ? CGF_T_INGRESS_V4 : CGF_T_INGRESS_V6;
	return family == 4 ? CGF_T_EGRESS_V4 : CGF_T_EGRESS_V6;
}

static void key_of(uint8_t direction, const struct policy_cidr *c,
		   struct cgf_lpm_key *k)
{
	memset(k, 0, sizeof(*k));
	k->kind = kind_of(direction, c->family);
	memcpy(k->data, c->addr, c->family == 4 ? 4 : 16);
	k->prefixlen = CGF_KIND_BITS + c->prefixlen;
}

/* The CIDR a key of an address table stands for. */
static bool cidr_of(const struct cgf_lpm_key *k, struct policy_cidr *c,
		    uint8_t *direction)
{
	memset(c, 0, sizeof(*c));
	switch (k->kind) {
	case CGF_T_EGRESS_V4:
	case CGF_T_INGRESS_V4:
		c->family = 4;
		break;
	case CGF_T_EGRESS_V6:
	case CGF_T_INGRESS_V6:
		c->family = 6;
		break;
	default:
		return false;
	}
	*direction = k->kind == CGF_T_INGRESS_V4 || k->kind == CGF_T_INGRESS_V6
			     ? CGF_DIR_INGRESS
			     : CGF_DIR_EGRESS;
	c->prefixlen = k->prefixlen - CGF_KIND_BITS;
	memcpy(c->addr, k->data, c->family == 4 ? 4 : 16);
	return true;
}

static bool cidr_equal(const struct policy_cidr *a, const struct policy_cidr *b)
{
	return a->family == b->family && a->prefixlen == b->prefixlen &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr));
}

static bool in_request(const struct set_fast_request *rq,
		       const struct policy_cidr *c)
{
	for (size_t i = 0; i < rq->n; i++)
		if (cidr_equal(&rq->entries[i], c))
			return true;
	return false;
}

/* The index of another set, current for the version the record names. */
static struct other_index *other_index(struct fast *f, const char *name)
{
	struct other_index *o, *bigger;
	char file[300], ixname[400];
	struct stat st;

	for (size_t i = 0; i < f->nothers; i++)
		if (!strcmp(f->others[i].name, name))
			return f->others[i].ok ? &f->others[i] : NULL;
	bigger = realloc(f->others, (f->nothers + 1) * sizeof(*bigger));
	if (!bigger)
		return NULL;
	f->others = bigger;
	o = &f->others[f->nothers++];
	memset(o, 0, sizeof(*o));
	o->ix.fd = -1;
	o->name = strdup(name);
	snprintf(file, sizeof(file), "%s%s", name, ADDR_SET_SUFFIX);
	o->ok = o->name &&
		!set_index_name(f->rq->policy_dir, name, ixname,
				sizeof(ixname)) &&
		!fstatat(f->rq->sets_fd, file, &st, AT_SYMLINK_NOFOLLOW) &&
		!set_index_open(&o->ix, f->st.run_fd, ixname) &&
		set_index_current(&o->ix, &st);
	return o->ok ? o : NULL;
}

/* Whether rule `rule` lists exactly key once the change is made. */
static bool lists(void *ctx, uint32_t rule, const struct cgf_lpm_key *key)
{
	struct fast *f = ctx;
	const struct set_source *src = &f->planning->src;
	struct policy_cidr c;
	uint8_t dir;

	if (!cidr_of(key, &c, &dir))
		return false;
	for (size_t i = 0; i < src->nrules; i++) {
		const struct set_source_rule *r = &src->rules[i];

		if (r->direction != dir || r->rule != rule)
			continue;
		for (size_t a = 0; a < r->naddrs; a++)
			if (cidr_equal(&r->addrs[a], &c))
				return true;
		for (size_t k = 0; k < r->nsets; k++) {
			struct other_index *o;
			bool in;

			if (!strcmp(r->sets[k], f->rq->name)) {
				in = set_index_find(&f->ix, &c) != NULL;
				if (in_request(f->rq, &c))
					in = !f->rq->del;
				if (in)
					return true;
				continue;
			}
			o = other_index(f, r->sets[k]);
			if (!o) {
				f->lists_failed = true;
				return false;
			}
			if (set_index_find(&o->ix, &c))
				return true;
		}
	}
	return false;
}

/* The record's sets are the versions in the directory now. */
static bool sets_unchanged(const struct fast *f, const struct set_source *src)
{
	for (size_t i = 0; i < src->nsets; i++) {
		char file[300];
		struct stat st;

		snprintf(file, sizeof(file), "%s%s", src->sets[i].name,
			 ADDR_SET_SUFFIX);
		if (fstatat(f->rq->sets_fd, file, &st, AT_SYMLINK_NOFOLLOW) ||
		    !file_version_same(&src->sets[i].version, &st))
			return false;
	}
	return true;
}

/* The policy file has the text the tables were compiled from. */
static bool policy_text_unchanged(const struct set_source *src)
{
	_cleanup_close_ int fd = open(src->file, O_RDONLY | O_CLOEXEC);
	struct bounded_read how = {.max = POLICY_MAX_FILE_SIZE};
	uint8_t sum[32];
	char *text = NULL;
	size_t len = 0;

	if (fd < 0 || read_fd_bounded(fd, &how, &text, &len))
		return false;
	set_source_text_sha256(text, len, sum);
	free(text);
	return !memcmp(sum, src->text_sha256, sizeof(sum));
}

static struct target *target_of(struct fast *f, uint32_t id)
{
	struct target *t, *bigger;

	for (size_t i = 0; i < f->ntargets; i++)
		if (f->targets[i].id == id)
			return &f->targets[i];
	bigger = realloc(f->targets, (f->ntargets + 1) * sizeof(*bigger));
	if (!bigger)
		return NULL;
	f->targets = bigger;
	t = &f->targets[f->ntargets++];
	memset(t, 0, sizeof(*t));
	t->id = id;
	t->map.fd = -1;
	return t;
}

static int untrusted(struct fast *f, const char *why)
{
	f->why = why;
	return UNTRUSTED;
}

/* The running containers fenced from the directory, by tables. */
static int gather(struct fast *f)
{
	uint64_t *ids = NULL;
	size_t n = 0;
	int err;

	err = container_record_list(f->st.run_fd, &ids, &n);
	if (err) {
		f->why = "no container records";
		return UNTRUSTED;
	}
	for (size_t i = 0; i < n && !err; i++) {
		struct container_record r, *bigger;
		struct cgf_cgroup_info info;
		struct target *t;
		int cgroup_fd;

		/*
		 * Only a container known to be gone (its record or cgroup
		 * removed, or no longer fenced) is left out: one that could
		 * not be looked at may run tables naming the set, which would
		 * then keep the old version while the file has the new one.
		 */
		err = container_record_read(f->st.run_fd, ids[i], &r);
		if (err) {
			if (err == -ENOENT) {
				err = 0;
				continue;
			}
			err = untrusted(f, "a container record cannot be read");
			break;
		}
		/* Fenced from this directory by any path to it: a target (one
		 * whose tables name the directory otherwise is planned by the
		 * full path, plan_target()). */
		if (!policy_dir_same(r.policy_dir, f->rq->policy_dir) ||
		    !r.policy) {
			container_record_free(&r);
			continue;
		}
		if (bpf_map_lookup_elem(f->st.map_fds[CGF_MAP_CGROUP_INFO],
					&r.cgroup_id, &info))
			err = errno == ENOENT ? 0 : -errno;
		else
			err = cgroup_open_by_id(r.cgroup_id, &cgroup_fd);
		if (err) {
			container_record_free(&r);
			if (err == -ENOENT || err == -ESTALE) {
				err = 0;
				continue;
			}
			err = untrusted(f, "a container's cgroup cannot be "
					   "looked at");
			break;
		}
		close(cgroup_fd);
		f->containers++;
		t = target_of(f, info.policy_id);
		bigger = t ? realloc(t->recs, (t->nrecs + 1) * sizeof(*bigger))
			   : NULL;
		if (!bigger) {
			container_record_free(&r);
			err = -ENOMEM;
			break;
		}
		t->recs = bigger;
		t->recs[t->nrecs++] = r;
	}
	free(ids);
	return err;
}

/*
 * One policy's tables: 1 when the change reaches them and is planned, 0
 * when the policy does not name the set, UNTRUSTED, or -errno.
 */
static int plan_target(struct fast *f, struct target *t)
{
	const struct set_fast_request *rq = f->rq;
	struct set_delta_change *ch = NULL;
	struct cgf_policy hdr;
	char mirror[16];
	size_t nch = 0;
	int err;

	if (bpf_map_lookup_elem(f->st.map_fds[CGF_MAP_POLICY_INFO], &t->id,
				&t->info) ||
	    bpf_map_lookup_elem(f->st.map_fds[CGF_MAP_POLICIES], &t->id,
				&hdr) ||
	    set_source_read(f->st.run_fd, t->id, &t->src) ||
	    memcmp(t->src.digest, t->info.digest, sizeof(t->src.digest)) ||
	    !policy_dir_same(t->src.policy_dir, rq->policy_dir))
		return untrusted(f, "no record of what its tables were "
				    "compiled from matches them");
	if (!set_source_names(&t->src, rq->name))
		return 0;
	/* Other cgroups run these tables (fenced from elsewhere): they keep
	 * them, so the change is not in place. */
	if (t->info.refcount != t->nrecs)
		return untrusted(f, "cgroups fenced from elsewhere share its "
				    "tables");
	for (size_t i = 0; i < t->nrecs; i++)
		if (t->recs[i].policy_file
			    ? strcmp(t->recs[i].policy_file, t->src.file)
			    : strcmp(t->recs[i].policy, t->src.policy))
			return untrusted(f, "a container's policy is not the "
					    "one its tables came from");
	if (!sets_unchanged(f, &t->src) || !policy_text_unchanged(&t->src))
		return untrusted(f, "its policy file or a set it names "
				    "changed since its tables were made");
	mirror_name(mirror, t->id);
	if (table_map_open(&t->map, f->st.run_fd, mirror) ||
	    t->map.s.policy_id != t->id || t->map.s.active_bank != hdr.bank ||
	    memcmp(t->map.s.digest, t->info.digest, sizeof(t->info.digest)))
		return untrusted(f, "no intact mirror of its tables");
	ch = calloc(rq->n * 2, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	for (uint8_t d = 0; d < 2; d++) {
		struct cgf_rule_mask rules = {0};
		bool any = false;

		for (size_t i = 0; i < t->src.nrules; i++) {
			const struct set_source_rule *r = &t->src.rules[i];

			for (size_t k = 0; r->direction == d && k < r->nsets;
			     k++) {
				if (strcmp(r->sets[k], rq->name))
					continue;
				rules.bits[r->rule / 64] |= 1ull
							    << (r->rule % 64);
				any = true;
			}
		}
		for (size_t i = 0; any && i < rq->n; i++) {
			key_of(d, &rq->entries[i], &ch[nch].key);
			ch[nch++].rules = rules;
		}
	}
	f->planning = t;
	f->lists_failed = false;
	err = set_delta_plan(&t->map.s, ch, nch, lists, f, &t->plan);
	free(ch);
	if (err == -EAGAIN || err == -ENOSPC || (!err && f->lists_failed)) {
		if (!err)
			delta_plan_free(&t->plan);
		return untrusted(f,
				 err == -ENOSPC ? "its tables are full"
				 : err == -EAGAIN
					 ? "one changed prefix contains another"
					 : "another set its rules name has no "
					   "current index");
	}
	if (err)
		return err == -EINVAL ? untrusted(f, "a prefix out of range")
				      : err;
	t->planned = true;
	return 1;
}

/* The whole command refused, as the full path words it. */
static int check_entries(struct fast *f)
{
	const struct set_fast_request *rq = f->rq;

	for (size_t i = 0; i < rq->n; i++) {
		const struct set_index_entry *e =
			set_index_find(&f->ix, &rq->entries[i]);
		bool in = e != NULL;

		for (size_t j = 0; j < i && !in && !rq->del; j++)
			in = cidr_equal(&rq->entries[j], &rq->entries[i]);
		if (in == !rq->del) {
			log_error("set %s: %s %s in %s", rq->name, rq->texts[i],
				  in ? "is already" : "is not", f->set_path);
			return -EEXIST;
		}
		/* A line of its own for each copy: the full path finds them. */
		if (e && e->copies > 1) {
			f->why = "an entry is listed more than once";
			return UNTRUSTED;
		}
	}
	/* del of one entry twice on the command line: the full path. */
	for (size_t i = 0; rq->del && i < rq->n; i++)
		for (size_t j = 0; j < i; j++)
			if (cidr_equal(&rq->entries[j], &rq->entries[i])) {
				f->why = "an entry given twice";
				return UNTRUSTED;
			}
	return 0;
}

/*
 * The line of text[0..len) whose entry is spelled want (blanks around it
 * and a comment after it allowed): its start and length, or -ENOENT when
 * no line, or more than one, spells it so.
 */
static int find_line(const char *text, size_t len, const char *want,
		     size_t *start, size_t *line_len)
{
	size_t wlen = strlen(want), found = 0;

	for (const char *p = text;
	     (p = memmem(p, len - (p - text), want, wlen)); p++) {
		const char *b = p, *e = p + wlen;

		while (b > text && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (b > text && b[-1] != '\n')
			continue;
		while (e < text + len && (*e == ' ' || *e == '\t'))
			e++;
		if (e < text + len && *e != '\n' && *e != '#')
			continue;
		if (found++)
			return -ENOENT;
		*start = b - text;
		while (e < text + len && *e != '\n')
			e++;
		*line_len = (e < text + len ? e + 1 : e) - (text + *start);
	}
	return found ? 0 : -ENOENT;
}

/* The new text as pieces of the old (mapped) one and of added lines. */
#define MAX_PIECES 64
struct pieces {
	struct iovec iov[MAX_PIECES];
	int n;
	size_t len;
};

static void piece(struct pieces *p, const char *at, size_t len)
{
	if (!len)
		return;
	p->iov[p->n].iov_base = (void *)at;
	p->iov[p->n++].iov_len = len;
	p->len += len;
}

static int compare_cuts(const void *a, const void *b)
{
	const size_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

/*
 * The set file's new text, as addr_set_format() makes it: the added
 * entries on lines of their own at the end (lines), or the lines of the
 * removed ones gone; UNTRUSTED when a line is not as the index
 * says (spelled otherwise, or listed twice).
 */
static int new_text(struct fast *f, const char *text, size_t len,
		    const char *lines, size_t lines_len, struct pieces *out)
{
	const struct set_fast_request *rq = f->rq;
	size_t cuts[MAX_PIECES / 2][2], ncuts = 0, at = 0;

	memset(out, 0, sizeof(*out));
	if (!rq->del) {
		piece(out, text, len);
		piece(out, lines, lines_len);
		return 0;
	}
	if (rq->n >= MAX_PIECES / 2)
		return UNTRUSTED;
	for (size_t i = 0; i < rq->n; i++) {
		char entry[INET6_ADDRSTRLEN + 8];

		addr_set_cidr_text(&rq->entries[i], entry, sizeof(entry));
		if (find_line(text, len, entry, &cuts[ncuts][0],
			      &cuts[ncuts][1]))
			return UNTRUSTED;
		ncuts++;
	}
	qsort(cuts, ncuts, sizeof(cuts[0]), compare_cuts);
	for (size_t i = 0; i < ncuts; i++) {
		piece(out, text + at, cuts[i][0] - at);
		at = cuts[i][0] + cuts[i][1];
	}
	piece(out, text + at, len - at);
	return 0;
}

/* fd's contents from offset 0 become the pieces. */
static int write_pieces(int fd, const struct pieces *p)
{
	off_t at = 0;

	for (int i = 0; i < p->n; i++) {
		ssize_t n =
			pwrite(fd, p->iov[i].iov_base, p->iov[i].iov_len, at);

		if (n != (ssize_t)p->iov[i].iov_len)
			return n < 0 ? -errno : -EIO;
		at += n;
	}
	return ftruncate(fd, at) ? -errno : 0;
}

/*
 * As write_file_at(): name.tmp written, then renamed over name; *v: the
 * version of the file written (by its fd, after the rename: whatever
 * another writer renames over name later is not taken for it).
 */
static int replace_file(int dir_fd, const char *name, const struct pieces *p,
			struct file_version *v)
{
	struct stat st;
	char tmp[320];
	int fd, err;

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	fd = openat(dir_fd, tmp,
		    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		    0644);
	if (fd < 0)
		return -errno;
	err = fchmod(fd, 0644) ? -errno : 0;
	if (!err)
		err = write_pieces(fd, p);
	if (!err && renameat(dir_fd, tmp, dir_fd, name))
		err = -errno;
	if (!err && fstat(fd, &st))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (err)
		unlinkat(dir_fd, tmp, 0);
	else
		file_version_of(v, &st);
	return err;
}

/*
 * The last good copy of the set (policy_store.h) follows the file: the
 * same lines appended when it is the file as it was, else the new text
 * written over it. In place: its readers hold the state lock, as we do,
 * and a copy that nobody reads at once need not be renamed into place
 * (a rename frees the old file's blocks, milliseconds for a large set).
 */
static void update_store(struct fast *f, const struct pieces *text,
			 const char *appended, size_t appended_len)
{
	_cleanup_close_ int store_fd = -1, good_fd = -1, sets_fd = -1, fd = -1;
	char file[300];
	struct stat st;

	if (policy_store_open(f->st.run_fd, f->rq->policy_dir, false,
			      &store_fd))
		return;
	/* A hook that chose before this change chooses again. */
	policy_store_bump_generation(store_fd);
	good_fd = policy_store_good_fd(store_fd);
	if (good_fd < 0)
		return;
	sets_fd = openat(good_fd, ADDR_SET_DIR,
			 O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	snprintf(file, sizeof(file), "%s%s", f->rq->name, ADDR_SET_SUFFIX);
	if (sets_fd < 0)
		return;
	fd = openat(sets_fd, file, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st))
		return; /* the good versions do not have it */
	if (appended && st.st_size == f->set_st.st_size &&
	    pwrite(fd, appended, appended_len, st.st_size) ==
		    (ssize_t)appended_len)
		return;
	/* Better none than a wrong one: the pass writes it again. */
	if (!text || write_pieces(fd, text))
		unlinkat(sets_fd, file, 0);
}

/* The added entries' lines, in addr_set_cidr_text() form (a newline
 * first when the file does not end with one). */
static char *added_lines(struct fast *f, bool newline_first, size_t *len)
{
	const struct set_fast_request *rq = f->rq;
	size_t cap = 2 + rq->n * (INET6_ADDRSTRLEN + 6), used = 0;
	char *buf = malloc(cap);

	if (!buf)
		return NULL;
	if (newline_first)
		buf[used++] = '\n';
	for (size_t i = 0; i < rq->n; i++) {
		char entry[INET6_ADDRSTRLEN + 8];

		addr_set_cidr_text(&rq->entries[i], entry, sizeof(entry));
		used += snprintf(buf + used, cap - used, "%s\n", entry);
	}
	*len = used;
	return buf;
}

/*
 * add: the new lines appended with one write that stays within one page,
 * so that a reader sees the file with or without them and never a part
 * (the size moves after the copy), and nothing already there is written
 * again. 1 when done so (lines in *out, *v: the version of the file
 * written, by its fd: a file another writer renamed over the name
 * meanwhile is not taken for it), 0 when the file is to be rewritten
 * instead, -errno.
 */
static int append_lines(struct fast *f, char **out, size_t *out_len,
			struct file_version *v)
{
	const struct set_fast_request *rq = f->rq;
	long page = sysconf(_SC_PAGESIZE);
	_cleanup_close_ int fd = -1;
	char file[300], last = '\n', *buf;
	struct stat st;
	size_t used;
	ssize_t n;

	snprintf(file, sizeof(file), "%s%s", rq->name, ADDR_SET_SUFFIX);
	fd = openat(rq->sets_fd, file,
		    O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) || !set_index_current(&f->ix, &st))
		return 0;
	if (st.st_size && pread(fd, &last, 1, st.st_size - 1) != 1)
		return 0;
	buf = added_lines(f, last != '\n', &used);
	if (!buf)
		return -ENOMEM;
	if (page <= 0 ||
	    st.st_size / page != (st.st_size + (off_t)used - 1) / page) {
		free(buf);
		return 0;
	}
	n = write(fd, buf, used);
	if (n != (ssize_t)used) {
		/* Never half a line: back to what it was. */
		if (n > 0 && ftruncate(fd, st.st_size))
			log_error("set %s: %s: a short write could not be "
				  "undone",
				  rq->name, f->set_path);
		free(buf);
		return n < 0 ? -errno : -EIO;
	}
	if (fstat(fd, &st))
		memset(&st, 0, sizeof(st)); /* a version no file has */
	file_version_of(v, &st);
	*out = buf;
	*out_len = used;
	return 1;
}

/* Maps the set file, checked to be the version the index is of. */
static int map_set(struct fast *f, const char **text, size_t *len)
{
	char file[300];
	_cleanup_close_ int fd = -1;
	struct stat st;
	void *map;

	snprintf(file, sizeof(file), "%s%s", f->rq->name, ADDR_SET_SUFFIX);
	fd = openat(f->rq->sets_fd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) || !set_index_current(&f->ix, &st) ||
	    st.st_size > POLICY_MAX_FILE_SIZE)
		return UNTRUSTED;
	*text = "";
	if (!st.st_size)
		return 0;
	map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd,
		   0);
	if (map == MAP_FAILED)
		return UNTRUSTED;
	*text = map;
	*len = st.st_size;
	return 0;
}

/* The new version's digest: the old one and what changed, hashed. */
static void next_digest(const struct fast *f, const uint8_t old[32],
			uint8_t out[32])
{
	static const char tag[] = "cgfence set change";
	struct sha256_ctx ctx;
	uint8_t del = f->rq->del;

	sha256_init(&ctx);
	sha256_update(&ctx, sizeof(tag), (const uint8_t *)tag);
	sha256_update(&ctx, 32, old);
	sha256_update(&ctx, strlen(f->rq->name) + 1,
		      (const uint8_t *)f->rq->name);
	sha256_update(&ctx, 1, &del);
	for (size_t i = 0; i < f->rq->n; i++) {
		const struct policy_cidr *c = &f->rq->entries[i];

		sha256_update(&ctx, 1, &c->family);
		sha256_update(&ctx, 1, &c->prefixlen);
		sha256_update(&ctx, 16, c->addr);
	}
	sha256_digest(&ctx, 32, out);
}

static void record_changed(const struct fast *f, const struct target *t,
			   const struct container_record *r,
			   const char *old_version, const char *version)
{
	struct lifecycle_event ev = {
		.kind = LIFECYCLE_CHANGED,
		.source = "set",
		.container_id = r->container_id,
		.cgroup = r->cgroup,
		.cgroup_id = r->cgroup_id,
		.policy = t->src.policy,
		.policy_id = t->id,
		.version = version,
		.previous_policy = t->src.policy,
		.previous_policy_id = t->id,
		.previous_version = old_version,
		.mode = t->info.mode == CGF_MODE_AUDIT ? "audit" : "enforce",
		.selected_by = r->selected_by,
		.policy_dir = f->rq->policy_dir};
	struct k8s_identity pod;
	int err;

	if (k8s_identity_from_annotations(r->annotations, r->nannotations,
					  &pod))
		ev.kubernetes = &pod;
	err = lifecycle_record(f->rq->lifecycle_log, &ev);
	if (err)
		log_error(
			"warning: cannot write the lifecycle record to %s: %s",
			f->rq->lifecycle_log, strerror(-err));
	printf("%s: %s (id %08x, version %s) -> %s (id %08x, version %s)\n",
	       r->container_id[0] ? r->container_id : r->cgroup, t->src.policy,
	       t->id, old_version, t->src.policy, t->id, version);
}

/* The kernel part for one policy, then its mirror and records. */
static int apply_target(struct fast *f, struct target *t,
			const struct file_version *set_version)
{
	uint64_t *cgroups = calloc(t->nrecs ? t->nrecs : 1, sizeof(*cgroups));
	char old_version[13], version[13], mirror[16];
	uint32_t first_epoch = 0;
	int err, renew_err = 0;
	bool flipped;
	uint64_t t0;

	if (!cgroups)
		return -ENOMEM;
	for (size_t i = 0; i < t->nrecs; i++)
		cgroups[i] = t->recs[i].cgroup_id;
	/* Before the tables change: no cgroup may keep the old verdicts. */
	if (t->nrecs) {
		err = state_reserve_epochs(&f->st, t->nrecs, &first_epoch);
		if (err) {
			free(cgroups);
			return err;
		}
	}
	/*
	 * Before the first write the tables leave the compiled digest for the
	 * new version's, which no compile gives, and the mirror is marked as
	 * changing: a process killed between the write and its records
	 * leaves tables that a pass replaces, never ones it takes for what
	 * it compiled (a del of the entry again would compile to the old
	 * digest), and a mirror no later change trusts.
	 */
	lifecycle_version_text(t->info.digest, old_version);
	next_digest(f, t->info.digest, t->info.digest);
	table_map_begin(&t->map);
	t0 = clock_ns(CLOCK_BOOTTIME);
	err = bpf_map_update_elem(f->st.map_fds[CGF_MAP_POLICY_INFO], &t->id,
				  &t->info, BPF_EXIST)
		      ? -errno
		      : 0;
	if (!err)
		err = tables_write_plan(&f->st, t->id, &t->map.s, &t->plan,
					NULL, &t->change);
	if (!err && t->nrecs)
		renew_err = fence_renew_cgroups(&f->st, t->src.policy, cgroups,
						t->nrecs, first_epoch);
	t->change.kernel_ns = clock_ns(CLOCK_BOOTTIME) - t0 - t->change.wait_ns;
	free(cgroups);
	if (err) {
		/* The old policy still holds (by a digest no pass keeps);
		 * its mirror and record do not. */
		mirror_name(mirror, t->id);
		unlinkat(f->st.run_fd, mirror, 0);
		set_source_remove(f->st.run_fd, t->id);
		return err;
	}
	flipped = t->plan.next.active_bank != t->map.s.active_bank;
	err = set_delta_commit(&t->map.s, &t->map.sum, &t->plan);
	memcpy(t->map.s.digest, t->info.digest, sizeof(t->map.s.digest));
	if (flipped)
		t->map.s.flipped_ns = clock_ns(CLOCK_BOOTTIME);
	if (!err)
		table_map_end(&t->map);
	else {
		mirror_name(mirror, t->id);
		unlinkat(f->st.run_fd, mirror, 0);
	}
	t->change.lpm_writes = t->plan.nlpm;
	t->change.mask_writes = t->plan.nactive + t->plan.ninactive;
	memcpy(t->src.digest, t->info.digest, sizeof(t->src.digest));
	for (size_t i = 0; i < t->src.nsets; i++)
		if (!strcmp(t->src.sets[i].name, f->rq->name))
			t->src.sets[i].version = *set_version;
	if (set_source_write(f->st.run_fd, t->id, &t->src))
		set_source_remove(f->st.run_fd, t->id);
	lifecycle_version_text(t->info.digest, version);
	for (size_t i = 0; i < t->nrecs; i++)
		record_changed(f, t, &t->recs[i], old_version, version);
	if (renew_err)
		log_error("%s: the tables changed, but not every cgroup that "
			  "runs them judges its remembered flows again (%s); "
			  "run 'cgfence reload'",
			  t->src.policy, strerror(-renew_err));
	return renew_err;
}

static void fast_free(struct fast *f)
{
	for (size_t i = 0; i < f->ntargets; i++) {
		struct target *t = &f->targets[i];

		set_source_free(&t->src);
		table_map_close(&t->map);
		if (t->planned)
			delta_plan_free(&t->plan);
		for (size_t k = 0; k < t->nrecs; k++)
			container_record_free(&t->recs[k]);
		free(t->recs);
	}
	free(f->targets);
	for (size_t i = 0; i < f->nothers; i++) {
		free(f->others[i].name);
		set_index_close(&f->others[i].ix);
	}
	free(f->others);
	set_index_close(&f->ix);
	if (f->st_open)
		state_close(&f->st);
}

/* Everything is checked and planned: the file, then each policy's tables. */
static int commit(struct fast *f, const struct pieces *text,
		  const char *appended, size_t appended_len,
		  const struct file_version *appended_version, uint64_t start)
{
	const struct set_fast_request *rq = f->rq;
	size_t lpm = 0, masks = 0, tables = 0;
	uint64_t kernel_ns = 0, wait_ns = 0;
	struct file_version version = {0};
	unsigned int changed = 0;
	char file[300], ixname[400];
	bool failed = false;
	int err;

	snprintf(file, sizeof(file), "%s%s", rq->name, ADDR_SET_SUFFIX);
	/* Rewritten by a rename over it (appended: written already). */
	err = text ? replace_file(rq->sets_fd, file, text, &version) : 0;
	if (err) {
		log_error("set %s: cannot write %s: %s", rq->name, f->set_path,
			  strerror(-err));
		return err;
	}
	printf("set %s: %zu %s, %zu entries\n", rq->name, rq->n,
	       rq->del ? "removed" : "added",
	       set_index_count(&f->ix) + (rq->del ? -rq->n : rq->n));
	if (!text)
		version = *appended_version;
	set_index_name(rq->policy_dir, rq->name, ixname, sizeof(ixname));
	if (set_index_change(&f->ix, rq->entries, rq->n, rq->del, &version))
		unlinkat(f->st.run_fd, ixname, 0); /* the next one rebuilds */
	update_store(f, text, appended, appended_len);
	for (size_t i = 0; i < f->ntargets; i++) {
		struct target *t = &f->targets[i];

		if (!t->planned)
			continue;
		err = apply_target(f, t, &version);
		if (err) {
			log_error(
				"set %s: policy %08x: cannot change its tables "
				"in place: %s",
				rq->name, t->id, fence_error_text(err));
			failed = true;
			continue;
		}
		tables++;
		changed += t->nrecs;
		lpm += t->change.lpm_writes;
		masks += t->change.mask_writes;
		kernel_ns += t->change.kernel_ns;
		wait_ns += t->change.wait_ns;
	}
	if (failed)
		return -EAGAIN;
	printf("set %s: %u of %u containers changed (%zu tables in place: "
	       "%zu trie entries, %zu masks written), %.1f us in the kernel, "
	       "%.1f ms waiting for readers of an earlier change, %.1f ms in "
	       "all\n",
	       rq->name, changed, f->containers, tables, lpm, masks,
	       kernel_ns / 1e3, wait_ns / 1e6,
	       (clock_ns(CLOCK_MONOTONIC) - start) / 1e6);
	return SET_FAST_DONE;
}

int set_fast_change(const struct set_fast_request *rq)
{
	struct fast f = {.rq = rq, .ix = {.fd = -1}};
	uint64_t start = clock_ns(CLOCK_MONOTONIC);
	char file[300], ixname[400], *appended = NULL;
	const char *text = NULL;
	size_t len = 0, appended_len = 0;
	struct file_version appended_version;
	struct pieces next;
	int err;

	snprintf(f.set_path, sizeof(f.set_path), "%s/%s/%s%s", rq->policy_dir,
		 ADDR_SET_DIR, rq->name, ADDR_SET_SUFFIX);
	snprintf(file, sizeof(file), "%s%s", rq->name, ADDR_SET_SUFFIX);
	err = UNTRUSTED;
	f.why = "the set file is missing or not a regular file";
	if (fstatat(rq->sets_fd, file, &f.set_st, AT_SYMLINK_NOFOLLOW) ||
	    !S_ISREG(f.set_st.st_mode) ||
	    set_index_name(rq->policy_dir, rq->name, ixname, sizeof(ixname)))
		goto out;
	f.why = "no pinned state";
	if (state_open(&f.st, rq->bpffs, STATE_EXISTING,
		       CGF_DEFAULT_LOCK_TIMEOUT_MS))
		goto out;
	f.st_open = true;
	f.why = "no index of the set file as it is now";
	if (f.st.run_fd < 0 || set_index_open(&f.ix, f.st.run_fd, ixname) ||
	    !set_index_current(&f.ix, &f.set_st))
		goto out;
	f.why = NULL;
	err = check_entries(&f);
	if (err)
		goto out;
	err = gather(&f);
	if (err)
		goto out;
	/* Every policy's plan first: one that cannot be trusted sends the
	 * whole command down the full path, before anything is written. */
	for (size_t i = 0; i < f.ntargets; i++) {
		int r = plan_target(&f, &f.targets[i]);

		if (r < 0) {
			err = r;
			goto out;
		}
	}
	if (!rq->del)
		err = append_lines(&f, &appended, &appended_len,
				   &appended_version);
	if (err < 0) {
		log_error("set %s: cannot write %s: %s", rq->name, f.set_path,
			  strerror(-err));
		goto out;
	}
	if (err == 1) {
		err = commit(&f, NULL, appended, appended_len,
			     &appended_version, start);
		goto out;
	}
	/* Rewritten: a del, or an add whose lines would cross a page. */
	err = map_set(&f, &text, &len);
	if (!err && !rq->del &&
	    !(appended = added_lines(&f, len && text[len - 1] != '\n',
				     &appended_len)))
		err = -ENOMEM;
	if (!err)
		err = new_text(&f, text, len, appended, appended_len, &next);
	if (!err)
		err = commit(&f, &next, NULL, 0, NULL, start);
out:
	if (len)
		munmap((void *)text, len);
	free(appended);
	fast_free(&f);
	if (err == UNTRUSTED) {
		err = SET_FAST_NOT_HERE;
		log_debug("set %s: the full path (a pass over %s): %s",
			  rq->name, rq->policy_dir,
			  f.why ? f.why
				: "the lines are not as the index has "
				  "them");
	} else if (err == SET_FAST_DONE) {
		log_debug("set %s: changed in place from the tables' mirrors, "
			  "no policy compiled",
			  rq->name);
	}
	return err;
}

void set_fast_note(const struct cgf_state *st, uint32_t policy_id,
		   const struct policy *p, const char *policy_dir,
		   const char *file, const uint8_t digest[32])
{
	struct set_source now, was;
	bool same, read;

	if (st->run_fd < 0 || set_source_of_policy(p, policy_dir, digest, &now))
		return;
	if (file) {
		free(now.file);
		now.file = strdup(file);
		if (!now.file) {
			set_source_free(&now);
			return;
		}
	}
	read = set_source_read(st->run_fd, policy_id, &was) == 0;
	same = read && !memcmp(was.digest, now.digest, 32) &&
	       !memcmp(was.text_sha256, now.text_sha256, 32) &&
	       !strcmp(was.file, now.file) &&
	       !strcmp(was.policy_dir, now.policy_dir);
	if (read)
		set_source_free(&was);
	if (!same && set_source_write(st->run_fd, policy_id, &now))
		log_debug("policy %08x: cannot keep what its tables were "
			  "compiled from",
			  policy_id);
	set_source_free(&now);
	for (size_t i = 0; i < p->nsets; i++) {
		const struct addr_set *set = p->sets[i];
		struct set_index ix;
		char ixname[400];
		bool current;

		if (set_index_name(policy_dir, set->name, ixname,
				   sizeof(ixname)))
			continue;
		current = set_index_open(&ix, st->run_fd, ixname) == 0 &&
			  set_index_is(&ix, &set->version);
		if (ix.fd >= 0 || ix.h)
			set_index_close(&ix);
		if (!current)
			set_index_write(st->run_fd, ixname, set->entries,
					set->nentries, &set->version);
	}
}

bool set_fast_adopt(const struct cgf_state *st, uint32_t policy_id,
		    const struct policy *p, const char *policy_dir,
		    const char *file, const uint8_t digest[32])
{
	struct cgf_policy_info info;
	struct set_source src;
	struct table_map map;
	uint8_t sum[32];
	char mirror[16];
	bool same;

	if (st->run_fd < 0 || !p->source || p->last_good ||
	    bpf_map_lookup_elem(st->map_fds[CGF_MAP_POLICY_INFO], &policy_id,
				&info) ||
	    set_source_read(st->run_fd, policy_id, &src))
		return false;
	set_source_text_sha256(p->source, p->source_len, sum);
	same = !memcmp(src.digest, info.digest, 32) &&
	       !memcmp(src.text_sha256, sum, 32) &&
	       !strcmp(src.file, file ? file : p->path) &&
	       !strcmp(src.policy_dir, policy_dir) && src.nsets == p->nsets;
	for (size_t i = 0; same && i < p->nsets; i++) {
		bool found = false;

		for (size_t k = 0; k < src.nsets && !found; k++)
			found = !strcmp(src.sets[k].name, p->sets[i]->name) &&
				!memcmp(&src.sets[k].version,
					&p->sets[i]->version,
					sizeof(src.sets[k].version));
		same = found;
	}
	mirror_name(mirror, policy_id);
	if (!same || table_map_open(&map, st->run_fd, mirror) ||
	    memcmp(map.s.digest, info.digest, 32)) {
		if (same)
			table_map_close(&map);
		set_source_free(&src);
		return false;
	}
	/* The same tables, known now by the compiled policy's digest. */
	memcpy(info.digest, digest, 32);
	if (bpf_map_update_elem(st->map_fds[CGF_MAP_POLICY_INFO], &policy_id,
				&info, BPF_EXIST)) {
		table_map_close(&map);
		set_source_free(&src);
		return false;
	}
	table_map_begin(&map);
	memcpy(map.s.digest, digest, 32);
	table_map_end(&map);
	table_map_close(&map);
	memcpy(src.digest, digest, 32);
	if (set_source_write(st->run_fd, policy_id, &src))
		set_source_remove(st->run_fd, policy_id);
	set_source_free(&src);
	return true;
}

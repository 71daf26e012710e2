// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cgfence set add|del|show: named address sets (addr_set.h) changed from
 * the command line. add and del rewrite POLICY_DIR/sets/NAME.txt in one
 * rename (a reader sees the old file or the new one; comments and order
 * kept), then run the policy directory's pass (reload.h): every running
 * container whose policy names the set gets the new version, in place,
 * writing only what the change touches. Writers of one directory's sets
 * take turns (a lock on its sets/ directory).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr_set.h"
#include "commands.h"
#include "lifecycle.h"
#include "loader.h"
#include "policy_dir.h"
#include "reload.h"
#include "set_fast.h"
#include "util.h"

enum set_action { SET_ADD, SET_DEL, SET_SHOW };

struct set_opts {
	enum set_action action;
	const char *policy_dir, *bpffs, *lifecycle_log, *name;
	char policy_dir_buf[PATH_MAX]; /* normalized, as records name it */
	char **entries;
	int nentries;
};

static const char set_usage[] =
	"usage: cgfence set add|del [--policy-dir DIR] [--bpffs DIR] "
	"[--lifecycle-log FILE] NAME CIDR...\n"
	"       cgfence set show [--policy-dir DIR] NAME\n"
	"Changes the address set DIR/sets/NAME.txt (default DIR "
	"" CGF_DEFAULT_POLICY_DIR ")\n"
	"and gives every running container whose policy names @NAME the new "
	"version,\n"
	"in place. add of an entry the set has, or del of one it lacks, is "
	"refused.\n"
	"Without reading the set or compiling a policy while what the "
	"running tables\n"
	"were compiled from is still what the directory holds; otherwise "
	"with a pass\n"
	"over the directory (cgfence -v set ... says which, and why).\n"
	"A set file that is a symbolic link (a Kubernetes ConfigMap's) is "
	"refused:\n"
	"change it where it comes from.\n";

static int parse_set_opts(int argc, char **argv, struct set_opts *o)
{
	static const struct option opts[] = {
		{"policy-dir", required_argument, NULL, 'p'},
		{"bpffs", required_argument, NULL, 'b'},
		{"lifecycle-log", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{}};
	int c;

	*o = (struct set_opts){.policy_dir = CGF_DEFAULT_POLICY_DIR,
			       .bpffs = CGF_DEFAULT_BPFFS_DIR,
			       .lifecycle_log = CGF_DEFAULT_LIFECYCLE_LOG};
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fprintf(argc < 2 ? stderr : stdout, "%s", set_usage);
		return argc < 2 ? -1 : 1;
	}
	if (!strcmp(argv[1], "add"))
		o->action = SET_ADD;
	else if (!strcmp(argv[1], "del"))
		o->action = SET_DEL;
	else if (!strcmp(argv[1], "show"))
		o->action = SET_SHOW;
	else {
		log_error("set: unknown action '%s' (add, del or show)",
			  argv[1]);
		return -1;
	}
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			o->policy_dir = optarg;
			break;
		case 'b':
			o->bpffs = optarg;
			break;
		case 'l':
			o->lifecycle_log = optarg;
			break;
		case 'h':
			printf("%s", set_usage);
			return 1;
		default:
			fprintf(stderr, "%s", set_usage);
			return -1;
		}
	}
	if (optind >= argc) {
		log_error("set: which set? (NAME)");
		return -1;
	}
	o->name = argv[optind++];
	o->entries = argv + optind;
	o->nentries = argc - optind;
	if (!policy_name_valid(o->name)) {
		log_error("set: \"%s\" is not a set name: use a-z, 0-9, '.', "
			  "'_' and '-', starting with a letter or digit",
			  o->name);
		return -1;
	}
	if (o->action == SET_SHOW && o->nentries) {
		log_error("set show: unexpected argument '%s'", o->entries[0]);
		return -1;
	}
	if (o->action != SET_SHOW && !o->nentries) {
		log_error("set %s: no address given",
			  o->action == SET_ADD ? "add" : "del");
		return -1;
	}
	if (policy_paths_prepare("set", &o->policy_dir, o->bpffs,
				 o->lifecycle_log, o->policy_dir_buf,
				 sizeof(o->policy_dir_buf)))
		return -1;
	return 0;
}

/* The entries of the command line, each checked as a policy address. */
static int parse_entries(const struct set_opts *o, struct policy_cidr **out)
{
	struct policy_cidr *c = calloc(o->nentries, sizeof(*c));
	char why[256];

	if (!c)
		return -ENOMEM;
	for (int i = 0; i < o->nentries; i++) {
		if (policy_parse_cidr(o->entries[i], &c[i], why, sizeof(why))) {
			log_error("set: '%s': %s", o->entries[i], why);
			free(c);
			return -EINVAL;
		}
	}
	*out = c;
	return 0;
}

static int show(const struct addr_set *set)
{
	char text[INET6_ADDRSTRLEN + 8];

	for (size_t i = 0; i < set->nentries; i++) {
		addr_set_cidr_text(&set->entries[i], text, sizeof(text));
		printf("%s\n", text);
	}
	return 0;
}

/* Refuses the whole change when one entry is already in (add) or not (del). */
static int check_change(const struct set_opts *o, const struct addr_set *set,
			const struct policy_cidr *c)
{
	for (int i = 0; i < o->nentries; i++) {
		bool in = addr_set_find(set, &c[i]) != NULL;

		for (int j = 0; j < i && !in; j++)
			in = o->action == SET_ADD &&
			     !memcmp(&c[j].addr, &c[i].addr,
				     sizeof(c[i].addr)) &&
			     c[j].family == c[i].family &&
			     c[j].prefixlen == c[i].prefixlen;
		if (in == (o->action == SET_ADD)) {
			log_error("set %s: %s %s in %s", o->name, o->entries[i],
				  in ? "is already" : "is not", set->path);
			return -EEXIST;
		}
	}
	return 0;
}

/* The pass over the directory, once the file has its new text. */
static int pass(const struct set_opts *o)
{
	struct reload_request rq = {.policy_dir = o->policy_dir,
				    .bpffs = o->bpffs,
				    .lifecycle_log = o->lifecycle_log,
				    .source = "set",
				    .print = true};
	struct reload_result res;
	int err;

	err = reload_policy_dir(&rq, &res);
	if (err == -ENOENT)
		return 0; /* nothing pinned: no container to change */
	if (err) {
		log_error("set %s: the file changed, but the running "
			  "containers did not: %s (cgfence reload retries)",
			  o->name, state_error_text(err));
		return err;
	}
	printf("set %s: %u of %u containers changed (%zu tables in place: "
	       "%zu trie entries, %zu masks written), %.1f us in the kernel, "
	       "%.1f ms waiting for readers of an earlier change, %.1f ms in "
	       "all\n",
	       o->name, res.changed, res.containers, res.shared_changes,
	       res.lpm_writes, res.mask_writes, res.kernel_ns / 1e3,
	       res.wait_ns / 1e6, res.elapsed_ns / 1e6);
	return res.problems ? -EINVAL : 0;
}

/* The new text in place of the old, and the pass over the directory. */
static int change(const struct set_opts *o, int sets_fd,
		  const struct addr_set *set, const struct policy_cidr *c)
{
	_cleanup_free_ char *text = NULL;
	char file[300];
	size_t len;
	int err;

	err = addr_set_format(set, o->action == SET_ADD ? c : NULL,
			      o->action == SET_ADD ? o->nentries : 0,
			      o->action == SET_DEL ? c : NULL,
			      o->action == SET_DEL ? o->nentries : 0, &text,
			      &len);
	if (err)
		return err;
	snprintf(file, sizeof(file), "%s%s", o->name, ADDR_SET_SUFFIX);
	err = write_file_at(sets_fd, file, text, len, 0644);
	if (err) {
		log_error("set %s: cannot write %s: %s", o->name, set->path,
			  strerror(-err));
		return err;
	}
	printf("set %s: %d %s, %zu entries\n", o->name, o->nentries,
	       o->action == SET_ADD ? "added" : "removed",
	       set->nentries +
		       (o->action == SET_ADD ? o->nentries : -o->nentries));
	return pass(o);
}

/*
 * Without reading the set: SET_FAST_DONE, or SET_FAST_NOT_HERE when the
 * full path must do it, or an error (said).
 */
static int change_fast(const struct set_opts *o, int sets_fd,
		       const struct policy_cidr *c)
{
	struct set_fast_request rq = {.policy_dir = o->policy_dir,
				      .bpffs = o->bpffs,
				      .lifecycle_log = o->lifecycle_log,
				      .name = o->name,
				      .sets_fd = sets_fd,
				      .del = o->action == SET_DEL,
				      .entries = c,
				      .texts = o->entries,
				      .n = o->nentries};
	int err = set_fast_change(&rq);

	/* The file changed, some tables did not: the pass does them. */
	if (err == -EAGAIN)
		return pass(o) ? -EAGAIN : SET_FAST_DONE;
	return err;
}

/*
 * A ConfigMap whose items are sets/NAME.txt makes sets a link into
 * ..data/: the files behind it are the kubelet's, and its next update
 * replaces them. True (said) for such a directory.
 */
static bool configmap_sets(const struct set_opts *o, int dir_fd)
{
	char target[PATH_MAX];
	ssize_t n;

	n = readlinkat(dir_fd, ADDR_SET_DIR, target, sizeof(target) - 1);
	if (n < 0 || faccessat(dir_fd, "..data", F_OK, AT_SYMLINK_NOFOLLOW))
		return false;
	target[n] = '\0';
	log_error("set %s: %s/%s is a symbolic link (to %s) of a Kubernetes "
		  "ConfigMap: set %s changes only a set of its own; change the "
		  "ConfigMap",
		  o->name, o->policy_dir, ADDR_SET_DIR, target,
		  o->action == SET_ADD ? "add" : "del");
	return true;
}

static int open_sets_dir(const struct set_opts *o, int *sets_fd)
{
	_cleanup_close_ int dir_fd =
		open(o->policy_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dir_fd < 0) {
		log_error("set: %s: %s", o->policy_dir, strerror(errno));
		return -errno;
	}
	if (o->action != SET_SHOW && configmap_sets(o, dir_fd))
		return -EROFS;
	*sets_fd = addr_set_open_dir(dir_fd);
	if (*sets_fd == -ENOENT && o->action == SET_ADD) {
		if (mkdirat(dir_fd, ADDR_SET_DIR, 0755) && errno != EEXIST)
			return -errno;
		*sets_fd = addr_set_open_dir(dir_fd);
	}
	if (*sets_fd < 0) {
		log_error("set %s: %s/%s: %s", o->name, o->policy_dir,
			  ADDR_SET_DIR, strerror(-*sets_fd));
		return *sets_fd;
	}
	return 0;
}

/*
 * add and del replace the set file by a rename: over a symbolic link
 * (a Kubernetes ConfigMap's NAME.txt -> ..data/NAME.txt) that would put
 * a regular file in its place, and the file it led to would silently
 * stop counting. Such a set is changed where it comes from.
 */
static int refuse_symlink(const struct set_opts *o, int sets_fd)
{
	char file[300], target[PATH_MAX];
	struct stat st;
	ssize_t n;

	snprintf(file, sizeof(file), "%s%s", o->name, ADDR_SET_SUFFIX);
	if (fstatat(sets_fd, file, &st, AT_SYMLINK_NOFOLLOW)) {
		if (errno == ENOENT)
			return 0; /* add makes it */
		log_error("set %s: %s/%s/%s: %s", o->name, o->policy_dir,
			  ADDR_SET_DIR, file, strerror(errno));
		return -errno;
	}
	if (!S_ISLNK(st.st_mode))
		return 0;
	n = readlinkat(sets_fd, file, target, sizeof(target) - 1);
	target[n < 0 ? 0 : n] = '\0';
	log_error("set %s: %s/%s/%s is a symbolic link (to %s): set %s "
		  "changes only a regular file; change the file it leads to "
		  "(for a Kubernetes ConfigMap, the ConfigMap)",
		  o->name, o->policy_dir, ADDR_SET_DIR, file, target,
		  o->action == SET_ADD ? "add" : "del");
	return -ELOOP;
}

int cmd_set(int argc, char **argv)
{
	struct policy_cidr *entries = NULL;
	struct addr_set *set = NULL;
	struct diags d = {};
	_cleanup_close_ int sets_fd = -1;
	char sets_path[4096];
	int err;

	struct set_opts o;

	err = parse_set_opts(argc, argv, &o);
	if (err)
		return err > 0 ? 0 : 2;
	if (o.action != SET_SHOW && parse_entries(&o, &entries))
		return 2;
	err = open_sets_dir(&o, &sets_fd);
	if (err)
		goto out;
	/* One writer at a time: read, change and rewrite as one step. */
	if (o.action != SET_SHOW && flock(sets_fd, LOCK_EX)) {
		err = -errno;
		log_error("set %s: cannot lock %s/%s: %s", o.name, o.policy_dir,
			  ADDR_SET_DIR, strerror(-err));
		goto out;
	}
	if (o.action != SET_SHOW) {
		err = refuse_symlink(&o, sets_fd);
		if (err)
			goto out;
	}
	if (o.action != SET_SHOW) {
		err = change_fast(&o, sets_fd, entries);
		if (err != SET_FAST_NOT_HERE) {
			err = err == SET_FAST_DONE ? 0 : err;
			goto out;
		}
	}
	snprintf(sets_path, sizeof(sets_path), "%s/%s", o.policy_dir,
		 ADDR_SET_DIR);
	err = addr_set_load_at(sets_fd, sets_path, o.name, &set, &d);
	if (err == -ENOENT && o.action == SET_ADD) {
		char path[4400];

		snprintf(path, sizeof(path), "%s/%s%s", sets_path, o.name,
			 ADDR_SET_SUFFIX);
		err = addr_set_parse(path, o.name, "", 0, &set, &d);
	} else if (err == -ENOENT) {
		log_error("set %s: no %s/%s%s", o.name, sets_path, o.name,
			  ADDR_SET_SUFFIX);
	}
	if (err) {
		diags_print(&d, stderr);
		goto out;
	}
	if (o.action == SET_SHOW)
		err = show(set);
	else if (!(err = check_change(&o, set, entries)))
		err = change(&o, sets_fd, set, entries);
out:
	addr_set_free(set);
	diags_free(&d);
	free(entries);
	return err ? 1 : 0;
}

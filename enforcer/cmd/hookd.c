// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cgfence hookd: the resident half of the OCI hook. The runtime starts the
 * small `cgfence-hook` twice per container; it hands over its arguments,
 * the state and its stdout/stderr, and hookd does exactly what
 * `cgfence hook` would, in this process (no program start, no dynamic
 * linking, no loading), then answers with the exit status.
 *
 * One request at a time: the work is a few hundred microseconds, and the
 * pinned state is serialized by its lock anyway. A client whose request is
 * not all in HOOKD_IO_TIMEOUT_S after hookd took it up is dropped. Only
 * root may connect (socket mode 0600, in a directory hookd creates 0700,
 * and the peer's uid is checked): a request can do nothing root could not
 * do with `cgfence hook`. Clients in other PID or mount namespaces, or of
 * another protocol version, are told to run `cgfence hook` themselves.
 *
 * hookd keeps only the capabilities the BPF work needs. Its seccomp filter
 * is a deny list (exec, fork, ptrace, mount, ...: privs.c), not the allow
 * list of the one-shot processes: loading, attaching, pinning and
 * unpinning is its job for the lifetime of the host.
 *
 * It counts its requests by stage and result, with their latency, and
 * rewrites those counters (hook_stats.h) in one rename once no request
 * waits (the runtimes have their answers): `cgfence daemon --metrics`
 * serves them.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "container_record.h"
#include "hook.h"
#include "hook_stats.h"
#include "hookd_proto.h"
#include "lifecycle.h"
#include "loader.h"
#include "oci_state.h"
#include "policy_dir.h"
#include "privs.h"
#include "reload.h"
#include "util.h"

_Static_assert(HOOKD_MAX_STATE_LEN == OCI_STATE_MAX_SIZE,
	       "cgfence-hook and cgfence hook bound the state alike");

#define HOOKD_IO_TIMEOUT_S 2
/*
 * A change is applied once the directory has been quiet this long (an
 * editor's save, a ConfigMap swap and a burst of edits are each one pass),
 * and at the latest this long after its first event.
 */
#define HOOKD_SETTLE_NS	   (100 * 1000 * 1000ull)
#define HOOKD_MAX_DELAY_NS (500 * 1000 * 1000ull)
/* A pass waits this long for the state lock, then retries: never holds up
 * the requests waiting behind it. */
#define HOOKD_PASS_LOCK_WAIT_MS 20
#define HOOKD_WATCH_EVENTS                                                     \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |                 \
	 IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF |             \
	 IN_MOVE_SELF | IN_ONLYDIR)

/* A policy directory hookd's requests used, with the state they fence. */
struct watched_dir {
	char *policy_dir, *bpffs, *lifecycle_log;
	int wd;	     /* -1: not watched (gone; tried again at the next pass) */
	int sets_wd; /* its sets/ (address sets), or -1 */
	dev_t dev;   /* the directory the watch is on: replaced (moved, */
	ino_t ino;   /* made anew, a link swapped) means watch again */
	bool dirty;
};

/* Everything hookd keeps while it runs: its one owner. */
struct hookd {
	struct hook_resident resident;
	int inotify_fd;
	struct watched_dir *dirs;
	size_t ndirs;
	uint64_t first_event_ns, last_event_ns; /* 0: nothing pending */
	uint64_t checked_ns; /* the watched directories' identity, last */
	struct hook_stats stats;
	int stats_dir_fd; /* -1: no counters file */
	const char *stats_name;
	bool stats_dirty; /* served since the file was written */
};

/* How often hookd checks that it watches what the paths now name. */
#define HOOKD_RECHECK_NS (2000 * 1000 * 1000ull)

static volatile sig_atomic_t want_stop;

static void on_signal(int sig)
{
	want_stop = 1;
}

static int install_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART */

	if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL))
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP,
	       SIG_IGN); /* nothing to reopen; a lost terminal is no reason to stop */
	return 0;
}

/* A socket file nobody listens on is a leftover of a hookd that died. */
static int claim_socket_path(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0)
		err = -EADDRINUSE;
	else if (errno == ECONNREFUSED && unlink(addr->sun_path))
		err = -errno;
	close(fd);
	return err;
}

static int listen_on(const char *path, int *out)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char dir[sizeof(addr.sun_path)], *slash;
	int fd, err;

	if (path[0] != '/' || strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) && errno != EEXIST)
			return -errno;
	}
	err = claim_socket_path(&addr);
	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* umask 077 (cmd_hookd): no moment where others may connect. */
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    chmod(addr.sun_path, 0600) || listen(fd, 128)) {
		err = -errno;
		close(fd);
		return err;
	}
	*out = fd;
	return 0;
}

/* All of len bytes, by the request's deadline (CLOCK_MONOTONIC, ns). */
static int read_exact(int fd, void *buf, size_t len, uint64_t deadline)
{
	char *p = buf;

	while (len) {
		uint64_t now = clock_ns(CLOCK_MONOTONIC);
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;
		int r;

		if (now >= deadline)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (int)((deadline - now) / 1000000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -ETIMEDOUT;
		n = read(fd, p, len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		p += n;
		len -= n;
	}
	return 0;
}

/*
 * The header and the client's stdout and stderr. -EPROTONOSUPPORT: a
 * client of another protocol version (told to run `cgfence hook` itself).
 */
static int receive_header(int fd, struct hookd_request *req, int fds[2])
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} control;
	struct iovec iov = {req, sizeof(*req)};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf)};
	struct cmsghdr *c;
	ssize_t n;
	int err;

	n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_WAITALL);
	if (n < 0)
		return -errno;
	c = CMSG_FIRSTHDR(&msg);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
	    c->cmsg_len == CMSG_LEN(2 * sizeof(int))) {
		memcpy(fds, CMSG_DATA(c), 2 * sizeof(int));
	} else if (c && c->cmsg_level == SOL_SOCKET &&
		   c->cmsg_type == SCM_RIGHTS) {
		/* Not the two we expect: they are not ours to keep. */
		size_t n_fds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		for (size_t i = 0; i < n_fds; i++) {
			int fd_in;

			memcpy(&fd_in, CMSG_DATA(c) + i * sizeof(int),
			       sizeof(int));
			close(fd_in);
		}
		return -EPROTO;
	}
	err = hookd_request_check(req, (size_t)n);
	if (err)
		return err;
	if ((msg.msg_flags & MSG_CTRUNC) || fds[0] < 0)
		return -EPROTO;
	return 0;
}

/*
 * pids in the state and paths in the options mean what they mean where
 * the runtime runs: hookd serves only clients in its own PID and mount
 * namespaces. The client says which are its own (reading another
 * process's /proc/PID/ns needs CAP_SYS_PTRACE, which hookd gave up), and
 * the pid it sees for itself must be the one hookd sees.
 */
static uint64_t own_ns_inode(const char *kind)
{
	char path[64];
	struct stat sb;

	snprintf(path, sizeof(path), "/proc/self/ns/%s", kind);
	return stat(path, &sb) ? 0 : sb.st_ino;
}

static bool same_namespaces(pid_t peer, const struct hookd_request *req)
{
	static uint64_t pid_ns, mnt_ns;

	if (!pid_ns) {
		pid_ns = own_ns_inode("pid");
		mnt_ns = own_ns_inode("mnt");
	}
	return (uint32_t)peer == req->client_pid && req->pid_ns == pid_ns &&
	       req->mnt_ns == mnt_ns && pid_ns && mnt_ns;
}

/* One connection, from the request to the answer. */
struct request {
	int fd;
	int client[2]; /* the client's stdout and stderr */
	int saved[2];  /* ours, while the client's are in place */
	bool answered;
	pid_t peer;
	uint64_t answered_ns; /* CLOCK_MONOTONIC */
};

static void restore_own_stdio(struct request *r)
{
	fflush(stdout);
	for (int i = 0; i < 2; i++) {
		if (r->saved[i] < 0)
			continue;
		dup2(r->saved[i], STDOUT_FILENO + i);
		close(r->saved[i]);
		r->saved[i] = -1;
	}
}

/*
 * The answer, and the client's fds closed: a runtime reads a hook's output
 * until every copy of its stdout and stderr is closed, ours included.
 */
static bool answer(struct request *r, int status)
{
	struct hookd_reply reply = {.magic = HOOKD_MAGIC, .status = status};
	bool delivered = true;

	if (r->answered)
		return true;
	r->answered = true;
	r->answered_ns = clock_ns(CLOCK_MONOTONIC);
	restore_own_stdio(r);
	for (int i = 0; i < 2; i++) {
		if (r->client[i] >= 0)
			close(r->client[i]);
		r->client[i] = -1;
	}
	if (write_all(r->fd, &reply, sizeof(reply))) {
		log_error("hookd: pid %d left before its answer", (int)r->peer);
		delivered = false;
	}
	close(r->fd);
	r->fd = -1;
	return delivered;
}

static void answer_early(void *ctx)
{
	answer(ctx, 0);
}

/*
 * The hook's work with the client's stdout and stderr in place of ours, so
 * that its messages reach the runtime as they would from `cgfence hook`.
 */
static int run_request(struct request *r, struct hook_serve_opts *serve,
		       int argc, char **argv, const char *state, size_t len)
{
	bool verbose = log_verbose;
	int status;

	r->saved[0] = dup(STDOUT_FILENO);
	r->saved[1] = dup(STDERR_FILENO);
	if (r->saved[0] < 0 || r->saved[1] < 0 ||
	    dup2(r->client[0], STDOUT_FILENO) < 0 ||
	    dup2(r->client[1], STDERR_FILENO) < 0) {
		restore_own_stdio(r);
		return 1;
	}
	/* `hookd -v` is for hookd's log: the runtime sees what `hook` says. */
	log_verbose = false;
	status = hook_serve(argc, argv, state, len, serve);
	log_verbose = verbose;
	restore_own_stdio(r);
	return status;
}

/*
 * The counters for the daemon's metrics, in one rename (20 us on a tmpfs
 * /run, 0.2 ms on this VM's ext4 one): written once no request waits, so
 * that requests queued together are served back to back.
 */
static void write_stats(struct hookd *h)
{
	_cleanup_free_ char *text = NULL;
	int err;

	h->stats_dirty = false;
	if (h->stats_dir_fd < 0)
		return;
	text = hook_stats_format(&h->stats);
	err = text ? write_file_at(h->stats_dir_fd, h->stats_name, text,
				   strlen(text), 0640)
		   : -ENOMEM;
	if (err)
		log_debug("hookd: %s: %s", h->stats_name, strerror(-err));
}

/*
 * Where the counters go: --stats-file, else beside the socket, named
 * after it (hookd.sock: hookd.stats, the daemon's --hookd-stats default).
 */
static int open_stats_file(struct hookd *h, const char *path,
			   const char *socket_path, char *buf, size_t len)
{
	const char *slash;
	size_t n;

	if (!path) {
		n = strlen(socket_path);
		if (n > 5 && !strcmp(socket_path + n - 5, ".sock"))
			n -= 5;
		if ((size_t)snprintf(buf, len, "%.*s.stats", (int)n,
				     socket_path) >= len)
			return -ENAMETOOLONG;
		path = buf;
	}
	slash = strrchr(path, '/');
	if (path[0] != '/' || !slash[1])
		return -EINVAL;
	h->stats_name = slash + 1;
	if (slash == path) {
		h->stats_dir_fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		char dir[4096];

		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
		h->stats_dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	return h->stats_dir_fd < 0 ? -errno : 0;
}

static void serve_one(struct hookd *h, int cfd)
{
	static char args[HOOKD_MAX_ARGS_LEN], state[HOOKD_MAX_STATE_LEN];
	struct timeval io_timeout = {.tv_sec = HOOKD_IO_TIMEOUT_S};
	struct request r = {.fd = cfd, .client = {-1, -1}, .saved = {-1, -1}};
	struct hook_serve_opts serve;
	struct hookd_request req;
	struct ucred peer;
	socklen_t plen = sizeof(peer);
	char *argv[HOOKD_MAX_ARGS + 2];
	uint64_t start = clock_ns(CLOCK_MONOTONIC);
	enum hook_stage stage = HOOK_STAGE_UNKNOWN;
	enum hook_result result = HOOK_RESULT_DROPPED;
	int argc, err, status;

	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &peer, &plen) ||
	    peer.uid != 0) {
		log_error("hookd: refused a client that is not root");
		close(cfd);
		return;
	}

	r.peer = peer.pid;
	serve = (struct hook_serve_opts){.resident = &h->resident,
					 .runtime_pid = peer.pid,
					 .answer_early = answer_early,
					 .ctx = &r};
	setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &io_timeout,
		   sizeof(io_timeout));
	setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &io_timeout,
		   sizeof(io_timeout));
	err = receive_header(cfd, &req, r.client);
	if (!err && !same_namespaces(peer.pid, &req))
		err = -EXDEV;
	if (err == -EPROTONOSUPPORT || err == -EXDEV) {
		log_info("hookd: pid %d %s; it runs cgfence hook itself",
			 (int)peer.pid,
			 err == -EXDEV ? "is in another PID or mount namespace"
				       : "speaks another protocol version");
		answer(&r, HOOKD_RUN_IT_YOURSELF);
		result = HOOK_RESULT_DELEGATED;
		goto out;
	}
	if (!err) {
		uint64_t deadline = start + HOOKD_IO_TIMEOUT_S * 1000000000ull;

		log_debug("hookd: request of pid %d: receiving", (int)peer.pid);
		err = read_exact(cfd, args, req.args_len, deadline);
		if (!err)
			err = read_exact(cfd, state, req.state_len, deadline);
	}
	argc = err ? err
		   : hookd_split_args(args, req.args_len, argv,
				      ARRAY_SIZE(argv));
	if (argc < 0) {
		log_error("hookd: dropped a request from pid %d: %s",
			  (int)peer.pid,
			  argc == -EPROTO ? "malformed" : strerror(-argc));
		r.answered = true; /* no answer: the client reports it */
		status = -1;
	} else {
		/* The stage is the last argument, when one is given. */
		stage = hook_stage_of(argc > 1 ? argv[argc - 1] : NULL);
		status = run_request(&r, &serve, argc, argv, state,
				     req.state_len);
		result = status == 0 ? HOOK_RESULT_OK : HOOK_RESULT_REFUSED;
		log_debug("hookd: request of pid %d: exit status %d in %.3f ms",
			  (int)peer.pid, status,
			  (clock_ns(CLOCK_MONOTONIC) - start) / 1e6);
	}
	/* Fail closed: a runtime that got no answer does not start the container. */
	if (!answer(&r, status) && status == 0 && serve.applied.fenced)
		hook_serve_undo(&h->resident, &serve.applied);
out:
	for (int i = 0; i < 2; i++)
		if (r.client[i] >= 0)
			close(r.client[i]);
	if (r.fd >= 0)
		close(r.fd);
	hook_stats_record(
		&h->stats, stage, result,
		(r.answered_ns ? r.answered_ns : clock_ns(CLOCK_MONOTONIC)) -
			start);
	h->stats_dirty = true;
}

static void unwatch(struct hookd *h, struct watched_dir *w)
{
	if (w->wd >= 0)
		inotify_rm_watch(h->inotify_fd, w->wd);
	if (w->sets_wd >= 0)
		inotify_rm_watch(h->inotify_fd, w->sets_wd);
	w->wd = w->sets_wd = -1;
}

/*
 * The path still names the directory watched. inotify follows an inode:
 * a directory moved away, made anew, or a symbolic link swapped to
 * another target would otherwise go unwatched, silently.
 */
static bool watch_current(struct hookd *h, struct watched_dir *w)
{
	struct stat st;

	if (w->wd >= 0 && stat(w->policy_dir, &st) == 0 &&
	    st.st_dev == w->dev && st.st_ino == w->ino)
		return true;
	unwatch(h, w);
	return false;
}

static void watch(struct hookd *h, struct watched_dir *w)
{
	char sets[4096];
	struct stat st;

	if (w->wd < 0) {
		if (stat(w->policy_dir, &st) == 0) {
			w->dev = st.st_dev;
			w->ino = st.st_ino;
		}
		w->wd = inotify_add_watch(h->inotify_fd, w->policy_dir,
					  HOOKD_WATCH_EVENTS);
		if (w->wd < 0)
			log_error("hookd: warning: cannot watch %s: %s; its "
				  "changes wait for cgfence reload",
				  w->policy_dir, strerror(errno));
	}
	/* The address sets the policies name: sets/ may come later. */
	if (w->sets_wd < 0 && (size_t)snprintf(sets, sizeof(sets), "%s/sets",
					       w->policy_dir) < sizeof(sets))
		w->sets_wd = inotify_add_watch(h->inotify_fd, sets,
					       HOOKD_WATCH_EVENTS);
}

static void mark_pending(struct hookd *h)
{
	uint64_t now = clock_ns(CLOCK_MONOTONIC);

	if (!h->first_event_ns)
		h->first_event_ns = now;
	h->last_event_ns = now;
}

/*
 * hook.c tells of each directory a createRuntime used: a new one is
 * watched, and gets a first pass (which keeps its versions as the last
 * good ones).
 */
static void use_dir(const char *policy_dir, const char *bpffs,
		    const char *lifecycle_log, void *ctx)
{
	struct hookd *h = ctx;
	struct watched_dir *bigger, *w;

	for (size_t i = 0; i < h->ndirs; i++) {
		w = &h->dirs[i];
		if (strcmp(w->policy_dir, policy_dir) ||
		    strcmp(w->bpffs, bpffs))
			continue;
		if (!watch_current(h, w)) {
			watch(h, w);
			w->dirty = true;
			mark_pending(h);
		}
		return;
	}
	bigger = realloc(h->dirs, (h->ndirs + 1) * sizeof(*h->dirs));
	if (!bigger)
		return;
	h->dirs = bigger;
	w = &h->dirs[h->ndirs];
	*w = (struct watched_dir){.policy_dir = strdup(policy_dir),
				  .bpffs = strdup(bpffs),
				  .lifecycle_log = strdup(lifecycle_log),
				  .wd = -1,
				  .sets_wd = -1,
				  .dirty = true};
	if (!w->policy_dir || !w->bpffs || !w->lifecycle_log) {
		free(w->policy_dir);
		free(w->bpffs);
		free(w->lifecycle_log);
		return;
	}
	h->ndirs++;
	watch(h, w);
	mark_pending(h);
}

/* Which directories the events concern; reads what is there, never blocks. */
static void read_events(struct hookd *h)
{
	char buf[16384]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(h->inotify_fd, buf, sizeof(buf))) > 0) {
		for (char *at = buf; at < buf + n;) {
			const struct inotify_event *ev = (const void *)at;

			for (size_t i = 0; i < h->ndirs; i++) {
				struct watched_dir *w = &h->dirs[i];

				if (w->wd != ev->wd && w->sets_wd != ev->wd)
					continue;
				w->dirty = true;
				if (ev->mask &
				    (IN_MOVE_SELF | IN_DELETE_SELF)) {
					unwatch(h, w); /* watched again */
					continue;
				}
				if (!(ev->mask & IN_IGNORED))
					continue;
				if (w->wd == ev->wd) /* gone */
					w->wd = -1;
				else
					w->sets_wd = -1;
			}
			if (ev->mask & IN_Q_OVERFLOW)
				for (size_t i = 0; i < h->ndirs; i++)
					h->dirs[i].dirty = true;
			at += sizeof(*ev) + ev->len;
		}
		mark_pending(h);
	}
}

/* Milliseconds until the pending passes are due; -1: none pending. */
/* Every HOOKD_RECHECK_NS: a replaced directory is watched anew, and passed. */
static void recheck_watches(struct hookd *h)
{
	uint64_t now = clock_ns(CLOCK_MONOTONIC);

	if (now - h->checked_ns < HOOKD_RECHECK_NS)
		return;
	h->checked_ns = now;
	for (size_t i = 0; i < h->ndirs; i++) {
		struct watched_dir *w = &h->dirs[i];
		bool current = watch_current(h, w), had_sets = w->sets_wd >= 0;

		if (current && had_sets)
			continue;
		watch(h, w);
		/* A new directory, or a sets/ made since: what changed? */
		if (w->wd >= 0 &&
		    (!current || (!had_sets && w->sets_wd >= 0))) {
			w->dirty = true;
			mark_pending(h);
		}
	}
}

static int ms_until_passes(const struct hookd *h)
{
	uint64_t now = clock_ns(CLOCK_MONOTONIC), due;

	if (!h->first_event_ns)
		return h->ndirs ? (int)(HOOKD_RECHECK_NS / 1000000) : -1;
	due = h->last_event_ns + HOOKD_SETTLE_NS;
	if (due > h->first_event_ns + HOOKD_MAX_DELAY_NS)
		due = h->first_event_ns + HOOKD_MAX_DELAY_NS;
	return due <= now ? 0 : (int)((due - now) / 1000000) + 1;
}

static void run_passes(struct hookd *h)
{
	h->first_event_ns = h->last_event_ns = 0;
	for (size_t i = 0; i < h->ndirs; i++) {
		struct watched_dir *w = &h->dirs[i];
		struct reload_request rq = {.policy_dir = w->policy_dir,
					    .bpffs = w->bpffs,
					    .lifecycle_log = w->lifecycle_log,
					    .source = "hookd",
					    .resident = &h->resident,
					    .lock_timeout_ms =
						    HOOKD_PASS_LOCK_WAIT_MS};
		struct reload_result res;
		int err;

		if (!w->dirty)
			continue;
		w->dirty = false;
		if (w->wd < 0 || w->sets_wd < 0)
			watch(h, w); /* made anew since */
		err = reload_policy_dir(&rq, &res);
		if (err == -ENOENT)
			continue;	 /* nothing pinned: nothing runs */
		if (err == -ETIMEDOUT) { /* busy: requests go first */
			w->dirty = true;
			mark_pending(h);
			continue;
		}
		if (err) {
			log_error("hookd: %s: %s", w->policy_dir,
				  strerror(-err));
			continue;
		}
		log_info("hookd: %s: %u containers, %u changed, %u keep "
			 "their version, %u problems, in %.1f ms (kernel "
			 "%.0f us per changed container; %zu shared tables "
			 "changed in place: %zu trie entries, %zu masks)",
			 w->policy_dir, res.containers, res.changed, res.kept,
			 res.problems, res.elapsed_ns / 1e6,
			 res.changed ? res.kernel_ns / 1e3 / res.changed : 0.0,
			 res.shared_changes, res.lpm_writes, res.mask_writes);
	}
}

/*
 * At start: the directories of the containers already running (from
 * their records), so that an edit made while no hookd ran is applied now.
 */
static void adopt_recorded_dirs(struct hookd *h, const char *bpffs,
				const char *lifecycle_log)
{
	_cleanup_close_ int run_fd = state_run_dir_open(bpffs);
	uint64_t *ids = NULL;
	size_t n = 0;

	if (run_fd < 0 || container_record_list(run_fd, &ids, &n))
		return;
	for (size_t i = 0; i < n; i++) {
		struct container_record r;

		if (container_record_read(run_fd, ids[i], &r))
			continue;
		use_dir(r.policy_dir, bpffs, lifecycle_log, h);
		container_record_free(&r);
	}
	free(ids);
}

/*
 * What needs privileges hookd gives up: a bpffs on /sys/fs/bpf (its seccomp
 * filter refuses mount(2)), and no memlock limit on map memory (kernels
 * before 5.11 count maps against it; CAP_SYS_RESOURCE goes).
 */
static void prepare_before_lockdown(void)
{
	struct rlimit unlimited = {RLIM_INFINITY, RLIM_INFINITY};
	int err = bpffs_mount_root();

	if (err)
		log_error("hookd: warning: cannot mount a bpffs on "
			  "/sys/fs/bpf: %s",
			  strerror(-err));
	if (setrlimit(RLIMIT_MEMLOCK, &unlimited))
		log_debug("hookd: RLIMIT_MEMLOCK stays: %s", strerror(errno));
}

int cmd_hookd(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"bpffs", required_argument, NULL, 'b'},
		{"lifecycle-log", required_argument, NULL, 'l'},
		{"stats-file", required_argument, NULL, 'S'},
		{"seccomp-log", no_argument, NULL, 'L'},
		{"help", no_argument, NULL, 'h'},
		{}};
	static const char usage[] =
		"usage: cgfence hookd [--socket PATH] [--bpffs DIR] "
		"[--lifecycle-log FILE]\n"
		"                     [--stats-file FILE] [--seccomp-log]\n"
		"Serves `cgfence-hook`, the OCI hook a runtime runs, on PATH "
		"(default\n" HOOKD_DEFAULT_SOCKET
		"): each request is one `cgfence hook` run, done here\n"
		"without starting cgfence. Root only. Stops on SIGTERM or "
		"SIGINT.\n"
		"It watches the policy directories its requests use: a "
		"change reaches the\n"
		"running containers fenced from them (cgfence reload). At "
		"start it picks up\n"
		"the directories of the containers running in the state DIR "
		"(default\n" CGF_DEFAULT_BPFFS_DIR ").\n"
		"It keeps only the capabilities BPF work needs, and a seccomp "
		"filter kills it\n"
		"on exec, fork, ptrace, mount and the like (--seccomp-log: "
		"only log them).\n"
		"When no request waits it rewrites its counters (requests by "
		"stage and result,\n"
		"latency) to FILE (default: beside the socket, hookd.sock -> "
		"hookd.stats),\n"
		"which the daemon serves as Prometheus metrics.\n";
	const char *path = HOOKD_DEFAULT_SOCKET;
	const char *bpffs = CGF_DEFAULT_BPFFS_DIR;
	const char *lifecycle_log = CGF_DEFAULT_LIFECYCLE_LOG;
	struct hookd h = {.inotify_fd = -1, .stats_dir_fd = -1};
	const char *stats_path = NULL;
	sigset_t stop_signals, waiting_mask;
	char stats_buf[4096];
	bool seccomp_log = false;
	int lfd = -1, c, err;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			path = optarg;
			break;
		case 'L':
			seccomp_log = true;
			break;
		case 'b':
			bpffs = optarg;
			break;
		case 'l':
			lifecycle_log = optarg;
			break;
		case 'S':
			stats_path = optarg;
			break;
		case 'h':
			printf("%s", usage);
			return 0;
		default:
			fprintf(stderr, "%s", usage);
			return 2;
		}
	}
	if (optind < argc) {
		log_error("hookd: unexpected argument '%s'", argv[optind]);
		return 2;
	}
	/* As `cgfence hook`: nothing from the environment steers the work. */
	clearenv();
	umask(077);
	prepare_before_lockdown();
	err = install_signals();
	if (!err)
		err = privs_keep_only_bpf_capabilities();
	if (!err)
		err = privs_forbid_for_resident(seccomp_log);
	if (err) {
		log_error("hookd: %s", strerror(-err));
		return 1;
	}
	err = listen_on(path, &lfd);
	if (err) {
		log_error("hookd: %s: %s", path,
			  err == -EADDRINUSE ? "another hookd is listening"
					     : strerror(-err));
		return 1;
	}
	err = open_stats_file(&h, stats_path, path, stats_buf,
			      sizeof(stats_buf));
	if (err) {
		log_error("hookd: --stats-file %s: %s",
			  stats_path ? stats_path : stats_buf,
			  err == -EINVAL ? "an absolute path to a file is "
					   "required"
					 : strerror(-err));
		return 1;
	}
	write_stats(&h); /* zeros: a hookd runs, and has served nothing */
	umask(027);	 /* what the hook creates: pins, records */
	h.resident = (struct hook_resident){
		.policies = policy_cache_new(), .used_dir = use_dir, .ctx = &h};
	h.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (!h.resident.policies || h.inotify_fd < 0) {
		log_error("hookd: %s",
			  strerror(h.inotify_fd < 0 ? errno : ENOMEM));
		return 1;
	}
	adopt_recorded_dirs(&h, bpffs, lifecycle_log);
	/*
	 * SIGTERM and SIGINT are taken only inside ppoll: one that came
	 * between the want_stop test and a wait with no end would be lost.
	 */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	sigprocmask(SIG_BLOCK, &stop_signals, &waiting_mask);
	sigdelset(&waiting_mask, SIGTERM);
	sigdelset(&waiting_mask, SIGINT);
	log_info("hookd: listening on %s", path);
	while (!want_stop) {
		struct pollfd pfd[2] = {{.fd = lfd, .events = POLLIN},
					{.fd = h.inotify_fd, .events = POLLIN}};
		struct timespec wait_ts;
		int cfd, wait_ms;

		recheck_watches(&h);
		wait_ms = ms_until_passes(&h);
		if (wait_ms == 0) {
			run_passes(&h);
			continue;
		}
		if (h.stats_dirty && poll(pfd, 1, 0) == 0)
			write_stats(&h);
		wait_ts.tv_sec = wait_ms / 1000;
		wait_ts.tv_nsec = (long)(wait_ms % 1000) * 1000000;
		if (ppoll(pfd, 2, wait_ms < 0 ? NULL : &wait_ts,
			  &waiting_mask) <= 0)
			continue; /* a signal, or time for the passes */
		if (pfd[1].revents)
			read_events(&h);
		if (!pfd[0].revents)
			continue;
		cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno != EINTR && errno != ECONNABORTED &&
			    errno != EAGAIN) {
				log_error("hookd: accept: %s", strerror(errno));
				usleep(100 *
				       1000); /* out of fds: let some close */
			}
			continue;
		}
		serve_one(&h, cfd);
	}
	/*
	 * Stopping: new clients find no socket and run `cgfence hook`
	 * themselves; those already queued are served, not reset.
	 */
	unlink(path);
	fcntl(lfd, F_SETFL, O_NONBLOCK);
	for (int cfd; (cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0;)
		serve_one(&h, cfd);
	close(lfd);
	/* No counters of a hookd that does not run. */
	if (h.stats_dir_fd >= 0)
		unlinkat(h.stats_dir_fd, h.stats_name, 0);
	log_info("hookd: stopped");
	return 0;
}

# cgfence build. Every product goes to $(OUT); V=1 shows the commands.
OUT ?= build
export OUT
PREFIX ?= /usr/local
DESTDIR ?=
BPFTOOL ?= bpftool
CLANG ?= clang
CC ?= cc

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-format-truncation -Werror=implicit-function-declaration \
	-D_GNU_SOURCE -Iinclude $(SANITIZE)
# make check also builds the unit tests with the sanitizers, in $(OUT)/sanitize.
SANITIZE ?=
SANITIZERS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# Each folder of enforcer/ sees only itself and the folders below it:
#   cmd/ (the commands) > kernel/ (libbpf, cgroups, privileges) > lib/ (pure)
# lib/ also gets headers that stop the build where a pure module includes
# libbpf ($(OUT)/no-libbpf), and never the skeleton.
LIB_CFLAGS = -I$(OUT)/no-libbpf -Ienforcer/lib
KERNEL_CFLAGS = -Ienforcer/lib -Ienforcer/kernel -I$(OUT)
CMD_CFLAGS = $(KERNEL_CFLAGS) -Ienforcer/cmd
# The pure modules need nettle (SHA-256) and cJSON.
LDLIBS_CORE = -lnettle -lcjson
# The libraries are linked statically where Debian ships an archive: the
# hook runs twice per container start, and dynamic relocation of libbpf
# and libelf costs 0.2 ms of each run (nettle's archive adds 35 KB).
# Debian ships no libcjson.a.
# libmicrohttpd (the daemon's --metrics server) is not linked: the daemon
# dlopen()s it when asked to serve (enforcer/cmd/daemon_metrics.c), as it
# would load GnuTLS with every `cgfence` start; the build needs its header
# (libmicrohttpd-dev), and glibc's libdl and threads are in libc.
LDLIBS = -Wl,-Bstatic -lbpf -lelf -lz -lseccomp -lcap -lnettle -Wl,-Bdynamic -lcjson -ldl -lpthread
BPF_CFLAGS = -O2 -g -target bpf -D__TARGET_ARCH_$(ARCH) -I/usr/include/$(shell $(CC) -dumpmachine) -Iinclude -Wall -Werror

# Sources by folder (see CFLAGS above).
LIB_SRCS = $(wildcard enforcer/lib/*.c)
KERNEL_SRCS = $(wildcard enforcer/kernel/*.c)
CMD_SRCS = $(wildcard enforcer/cmd/*.c)
LIB_OBJS = $(patsubst enforcer/lib/%.c,$(OUT)/lib/%.o,$(LIB_SRCS))
KERNEL_OBJS = $(patsubst enforcer/kernel/%.c,$(OUT)/kernel/%.o,$(KERNEL_SRCS))
CMD_OBJS = $(patsubst enforcer/cmd/%.c,$(OUT)/cmd/%.o,$(CMD_SRCS))
BPF_SRCS = $(wildcard bpf/*.bpf.c)
SKELS = $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))
DIGESTS = $(patsubst bpf/%.bpf.c,$(OUT)/%.digest.h,$(BPF_SRCS))
OBJECT_LISTS = $(patsubst bpf/%.bpf.c,$(OUT)/%.objects.h,$(BPF_SRCS))
UNIT_TESTS = $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(wildcard tests/unit/test_*.c))
HELPERS = $(patsubst tests/probes/%.c,$(OUT)/tests/%,$(wildcard tests/probes/*.c))
HELPERS += $(OUT)/tests/probe-static $(OUT)/tests/attack-static
# libFuzzer harnesses, one per untrusted input (tests/fuzz/), built with
# clang and the sanitizers over the pure modules.
FUZZERS = $(patsubst tests/fuzz/%.c,$(OUT)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_CFLAGS = -O1 -g -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -Iinclude -I$(OUT)/no-libbpf -Ienforcer/lib -Itests/unit
FUZZ_SECONDS ?= 60
BENCH_TOOLS = $(patsubst tests/bench/%.c,$(OUT)/tests/%,$(filter-out %.bpf.c,$(wildcard tests/bench/*.c))) \
	$(OUT)/tests/floor.bpf.o $(OUT)/tests/helper_cost.bpf.o

# The BPF object is an intermediate of the skeleton; tests load it too.
.SECONDARY: $(OUT)/cgfence.bpf.o $(OUT)/cgfence.objects.h

.PHONY: all deps demo deb bench bench-smoke check check-unit check-kernel check-policies clean install format fuzz image

all: $(OUT)/cgfence $(OUT)/cgfence-hook $(HELPERS) $(BENCH_TOOLS)

$(OUT)/tests:
	$(Q)mkdir -p $(OUT)/tests

$(OUT)/%.bpf.o: bpf/%.bpf.c $(wildcard include/*.h bpf/*.h) | $(OUT)/tests
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# The hooks' floor for bench.sh: programs that do nothing.
$(OUT)/tests/floor.bpf.o: tests/bench/floor.bpf.c | $(OUT)/tests
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# One step of a program at a time, for helper_cost.sh.
$(OUT)/tests/helper_cost.bpf.o: tests/bench/helper_cost.bpf.c bpf/cgf_kernel.h bpf/cgf_defs.h | $(OUT)/tests
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@.tmp && mv $@.tmp $@

# The version `cgfence --version` prints: git's description of the tree;
# rewritten only when it changes, so that it rebuilds only what prints it.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
$(OUT)/version.h: FORCE | $(OUT)/tests
	$(Q)echo '#define CGF_VERSION "$(VERSION)"' >$@.tmp
	$(Q)cmp -s $@.tmp $@ && rm $@.tmp || mv $@.tmp $@
.PHONY: FORCE
FORCE:

# What a pure module gets where it includes libbpf.
NO_LIBBPF = $(addprefix $(OUT)/no-libbpf/bpf/,libbpf.h bpf.h btf.h)
$(NO_LIBBPF):
	$(Q)mkdir -p $(@D)
	$(Q)echo '#error "enforcer/lib/ is pure: no libbpf (move the module to enforcer/kernel/)"' >$@

$(OUT)/lib/%.o: enforcer/lib/%.c $(wildcard include/*.h enforcer/lib/*.h) | $(NO_LIBBPF)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LIB_CFLAGS) -c $< -o $@

$(OUT)/kernel/%.o: enforcer/kernel/%.c $(wildcard include/*.h enforcer/lib/*.h enforcer/kernel/*.h) $(SKELS) $(DIGESTS) $(OBJECT_LISTS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(KERNEL_CFLAGS) -c $< -o $@

$(OUT)/cmd/%.o: enforcer/cmd/%.c $(wildcard include/*.h enforcer/*/*.h) $(SKELS) $(DIGESTS) $(OBJECT_LISTS) $(OUT)/version.h
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(CMD_CFLAGS) -c $< -o $@

# SHA-256 of the object the skeleton embeds, which the pinned state records:
# computed once here rather than by every hook run (0.8 ms).
$(OUT)/%.digest.h: $(OUT)/%.bpf.o
	$(call msg,DIGEST,$@)
	$(Q)sha256sum $< | sed -E 's/^([0-9a-f]{64}).*/\1/; s/(..)/0x\1, /g; s/^/#define CGF_ELF_SHA256 { /; s/, $$/ }/' > $@.tmp && mv $@.tmp $@

# The programs and maps of the object, as the loader pins and attaches them:
# read from the object, so that a SEC() in bpf/ is the only list.
$(OUT)/tools/gen_bpf_objects: tools/gen_bpf_objects.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $< -lbpf -o $@

$(OUT)/%.objects.h: $(OUT)/%.bpf.o $(OUT)/tools/gen_bpf_objects
	$(call msg,GEN,$@)
	$(Q)$(OUT)/tools/gen_bpf_objects $< > $@.tmp && mv $@.tmp $@

$(OUT)/cgfence: $(CMD_OBJS) $(KERNEL_OBJS) $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

# What runtimes start twice per container: static, so that starting it is
# cheap (no dynamic loader); it hands the work to `cgfence hookd`. Against
# musl where musl-gcc is installed: musl's start-up does no CPU feature
# detection, whose CPUID instructions exit to the hypervisor on a VM, and
# the binary is small (38 KB stripped; 690 KB with static glibc).
# Otherwise $(CC) -static.
# It includes only libc and enforcer/lib/hookd_proto.h, and no linux/
# headers (Debian's musl-gcc has none); CFLAGS minus the sanitizers.
MUSL_CC ?= musl-gcc
CLIENT_CC := $(if $(shell command -v $(MUSL_CC) 2>/dev/null),$(MUSL_CC),$(CC))
CLIENT_SRCS = enforcer/client/cgfence-hook.c
$(OUT)/cgfence-hook: $(CLIENT_SRCS) enforcer/lib/hookd_proto.h $(OUT)/version.h | $(OUT)/tests
	$(call msg,LINK,$@ ($(notdir $(CLIENT_CC))))
	$(Q)$(CLIENT_CC) $(filter-out $(SANITIZE),$(CFLAGS)) -Ienforcer/lib -I$(OUT) -static $(CLIENT_SRCS) -o $@

$(OUT)/tests/test_%: tests/unit/test_%.c $(wildcard tests/unit/*.h) $(LIB_OBJS) | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(LIB_CFLAGS) -Itests/unit $< $(LIB_OBJS) $(LDLIBS_CORE) -o $@

$(OUT)/tests/%: tests/probes/%.c $(wildcard tests/probes/*.h) | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -o $@

# The probe inside busybox containers (tests/e2e, make demo): no libc there.
$(OUT)/tests/probe-static: tests/probes/probe.c $(wildcard tests/probes/*.h) | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -static $< -o $@

$(OUT)/tests/attack-static: tests/probes/attack.c $(wildcard tests/probes/*.h) | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -static $< -o $@

$(OUT)/tests/%: tests/bench/%.c | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -o $@

$(OUT)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_SRCS) $(wildcard include/*.h enforcer/lib/*.h tests/unit/*.h) | $(NO_LIBBPF)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $< $(LIB_SRCS) $(LDLIBS_CORE) -o $@

# Each harness for FUZZ_SECONDS (make check runs them for a few seconds).
fuzz: $(FUZZERS)
	$(Q)OUT=$(OUT) tests/fuzz/run.sh $(FUZZ_SECONDS)

# Installs the Debian packages the build and the tests need (root, apt).
deps:
	$(Q)tools/deps.sh

check: deps
	$(Q)$(MAKE) --no-print-directory all $(UNIT_TESTS)
	$(Q)$(MAKE) --no-print-directory OUT=$(OUT)/sanitize SANITIZE="$(SANITIZERS)" \
		$(patsubst $(OUT)/%,$(OUT)/sanitize/%,$(UNIT_TESTS))
	$(Q)$(MAKE) --no-print-directory $(FUZZERS)
	$(Q)tests/run-all.sh

check-unit: $(UNIT_TESTS)
	$(Q)set -e; for t in $(UNIT_TESTS); do $$t; done

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tools/demo.sh

# cgfence against no policy, iptables and nftables (root; docs/benchmarks.md).
bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)OUT=$(OUT) tests/bench/bench.sh full
	$(Q)OUT=$(OUT) tests/bench/live_reload.sh
	$(Q)OUT=$(OUT) tests/bench/set_change.sh
	$(Q)OUT=$(OUT) tests/bench/record_cost.sh
	$(Q)OUT=$(OUT) tests/bench/million.sh full
	$(Q)OUT=$(OUT) tests/bench/metrics_cost.sh
	$(Q)OUT=$(OUT) tests/bench/node_cost.sh

bench-smoke: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)OUT=$(OUT) tests/bench/bench.sh smoke
	$(Q)OUT=$(OUT) tests/bench/million.sh smoke

format:
	clang-format -i enforcer/*/*.[ch] bpf/*.[ch] include/*.h tests/unit/*.[ch] tests/fuzz/*.c tests/probes/*.[ch] tests/bench/*.c tools/*.c

# The agent's OCI image for Kubernetes (deploy/): this build's binaries and
# their libraries, FROM scratch, built offline with podman; also tagged
# latest, the tag deploy/kubernetes/cgfence.yaml names.
IMAGE ?= localhost/cgfence:$(VERSION)
image: $(OUT)/cgfence $(OUT)/cgfence-hook
	$(Q)OUT=$(OUT) tools/build_image.sh $(IMAGE) localhost/cgfence:latest

# Binaries (cgfence-hook runs `cgfence hook` from its own directory when
# no hookd listens), the OCI hook for podman/CRI-O and the systemd units
# (pointing at the installed binaries), logrotate, the man pages, the
# policies' JSON Schema (linked from the policy directory, where the
# examples' "$schema" finds it) and the example policies; policies an
# admin already has are kept. The Debian package is this with PREFIX=/usr.
HOOKSDIR ?= /usr/share/containers/oci/hooks.d
POLICYDIR ?= /etc/cgfence/policies
UNITDIR ?= /lib/systemd/system
LOGROTATEDIR ?= /etc/logrotate.d
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share/cgfence
SCHEMA = cgfence-policy.schema.json
install: $(OUT)/cgfence $(OUT)/cgfence-hook
	install -D -m 0755 $(OUT)/cgfence $(DESTDIR)$(PREFIX)/bin/cgfence
	install -D -m 0755 $(OUT)/cgfence-hook $(DESTDIR)$(PREFIX)/bin/cgfence-hook
	install -d -m 0755 $(DESTDIR)$(HOOKSDIR) $(DESTDIR)$(POLICYDIR) $(DESTDIR)$(UNITDIR)
	sed 's|/usr/local/bin/|$(PREFIX)/bin/|' contrib/oci-hooks.d/cgfence.json > $(DESTDIR)$(HOOKSDIR)/cgfence.json
	chmod 0644 $(DESTDIR)$(HOOKSDIR)/cgfence.json
	for u in contrib/systemd/*.service contrib/systemd/*.path; do \
		sed 's|/usr/local/bin/|$(PREFIX)/bin/|' $$u > $(DESTDIR)$(UNITDIR)/$${u##*/}; \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$${u##*/}; \
	done
	install -D -m 0644 contrib/logrotate/cgfence $(DESTDIR)$(LOGROTATEDIR)/cgfence
	install -D -m 0644 docs/man/cgfence.8 $(DESTDIR)$(MANDIR)/man8/cgfence.8
	install -D -m 0644 docs/man/cgfence-hook.8 $(DESTDIR)$(MANDIR)/man8/cgfence-hook.8
	install -D -m 0644 docs/man/cgfence-policy.5 $(DESTDIR)$(MANDIR)/man5/cgfence-policy.5
	install -D -m 0644 policies/$(SCHEMA) $(DESTDIR)$(DATADIR)/$(SCHEMA)
	[ -e $(DESTDIR)$(POLICYDIR)/$(SCHEMA) ] || [ -L $(DESTDIR)$(POLICYDIR)/$(SCHEMA) ] || ln -s $(DATADIR)/$(SCHEMA) $(DESTDIR)$(POLICYDIR)/$(SCHEMA)
	for p in policies/*.json; do \
		case $$p in *.schema.json) continue ;; esac; \
		[ -e $(DESTDIR)$(POLICYDIR)/$${p##*/} ] || install -m 0644 $$p $(DESTDIR)$(POLICYDIR)/; \
	done
	install -d -m 0755 $(DESTDIR)$(POLICYDIR)/sets
	for s in policies/sets/*.txt; do \
		[ -e $(DESTDIR)$(POLICYDIR)/sets/$${s##*/} ] || install -m 0644 $$s $(DESTDIR)$(POLICYDIR)/sets/; \
	done

# A Debian package (contrib/debian/) built offline in $(OUT)/deb from a
# copy of this tree: $(OUT)/deb/cgfence_VERSION_ARCH.deb.
deb:
	$(Q)OUT=$(OUT) tools/build_deb.sh

clean:
	rm -rf $(OUT)

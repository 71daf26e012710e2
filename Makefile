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
	-D_GNU_SOURCE -Iinclude -Ienforcer -I$(OUT)
LDLIBS_CORE = -lcjson
# The kernel-facing libraries are linked statically: the hook runs twice per
# container start, and dynamic relocation of libbpf and libelf costs 0.2 ms
# of each run. Debian ships no libcjson.a.
LDLIBS = -Wl,-Bstatic -lbpf -lelf -lz -lseccomp -lcap -Wl,-Bdynamic -lcjson
BPF_CFLAGS = -O2 -g -target bpf -D__TARGET_ARCH_$(ARCH) -I/usr/include/$(shell $(CC) -dumpmachine) -Iinclude -Wall -Werror

# Pure modules: no libbpf, unit-tested without root.
CORE_SRCS = enforcer/diag.c enforcer/policy.c enforcer/compile.c enforcer/sha256.c enforcer/util.c enforcer/audit.c
CORE_SRCS += enforcer/policy_dir.c enforcer/oci_state.c enforcer/lifecycle.c enforcer/delta.c enforcer/socknames.c
CORE_OBJS = $(patsubst enforcer/%.c,$(OUT)/%.o,$(CORE_SRCS))
# Modules that talk to the kernel.
KERNEL_SRCS = $(filter-out $(CORE_SRCS) enforcer/main.c,$(wildcard enforcer/*.c))
KERNEL_OBJS = $(patsubst enforcer/%.c,$(OUT)/%.o,$(KERNEL_SRCS))
BPF_SRCS = $(wildcard bpf/*.bpf.c)
SKELS = $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))
DIGESTS = $(patsubst bpf/%.bpf.c,$(OUT)/%.digest.h,$(BPF_SRCS))
UNIT_TESTS = $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(wildcard tests/unit/test_*.c))
HELPERS = $(patsubst tests/helpers/%.c,$(OUT)/tests/%,$(wildcard tests/helpers/*.c))
HELPERS += $(OUT)/tests/probe-static $(OUT)/tests/attack-static
BENCH_TOOLS = $(patsubst tests/bench/%.c,$(OUT)/tests/%,$(wildcard tests/bench/*.c))

# The BPF object is an intermediate of the skeleton; tests load it too.
.SECONDARY: $(OUT)/cgfence.bpf.o

.PHONY: all deps demo bench bench-smoke check check-unit check-kernel check-policies clean install format

all: $(OUT)/cgfence $(OUT)/cgfence-hook $(HELPERS) $(BENCH_TOOLS)

$(OUT)/tests:
	$(Q)mkdir -p $(OUT)/tests

$(OUT)/%.bpf.o: bpf/%.bpf.c $(wildcard include/*.h bpf/*.h) | $(OUT)/tests
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@.tmp && mv $@.tmp $@

$(OUT)/%.o: enforcer/%.c $(wildcard include/*.h enforcer/*.h) | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# SHA-256 of the object the skeleton embeds, which the pinned state records:
# computed once here rather than by every hook run (0.8 ms).
$(OUT)/%.digest.h: $(OUT)/%.bpf.o
	$(call msg,DIGEST,$@)
	$(Q)sha256sum $< | sed -E 's/^([0-9a-f]{64}).*/\1/; s/(..)/0x\1, /g; s/^/#define CGF_ELF_SHA256 { /; s/, $$/ }/' > $@.tmp && mv $@.tmp $@

$(KERNEL_OBJS) $(OUT)/main.o: $(SKELS) $(DIGESTS)

$(OUT)/cgfence: $(OUT)/main.o $(CORE_OBJS) $(KERNEL_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

# What runtimes start twice per container: static, and on x86_64 without
# libc (enforcer/client/rt.h says why), so that starting it is cheap; it
# hands the work to `cgfence hookd`.
CLIENT_SRCS = enforcer/client/cgfence-hook.c enforcer/client/freestanding.c
ifeq ($(shell uname -m),x86_64)
CLIENT_CFLAGS = -static -nostdlib -ffreestanding -fno-stack-protector -fno-builtin \
	-fno-tree-loop-distribute-patterns -U_FORTIFY_SOURCE
else
CLIENT_CFLAGS = -static
endif
$(OUT)/cgfence-hook: $(CLIENT_SRCS) enforcer/client/rt.h enforcer/hookd_proto.h | $(OUT)/tests
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(CLIENT_CFLAGS) $(CLIENT_SRCS) -o $@

$(OUT)/tests/test_%: tests/unit/test_%.c $(wildcard tests/unit/*.h) $(CORE_OBJS) | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/unit $< $(CORE_OBJS) $(LDLIBS_CORE) -o $@

$(OUT)/tests/%: tests/helpers/%.c $(wildcard tests/helpers/*.h) | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -o $@

# The probe inside busybox containers (tests/e2e, make demo): no libc there.
$(OUT)/tests/probe-static: tests/helpers/probe.c $(wildcard tests/helpers/*.h) | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -static $< -o $@

$(OUT)/tests/attack-static: tests/helpers/attack.c $(wildcard tests/helpers/*.h) | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -static $< -o $@

$(OUT)/tests/%: tests/bench/%.c | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -o $@

# Installs the Debian packages the build and the tests need (root, apt).
deps:
	$(Q)tools/deps.sh

check: deps
	$(Q)$(MAKE) --no-print-directory all $(UNIT_TESTS)
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

bench-smoke: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)OUT=$(OUT) tests/bench/bench.sh smoke

format:
	clang-format -i enforcer/*.[ch] bpf/*.[ch] include/*.h tests/unit/*.[ch] tests/helpers/*.c tests/bench/*.c

# Binaries (cgfence-hook runs `cgfence hook` from its own directory when
# no hookd listens), the OCI hook for podman/CRI-O and the systemd units
# (pointing at the installed binaries) and the example policies; policies
# an admin already has are kept.
HOOKSDIR ?= /usr/share/containers/oci/hooks.d
POLICYDIR ?= /etc/cgfence/policies
UNITDIR ?= /lib/systemd/system
install: $(OUT)/cgfence $(OUT)/cgfence-hook
	install -D -m 0755 $(OUT)/cgfence $(DESTDIR)$(PREFIX)/bin/cgfence
	install -D -m 0755 $(OUT)/cgfence-hook $(DESTDIR)$(PREFIX)/bin/cgfence-hook
	install -d -m 0755 $(DESTDIR)$(HOOKSDIR) $(DESTDIR)$(POLICYDIR) $(DESTDIR)$(UNITDIR)
	sed 's|/usr/local/bin/|$(PREFIX)/bin/|' contrib/oci-hooks.d/cgfence.json > $(DESTDIR)$(HOOKSDIR)/cgfence.json
	chmod 0644 $(DESTDIR)$(HOOKSDIR)/cgfence.json
	for u in contrib/systemd/*.service; do \
		sed 's|/usr/local/bin/|$(PREFIX)/bin/|' $$u > $(DESTDIR)$(UNITDIR)/$${u##*/}; \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$${u##*/}; \
	done
	for p in policies/*.json; do \
		[ -e $(DESTDIR)$(POLICYDIR)/$${p##*/} ] || install -m 0644 $$p $(DESTDIR)$(POLICYDIR)/; \
	done

clean:
	rm -rf $(OUT)

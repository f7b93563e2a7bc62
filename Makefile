# reuseport-shim: SO_REUSEPORT for kernels that lack it, through LD_PRELOAD.
#
#   make            the library, the examples and the test programs
#   make demo       4 example servers share one port under the shim
#   make test       unit tests (cmocka), integration tests, the command
#   make bench      the shim against the kernel, side by side
#   make install    PREFIX=/usr/local DESTDIR=
#   make fuzz       libFuzzer on the record and configuration parsers
#   make portcheck  everything but platform.c is strict C11 + POSIX.1-2008
#   make clean

CC	?= cc
OS	:= $(shell uname -s)
B	:= build

WARN	:= -Wall -Wextra -Werror -Wmissing-prototypes -Wstrict-prototypes \
	   -Wshadow -Wpointer-arith -Wno-missing-field-initializers
OPT	?= -O2 -g
# Our sources are strict C11 + POSIX; only platform.c sees the OS's
# extensions.  No _FILE_OFFSET_BITS, _TIME_BITS or _XPG4_2 here: those make
# the system headers rename the functions we define.
STRICT	:= -std=c11 -D_POSIX_C_SOURCE=200809L
CFLAGS	+= $(OPT) $(WARN) -Iinclude -Ishim
SOFLAGS	:= -fPIC -fvisibility=hidden

ifeq ($(OS),SunOS)
# gcc and clang see the same feature macros: clang's Solaris target
# predefines four that illumos gcc does not (and a file's own #define of
# one would then be a redefinition).  _REENTRANT: errno is ___errno(),
# per thread, in every file.
FEATURES := -U_XOPEN_SOURCE -U__EXTENSIONS__ -U_LARGEFILE_SOURCE \
	   -U_LARGEFILE64_SOURCE -D_REENTRANT
LDSHARED := -shared -Wl,-M,mapfile
LIBS	:= -lsocket -lpthread
# interpose.c defines bind and getsockopt next to their __xnet_ names, so
# it is built without _XPG4_2 (which _POSIX_C_SOURCE=200809L implies
# there), where the length arguments are void *.
IFLAGS	:= $(FEATURES) -std=c11 -D__EXTENSIONS__ -DSHIM_VOID_LENP \
	   -DSHIM_INT_IOCTL
# Programs (examples, tests, bench): XPG7 for SCM_RIGHTS and the cmsg
# macros, with the extensions every Unix has (kill, getopt...).
PROGFLAGS := $(FEATURES) -std=c11 -D_XOPEN_SOURCE=700 -D__EXTENSIONS__
PROGLIBS := -lsocket -lnsl
else
FEATURES :=
LDSHARED := -shared -Wl,--version-script=mapfile -Wl,-z,defs
LIBS	:= -ldl -lpthread
IFLAGS	:= $(STRICT)
PROGFLAGS := -std=c11 -D_GNU_SOURCE
PROGLIBS :=
endif

SRCS	:= $(wildcard shim/*.c)
CORE	:= $(filter-out shim/interpose.c,$(SRCS))
OBJS	:= $(patsubst shim/%.c,$(B)/shim/%.o,$(SRCS))
COREOBJS := $(patsubst shim/%.c,$(B)/shim/%.o,$(CORE))
LIB	:= $(B)/libreuseport_shim.so

EXAMPLES := $(patsubst examples/%.c,$(B)/examples/%,$(filter-out examples/common.c,$(wildcard examples/*.c)))
TOOLS	:= $(B)/tests/loadclient $(B)/tests/probe
UNITS	:= $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(filter-out tests/unit/fakes.c,$(wildcard tests/unit/test_*.c)))

.PHONY: all cstyle deps deps-test illumos-check like-illumos test unit integration demo portcheck clean test-asan \
	test-valgrind test-compat
all: deps $(LIB) $(B)/rpshim-owner $(EXAMPLES) $(TOOLS) $(B)/reuseport-shim

# The library needs nothing beyond the C library; cmocka is for the unit
# tests only.
deps:
	@:
deps-test:
	@CC="$(CC)" sh tests/deps.sh cmocka

# Strict C11 + POSIX for every file of the library but two: platform.c
# (the operating system's extensions) and interpose.c (see IFLAGS).
flags_for = $(FEATURES) $(if $(filter shim/interpose.c,$(1)),$(IFLAGS),$(if \
	$(filter shim/platform.c,$(1)),-std=c11,$(STRICT)))

$(B)/shim/%.o: shim/%.c $(wildcard shim/*.h) include/reuseport_shim.h | deps
	@mkdir -p $(dir $@)
	$(CC) $(call flags_for,$<) $(CFLAGS) $(SOFLAGS) \
	    $(if $(filter shim/interpose.c,$<),-fvisibility=default) -c -o $@ $<

$(LIB): $(OBJS) mapfile
	$(CC) $(OPT) $(LDSHARED) -o $@ $(OBJS) $(LIBS)

$(B)/examples/%: examples/%.c examples/common.c examples/common.h
	@mkdir -p $(dir $@)
	$(CC) $(PROGFLAGS) $(OPT) $(WARN) -Iinclude -o $@ $< examples/common.c \
	    $(PROGLIBS)

$(B)/tests/loadclient: tests/tools/loadclient.c
	@mkdir -p $(dir $@)
	$(CC) $(PROGFLAGS) $(OPT) $(WARN) -o $@ $< $(PROGLIBS)

$(B)/tests/probe: tests/integration/probe.c include/reuseport_shim.h
	@mkdir -p $(dir $@)
	$(CC) $(PROGFLAGS) $(OPT) $(WARN) -Iinclude -o $@ $< $(PROGLIBS)

$(B)/tests/unit/%: tests/unit/%.c tests/unit/fakes.c tests/unit/fakes.h $(COREOBJS) | deps-test
	@mkdir -p $(dir $@)
	$(CC) $(FEATURES) $(STRICT) $(CFLAGS) -Wno-missing-prototypes -o $@ $< tests/unit/fakes.c $(COREOBJS) -lcmocka $(LIBS)

unit: all $(UNITS)
	@sh tests/unit/run.sh $(UNITS)

integration: all
	@bash tests/integration/run.sh

# The integration suite runs twice: on the Linux build, and on one that
# takes illumos's paths wherever Linux can execute them (platform.c,
# PLAT_LIKE_ILLUMOS: event ports' one-shot poller, shm_open, accept
# inheriting O_NONBLOCK, close-on-exec after receipt, fork).
LIKE_B	:= build-like-illumos
like-illumos:
	@$(MAKE) --no-print-directory -s B=$(LIKE_B) \
	    OPT="$(OPT) -DPLAT_LIKE_ILLUMOS" all

test: all $(UNITS) like-illumos cstyle
	@LIKE_BUILD=$(CURDIR)/$(LIKE_B) bash tests/run.sh $(UNITS)

demo: all
	@bash examples/demo.sh

# The unit and integration tests again, with the library, the examples
# and the tests built with AddressSanitizer and UndefinedBehaviorSanitizer.
# Programs under the shim get the ASan runtime preloaded ahead of it;
# leak checking stays with the unit tests (python, under the preload,
# has leaks of its own to report).
ASAN_B	:= build-asan
SAN	:= -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	   -fno-sanitize-recover=undefined
test-asan:
	@$(MAKE) --no-print-directory B=$(ASAN_B) OPT="$(SAN)" all \
	    $(patsubst $(B)/%,$(ASAN_B)/%,$(UNITS))
	@sh tests/unit/run.sh $(patsubst $(B)/%,$(ASAN_B)/%,$(UNITS))
	@TEST_BUILD=$(CURDIR)/$(ASAN_B) \
	    TEST_PRELOAD=$$($(CC) -print-file-name=libasan.so) \
	    ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    bash tests/integration/run.sh

# Everything but platform.c must compile as strict C11 + POSIX.1-2008, and
# name no operating system: that is what keeps the illumos build honest
# without an illumos machine.
portcheck: deps
	@for f in $(filter-out shim/platform.c,$(SRCS)); do \
	    $(CC) $(STRICT) -pedantic $(WARN) -Iinclude -Ishim -fsyntax-only $$f || exit 1; \
	done
	@if grep -nE '__linux__|__sun|__GLIBC__|_GNU_SOURCE|__EXTENSIONS__' \
	    $(filter-out shim/platform.c,$(SRCS)) shim/*.h; then \
	    echo "portcheck: OS-specific names outside shim/platform.c"; exit 1; fi
	@echo "portcheck: ok ($(words $(SRCS)) files)"

# The illumos branch of this Makefile, built against illumos's headers
# (ILLUMOS_INC) as gcc and as clang see them, each link checked against
# what illumos's libraries export; SKIP when the headers are absent.
ILLUMOS_INC ?= ../shared/illumos/include
illumos-check:
	@sh tests/illumos/check.sh "$(ILLUMOS_INC)"

# The mechanical part of illumos's cstyle over the shipped sources; and
# a line with each fault it checks must still be refused.
cstyle:
	@awk -f tests/cstyle.awk shim/*.c shim/*.h include/*.h tools/*.c
	@printf '%b\n' '        x = 1;' 'if(x) {' '\treturn x;' '\ty = 1; ' \
	    '\t// c' '\tf(a,b);' '\tif (x){' '\t}else {' '\t}' '\telse {' \
	    '\tx = 0123456789012345678901234567890123456789012345678901234567890123456789;' | \
	    awk -f tests/cstyle.awk | awk -F': ' '{ print $$2 }' | sort -u | \
	    { [ "$$(wc -l)" -ge 10 ] || { echo "cstyle: the checker misses a fault"; exit 1; }; }
	@echo "cstyle: ok"

# The kernel-oracle probes under the shim, run by valgrind's memcheck.
test-valgrind: all
	@bash tests/valgrind.sh

# Builds in one group, as in a rolling restart after an upgrade: members
# and owners of this tree's build and of older ones built from git
# (COMPAT_REVS, default "3204037 66bbdec"), each way round.  One to two
# minutes; not part of make test.
test-compat: all
	@CC="$(CC)" bash tests/compat.sh

clean:
	rm -rf $(B) $(ASAN_B) $(LIKE_B) build-illumos-gcc build-illumos-clang

# --- fuzzing -----------------------------------------------------------------
# libFuzzer targets for the record parser and the environment parser, with
# ASan and UBSan (any UB aborts).  Built only by these targets, never by
# `make`; they need clang with libFuzzer (Debian: libclang-rt-14-dev).
#
#   make fuzz                      each target for FUZZ_SECONDS (30), at once
#   make fuzz-long FUZZ_SECONDS=N  the long run (default 3600 s per target)
#   make fuzz-seeds                rewrite tests/fuzz/corpus/ with mkseeds
#
# Corpora grow in $(B)/fuzz/corpus/, seeded from tests/fuzz/corpus/;
# a crash's input lands in $(B)/fuzz/artifacts/.  FUZZ_FLAGS passes
# libFuzzer options (e.g. FUZZ_FLAGS=-only_ascii=1).
FUZZ_CC		?= clang
FUZZ_SECONDS	?= 30
FUZZ_LONG	:= $(if $(filter command line environment,$(origin FUZZ_SECONDS)),$(FUZZ_SECONDS),3600)
FUZZ_SAN	:= -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_SHIM	:= proto config log platform real
FUZZ_OBJS	:= $(patsubst %,$(B)/fuzz/obj/%.o,$(FUZZ_SHIM)) $(B)/fuzz/obj/fuzz_stubs.o
FUZZ_TARGETS	:= $(B)/fuzz/fuzz_proto $(B)/fuzz/fuzz_config

.PHONY: fuzz fuzz-long fuzz-build fuzz-seeds

# Each shim file with the flags the library uses for it (platform.c alone
# is not strict POSIX); -Werror only for the fuzz sources: another
# compiler's warnings in shim/ should not stop the fuzzer.
$(B)/fuzz/obj/%.o: shim/%.c $(wildcard shim/*.h) include/reuseport_shim.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(call flags_for,$<) $(FUZZ_SAN) $(filter-out -Werror,$(WARN)) -Iinclude -Ishim -c -o $@ $<

$(B)/fuzz/obj/fuzz_stubs.o: tests/fuzz/fuzz_stubs.c shim/shim.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(STRICT) $(FUZZ_SAN) $(WARN) -Iinclude -Ishim -c -o $@ $<

$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS)
	$(FUZZ_CC) $(STRICT) $(FUZZ_SAN) $(WARN) -Iinclude -Ishim -o $@ $< $(FUZZ_OBJS) $(LIBS)

fuzz-build: $(FUZZ_TARGETS)

fuzz: fuzz-build
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(B)/fuzz proto config

fuzz-long: fuzz-build
	@sh tests/fuzz/run.sh $(FUZZ_LONG) $(B)/fuzz proto config

$(B)/fuzz/mkseeds: tests/fuzz/mkseeds.c $(FUZZ_OBJS)
	$(FUZZ_CC) $(STRICT) -g -O1 -fsanitize=address,undefined $(WARN) -Iinclude -Ishim \
	    -o $@ $< $(FUZZ_OBJS) $(LIBS)

fuzz-seeds: $(B)/fuzz/mkseeds
	rm -rf tests/fuzz/corpus/proto tests/fuzz/corpus/config
	mkdir -p tests/fuzz/corpus/proto tests/fuzz/corpus/config
	$(B)/fuzz/mkseeds tests/fuzz/corpus/proto tests/fuzz/corpus/config

# --- benchmark ---------------------------------------------------------------
# Kernel SO_REUSEPORT vs the shim (each policy) vs a shared listener vs a
# single acceptor, then UDP groups (the kernel's against each of the
# shim's ways), alternating over rounds; prints the tables and writes
# them to bench/RESULTS.md.  Takes about 7 minutes; BENCH_QUICK=1 about 1.5
# (BENCH_ONLY=udp: the UDP tables alone, about 75 s; quick about 15).
# Only a full run (no BENCH_QUICK, BENCH_ONLY or BENCH_POLICIES) writes it.
# Knobs (environment or make variables): see the top of bench/run.sh.
BENCH_BINS	:= $(B)/bench/worker $(B)/bench/client $(B)/bench/udpworker \
		   $(B)/bench/udpclient

.PHONY: bench

$(B)/bench/%: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(PROGFLAGS) $(OPT) $(WARN) -o $@ $< $(PROGLIBS) -lpthread

bench: all $(BENCH_BINS)
	@BENCH_MD=bench/RESULTS.md bash bench/run.sh

# --- command, man pages, install ---------------------------------------------
# build/reuseport-shim (tools/) links the library's core objects: it
# validates with the library's own parsers and speaks its wire records,
# so the two cannot drift apart.
#
#   make install   [PREFIX=/usr/local] [DESTDIR=]
#   make uninstall [PREFIX=/usr/local] [DESTDIR=]
#   make tool-test  tests/tool_test.sh: the command, install, man pages
#
# The installed command finds the library as ../lib/libreuseport_shim.so
# from its own directory, so bin and lib stay siblings under PREFIX.
CMD		:= $(B)/reuseport-shim
PREFIX		?= /usr/local
SHIM_VERSION	?= 0.1
BINDIR		= $(PREFIX)/bin
LIBDIR		= $(PREFIX)/lib
INCDIR		= $(PREFIX)/include
MAN1DIR		= $(PREFIX)/share/man/man1
MAN7DIR		= $(PREFIX)/share/man/man7
PCDIR		= $(LIBDIR)/pkgconfig
INSTALLED	= $(BINDIR)/reuseport-shim $(LIBDIR)/libreuseport_shim.so \
		  $(LIBDIR)/rpshim-owner $(INCDIR)/reuseport_shim.h $(MAN1DIR)/reuseport-shim.1 \
		  $(MAN7DIR)/reuseport-shim.7 $(PCDIR)/reuseport-shim.pc

.PHONY: install uninstall tool-test

# The owner's program, beside the library (the library looks for it
# there, and forks the owner instead where it is missing).
$(B)/rpshim-owner: tools/rpshim-owner.c $(COREOBJS) $(wildcard shim/*.h)
	$(CC) $(FEATURES) $(STRICT) $(CFLAGS) -o $@ tools/rpshim-owner.c $(COREOBJS) $(LIBS)

$(CMD): tools/reuseport-shim.c $(COREOBJS) $(wildcard shim/*.h) include/reuseport_shim.h
	$(CC) $(FEATURES) $(STRICT) $(CFLAGS) -DSHIM_VERSION='"$(SHIM_VERSION)"' \
	    -o $@ tools/reuseport-shim.c $(COREOBJS) $(LIBS)

# The prefix is the one asked for now, so the file is made at each install.
$(B)/reuseport-shim.pc: reuseport-shim.pc.in FORCE
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(SHIM_VERSION)|g' \
	    reuseport-shim.pc.in > $@

.PHONY: FORCE
FORCE:

# Copied under a temporary name, then renamed: writing over the library
# in place would corrupt it under every process that has it mapped.
install_file = cp $(1) "$(DESTDIR)$(3).tmp" && chmod $(2) "$(DESTDIR)$(3).tmp" && \
	mv -f "$(DESTDIR)$(3).tmp" "$(DESTDIR)$(3)"

install: $(LIB) $(B)/rpshim-owner $(CMD) $(B)/reuseport-shim.pc
	mkdir -p "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(LIBDIR)" "$(DESTDIR)$(INCDIR)" \
	    "$(DESTDIR)$(MAN1DIR)" "$(DESTDIR)$(MAN7DIR)" "$(DESTDIR)$(PCDIR)"
	$(call install_file,$(CMD),755,$(BINDIR)/reuseport-shim)
	$(call install_file,$(LIB),755,$(LIBDIR)/libreuseport_shim.so)
	$(call install_file,$(B)/rpshim-owner,755,$(LIBDIR)/rpshim-owner)
	$(call install_file,include/reuseport_shim.h,644,$(INCDIR)/reuseport_shim.h)
	$(call install_file,man/reuseport-shim.1,644,$(MAN1DIR)/reuseport-shim.1)
	$(call install_file,man/reuseport-shim.7,644,$(MAN7DIR)/reuseport-shim.7)
	$(call install_file,$(B)/reuseport-shim.pc,644,$(PCDIR)/reuseport-shim.pc)

# Files only: the directories may hold other packages' files.
uninstall:
	rm -f $(patsubst %,"$(DESTDIR)%",$(INSTALLED))

tool-test: all
	@bash tests/tool_test.sh

# reuseport-shim: SO_REUSEPORT for kernels that lack it, through LD_PRELOAD.
#
#   make            the library, the examples and the test programs
#   make demo       4 example servers share one port under the shim
#   make test       unit tests (cmocka) and integration tests
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
LDSHARED := -shared -Wl,-M,mapfile
LIBS	:= -lsocket -lpthread
# recvmsg with msg_control is the XPG4.2 one on illumos (__xnet_recvmsg);
# the files that pass fds use it, and define no interposed name.
XPGFILES := shim/proto.c shim/owner.c
XPG	:= -std=c11 -D_XOPEN_SOURCE=700
else
LDSHARED := -shared -Wl,--version-script=mapfile -Wl,-z,defs
LIBS	:= -ldl -lpthread
XPGFILES :=
endif

SRCS	:= $(wildcard shim/*.c)
CORE	:= $(filter-out shim/interpose.c,$(SRCS))
OBJS	:= $(patsubst shim/%.c,$(B)/shim/%.o,$(SRCS))
COREOBJS := $(patsubst shim/%.c,$(B)/shim/%.o,$(CORE))
LIB	:= $(B)/libreuseport_shim.so

EXAMPLES := $(patsubst examples/%.c,$(B)/examples/%,$(filter-out examples/common.c,$(wildcard examples/*.c)))
TOOLS	:= $(B)/tests/loadclient $(B)/tests/probe
UNITS	:= $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(filter-out tests/unit/fakes.c,$(wildcard tests/unit/test_*.c)))

.PHONY: all deps test unit integration demo portcheck clean
all: deps $(LIB) $(EXAMPLES) $(TOOLS)

# uthash (the fd table) and cmocka (unit tests) come from the system.
deps:
	@sh tests/deps.sh

$(B)/shim/%.o: shim/%.c $(wildcard shim/*.h) include/reuseport_shim.h | deps
	@mkdir -p $(dir $@)
	$(CC) $(if $(filter $<,$(XPGFILES)),$(XPG),$(if $(filter shim/platform.c,$<),-std=c11,$(STRICT))) \
	    $(CFLAGS) $(SOFLAGS) $(if $(filter shim/interpose.c,$<),-fvisibility=default) -c -o $@ $<

$(LIB): $(OBJS) mapfile
	$(CC) $(LDSHARED) -o $@ $(OBJS) $(LIBS)

$(B)/examples/%: examples/%.c examples/common.c examples/common.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -Iinclude -o $@ $< examples/common.c

$(B)/tests/loadclient: tests/tools/loadclient.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -o $@ $<

$(B)/tests/probe: tests/integration/probe.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -o $@ $<

$(B)/tests/unit/%: tests/unit/%.c tests/unit/fakes.c tests/unit/fakes.h $(COREOBJS)
	@mkdir -p $(dir $@)
	$(CC) $(STRICT) $(CFLAGS) -Wno-missing-prototypes -o $@ $< tests/unit/fakes.c $(COREOBJS) -lcmocka $(LIBS)

unit: all $(UNITS)
	@sh tests/unit/run.sh $(UNITS)

integration: all
	@bash tests/integration/run.sh

test: unit integration

demo: all
	@bash examples/demo.sh

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

clean:
	rm -rf $(B)

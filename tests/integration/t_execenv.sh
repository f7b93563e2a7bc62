# The shim kept across exec (shim/exec.c): a process holding an endpoint
# that survives exec, whose new environment dropped the shim, still gives
# the new program the shim, so that it recognises the endpoint; one that
# holds none execs with its environment untouched.

# The program exec'd: accepts on the inherited fd argv[1], answers each
# connection with its pid; "env <names>" first, then "ready <pid>".
PY_EXECENV_NEW='
import os, socket, sys
s = socket.socket(fileno=int(sys.argv[1]))
print("env", " ".join(sorted(k for k in os.environ if k.startswith(("LD_", "REUSEPORT_")))), flush=True)
print("ready", os.getpid(), flush=True)
while True:
    c, _ = s.accept()
    c.sendall(b"%d\n" % os.getpid())
    c.close()
'

# A member that listens with SO_REUSEPORT, prints "port <n>", makes the
# listener inheritable and execs argv[3] (python code) with the fd number.
# argv[1]: execve (an empty environment), execv (environ, less
# LD_PRELOAD), fexecve (os.execve of an fd, {}), spawn (posix_spawn, {}:
# the child accepts, this process closes its copy and waits, passing
# SIGTERM on), cloexec (execve, {}, the listener left close-on-exec:
# argv[2] is a program path run with no arguments), many (execve with
# 1,100 variables: no room).
PY_EXECENV_OLD='
import os, socket, sys
how, new = sys.argv[1], sys.argv[2]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("127.0.0.1", 0))
s.listen(64)
print("port", s.getsockname()[1], flush=True)
args = [sys.executable, "-c", new, str(s.fileno())]
if how == "cloexec":
    os.execve(new, [new], {})
os.set_inheritable(s.fileno(), True)
if how == "execve":
    os.execve(sys.executable, args, {})
elif how == "fexecve":
    os.execve(os.open(sys.executable, os.O_RDONLY), args, {})
elif how == "spawn":
    import signal
    pid = os.posix_spawn(sys.executable, args, {})
    s.close()
    signal.signal(signal.SIGTERM, lambda *a: os.kill(pid, signal.SIGTERM))
    os.waitpid(pid, 0)
elif how == "keptpre":
    os.execve(sys.executable, args, {"LD_PRELOAD": os.environ["LD_PRELOAD"],
                                     "REUSEPORT_SHIM_MODE": "emulate"})
elif how == "many":
    os.execve(new, [new], {"V%d" % i: "x" for i in range(1100)})
else:
    del os.environ["LD_PRELOAD"]
    os.execv(sys.executable, args)
'

# xe_serve HOW LAUNCHER...: the member (under LAUNCHER) execs the
# accepting program, which must serve 200 connections on the inherited
# endpoint.
xe_serve() {
	local how=$1 line
	shift
	need_python
	start_server x "$@" "$PYTHON" -c "$PY_EXECENV_OLD" \
	    "$how" "$PY_EXECENV_NEW" || return
	expect_port x || return
	read_line x line || { fail "$how: the new program said nothing: $READ_WHY$(server_err x)"; return; }
	note "$how: the new program's $line"
	expect_ready x 1 || return
	run_load "$how" 127.0.0.1 "$PORT" 200 4
	check_balance "$how" 1 200 || note "stderr: $(head -3 "$TDIR/x.err" | tr '\n' ' ')"
	stop_server x
}

# (a) execve with an empty environment.
t_execenv_empty() { xe_serve execve "${SHIM[@]}"; }

# (b) execv after the program removed LD_PRELOAD from its environ.
t_execenv_execv() { xe_serve execv "${SHIM[@]}"; }

xe_xdg_clean() { [ -z "$(find "$TDIR/xdg" -type s)" ]; }

# fexecve and posix_spawn: glibc's own reach the kernel by an internal
# execve, and are wrapped each.
t_execenv_fexecve() { xe_serve fexecve "${SHIM[@]}"; }
t_execenv_spawn() { xe_serve spawn "${SHIM[@]}"; }

# (a) again where the group's directory came from XDG_RUNTIME_DIR, which
# the empty environment drops too: REUSEPORT_SHIM_DIR is added for it.
# xe_xdg HOW: xe_serve HOW with the group's directory chosen through
# XDG_RUNTIME_DIR (no REUSEPORT_SHIM_DIR), and no socket left there after.
xe_xdg() {
	local a launch=(env)
	mkdir -p "$TDIR/xdg" && chmod 700 "$TDIR/xdg"
	for a in "${SHIM[@]:1}"; do
		[[ $a == REUSEPORT_SHIM_DIR=* ]] || launch+=("$a")
	done
	xe_serve "$1" "${launch[@]}" "XDG_RUNTIME_DIR=$TDIR/xdg"
	# The runner looks for leftovers in $SHIMDIR only: this group's own.
	poll_until "$GONE_MS" xe_xdg_clean ||
	    fail "$1: the owner's socket is still there 3 s after the member stopped: $(find "$TDIR/xdg" -type s)"
}

t_execenv_xdg() { xe_xdg execve; }

# nginx with only "env LD_PRELOAD;": the shim is still named, but the
# directory came from XDG_RUNTIME_DIR, which is gone: REUSEPORT_SHIM_DIR
# goes along, or the new program would look elsewhere and bind for real.
t_execenv_keptpre() { xe_xdg keptpre; }

# (c) no endpoint survives (none held; one held but close-on-exec): the
# empty environment stays empty.
t_execenv_untouched() {
	local envp out
	need_python
	envp=$(type -P env) || skip "no env(1)"
	out=$(timeout 10 "${SHIM[@]}" "$PYTHON" -c \
	    'import os, sys; os.execve(sys.argv[1], [sys.argv[1]], {})' \
	    "$envp" 2>"$TDIR/none.err")
	[ -z "$out" ] ||
	    fail "no endpoint: exec'd with an empty environment, env(1) printed: $(echo $out)"
	out=$(timeout 10 "${SHIM[@]}" "$PYTHON" -c "$PY_EXECENV_OLD" cloexec \
	    "$envp" 2>"$TDIR/cloexec.err")
	[ "$(echo "$out" | sed 1d)" = "" ] ||
	    fail "close-on-exec endpoint: env(1) printed: $(echo "$out" | sed 1d | tr '\n' ' ')"
	[ "${out%% *}" = port ] ||
	    fail "close-on-exec endpoint: no port line: '$out' $(head -3 "$TDIR/cloexec.err")"
}

# Where the shim cannot be put back (an environment larger than its
# room), one error line names the cause and the fix, before the exec.
t_execenv_noroom() {
	local tru out
	need_python
	tru=$(type -P true) || skip "no true(1)"
	out=$(timeout 10 "${SHIM[@]}" "$PYTHON" -c "$PY_EXECENV_OLD" many \
	    "$tru" 2>"$TDIR/many.err")
	grep -q "error: exec of $tru: .*cannot be put back.*env LD_PRELOAD" \
	    "$TDIR/many.err" ||
	    fail "no error line naming the cause and the fix: $(head -3 "$TDIR/many.err" | tr '\n' ' ')"
	[ "$(grep -c . "$TDIR/many.err")" = 1 ] ||
	    fail "want one line on stderr, got: $(head -5 "$TDIR/many.err" | tr '\n' ' ')"
	note "$(cut -c1-200 "$TDIR/many.err")"
}

# (d) nginx's binary upgrade without the env lines, under load: the new
# master gets the shim from the old one, takes over the endpoints, and
# no request fails.  The helpers are t_daemons.sh's.
t_execenv_nginx() {
	local ng=/usr/sbin/nginx line old new owner bad
	[ -x "$ng" ] || skip "nginx not installed ($ng; Debian package nginx-light)"
	need_python
	trap dm_cleanup EXIT
	DM_NGX=$TDIR/nginx
	DM_CTX=dm_ngx_ctx
	mkdir -p "$DM_NGX"
	PORT=$(dm_free_port) || { fail "no free port"; return; }
	dm_ngx_conf "$PORT" | grep -v '^env ' >"$DM_NGX/nginx.conf"
	grep -q '^env' "$DM_NGX/nginx.conf" && { fail "env lines left in the conf"; return; }

	start_server ng sh -c "$DM_NGX_LAUNCH" sh "$DM_NGX/nginx.pid" \
	    "${SHIM[@]}" REUSEPORT_SHIM_LOG=info "$ng" -p "$DM_NGX/" \
	    -e "$DM_NGX/error.log" -c "$DM_NGX/nginx.conf" || return
	if ! read_line ng line || [ "${line%% *}" != master ]; then
		fail "nginx did not start: ${line:-$READ_WHY}$(dm_ngx_ctx)"
		return
	fi
	old=${line#master }
	poll_until 5000 dm_nchildren "$old" 4 ||
	    { fail "nginx: 4 workers not up within 5 s$(dm_ngx_ctx)"; return; }
	dm_ngx_serves start "$old" || return
	owner=$(the_owners)

	dm_ngx_upgrade "$old" "$owner" || return
	new=$DM_NEW
	line=$(cat "$DM_NGX/error.log" "$TDIR/ng.err" 2>/dev/null |
	    grep "exec of $ng: .*lacks the shim: added" | head -1)
	[ -n "$line" ] || fail "no info line saying the shim was put back$(dm_ngx_ctx)"
	note "${line#*info: }"
	bad=$(grep -E '\[(crit|alert|emerg)\]' "$DM_NGX/error.log" | head -3 | tr '\n' ' ')
	[ -z "$bad" ] || fail "nginx logged: $bad"
	kill -QUIT "$new"
	poll_until 10000 group_gone "${SRV_PID[ng]}" ||
	    fail "nginx still running 10 s after SIGQUIT"
}

# A member's options across exec: they live on its shadow (a hidden,
# close-on-exec socket), which exec keeps open and names in
# REUSEPORT_SHIM_SHADOWS for the new program.  Without it the inherited
# listener read SO_KEEPALIVE 0 and accepted sockets lost TCP_NODELAY
# (nginx's binary upgrade).  The new program (argv[1] the listener, argv[2]
# a dup of it, argv[3] the port, argv[4] an fd to close, or -1) prints the
# three options on a fresh socket, on the listener, on the dup, on a
# connection it accepted (after closing the dup: one shadow for both, not
# closed with it), whether the variable reached its environment, and
# whether argv[4] could be closed (the shim hides its own fds).
PY_SHADOW_NEW='
import os, socket, sys
T = socket.IPPROTO_TCP
OPTS = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE), (T, socket.TCP_NODELAY),
        (T, socket.TCP_KEEPIDLE)]
def opts(s):
    return " ".join(str(s.getsockopt(l, n)) for l, n in OPTS)
print("fresh", opts(socket.socket()), flush=True)
s = socket.socket(fileno=int(sys.argv[1]))
d = socket.socket(fileno=int(sys.argv[2]))
print("listener", opts(s), flush=True)
print("dup", opts(d), flush=True)
d.close()
c = socket.create_connection(("127.0.0.1", int(sys.argv[3])))
a, _ = s.accept()
print("accepted", opts(a), flush=True)
print("after", opts(s), flush=True)
print("env", int(any(k.endswith("SHADOWS") for k in os.environ)), flush=True)
if int(sys.argv[4]) >= 0:
    os.close(int(sys.argv[4]))
    print("closed", flush=True)
'

# argv[1]: execv (its environment as it is), execve (one without the
# shim, as nginx makes it, with a stale REUSEPORT_SHIM_SHADOWS), spawn
# (posix_spawn, then how many of this process's fds, beyond those it was
# given and the listener's, are inheritable: a shadow must be close-on-exec
# again), forged
# (env(1) without the shim's mode, so that it passes on what it is given,
# names a pipe as the listener's shadow); argv[2] the new program.
PY_SHADOW_OLD='
import os, socket, sys
how, new = sys.argv[1], sys.argv[2]
def inheritable():
    r = set()
    for f in os.listdir("/proc/self/fd"):
        try:
            with open("/proc/self/fdinfo/" + f) as i:
                fl = [l for l in i if l.startswith("flags:")][0]
        except OSError:
            continue
        if not int(fl.split()[1], 8) & 0o2000000:
            r.add(int(f))
    return r
before = inheritable()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 77)
s.bind(("127.0.0.1", 0))
s.listen(64)
d = os.dup(s.fileno())
os.set_inheritable(s.fileno(), True)
os.set_inheritable(d, True)
args = [sys.executable, "-c", new, str(s.fileno()), str(d),
        str(s.getsockname()[1])]
if how == "execve":
    os.execve(sys.executable, args + ["-1"],
              {"REUSEPORT_SHIM_SHADOWS": "%d:0,%d:1" % (s.fileno(), d)})
elif how == "forged":
    r, w = os.pipe()
    os.set_inheritable(r, True)
    e = dict(os.environ, REUSEPORT_SHIM_MODE="off")
    os.execve(sys.argv[3], [sys.argv[3], "REUSEPORT_SHIM_MODE=emulate",
              "REUSEPORT_SHIM_SHADOWS=%d:%d" % (s.fileno(), r)] +
              args + [str(r)], e)
elif how == "spawn":
    pid = os.posix_spawn(sys.executable, args + ["-1"], os.environ)
    os.waitpid(pid, 0)
    print("parent", len(inheritable() - before - {s.fileno(), d}),
          flush=True)
    sys.exit(0)
os.execv(sys.executable, args + ["-1"])
'

# The first lines a run of the shadow's programs wrote on stderr.
xe_err() { head -3 "$TDIR/$1.err" | tr '\n' ' '; }

# xe_shadow LABEL LAUNCHER...: the old program under LAUNCHER, execv,
# execve and spawn: every option as set, everywhere, and no variable left
# (natively the stale one stays: that line is the shim's alone).
xe_shadow() {
	local label=$1 how out want w
	shift
	want="listener 1 1 77
dup 1 1 77
accepted 1 1 77
after 1 1 77"
	[ "$label" = native ] || want="$want
env 0"
	for how in execv execve spawn; do
		out=$(timeout 20 "$@" "$PYTHON" -c "$PY_SHADOW_OLD" "$how" \
		    "$PY_SHADOW_NEW" 2>"$TDIR/shadow-$how.err" | sed 1d)
		[ "$label" = native ] && out=$(echo "$out" | grep -v '^env')
		w=$want
		[ "$how" = spawn ] && w="$want
parent 0"
		[ "$out" = "$w" ] || fail "$label, $how: want '$(echo $w)'," \
		    "got '$(echo $out)' $(xe_err "shadow-$how")"
	done
}

# A shadow named by a forged variable (a pipe) is left alone, with a
# warning: the listener works, with a fresh socket's options, and the
# pipe is the program's to close.
xe_shadow_forged() {
	local envp out fresh want
	envp=$(type -P env) ||
	    { note "no env(1): forged case not run"; return; }
	out=$(timeout 20 "${SHIM[@]}" REUSEPORT_SHIM_LOG=warn "$PYTHON" -c \
	    "$PY_SHADOW_OLD" forged "$PY_SHADOW_NEW" "$envp" \
	    2>"$TDIR/shadow-forged.err")
	fresh=$(echo "$out" | sed -n 's/^fresh //p')
	want="listener $fresh
dup $fresh
accepted $fresh
after $fresh
env 0
closed"
	[ -n "$fresh" ] && [ "$(echo "$out" | sed 1d)" = "$want" ] ||
	    fail "forged: want '$(echo $want)', got '$(echo $out)'" \
	    "$(xe_err shadow-forged)"
	grep -q "warn: REUSEPORT_SHIM_SHADOWS names fd [0-9]* as the shadow of \
shared listener [0-9]*, but it is not one" "$TDIR/shadow-forged.err" ||
	    fail "forged: no warning naming the variable:" \
	    "$(xe_err shadow-forged)"
}

t_execenv_shadow() {
	need_python
	xe_shadow native env
	failed && return
	xe_shadow "under the shim" "${SHIM[@]}"
	xe_shadow_forged
}

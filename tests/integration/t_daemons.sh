# Real daemons under the shim: nginx (workers, reload, binary upgrade),
# two gunicorn masters on one port, and asyncio servers in separate
# processes.  Every server answers HTTP with its pid, so a python client
# (never under the shim) counts who served what.

# HTTP client.  usage: PORT count N | PORT until STOPFILE MAXSEC
# Four threads, one connection per request ("Connection: close").
# Output: "answered A failed F", "pid P N" per pid, "error N MSG (first
# at T ms)" per distinct error, and in "until" mode "ran T ms, stopped by
# file|time limit".  The "until" mode is the background loop a test stops
# by creating STOPFILE; MAXSEC bounds it if the test never does; it writes
# the number of requests done so far to STOPFILE.progress.
PY_HTTPLOAD='
import collections, http.client, os, sys, threading, time
port, mode = int(sys.argv[1]), sys.argv[2]
CONC = 4
counts, errors, first = collections.Counter(), collections.Counter(), {}
lock = threading.Lock()
t0 = time.monotonic()
def one():
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            c.request("GET", "/", headers={"Connection": "close"})
            r = c.getresponse()
            body = r.read().decode("ascii", "replace").strip()
        finally:
            c.close()
        if r.status != 200 or not body.isdigit():
            raise RuntimeError("HTTP %d body %r" % (r.status, body[:40]))
        with lock:
            counts[body] += 1
    except Exception as e:
        msg = "%s: %s" % (type(e).__name__, e)
        with lock:
            errors[msg] += 1
            first.setdefault(msg, int((time.monotonic() - t0) * 1000))
def by_count(n):
    for _ in range(n):
        one()
def until(stop, end):
    while not os.path.exists(stop) and time.monotonic() < end:
        one()
        with lock:
            n = sum(counts.values()) + sum(errors.values())
            if n % 20 == 0:
                with open(stop + ".n", "w") as f:
                    f.write("%d\n" % n)
                os.replace(stop + ".n", progress)
if mode == "count":
    n = int(sys.argv[3])
    jobs = [(by_count, (n // CONC + (i < n % CONC),)) for i in range(CONC)]
else:
    stop, end = sys.argv[3], t0 + float(sys.argv[4])
    progress = stop + ".progress"
    jobs = [(until, (stop, end))] * CONC
ts = [threading.Thread(target=f, args=a) for f, a in jobs]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("answered", sum(counts.values()), "failed", sum(errors.values()))
for p, n in sorted(counts.items()):
    print("pid", p, n)
for m, n in errors.most_common(5):
    print("error", n, m, "(first at %d ms)" % first[m])
if mode != "count":
    print("ran %d ms, stopped by %s" % ((time.monotonic() - t0) * 1000,
        "file" if os.path.exists(stop) else "time limit"))
'

# A free TCP port on 127.0.0.1 (bound to port 0, read, closed).
dm_free_port() {
	"$PYTHON" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# dm_http TAG PORT N: N requests, results in $TDIR/TAG.http.
dm_http() {
	"$PYTHON" -c "$PY_HTTPLOAD" "$2" count "$3" >"$TDIR/$1.http" 2>&1
}

# dm_loop_start TAG PORT: the background request loop (at most 20 s);
# dm_loop_stop TAG ends it and waits for its report.
declare -A DM_LOOP
dm_loop_start() {
	rm -f "$TDIR/$1.stop" "$TDIR/$1.stop.progress"
	"$PYTHON" -c "$PY_HTTPLOAD" "$2" until "$TDIR/$1.stop" 20 \
	    >"$TDIR/$1.http" 2>&1 &
	DM_LOOP[$1]=$!
}
# dm_loop_done TAG: requests the loop has made so far.
dm_loop_done() {
	local n=0
	[ -s "$TDIR/$1.stop.progress" ] && read -r n <"$TDIR/$1.stop.progress"
	echo "${n:-0}"
}
dm_loop_past() { [ "$(dm_loop_done "$1")" -ge "$2" ]; }

# dm_loop_more TAG N: wait (bounded) until the loop made N more requests.
dm_loop_more() {
	local want=$(($(dm_loop_done "$1") + $2))
	poll_until 10000 dm_loop_past "$1" "$want" ||
	    fail "$1: request loop made $(dm_loop_done "$1") of $want requests within 10 s (stuck?)"
}
dm_loop_stop() {
	[ -n "${DM_LOOP[$1]:-}" ] || return 0
	: >"$TDIR/$1.stop"
	wait "${DM_LOOP[$1]}"
	DM_LOOP[$1]=""
}

# On any exit of the test (failure included): no request loop outlives it.
# (Servers are in start_server's process groups: the runner kills those.)
dm_cleanup() {
	local t
	for t in "${!DM_LOOP[@]}"; do
		[ -n "${DM_LOOP[$t]}" ] || continue
		: >"$TDIR/$t.stop"
		kill "${DM_LOOP[$t]}" 2>/dev/null
	done
}

dm_counts() {
	awk '$1 == "pid" { printf "%s%s:%s", sep, $2, $3; sep = " " }' "$TDIR/$1.http"
}

# The pids that answered, sorted, space-separated.
dm_pids() {
	awk '$1 == "pid" { print $2 }' "$TDIR/$1.http" | sort -n | tr '\n' ' '
}

# Extra context for failure messages (set by the nginx case).
DM_CTX=""

# dm_check TAG [N]: every request answered (N of them, if given).
dm_check() {
	local a f
	read -r _ a _ f < <(grep '^answered ' "$TDIR/$1.http")
	if [ -z "${a:-}" ] || [ "$f" != 0 ] || { [ -n "${2:-}" ] && [ "$a" != "$2" ]; }; then
		fail "$1: answered ${a:-?} failed ${f:-?}${2:+ of $2}: $(grep -v '^pid ' "$TDIR/$1.http" | head -6 | tr '\n' ' ')${DM_CTX:+$($DM_CTX)}"
		return 1
	fi
}

# dm_served_by TAG WHAT PID...: at least one of the PIDs answered in TAG.
dm_served_by() {
	local tag=$1 what=$2 p got
	shift 2
	got=$(dm_pids "$tag")
	for p in "$@"; do
		case " $got " in *" $p "*) return 0 ;; esac
	done
	fail "$tag: none of $what ($*) answered: $(dm_counts "$tag")"
	return 1
}

# Child pids of a process, sorted, space-separated.
dm_children() {
	ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' ' | sort -n | tr '\n' ' '
}

dm_nchildren() { [ "$(ps -o pid= --ppid "$1" 2>/dev/null | wc -l)" -eq "$2" ]; }

# dm_fresh_children PID N OLD...: PID has exactly N children, none of them
# in OLD (the workers were replaced).
dm_fresh_children() {
	local m=$1 n=$2 c
	shift 2
	dm_nchildren "$m" "$n" || return 1
	for c in $(dm_children "$m"); do
		case " $* " in *" $c "*) return 1 ;; esac
	done
}

# ---------------------------------------------------------------- nginx

# Starts nginx (the arguments) and waits (bounded) for its pid file, then
# prints "master <pid>" and exits.  nginx runs with "daemon off", in
# start_server's process group, but with this launcher as its parent:
# nginx ignores SIGUSR2 (binary upgrade) while the parent it started with
# is alive ("the changing binary signal is ignored"), so the launcher
# stays until nginx has read it (before the pid file) and then goes.
DM_NGX_LAUNCH='
pidf=$1
shift
"$@" &
m=$!
i=0
while [ ! -s "$pidf" ]; do
	st=$(ps -o stat= -p "$m")
	case $st in ""|Z*) echo "nginx exited before writing $pidf"; exit 1 ;; esac
	i=$((i + 1))
	[ "$i" -gt 250 ] && { echo "no $pidf within 5 s"; exit 1; }
	sleep 0.02
done
echo "master $m"
'

DM_NGX=""	# nginx's prefix dir

# For failure messages: what nginx logged above notice level, and stderr.
dm_ngx_ctx() {
	local l
	l=$(grep -E '\[(warn|error|crit|alert|emerg)\]' "$DM_NGX/error.log" 2>/dev/null |
	    tail -4 | tr '\n' ' ')
	[ -n "$l" ] && printf ' [nginx error_log: %s]' "$l"
	server_err ng
}

dm_ngx_conf() {
	cat <<EOF
# nginx drops its environment on exec (binary upgrade) but for these.
env LD_PRELOAD;
env REUSEPORT_SHIM_MODE;
env REUSEPORT_SHIM_DIR;
daemon off;
master_process on;
worker_processes 4;
pid $DM_NGX/nginx.pid;
error_log $DM_NGX/error.log notice;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path $DM_NGX/client_body;
	proxy_temp_path $DM_NGX/proxy;
	fastcgi_temp_path $DM_NGX/fastcgi;
	uwsgi_temp_path $DM_NGX/uwsgi;
	scgi_temp_path $DM_NGX/scgi;
	server {
		listen 127.0.0.1:$1 reuseport;
		location / { return 200 "\$pid\n"; }
	}
}
EOF
}

# The new master after SIGUSR2 wrote its pid file (the old one is renamed).
dm_ngx_pid_changed() {
	local p
	[ -f "$DM_NGX/nginx.pid.oldbin" ] && [ -s "$DM_NGX/nginx.pid" ] || return 1
	read -r p <"$DM_NGX/nginx.pid" && [ -n "$p" ] && [ "$p" != "$1" ]
}

# No process of the old master's tree (pids given) is left.
dm_all_gone() {
	local p
	for p in "$@"; do proc_gone "$p" || return 1; done
}

# dm_ngx_serves TAG MASTER: 200 requests, all answered, by exactly the
# master's 4 workers.
dm_ngx_serves() {
	local w got
	w=$(dm_children "$2")
	dm_http "$1" "$PORT" 200
	dm_check "$1" 200 || return 1
	got=$(dm_pids "$1")
	if [ "$got" != "$w" ]; then
		fail "$1: answered by pids ($got), want master $2's 4 workers ($w): $(dm_counts "$1")$(dm_ngx_ctx)"
		return 1
	fi
	note "$1: $(dm_counts "$1")"
}

# dm_ngx_upgrade MASTER OWNER: nginx's binary upgrade under load (USR2,
# the new master's workers up, QUIT to the old one): nothing lost, both
# masters' workers served, the same owner after.  The new master's pid in
# DM_NEW; 1 if it failed.
dm_ngx_upgrade() {
	local old=$1 owner=$2 new w1 w2 owner2
	w1=$(dm_children "$old")
	dm_loop_start upgrade "$PORT"
	dm_loop_more upgrade 200
	kill -USR2 "$old"
	if ! poll_until 10000 dm_ngx_pid_changed "$old"; then
		fail "upgrade: no new master's pid file (and .oldbin) within 10 s$(dm_ngx_ctx)"
		dm_loop_stop upgrade
		return 1
	fi
	read -r new <"$DM_NGX/nginx.pid"
	DM_NEW=$new
	if ! poll_until 10000 dm_nchildren "$new" 4; then
		fail "upgrade: new master $new has no 4 workers within 10 s (children: $(dm_children "$new"))$(dm_ngx_ctx)"
		dm_loop_stop upgrade
		return 1
	fi
	w2=$(dm_children "$new")
	kill -QUIT "$old"
	poll_until 10000 dm_all_gone "$old" $w1 ||
	    fail "upgrade: old master $old or its workers ($w1) still there 10 s after SIGQUIT"
	dm_loop_more upgrade 200
	dm_loop_stop upgrade
	dm_check upgrade
	dm_served_by upgrade "the old master's workers" $w1
	dm_served_by upgrade "the new master's workers" $w2
	note "during upgrade: $(grep -E '^(answered|ran)' "$TDIR/upgrade.http" | tr '\n' ' ')"
	failed && return 1
	dm_ngx_serves upgraded "$new" || return 1
	owner2=$(the_owners)
	[ "$owner2" = "$owner" ] && return 0
	fail "upgrade: the group's owner changed ($owner -> $(echo $owner2)): the new master did not take over the endpoints"
	return 1
}

# stat --json: the pids accepting on the group on $PORT are exactly the
# workers of master $1.
dm_ngx_accepting() {
	local js got want
	js=$(REUSEPORT_SHIM_DIR=$SHIMDIR "$BUILD/reuseport-shim" stat --json)
	got=$("$PYTHON" -c '
import json, sys
port = int(sys.argv[1])
for g in json.loads(sys.stdin.read()):
    if g["port"] == port:
        print(" ".join(sorted({str(p) for m in g["members"]
                               for p in m["accepting"]})))
' "$PORT" <<<"$js")
	want=$(printf '%s\n' $(dm_children "$1") | sort | tr '\n' ' ' | sed 's/ $//')
	[ "$got" = "$want" ] && return 0
	fail "stat: accepting pids '$got', nginx workers '$want'"
	return 1
}

t_nginx() {
	local ng=/usr/sbin/nginx line m new w0 owner bad
	[ -x "$ng" ] || skip "nginx not installed ($ng; Debian package nginx-light)"
	need_python
	trap dm_cleanup EXIT
	DM_NGX=$TDIR/nginx
	DM_CTX=dm_ngx_ctx
	mkdir -p "$DM_NGX"
	PORT=$(dm_free_port) || { fail "no free port"; return; }
	dm_ngx_conf "$PORT" >"$DM_NGX/nginx.conf"

	start_server ng sh -c "$DM_NGX_LAUNCH" sh "$DM_NGX/nginx.pid" \
	    "${SHIM[@]}" "$ng" -p "$DM_NGX/" -e "$DM_NGX/error.log" \
	    -c "$DM_NGX/nginx.conf" || return
	if ! read_line ng line || [ "${line%% *}" != master ]; then
		fail "nginx did not start: ${line:-$READ_WHY}$(dm_ngx_ctx)"
		return
	fi
	m=${line#master }
	poll_until 5000 dm_nchildren "$m" 4 ||
	    { fail "nginx: 4 workers not up within 5 s (children: $(dm_children "$m"))$(dm_ngx_ctx)"; return; }
	dm_ngx_serves start "$m" || return
	owner=$(the_owners)
	[ "$(echo $owner | wc -w)" = 1 ] ||
	    { fail "want exactly one owner for nginx's port, have: $(describe_owners $owner)"; return; }

	# stat names each worker as the process that accepts on its socket.
	dm_ngx_accepting "$m" || return

	# An operator's kill -USR1 (or TERM, WINCH) of everything that looks
	# like nginx once reached the owner too, and closed the port: under
	# load, nothing lost now.  (USR1 to nginx itself is left out: its
	# workers cannot reopen this test's root-owned logs.)
	dm_loop_start usr1 "$PORT"
	dm_loop_more usr1 200
	kill -USR1 "$owner"
	kill -WINCH "$owner"
	kill -TERM "$owner"
	dm_loop_more usr1 200
	dm_loop_stop usr1
	dm_check usr1
	proc_alive "$owner" || fail "kill -USR1: the owner $owner died"
	failed && return

	# Reload: new workers, same sockets.
	w0=$(dm_children "$m")
	dm_loop_start reload "$PORT"
	dm_loop_more reload 200
	kill -HUP "$m"
	poll_until 10000 dm_fresh_children "$m" 4 $w0 ||
	    fail "reload: workers not replaced within 10 s (old: $w0; now: $(dm_children "$m"))$(dm_ngx_ctx)"
	dm_loop_more reload 200
	dm_loop_stop reload
	dm_check reload
	dm_served_by reload "new workers" $(dm_children "$m")
	note "during reload: $(grep -E '^(answered|ran)' "$TDIR/reload.http" | tr '\n' ' ')"
	failed && return
	dm_ngx_serves reloaded "$m" || return

	# Binary upgrade: the new master inherits the endpoints across exec,
	# then the old master quits gracefully.
	dm_ngx_upgrade "$m" "$owner" || return
	new=$DM_NEW
	bad=$(grep -E '\[(crit|alert|emerg)\]' "$DM_NGX/error.log" | head -3 | tr '\n' ' ')
	[ -z "$bad" ] || fail "nginx logged: $bad"

	# Stop: SIGQUIT to the master; nothing of nginx and no owner remains.
	kill -QUIT "$new"
	poll_until 10000 group_gone "${SRV_PID[ng]}" ||
	    fail "nginx still running 10 s after SIGQUIT: $(ps -o pid=,args= --sid "${SRV_PID[ng]}" | tr '\n' ' ')"
	poll_until "$GONE_MS" no_new_owners ||
	    fail "owner left after nginx stopped: $(describe_owners $(new_owners))"
}

# ---------------------------------------------------------------- gunicorn

DM_WSGI='import os


def app(environ, start_response):
    body = ("%d\n" % os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
'

t_gunicorn() {
	local gun=() i m pids w1 w2 p from1=0 from2=0
	if command -v gunicorn >/dev/null; then
		gun=("$(command -v gunicorn)")
	elif /usr/bin/python3 -c 'import gunicorn' 2>/dev/null; then
		gun=(/usr/bin/python3 -m gunicorn)
	else
		skip "gunicorn not installed (Debian package gunicorn)"
	fi
	need_python
	printf '%s' "$DM_WSGI" >"$TDIR/dmapp.py"
	PORT=$(dm_free_port) || { fail "no free port"; return; }
	for i in 1 2; do
		start_server "g$i" "${SHIM[@]}" "${gun[@]}" --reuse-port \
		    --bind "127.0.0.1:$PORT" --workers 2 --chdir "$TDIR" \
		    --worker-tmp-dir "$TDIR" --log-level warning dmapp:app || return
		m=${SRV_PID[g$i]}
		poll_until 10000 dm_nchildren "$m" 2 ||
		    { fail "gunicorn $i: 2 workers not up within 10 s$(server_err "g$i")"; return; }
	done
	w1=$(dm_children "${SRV_PID[g1]}")
	w2=$(dm_children "${SRV_PID[g2]}")
	dm_http gun "$PORT" 400
	dm_check gun 400 || return
	for p in $(dm_pids gun); do
		case " $w1 " in *" $p "*) from1=$((from1 + 1)); continue ;; esac
		case " $w2 " in *" $p "*) from2=$((from2 + 1)); continue ;; esac
		fail "pid $p answered but is no worker of either master ($w1/ $w2)"
	done
	[ "$from1" -gt 0 ] && [ "$from2" -gt 0 ] ||
	    fail "want workers of both masters to serve: $(dm_counts gun) (master 1 workers: $w1; master 2: $w2)"
	note "master 1 workers: $w1; master 2: $w2; served: $(dm_counts gun)"
	stop_server g2 0
	stop_server g1 0
}

# ---------------------------------------------------------------- asyncio

# An asyncio HTTP server: loop.create_server(..., reuse_port=True) on
# 127.0.0.1:PORT (0: any); "port <n>", "ready <pid>"; exits 0 on SIGTERM.
PY_ASYNCIO='
import asyncio, os, signal, sys

class Http(asyncio.Protocol):
    def connection_made(self, transport):
        self.t, self.buf = transport, b""
    def data_received(self, data):
        self.buf += data
        if b"\r\n\r\n" in self.buf:
            body = b"%d\n" % os.getpid()
            self.t.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                         b"Connection: close\r\n\r\n%s" % (len(body), body))
            self.t.close()

async def main():
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, done.set_result, None)
    srv = await loop.create_server(Http, "127.0.0.1", int(sys.argv[1]),
                                   reuse_port=True)
    print("port", srv.sockets[0].getsockname()[1], flush=True)
    print("ready", os.getpid(), flush=True)
    await done
    srv.close()
    await srv.wait_closed()

asyncio.run(main())
'

t_asyncio() {
	local i got want
	need_python
	start_server as1 "${SHIM[@]}" "$PYTHON" -c "$PY_ASYNCIO" 0 || return
	server_up as1 1 || return
	for i in 2 3; do
		start_server "as$i" "${SHIM[@]}" "$PYTHON" -c "$PY_ASYNCIO" "$PORT" || return
		server_up "as$i" 1 || return
	done
	dm_http aio "$PORT" 300
	dm_check aio 300 || return
	got=$(dm_pids aio)
	want=$(printf '%s\n' "${READY[@]}" | sort -n | tr '\n' ' ')
	[ "$got" = "$want" ] ||
	    fail "answered by pids ($got), want the 3 servers ($want): $(dm_counts aio)"
	note "served: $(dm_counts aio)"
	for i in 1 2 3; do
		stop_server "as$i" 0
	done
}

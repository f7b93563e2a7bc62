# The probes' observations must be the same bytes natively (the kernel's
# SO_REUSEPORT) and under the shim.

# oracle TAG CMD...: run CMD natively and under the shim, compare.
oracle() {
	local tag=$1 rn rs
	shift
	"$@" >"$TDIR/$tag.native" 2>"$TDIR/$tag.native.err"
	rn=$?
	"${SHIM[@]}" "$@" >"$TDIR/$tag.shim" 2>"$TDIR/$tag.shim.err"
	rs=$?
	if [ "$rn" != 0 ]; then
		fail "$tag: exit $rn natively, the probe could not set up ($(head -2 "$TDIR/$tag.native.err" | tr '\n' ' '))"
		return
	fi
	# Accepted sockets inherit the listener's O_NONBLOCK on illumos, not
	# on Linux: that line is t_accept_nonblock's to check there.
	if [ "$SUITE" = illumoslike ]; then
		sed -i '/^accept\.[^ ]*\.O_NONBLOCK: /d' "$TDIR/$tag.native" \
		    "$TDIR/$tag.shim"
	fi
	if ! cmp -s "$TDIR/$tag.native" "$TDIR/$tag.shim"; then
		fail "$tag: output under the shim differs from the kernel's"
		echo "--- $tag: native (-) vs shim (+)"
		diff -u "$TDIR/$tag.native" "$TDIR/$tag.shim" | sed 1,2d | grep -v '^ ' | head -40
		[ -s "$TDIR/$tag.shim.err" ] && { echo "shim stderr:"; head -5 "$TDIR/$tag.shim.err"; }
	elif [ "$rs" != "$rn" ]; then
		fail "$tag: exit $rs under the shim, $rn natively"
	else
		note "$tag: $(wc -l <"$TDIR/$tag.native" | tr -d ' ') lines identical"
	fi
}

t_oracle_c() {
	oracle "probe-all" "$BUILD/tests/probe" all
	oracle "probe-6-all" "$BUILD/tests/probe" -6 all
	oracle "probe-predup" "$BUILD/tests/probe" predup
}

t_oracle_py() {
	need_python
	oracle "probe.py-all" "$PYTHON" "$TI_HERE/probe.py" all
	oracle "probe.py-6-all" "$PYTHON" "$TI_HERE/probe.py" -6 all
}

# accept() from a non-blocking listener: a non-blocking socket on illumos
# (socksyscalls.c accept copies the listener's FNONBLOCK), a blocking one
# on Linux; from a blocking listener, blocking on both.
PY_ACCEPT_NB='
import fcntl, os, select, socket
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
l.bind(("127.0.0.1", 0))
l.listen(4)
out = []
for nb in (True, False):
    l.setblocking(not nb)
    c = socket.create_connection(l.getsockname())
    select.select([l], [], [], 5)
    a, _ = l.accept()
    fl = fcntl.fcntl(a.fileno(), fcntl.F_GETFL)
    out.append("%s:%s" % ("nb" if nb else "bl", "nb" if fl & os.O_NONBLOCK else "bl"))
    a.close(); c.close()
print(" ".join(out))
'

t_accept_nonblock() {
	local got want="nb:bl bl:bl"
	need_python
	[ "$SUITE" = illumoslike ] && want="nb:nb bl:bl"
	got=$("${SHIM[@]}" "$PYTHON" -c "$PY_ACCEPT_NB" 2>&1)
	[ "$got" = "$want" ] ||
	    fail "listener:accepted O_NONBLOCK is $got, want $want ($SUITE)"
	note "$got"
}

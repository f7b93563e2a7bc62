# close() racing another thread's accept() on the same listener (issue
# 12): the thread's recvmsg takes a connection and drops the endpoint's
# last reference; the owner sees the endpoint end and hands on what it
# had not seen acknowledged.  An acknowledgement after that is too late:
# the connection must not be returned as well (it was served twice).
# slowrecv.so, preloaded after the shim, holds the thread between its
# recvmsg and its acknowledgement until the owner has acted, so that the
# race goes the bad way every round (closerace.py says how).

t_close_race() {
	local out lib cc=${CC:-cc}
	local want="rounds 3 served-twice 0 lost 0 m1 EBADF EBADF EBADF"
	need_python
	command -v "$cc" >/dev/null ||
	    skip "no C compiler ($cc) to build slowrecv.so with"
	lib=$TDIR/slowrecv.so
	if ! "$cc" -shared -fPIC -O2 -o "$lib" "$TI_HERE/slowrecv.c" -ldl \
	    2>"$TDIR/cc.err"; then
		fail "slowrecv.so: $(head -3 "$TDIR/cc.err" | tr '\n' ' ')"
		return
	fi
	out=$(timeout 60 "${SHIM[@]}" \
	    "LD_PRELOAD=${TEST_PRELOAD:+$TEST_PRELOAD }$SHIMLIB $lib" \
	    "$PYTHON" "$TI_HERE/closerace.py" race "$BUILD/reuseport-shim" 3 \
	    2>"$TDIR/race.err")
	note "$out"
	[ "$out" = "$want" ] ||
	    fail "got '$out', want '$want' ($(head -3 "$TDIR/race.err" |
	    tr '\n' ' '))"
}

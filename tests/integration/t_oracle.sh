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

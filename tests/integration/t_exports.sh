# exports: the library defines exactly the functions the mapfile exports.

t_exports() {
	local want got
	command -v nm >/dev/null || skip "nm not found"
	want=$(sed -e 's/#.*//' "$ROOT/mapfile" |
	    awk '/global:/ { on = 1; sub(/.*global:/, "") }
		 /local:/ { on = 0 }
		 on { gsub(/[;[:space:]]+/, " "); print }' |
	    tr ' ' '\n' | sed '/^$/d' | sort -u)
	got=$(nm -D --defined-only "$SHIMLIB" |
	    awk '$2 ~ /^[TtWwi]$/ { sub(/@.*/, "", $3); print $3 }' | sort -u)
	[ -n "$want" ] || { fail "no names in the mapfile's global: part"; return; }
	if [ "$want" != "$got" ]; then
		fail "nm -D exports differ from the mapfile"
		diff <(echo "$want") <(echo "$got") | sed 's/^</mapfile only:/; s/^>/nm only:/' | grep only
	fi
	note "$(echo "$got" | wc -l | tr -d ' ') functions exported"
}

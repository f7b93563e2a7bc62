# Shared by tests/tool_test.sh and tests/tool_readme.sh (sourced).

# wait_for CMD...: until CMD succeeds, polling every 50 ms for 5 s; 1 if
# it never does.
wait_for() {
	local n=0
	until "$@"; do
		n=$((n + 1))
		[ $n -ge 100 ] && return 1
		sleep 0.05
	done
}

#!/bin/sh
# run.sh SECONDS FUZZDIR NAME...: run FUZZDIR/fuzz_NAME for SECONDS on
# FUZZDIR/corpus/NAME (the seeds of tests/fuzz/corpus/NAME, plus whatever
# earlier runs added), all targets at once, one per core.  Prints each
# target's number of executions; fails if any target found a crash, a
# leak, undefined behaviour or a broken invariant (its input is then in
# FUZZDIR/artifacts/).  FUZZ_FLAGS adds libFuzzer options.
secs=$1
dir=$2
shift 2
mkdir -p "$dir/artifacts" "$dir/log"
for t in "$@"; do
	mkdir -p "$dir/corpus/$t"
	cp tests/fuzz/corpus/"$t"/* "$dir/corpus/$t/"
	echo "fuzz: fuzz_$t for ${secs}s, log in $dir/log/$t.log"
	"$dir/fuzz_$t" -max_total_time="$secs" -timeout=10 \
	    -artifact_prefix="$dir/artifacts/$t-" -print_final_stats=1 \
	    $FUZZ_FLAGS "$dir/corpus/$t" >"$dir/log/$t.log" 2>&1 &
	eval "pid_$t=\$!"
done
fail=0
for t in "$@"; do
	eval "wait \$pid_$t"
	rc=$?
	runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 \2/p' \
	    "$dir/log/$t.log")
	if [ "$rc" -ne 0 ] || [ -z "$runs" ]; then
		echo "fuzz: fuzz_$t FAILED (exit $rc):"
		grep -E 'ERROR|invariant|runtime error|SUMMARY|Test unit written' \
		    "$dir/log/$t.log" | head -20
		fail=1
	else
		echo "fuzz: fuzz_$t: ${runs%% *} runs in ${runs#* } s," \
		    "$(ls "$dir/corpus/$t" | wc -l) inputs in its corpus"
	fi
done
exit $fail

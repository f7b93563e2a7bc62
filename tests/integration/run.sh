#!/usr/bin/env bash
# Integration tests: real programs, natively and under the shim
# (LD_PRELOAD, REUSEPORT_SHIM_MODE=emulate), with the kernel's own
# SO_REUSEPORT as the oracle.  `make integration` runs this from the repo
# root; everything is found relative to this file.
#
# Output: "ok NAME", "FAIL NAME: why" or "SKIP NAME: reason" per test case
# (followed by what the test printed, indented), and as the last line
# "integration: N passed, N failed, N skipped".  Exit 1 if any failed.
#
# Each test case runs in its own bash process under `timeout`; servers run
# in sessions of their own and are killed after each test and on exit.
# After each test no new rpshim-owner may remain and the rendezvous dir
# ($REUSEPORT_SHIM_DIR, fresh per run) may hold no socket.

TI_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) || exit 1
ROOT=$(cd "$TI_HERE/../.." && pwd) || exit 1

. "$TI_HERE/lib.sh"
for f in "$TI_HERE"/t_*.sh; do
	. "$f"
done

suite_init

missing=""
for f in libreuseport_shim.so examples/prefork examples/bindfork \
    examples/evloop tests/loadclient tests/probe; do
	[ -e "$BUILD/$f" ] || missing="$missing build/$f"
done
if [ -n "$missing" ]; then
	echo "FAIL build: missing$missing (run make)"
	echo "integration: 0 passed, 1 failed, 0 skipped"
	exit 1
fi

run_test exports		t_exports
run_test owner-prog		t_owner_prog
run_test owner-fork		t_owner_fork
run_test owner-deaf		t_owner_deaf
run_test owner-stop		t_owner_stop
run_test stat-pids		t_stat_pids
run_test prefork4		t_prefork4
run_test separate4		t_separate4
run_test shared4		t_shared4
run_test shared-member		t_shared_member
run_test shared-standby		t_shared_standby
run_test least-stalled		t_least_stalled
run_test epoll4			t_epoll4
run_test bindfork4		t_bindfork4
run_test ipv6			t_ipv6
run_test slow-rotates		t_slow_rotates
run_test fast-measured		t_fast_measured
run_test oracle-c		t_oracle_c
run_test oracle-py		t_oracle_py
run_test accept-nonblock	t_accept_nonblock
run_test port-freed		t_port_freed
run_test non-member-inuse	t_non_member_inuse
run_test bad-config		t_bad_config
run_test mode-off		t_mode_off
run_test mode-auto		t_mode_auto
run_test chaos			t_chaos
run_test first-dies		t_first_dies
run_test parent-dies		t_parent_dies
run_test eof-prompt		t_eof_prompt
run_test exec			t_exec
run_test linger			t_linger
run_test join-leave		t_join_leave
run_test shutdown		t_shutdown
run_test exit-race		t_exit_race
run_test owner-killed		t_owner_killed
run_test garbage		t_garbage
run_test other-user		t_other_user
run_test bad-dir			t_bad_dir
run_test member-limit		t_member_limit	180
run_test close-all		t_close_all
run_test nginx			t_nginx
run_test gunicorn		t_gunicorn
run_test asyncio		t_asyncio
run_test eject-once		t_eject_once
run_test stat-many		t_stat_many
run_test silent-peer		t_silent_peer
run_test rv-heal		t_rv_heal
run_test toomanyrefs		t_toomanyrefs
run_test emfile-return		t_emfile_return
run_test close-unlocked		t_close_unlocked
run_test gone-quiet		t_gone_quiet
run_test join-stopped		t_join_stopped
run_test join-backlog-full	t_join_backlog_full
run_test join-errno		t_join_errno
run_test dir-squatted		t_dir_squatted
run_test fdtab-dup2-hidden	t_fdtab_dup2_hidden
run_test fdtab-closefrom	t_fdtab_closefrom
run_test fdtab-stale		t_fdtab_stale
run_test fdtab-spawn		t_fdtab_spawn
run_test fd-budget		t_fd_budget
run_test board-scribble		t_board_scribble
run_test execenv-empty		t_execenv_empty
run_test execenv-execv		t_execenv_execv
run_test execenv-fexecve	t_execenv_fexecve
run_test execenv-spawn		t_execenv_spawn
run_test execenv-xdg		t_execenv_xdg
run_test execenv-keptpre	t_execenv_keptpre
run_test execenv-untouched	t_execenv_untouched
run_test execenv-noroom		t_execenv_noroom
run_test execenv-nginx		t_execenv_nginx
run_test listener-opts-after	t_listener_opts_after
run_test listener-opts-prebind	t_listener_opts_prebind
run_test listener-opts-joiner	t_listener_opts_joiner
run_test listener-first-leak	t_listener_first_leak
run_test listener-rcvtimeo	t_listener_rcvtimeo
run_test listener-async		t_listener_async
run_test listener-validate	t_listener_validate
run_test listener-defer		t_listener_defer
run_test listener-exec		t_listener_exec
run_test listener-epoll-before	t_listener_epoll_before
run_test listener-io		t_listener_io
run_test listener-shutrd		t_listener_shutrd
run_test listener-timewait	t_listener_timewait
run_test listener-addrany-wf	t_listener_addrany_wf
run_test listener-addrany-sf	t_listener_addrany_sf
run_test listener-dualstack-6f	t_listener_dualstack_6f
run_test listener-dualstack-4f	t_listener_dualstack_4f
run_test execenv-shadow		t_execenv_shadow
run_test io-answers		t_io_answers
run_test io-stray		t_io_stray
run_test io-connect		t_io_connect
run_test standby-kill		t_standby_kill
run_test standby-stop		t_standby_stop
run_test standby-stat		t_standby_stat
run_test standby-service	t_standby_service
run_test standby-counts		t_standby_counts
run_test close-race		t_close_race
run_test udp-emulated		t_udp_emulated
run_test udp-oracle4		t_udp_oracle4
run_test udp-oracle6		t_udp_oracle6
run_test udp-shared		t_udp_shared
run_test udp-roundrobin		t_udp_roundrobin
run_test udp-hash		t_udp_hash
run_test udp-srcip		t_udp_srcip
run_test udp-separate		t_udp_separate
run_test udp-killed		t_udp_killed
run_test udp-standby		t_udp_standby
run_test udp-exec		t_udp_exec
run_test sharedexec-tcp	t_sharedexec_tcp
run_test sharedexec-udp	t_sharedexec_udp
run_test sharedexec-env-tcp	t_sharedexec_env_tcp
run_test sharedexec-env-udp	t_sharedexec_env_udp
run_test sharedexec-env-udphash	t_sharedexec_env_udphash
run_test udp-forced		t_udp_forced
run_test udp-connect		t_udp_connect
run_test udp-bad-way		t_udp_bad_way
run_test udp-leftovers		t_udp_leftovers
run_test udp-burst		t_udp_burst
run_test udp-burst-after	t_udp_burst_after
run_test udp-burst-shared	t_udp_burst_shared
run_test udp-burst-shared-after	t_udp_burst_shared_after
run_test udp-shared-rcvbuf-nofd	t_udp_shared_rcvbuf_nofd
run_test udp-shared-rcvbuf-fork	t_udp_shared_rcvbuf_fork
run_test udp-shared-first	t_udp_shared_first
run_test udp-burst-takeover	t_udp_burst_takeover
run_test udp-left-burst		t_udp_left_burst
run_test tcp-burst		t_tcp_burst
run_test tcp-burst-takeover	t_tcp_burst_takeover
run_test udp-full		t_udp_full
run_test dns-unbound		t_dns_unbound
run_test dns-nsd		t_dns_nsd
run_test fd-budget-udp		t_fd_budget_udp
run_test no-leftovers		t_no_leftovers

suite_finish

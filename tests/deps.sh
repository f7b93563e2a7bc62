#!/bin/sh
# The system packages a build needs, named as arguments: cmocka (unit
# tests).  Installed with apt-get where we may, else named exactly.
missing=""
for want in "$@"; do
	case $want in
	cmocka)	hdr=cmocka.h pkg=libcmocka-dev ;;
	*)	echo "deps: unknown dependency $want"; exit 2 ;;
	esac
	echo "#include <$hdr>" | ${CC:-cc} -E -x c - >/dev/null 2>&1 ||
	    missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
# DEPS_INSTALL=no: report only (make illumos-check, a cross build).
if [ "${DEPS_INSTALL:-yes}" != no ] && command -v apt-get >/dev/null 2>&1 &&
    [ "$(id -u)" = 0 ]; then
	echo "deps: installing$missing"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null ||
	    { apt-get update -q >/dev/null &&
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null; } ||
	    { echo "deps: apt-get could not install$missing"; exit 1; }
	exit 0
fi
echo "deps: missing headers; install them with:"
if command -v apt-get >/dev/null 2>&1; then
	echo "    sudo apt-get install$missing"
else
	echo "    your package manager's cmocka development package"
fi
exit 1

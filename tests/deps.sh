#!/bin/sh
# The system packages the build needs: uthash (the fd table) and cmocka
# (unit tests).  Installed with apt-get where we may, else named exactly.
missing=""
for h in uthash.h:uthash-dev cmocka.h:libcmocka-dev; do
	hdr=${h%%:*}
	pkg=${h#*:}
	echo "#include <$hdr>" | ${CC:-cc} -E -x c - >/dev/null 2>&1 ||
	    missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
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
	echo "    your package manager's uthash and cmocka development packages"
fi
exit 1

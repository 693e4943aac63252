#!/bin/sh
# Print the Debian archive mirror this machine's apt is configured with
# (the URI of its main Debian suite), as apt itself reads its sources.
# The project never names a mirror itself: it follows the machine's choice.
set -eu
mirror=$(apt-get indextargets --format '$(ORIGIN)|$(LABEL)|$(RELEASE)|$(REPO_URI)' |
	awk -F'|' '$1 == "Debian" && $2 == "Debian" && $3 !~ /-security$/ { print $4; exit }')
if [ -z "$mirror" ]; then
	echo "debian-mirror: no Debian archive in apt's sources;" \
		"run 'apt-get update' or configure one" >&2
	exit 1
fi
echo "$mirror"

#!/usr/bin/env bash
# The image's runtime stage must install every Debian package holding a shared
# library the binary links, and nothing else it does not need. No Docker engine
# is needed: the binary is built on the same Debian release as the image
# (bookworm), so `ldd` + `dpkg -S` here name the packages the image needs.
#
#   hack/check-image-libs.sh PATH/TO/execgov [Dockerfile]
#
# Exit 0: the lists match. Exit 1: a package is missing from the runtime stage
# (the image would not start) or listed without being linked. Exit 2: usage,
# or a library no package owns.
set -euo pipefail

binary=${1:?usage: check-image-libs.sh PATH/TO/execgov [Dockerfile]}
dockerfile=${2:-$(cd "$(dirname "$0")/.." && pwd)/Dockerfile}
# Packages the runtime stage may hold without the binary linking them: the
# CA roots for TLS to the API server or an etcd ledger.
allowed_extra=(ca-certificates)

die() { echo "check-image-libs: $*" >&2; exit 2; }
[ -x "$binary" ] || die "$binary is not an executable"
[ -r "$dockerfile" ] || die "cannot read $dockerfile"
. /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] || die "the image is bookworm's; run this on Debian bookworm (found ${VERSION_CODENAME:-unknown})"
grep -q '^FROM debian:bookworm-slim' "$dockerfile" || die "$dockerfile: the runtime stage is not FROM debian:bookworm-slim"

# The runtime stage's packages: one per line between the markers.
listed=$(sed -n '/^# runtime-packages: begin/,/^# runtime-packages: end/p' "$dockerfile" |
  sed -n 's/^[[:space:]]\{1,\}\([a-z0-9][a-z0-9.+-]*\)[[:space:]]*\\$/\1/p' | sort -u)
[ -n "$listed" ] || die "$dockerfile: no packages between '# runtime-packages: begin' and '# runtime-packages: end'"

# The package owning a library path; usrmerge means dpkg may know it under
# /usr/lib while ldd prints /lib, or the other way round.
owner() {
  local path=$1 candidate real
  real=$(readlink -f "$path")
  for candidate in "$path" "$real" "/usr$path" "/usr$real" "${path#/usr}" "${real#/usr}"; do
    dpkg -S "$candidate" 2>/dev/null | head -n1 | cut -d: -f1 && return 0
  done
  return 1
}

needed=""
while read -r lib; do
  pkg=$(owner "$lib") || die "no Debian package owns $lib (linked by $binary)"
  needed+="$pkg"$'\n'
done < <(ldd "$binary" | awk '/=> \// {print $3} /^[[:space:]]*\/[^ ]+ \(/ {print $1}')
needed=$(printf '%s' "$needed" | sort -u)

missing=$(comm -23 <(echo "$needed") <(echo "$listed"))
extra=$(comm -13 <(echo "$needed") <(echo "$listed") | grep -vxF -f <(printf '%s\n' "${allowed_extra[@]}") || true)
status=0
if [ -n "$missing" ]; then
  echo "check-image-libs: the runtime stage of $dockerfile misses packages $binary links:" $missing >&2
  status=1
fi
if [ -n "$extra" ]; then
  echo "check-image-libs: the runtime stage installs packages $binary does not link:" $extra >&2
  status=1
fi
[ $status = 0 ] && echo "check-image-libs: the runtime stage installs exactly the libraries of $binary:" $needed
exit $status

#!/usr/bin/env bash
# Checks that the Docker image's runtime stage installs every shared library the trainer links.
# Run it on an Ubuntu 24.04 machine (the image's release) with a built trainer:
#   docker/check_runtime_libs.sh [build/engine/cli/trainer]
# Each library `ldd` resolves is mapped to its package with `dpkg -S`; the package must be in
# docker/runtime-packages.txt (what the runtime stage installs) or docker/base-image-packages.txt
# (what the runtime base image already has). Exits 1 listing every library that is not.
# The GPU driver's libraries (libcuda, libnvidia-*) are skipped: the NVIDIA container runtime
# mounts the host's into the container.
# For tests the tools and lists can be replaced: LDD, DPKG_SEARCH (a command taking a path,
# like `dpkg -S`), RUNTIME_PACKAGES, BASE_PACKAGES.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

binary="${1:-build/engine/cli/trainer}"
LDD="${LDD:-ldd}"
DPKG_SEARCH="${DPKG_SEARCH:-dpkg -S}"
RUNTIME_PACKAGES="${RUNTIME_PACKAGES:-$here/runtime-packages.txt}"
BASE_PACKAGES="${BASE_PACKAGES:-$here/base-image-packages.txt}"

die() { echo "check_runtime_libs: $*" >&2; exit 2; }
[ -e "$binary" ] || die "no such file: $binary (build the trainer first)"
for f in "$RUNTIME_PACKAGES" "$BASE_PACKAGES"; do [ -r "$f" ] || die "cannot read $f"; done

# Package names of a list file, without comments and blank lines.
list_packages() { sed -e 's/#.*//' -e 's/[[:space:]]//g' "$1" | grep -v '^$' || true; }
declare -A source_of
while read -r p; do source_of[$p]="runtime-packages.txt"; done < <(list_packages "$RUNTIME_PACKAGES")
while read -r p; do source_of[$p]="base image"; done < <(list_packages "$BASE_PACKAGES")

# The packages owning `path` (one per line, architecture qualifiers dropped), or nothing. With
# merged /usr, ldd may report /lib/... while dpkg registered /usr/lib/... (or the reverse), and
# a symlink's target may be what a package ships, so those spellings are tried too.
owners_of() {
  local path="$1" candidates=("$1") out
  case "$path" in
    /usr/lib/*) candidates+=("${path#/usr}") ;;
    /lib/* | /lib64/*) candidates+=("/usr$path") ;;
  esac
  candidates+=("$(readlink -f "$path" 2>/dev/null || echo "$path")")
  for c in "${candidates[@]}"; do
    if out=$($DPKG_SEARCH "$c" 2>/dev/null) && [ -n "$out" ]; then
      # "pkg1:amd64, pkg2: /path" -> pkg1, pkg2 (the first matching line)
      head -n 1 <<<"$out" | sed -e 's/: [^ ]*$//' | tr ',' '\n' | sed -e 's/^ *//' -e 's/:.*$//'
      return 0
    fi
  done
}

if ! ldd_out=$($LDD "$binary" 2>&1); then
  echo "check_runtime_libs: $LDD $binary failed:" >&2
  echo "$ldd_out" >&2
  exit 1
fi

failures=()
checked=0
while read -r line; do
  [ -z "$line" ] && continue
  name="${line%% *}"
  case "$line" in
    *"=> not found"*) failures+=("$name: not found by ldd on this machine"); continue ;;
    *" => "*) path="${line#* => }"; path="${path%% (*}" ;;
    /*) path="${line%% (*}" ;;
    *) continue ;;  # linux-vdso.so.1 and the like: provided by the kernel
  esac
  case "$(basename "$path")" in
    libcuda.so* | libnvidia-*.so*) echo "  $(basename "$path"): the GPU driver's (mounted by the NVIDIA container runtime)"; continue ;;
  esac
  checked=$((checked + 1))
  mapfile -t owners < <(owners_of "$path")
  if [ "${#owners[@]}" -eq 0 ]; then
    failures+=("$path: no package owns it (installed by hand?), so the image cannot install it")
    continue
  fi
  found=""
  for o in "${owners[@]}"; do
    if [ -n "${source_of[$o]:-}" ]; then found="$o"; break; fi
  done
  if [ -n "$found" ]; then
    echo "  $(basename "$path"): $found (${source_of[$found]})"
  else
    failures+=("$path: from package ${owners[*]}, which the runtime stage does not install (add it to docker/runtime-packages.txt)")
  fi
done <<<"$ldd_out"

if [ "${#failures[@]}" -gt 0 ]; then
  echo "check_runtime_libs: ${#failures[@]} of the libraries $binary links are missing from the runtime stage:" >&2
  printf '  %s\n' "${failures[@]}" >&2
  exit 1
fi
echo "check_runtime_libs: all $checked libraries of $binary come from packages the runtime stage has"

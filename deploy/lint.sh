#!/usr/bin/env bash
# lint.sh - the house rules a compiler does not check (STYLE.md): every C file formatted
# with the repo's .clang-format, no function above cyclomatic complexity 20 or longer than
# 100 lines (pmccabe), and no C file over 800 lines. Prints each offence; exits 1 if any.
#   deploy/lint.sh [format|complexity|size]...   (default: all three)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
checks=("$@")
[ ${#checks[@]} -eq 0 ] && checks=(format complexity size)
mapfile -t files < <(git ls-files '*.c' '*.h' 2>/dev/null || find common console server broker agent tests -name '*.[ch]')
bad=0
for check in "${checks[@]}"; do
  case "$check" in
    format)
      for f in "${files[@]}"; do
        [ -f "$f" ] || continue
        if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
          echo "lint: $f is not clang-formatted (run: clang-format -i $f)"; bad=1
        fi
      done ;;
    complexity)
      # pmccabe columns: modified complexity, traditional, statements, first line, lines, name
      while read -r cc _ _ _ lines where; do
        if [ "$cc" -gt 20 ]; then echo "lint: $where has complexity $cc (limit 20)"; bad=1; fi
        if [ "$lines" -gt 100 ]; then echo "lint: $where is $lines lines long (limit 100)"; bad=1; fi
      done < <(for f in "${files[@]}"; do case "$f" in *.c) [ -f "$f" ] && pmccabe "$f" 2>/dev/null ;; esac; done) ;;
    size)
      for f in "${files[@]}"; do
        [ -f "$f" ] || continue
        n=$(wc -l <"$f")
        if [ "$n" -gt 800 ]; then echo "lint: $f has $n lines (split at 800)"; bad=1; fi
      done ;;
    *) echo "usage: deploy/lint.sh [format|complexity|size]..." >&2; exit 2 ;;
  esac
done
[ "$bad" -eq 0 ] && echo "lint: ${checks[*]} ok"
exit "$bad"

# ---- common part of the xenrel shim (scripts/shim/common.sh) ----
# POSIX sh (dash, bash, busybox ash). Needs only: coreutils (cp, mv, rm, mkdir, cut,
# sort, comm, tr, readlink, sha256sum/sha512sum; mktemp and chmod when there), find,
# sed and tar. No network tool is ever called: a request is served from .xenrel/sources/
# or refused. Temporary files live in a private folder made with mktemp -d (or mkdir,
# which fails rather than follow anything planted there); never at a guessable name.
#
# .xenrel/shim.tsv, written by `xenrel vendor`, one component a line, tab-separated,
# no empty fields ("-" stands for none):
#   name kind url ref commit digest path store status
#   kind:   tree (a directory: git or local dir) | file (a tarball or local file)
#   digest: tree:<hex sha256 of the tree-hash lines> | sha512:<hex> | sha256:<hex>
#   store:  where the content lives, relative to .xenrel/
#   status: vendored | without
# .xenrel/manifests/<name>.tree holds the expected tree-hash lines (for diagnostics).

XR_TAB=$(printf '\t')
XR_CR=$(printf '\r')
XR_NL='
'

# A log field on one line: backslash, tab, CR and newline written as \\ \t \r \n, so an
# argument can never forge a line (or a column) of XENREL_SHIM_LOG.
xr_esc() {
  case $1 in
    *\\* | *"$XR_TAB"* | *"$XR_CR"* | *"$XR_NL"*) ;;
    *) printf '%s' "$1"; return 0 ;;
  esac
  # The final "." keeps trailing newlines through the command substitution.
  xr_e=$(printf '%s.' "$1" | sed -e 's/\\/\\\\/g' -e "s/$XR_TAB/\\\\t/g" -e "s/$XR_CR/\\\\r/g" -e '$!s/$/\\n/' | tr -d '\n')
  printf '%s' "${xr_e%.}"
}

XR_CALL=
for xr_a do
  XR_CALL="$XR_CALL${XR_CALL:+ }$(xr_esc "$xr_a")"
done

case $0 in
  */*) xr_self=$0 ;;
  *) xr_self=$(command -v -- "$0") || xr_self=$0 ;;
esac
XR_BIN=$(cd "$(dirname -- "$xr_self")" && pwd -P) || {
  printf 'xenrel shim: cannot find its own folder (%s)\n' "$0" >&2
  exit 1
}
XR_DIR=$(dirname -- "$XR_BIN")
# shellcheck disable=SC2034 # used by the git part only
XR_ROOT=$(dirname -- "$XR_DIR")
XR_INDEX=$XR_DIR/shim.tsv

# One line per call in $XENREL_SHIM_LOG: tool, the call, the outcome.
xr_log() {
  [ -n "${XENREL_SHIM_LOG:-}" ] || return 0
  printf '%s\t%s\t%s\t%s\n' "$XR_TOOL" "$(xr_esc "$(pwd)")" "$XR_CALL" "$(xr_esc "$*")" >>"$XENREL_SHIM_LOG" 2>/dev/null || :
}

# XR_TMP: this run's private temporary folder, removed on exit. Call it in the shell that
# uses it (not inside a command substitution: the trap would not reach it).
XR_TMP=
# shellcheck disable=SC2317 # used by the git part only
xr_private_tmp() {
  [ -z "$XR_TMP" ] || return 0
  xr_base=${TMPDIR:-/tmp}/xenrel-shim
  if command -v mktemp >/dev/null 2>&1; then
    XR_TMP=$(mktemp -d "$xr_base.XXXXXXXX") || XR_TMP=
  else
    XR_TMP=$xr_base.$$
    (umask 077 && mkdir "$XR_TMP") || XR_TMP=
  fi
  [ -n "$XR_TMP" ] || xr_fail "cannot create a private temporary folder in ${TMPDIR:-/tmp}"
  trap 'rm -rf "$XR_TMP"' EXIT
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# Exactly one message on stderr, one log line, non-zero exit.
xr_fail() {
  printf 'xenrel shim: %s\n' "$*" >&2
  xr_log "refused: $*"
  exit 1
}

xr_refuse_unlisted() { # URL [REV]
  if [ -n "${2:-}" ]; then
    xr_fail "refusing to fetch $1 ($2): not in .xenrel/xenrel.lock — add it to xenrel.config.yaml and run xenrel lock && xenrel vendor"
  fi
  xr_fail "refusing to fetch $1: not in .xenrel/xenrel.lock — add it to xenrel.config.yaml and run xenrel lock && xenrel vendor"
}

xr_refuse_without() { # URL REV NAME
  xr_fail "refusing to fetch $1${2:+ ($2)}: component $3 was left out on purpose (xenrel vendor --without $3); configure Xen to use your own copy (see .xenrel/WITHOUT)"
}

# URLs compare without trailing slashes; git URLs also without a trailing .git.
xr_norm_url() {
  xr_u=$1
  while :; do
    case $xr_u in
      */) xr_u=${xr_u%/} ;;
      *) break ;;
    esac
  done
  [ "${2:-}" = git ] && xr_u=${xr_u%.git}
  printf '%s' "$xr_u"
}

# Sets C_NAME C_KIND C_URL C_REF C_COMMIT C_DIGEST C_PATH C_STORE C_STATUS from one line,
# after checking the line against the index's schema (the header above): nine fields, each
# of its form. The index comes with the tree (a tarball, a checkout), so it is input from
# outside: a line that does not fit is refused, never half-used.
# shellcheck disable=SC2034 # every field is set; each tool reads the ones it needs
xr_set_fields() {
  C_NAME=$1 C_KIND=$2 C_URL=$3 C_REF=$4 C_COMMIT=$5 C_DIGEST=$6 C_PATH=$7 C_STORE=$8 C_STATUS=$9
  shift 9
  xr_bad=
  [ -z "${1:-}" ] || xr_bad='more than nine fields'
  [ -n "$xr_bad" ] || [ -n "$C_STATUS" ] || xr_bad='fewer than nine fields'
  [ -n "$xr_bad" ] || case $C_NAME in *[!a-z0-9._-]* | [._-]*) xr_bad="name \"$C_NAME\"" ;; esac
  [ -n "$xr_bad" ] || case $C_KIND in tree | file) ;; *) xr_bad="kind \"$C_KIND\" (tree or file)" ;; esac
  [ -n "$xr_bad" ] || case $C_COMMIT in -) ;; *[!0-9a-f]*) xr_bad="commit \"$C_COMMIT\"" ;; *) [ ${#C_COMMIT} -eq 40 ] || xr_bad="commit \"$C_COMMIT\"" ;; esac
  [ -n "$xr_bad" ] || case $C_STATUS in vendored | without) ;; *) xr_bad="status \"$C_STATUS\" (vendored or without)" ;; esac
  if [ -z "$xr_bad" ]; then
    case $C_DIGEST in
      tree:* | sha256:*) xr_h=${C_DIGEST#*:} xr_n=64 ;;
      sha512:*) xr_h=${C_DIGEST#*:} xr_n=128 ;;
      -) xr_h=0 xr_n=1 ;;
      *) xr_h='' xr_n=0 ;;
    esac
    case $xr_h in '' | *[!0-9a-f]*) xr_bad="digest \"$C_DIGEST\"" ;; esac
    [ -n "$xr_bad" ] || [ ${#xr_h} -eq "$xr_n" ] || xr_bad="digest \"$C_DIGEST\""
    [ -n "$xr_bad" ] || [ "$C_DIGEST" != - ] || [ "$C_STATUS" = without ] || xr_bad='no digest for a vendored component'
  fi
  for xr_p in "$C_PATH" "$C_STORE"; do
    [ -n "$xr_bad" ] && break
    case /$xr_p/ in //* | */../* | */./*) xr_bad="path \"$xr_p\" (absolute, or with . or ..)" ;; esac
  done
  [ -n "$xr_bad" ] || case $C_STORE in "sources/$C_NAME" | "sources/$C_NAME/"*) ;; *) xr_bad="store \"$C_STORE\" (not under sources/$C_NAME)" ;; esac
  [ -z "$xr_bad" ] || xr_fail "$XR_INDEX is malformed (component ${C_NAME:-?}: $xr_bad) — run xenrel vendor to rewrite it"
}

xr_require_index() {
  [ -r "$XR_INDEX" ] || xr_fail "refusing to fetch ${1:-anything}: $XR_INDEX is missing — run xenrel vendor"
}

# Find the component whose URL is $1 and whose kind is $2. Returns 1 when none.
xr_find_by_url() {
  xr_require_index "$1"
  xr_want=$(xr_norm_url "$1" "${3:-}")
  # Every line is checked before any is used: a malformed index is refused as a whole.
  while IFS=$XR_TAB read -r f1 f2 f3 f4 f5 f6 f7 f8 f9 rest; do
    case $f1 in '#'* | '') continue ;; esac
    xr_set_fields "$f1" "$f2" "$f3" "$f4" "$f5" "$f6" "$f7" "$f8" "$f9" "$rest"
  done <"$XR_INDEX"
  while IFS=$XR_TAB read -r f1 f2 f3 f4 f5 f6 f7 f8 f9 rest; do
    case $f1 in '#'* | '') continue ;; esac
    [ "$f2" = "$2" ] || continue
    if [ "$(xr_norm_url "$f3" "${3:-}")" = "$xr_want" ]; then
      xr_set_fields "$f1" "$f2" "$f3" "$f4" "$f5" "$f6" "$f7" "$f8" "$f9" "$rest"
      return 0
    fi
  done <"$XR_INDEX"
  return 1
}

# shellcheck disable=SC2317 # used by the git part only
xr_find_by_name() {
  xr_require_index "$1"
  while IFS=$XR_TAB read -r f1 f2 f3 f4 f5 f6 f7 f8 f9 rest; do
    case $f1 in '#'* | '') continue ;; esac
    xr_set_fields "$f1" "$f2" "$f3" "$f4" "$f5" "$f6" "$f7" "$f8" "$f9" "$rest"
  done <"$XR_INDEX"
  while IFS=$XR_TAB read -r f1 f2 f3 f4 f5 f6 f7 f8 f9 rest; do
    case $f1 in '#'* | '') continue ;; esac
    if [ "$f1" = "$1" ]; then
      xr_set_fields "$f1" "$f2" "$f3" "$f4" "$f5" "$f6" "$f7" "$f8" "$f9" "$rest"
      return 0
    fi
  done <"$XR_INDEX"
  return 1
}

# Does revision $1 name the locked ref $2 / commit $3?
# shellcheck disable=SC2317 # used by the git part only
xr_rev_matches() {
  case $1 in '' | HEAD | FETCH_HEAD | '@') return 0 ;; esac
  case $1 in
    "$2" | "refs/tags/$2" | "refs/heads/$2" | "origin/$2" | "refs/remotes/origin/$2" | "$3") return 0 ;;
  esac
  case $1 in *[!0-9a-f]*) return 1 ;; esac
  [ ${#1} -ge 7 ] || return 1
  case $3 in "$1"*) return 0 ;; esac
  return 1
}

# The tree-hash lines of a folder: "<mode> <sha256> <path>", bytewise path order, .git
# skipped, exactly as xenrel (src/tree/hash.ts) defines them. File names sha256sum has to
# escape (backslash, newline) drop out, so such a tree never matches: refused, not served.
# shellcheck disable=SC2317 # used by the git part only
xr_tree_lines() (
  cd "$1" || exit 1
  {
    find . -name .git -prune -o -type f -perm -100 -exec sha256sum {} + |
      sed -n 's|^\([0-9a-f]\{64\}\)  \./|100755 \1 |p'
    find . -name .git -prune -o -type f ! -perm -100 -exec sha256sum {} + |
      sed -n 's|^\([0-9a-f]\{64\}\)  \./|100644 \1 |p'
    find . -name .git -prune -o -type l -exec sh -c '
      for f do
        t=$(readlink "$f") || exit 1
        h=$(printf "%s" "$t" | sha256sum | cut -c1-64)
        printf "120000 %s %s\n" "$h" "${f#./}"
      done' sh {} +
  } | LC_ALL=C sort -t ' ' -k 3
)

# Checks folder $1 against component C_*; on a mismatch prints a short description of the
# difference and returns 1.
# shellcheck disable=SC2317 # used by the git part only
xr_verify_tree() {
  xr_tmp=$XR_TMP/verify
  xr_tree_lines "$1" >"$xr_tmp.lines" || { rm -f "$xr_tmp".*; printf 'cannot read %s' "$1"; return 1; }
  xr_got=$(sha256sum <"$xr_tmp.lines" | cut -c1-64)
  if [ "tree:$xr_got" = "$C_DIGEST" ]; then
    rm -f "$xr_tmp".*
    return 0
  fi
  xr_man=$XR_DIR/manifests/$C_NAME.tree
  if [ -r "$xr_man" ] && [ "tree:$(sha256sum <"$xr_man" | cut -c1-64)" = "$C_DIGEST" ]; then
    # The tree-hash lines are in path order; comm needs whole-line order (in the C locale).
    LC_ALL=C sort "$xr_man" >"$xr_tmp.m"
    LC_ALL=C sort "$xr_tmp.lines" >"$xr_tmp.l"
    LC_ALL=C comm -23 "$xr_tmp.m" "$xr_tmp.l" | cut -d ' ' -f 3- | LC_ALL=C sort >"$xr_tmp.want"
    LC_ALL=C comm -13 "$xr_tmp.m" "$xr_tmp.l" | cut -d ' ' -f 3- | LC_ALL=C sort >"$xr_tmp.have"
    xr_mod=$(LC_ALL=C comm -12 "$xr_tmp.want" "$xr_tmp.have" | sed -n '1,5p' | tr '\n' ' ')
    xr_mis=$(LC_ALL=C comm -23 "$xr_tmp.want" "$xr_tmp.have" | sed -n '1,5p' | tr '\n' ' ')
    xr_ext=$(LC_ALL=C comm -13 "$xr_tmp.want" "$xr_tmp.have" | sed -n '1,5p' | tr '\n' ' ')
    printf 'content differs from xenrel.lock:%s%s%s' \
      "${xr_mod:+ modified: $xr_mod}" "${xr_mis:+ missing: $xr_mis}" "${xr_ext:+ extra: $xr_ext}"
  else
    printf 'content differs from xenrel.lock (tree %s, expected %s)' "$xr_got" "${C_DIGEST#tree:}"
  fi
  rm -f "$xr_tmp".*
  return 1
}

# Checks file $1 against C_DIGEST (sha512:<hex> or sha256:<hex>).
xr_verify_file() {
  xr_algo=${C_DIGEST%%:*}
  case $xr_algo in sha512 | sha256) ;; *) printf 'unknown digest %s' "$C_DIGEST"; return 1 ;; esac
  [ -f "$1" ] || { printf 'missing'; return 1; }
  xr_got=$("${xr_algo}sum" <"$1" | cut -d ' ' -f 1)
  [ "$xr_algo:$xr_got" = "$C_DIGEST" ] && return 0
  printf '%s is %s, xenrel.lock expects %s' "$xr_algo" "$xr_got" "${C_DIGEST#*:}"
  return 1
}

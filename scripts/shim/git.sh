# ---- git part of the xenrel shim (scripts/shim/git.sh) ----
# Serves the git calls Xen's make and scripts/git-checkout.sh make
# from .xenrel/sources/, without .git and without network:
#   clone URL DIR                        copy of the locked tree, verified
#   fetch origin [REV], branch -D dummy, checkout -b dummy REV|FETCH_HEAD
#                                        in a served folder: checked, nothing to do
#   reset --hard REV                     in a served folder: restores the locked tree
#   submodule update --init --recursive  in a served folder: children are vendored
#   archive --format=tar --prefix=P/ REV tar of the locked tree
# Local commands elsewhere go to the real git when there is one; anything that could
# reach a remote is refused.

XR_STATE=$XR_DIR/state
XR_CLONES=$XR_STATE/clones.tsv

# The component served into the current folder: recorded by a served clone, or the
# folder is a component's path (or git-checkout.sh's "<path>.tmp").
xr_served_here() {
  xr_here=$(pwd -P)
  xr_name=''
  if [ -r "$XR_CLONES" ]; then
    while IFS=$XR_TAB read -r d n; do
      [ "$d" = "$xr_here" ] && xr_name=$n
    done <"$XR_CLONES"
  fi
  if [ -z "$xr_name" ] && [ -r "$XR_INDEX" ]; then
    case $xr_here in
      "$XR_ROOT"/*) xr_rel=${xr_here#"$XR_ROOT"/} ;;
      *) xr_rel= ;;
    esac
    if [ -n "$xr_rel" ]; then
      while IFS=$XR_TAB read -r f1 f2 f3 f4 f5 f6 f7 f8 f9 rest; do
        case $f1 in '#'* | '') continue ;; esac
        [ "$f2" = tree ] || continue
        case $xr_rel in "$f7" | "$f7.tmp") xr_name=$f1 ;; esac
      done <"$XR_INDEX"
    fi
  fi
  [ -n "$xr_name" ] && xr_find_by_name "$xr_name"
}

xr_store_path() { printf '%s/%s' "$XR_DIR" "$C_STORE"; }

xr_check_rev_or_refuse() { # REV
  xr_rev_matches "$1" "$C_REF" "$C_COMMIT" || xr_refuse_unlisted "$C_URL" "$1"
}

# git-style "strip the scheme and .git" default folder name for `clone URL`.
xr_default_dir() {
  xr_d=$(xr_norm_url "$1" git)
  xr_d=${xr_d##*/}
  xr_d=${xr_d##*:}
  printf '%s' "${xr_d:-repo}"
}

xr_clone() {
  xr_url='' xr_dir='' xr_branch=''
  while [ $# -gt 0 ]; do
    case $1 in
      -b | --branch) xr_branch=${2:-}; [ $# -ge 2 ] && shift; shift ;;
      --branch=*) xr_branch=${1#--branch=}; shift ;;
      --depth | --reference | --origin | -o | -c | --config | -j | --jobs | --separate-git-dir | --template | -u | --upload-pack | --shallow-since | --shallow-exclude | --filter) [ $# -ge 2 ] && shift; shift ;;
      --) shift; break ;;
      -*) shift ;;
      *) break ;;
    esac
  done
  xr_url=${1:-}
  xr_dir=${2:-}
  [ -n "$xr_url" ] || xr_fail "git clone: no repository given"
  [ -n "$xr_dir" ] || xr_dir=$(xr_default_dir "$xr_url")
  if ! xr_find_by_url "$xr_url" tree git; then
    xr_refuse_unlisted "$xr_url" "$xr_branch"
  fi
  [ "$C_STATUS" = vendored ] || xr_refuse_without "$xr_url" "$xr_branch" "$C_NAME"
  [ -z "$xr_branch" ] || xr_check_rev_or_refuse "$xr_branch"
  if [ -e "$xr_dir" ] || [ -L "$xr_dir" ]; then
    if [ -n "$(ls -A "$xr_dir" 2>/dev/null)" ] || [ ! -d "$xr_dir" ]; then
      xr_fail "git clone $xr_url: destination path '$xr_dir' already exists and is not an empty directory"
    fi
  fi
  xr_src=$(xr_store_path)
  [ -d "$xr_src" ] || xr_fail "refusing to serve $xr_url: .xenrel/$C_STORE is missing — run xenrel vendor"
  if ! { mkdir -p "$xr_dir" && cp -RP "$xr_src/." "$xr_dir/"; }; then
    rm -rf "$xr_dir"
    xr_fail "git clone $xr_url: cannot copy .xenrel/$C_STORE to $xr_dir"
  fi
  # Check what was written, so a damaged store is never served.
  xr_private_tmp
  if ! xr_why=$(xr_verify_tree "$xr_dir"); then
    rm -rf "$xr_dir"
    xr_fail "refusing to serve $xr_url ($C_REF): .xenrel/$C_STORE $xr_why — run xenrel vendor to restore it"
  fi
  xr_abs=$(cd "$xr_dir" && pwd -P)
  mkdir -p "$XR_STATE" && printf '%s\t%s\n' "$xr_abs" "$C_NAME" >>"$XR_CLONES"
  xr_log "served $C_NAME $C_COMMIT -> $xr_dir"
  exit 0
}

xr_fetch() {
  xr_remote='' xr_revs=''
  while [ $# -gt 0 ]; do
    case $1 in
      --depth | --shallow-since | --shallow-exclude | -j | --jobs | --upload-pack | --refmap | --filter) [ $# -ge 2 ] && shift; shift ;;
      --) shift; break ;;
      -*) shift ;;
      *) break ;;
    esac
  done
  xr_remote=${1:-origin}
  [ $# -gt 0 ] && shift
  if ! xr_served_here; then
    xr_fail "refusing to fetch $xr_remote${1:+ ($1)} in $(pwd): not a folder xenrel served — add the source to xenrel.config.yaml and run xenrel lock && xenrel vendor"
  fi
  case $xr_remote in
    origin) ;;
    *) [ "$(xr_norm_url "$xr_remote" git)" = "$(xr_norm_url "$C_URL" git)" ] || xr_refuse_unlisted "$xr_remote" "${1:-}" ;;
  esac
  for xr_spec in "$@"; do
    xr_spec=${xr_spec#+}
    xr_spec=${xr_spec%%:*}
    xr_check_rev_or_refuse "$xr_spec"
    xr_revs="$xr_revs $xr_spec"
  done
  xr_log "served $C_NAME $C_COMMIT (fetch${xr_revs:- origin}: already vendored)"
  exit 0
}

xr_checkout() {
  xr_rev=''
  while [ $# -gt 0 ]; do
    case $1 in
      -b | -B) [ $# -ge 2 ] && shift; shift ;;
      --) shift; break ;;
      -*) shift ;;
      *) xr_rev=$1; shift ;;
    esac
  done
  xr_check_rev_or_refuse "$xr_rev"
  xr_log "served $C_NAME $C_COMMIT (checkout ${xr_rev:-HEAD}: already at the locked commit)"
  exit 0
}

xr_reset() {
  xr_rev='' xr_hard=''
  for a do
    case $a in
      --hard) xr_hard=1 ;;
      -*) ;;
      *) xr_rev=$a ;;
    esac
  done
  xr_check_rev_or_refuse "$xr_rev"
  if [ -n "$xr_hard" ]; then
    xr_src=$(xr_store_path)
    xr_private_tmp
    if ! xr_why=$(xr_verify_tree "$xr_src"); then
      xr_fail "refusing to restore $C_NAME from .xenrel/$C_STORE: $xr_why — run xenrel vendor to restore it"
    fi
    # Replace, never write through, a symlink standing where a locked file belongs
    # (GNU cp --remove-destination; other cps write through it, as plain cp -R does).
    xr_rd=''
    xr_probe=$XR_TMP/cp
    if : >"$xr_probe.a" 2>/dev/null && cp --remove-destination "$xr_probe.a" "$xr_probe.b" 2>/dev/null; then
      xr_rd=--remove-destination
    fi
    rm -f "$xr_probe.a" "$xr_probe.b"
    cp -RP $xr_rd "$xr_src/." ./ || xr_fail "git reset --hard: cannot copy .xenrel/$C_STORE into $(pwd)"
  fi
  xr_log "served $C_NAME $C_COMMIT (reset ${xr_hard:+--hard }${xr_rev:-HEAD})"
  exit 0
}

xr_archive() {
  xr_format=tar xr_prefix='' xr_rev='' xr_out=''
  while [ $# -gt 0 ]; do
    case $1 in
      --remote | --remote=* | --exec | --exec=*) xr_fail "refusing to fetch with git archive $*: not in .xenrel/xenrel.lock" ;;
      --format=*) xr_format=${1#--format=} ;;
      --prefix=*) xr_prefix=${1#--prefix=} ;;
      -o | --output) xr_out=${2:-}; [ $# -ge 2 ] && shift ;;
      --output=*) xr_out=${1#--output=} ;;
      -*) ;;
      *) [ -z "$xr_rev" ] && xr_rev=$1 ;;
    esac
    shift
  done
  xr_check_rev_or_refuse "$xr_rev"
  case $xr_format in tar | tgz | tar.gz) ;; *) xr_fail "git archive: format $xr_format is not supported by the xenrel shim (use tar)" ;; esac
  # The prefix names where the entries go; it must stay inside wherever they are unpacked.
  case $xr_prefix in
    /*) xr_fail "git archive: refusing the absolute prefix '$xr_prefix'" ;;
  esac
  case /$xr_prefix/ in
    */../* | */./*) xr_fail "git archive: refusing the prefix '$xr_prefix': it has a '..' or '.' segment" ;;
  esac
  xr_src=$(xr_store_path)
  xr_private_tmp
  if ! xr_why=$(xr_verify_tree "$xr_src"); then
    xr_fail "refusing to serve $C_NAME from .xenrel/$C_STORE: $xr_why — run xenrel vendor to restore it"
  fi
  xr_tmp=$XR_TMP/archive
  if ! { mkdir -p "$xr_tmp/t/$xr_prefix" && cp -RP "$xr_src/." "$xr_tmp/t/$xr_prefix"; }; then
    xr_fail "git archive: cannot stage $C_NAME"
  fi
  xr_top=${xr_prefix%%/*}
  [ -n "$xr_top" ] || xr_top=.
  if [ -n "$xr_out" ]; then exec 1>"$xr_out"; fi
  if [ "$xr_format" = tar ]; then
    (cd "$xr_tmp/t" && tar -cf - "$xr_top") || { rm -rf "$xr_tmp"; xr_fail "git archive: tar failed"; }
  else
    (cd "$xr_tmp/t" && tar -cf - "$xr_top" | gzip -n) || { rm -rf "$xr_tmp"; xr_fail "git archive: tar failed"; }
  fi
  rm -rf "$xr_tmp"
  xr_log "served $C_NAME $C_COMMIT (archive --prefix=$xr_prefix)"
  exit 0
}

xr_rev_parse() {
  for a do
    case $a in
      -*) ;;
      *) xr_check_rev_or_refuse "$a"; printf '%s\n' "$C_COMMIT" ;;
    esac
  done
  xr_log "served $C_NAME $C_COMMIT (rev-parse)"
  exit 0
}

# The real git, from PATH without this folder, for commands that stay local.
xr_real_git() {
  xr_old_ifs=$IFS
  IFS=:
  for d in $PATH; do
    IFS=$xr_old_ifs
    [ -n "$d" ] || continue
    xr_dp=$(cd "$d" 2>/dev/null && pwd -P) || continue
    [ "$xr_dp" = "$XR_BIN" ] && continue
    if [ -x "$d/git" ] && [ ! -d "$d/git" ]; then
      printf '%s' "$d/git"
      return 0
    fi
  done
  IFS=$xr_old_ifs
  return 1
}

# Global options: apply -C (cd), count how many words they take; XR_CMD is the command.
xr_parse_globals() {
  XR_NG=0
  XR_CMD=
  while [ $# -gt 0 ]; do
    case $1 in
      -C) cd "${2:-.}" || xr_fail "git -C ${2:-}: no such folder"; XR_NG=$((XR_NG + 2)); [ $# -ge 2 ] && shift; shift ;;
      -c) XR_NG=$((XR_NG + 2)); [ $# -ge 2 ] && shift; shift ;;
      -*) XR_NG=$((XR_NG + 1)); shift ;;
      *) XR_CMD=$1; return 0 ;;
    esac
  done
}

# ---- main ----
xr_start_dir=$PWD
xr_parse_globals "$@"

case $XR_CMD in
  clone) shift $((XR_NG + 1)); xr_clone "$@" ;;
  ls-remote | pull | push | fetch-pack | send-pack | request-pull | svn | p4 | cvsimport | bundle | lfs | remote)
    shift $((XR_NG + 1))
    xr_fail "refusing to run git $XR_CMD $*: it may reach a remote, and xenrel serves only what .xenrel/xenrel.lock lists"
    ;;
esac

if [ -n "$XR_CMD" ] && xr_served_here; then
  shift $((XR_NG + 1))
  case $XR_CMD in
    fetch) xr_fetch "$@" ;;
    checkout | switch) xr_checkout "$@" ;;
    reset) xr_reset "$@" ;;
    branch | tag | gc | prune) xr_log "served $C_NAME (git $XR_CMD: nothing to do)"; exit 0 ;;
    submodule) xr_log "served $C_NAME (submodule $*: nested sources are vendored)"; exit 0 ;;
    archive) xr_archive "$@" ;;
    rev-parse) xr_rev_parse "$@" ;;
    *) xr_fail "git $XR_CMD is not available in $(pwd): xenrel placed $C_NAME ($C_REF, $C_COMMIT) there without .git" ;;
  esac
fi

case $XR_CMD in
  fetch)
    # Not a folder xenrel served: name what was asked for, then refuse.
    shift $((XR_NG + 1))
    xr_remote='' xr_rev=''
    for a do
      case $a in
        -*) ;;
        *) if [ -z "$xr_remote" ]; then xr_remote=$a; elif [ -z "$xr_rev" ]; then xr_rev=${a#+}; fi ;;
      esac
    done
    xr_url=${xr_remote:-origin}
    if xr_git=$(xr_real_git); then
      xr_url=$(GIT_ALLOW_PROTOCOL=xenrel-none "$xr_git" config --get "remote.$xr_url.url" 2>/dev/null) || xr_url=${xr_remote:-origin}
    fi
    xr_refuse_unlisted "$xr_url" "${xr_rev%%:*}"
    ;;
  submodule)
    xr_fail "refusing to fetch the submodules of $(pwd): not a folder xenrel served — vendor them through xenrel.config.yaml"
    ;;
  archive)
    case " $* " in
      *" --remote"*) xr_fail "refusing to run git archive: --remote may reach a remote, and xenrel serves only what .xenrel/xenrel.lock lists" ;;
    esac
    ;;
esac

# Anything else stays local: the real git, with the original words, unable to use any
# transport.
cd "$xr_start_dir" || exit 1
xr_git=$(xr_real_git) || xr_fail "git $XR_CMD: no real git on PATH, and the xenrel shim only serves fetches"
xr_log "delegated to $xr_git"
GIT_ALLOW_PROTOCOL=xenrel-none GIT_NO_LAZY_FETCH=1 GIT_TERMINAL_PROMPT=0 exec "$xr_git" "$@"

# ---- FETCHER part of the xenrel shim (scripts/shim/fetch.sh) ----
# Xen calls $(FETCHER) as `-c -O OUT URL` (configured from wget), `-o OUT URL` (ftp) or
# `OUT URL` (FETCHER given on the command line). The file comes from .xenrel/sources/,
# checked against the lock's digest, written under a temporary name, then renamed.

xr_out='' xr_url=''
xr_pos1='' xr_pos2='' xr_npos=0
while [ $# -gt 0 ]; do
  case $1 in
    -O | -o | --output-document | --output) xr_out=${2:-}; [ $# -ge 2 ] && shift ;;
    --output-document=*) xr_out=${1#--output-document=} ;;
    -O?*) xr_out=${1#-O} ;;
    --) shift; break ;;
    -*) ;;
    *)
      xr_npos=$((xr_npos + 1))
      case $xr_npos in 1) xr_pos1=$1 ;; 2) xr_pos2=$1 ;; esac
      ;;
  esac
  shift
done
for a do
  xr_npos=$((xr_npos + 1))
  case $xr_npos in 1) xr_pos1=$a ;; 2) xr_pos2=$a ;; esac
done

if [ -n "$xr_out" ] && [ "$xr_npos" -eq 1 ]; then
  xr_url=$xr_pos1
elif [ -z "$xr_out" ] && [ "$xr_npos" -eq 2 ]; then
  xr_out=$xr_pos1 xr_url=$xr_pos2
else
  xr_fail "usage: fetch [-c] -O OUT URL, or fetch OUT URL (got: $XR_CALL)"
fi

xr_find_by_url "$xr_url" file || xr_refuse_unlisted "$xr_url"
[ "$C_STATUS" = vendored ] || xr_refuse_without "$xr_url" "" "$C_NAME"

xr_src=$XR_DIR/$C_STORE
[ -f "$xr_src" ] || xr_fail "refusing to serve $xr_url: .xenrel/$C_STORE is missing — run xenrel vendor"
# The temporary name is new and ours: made by mktemp (O_EXCL, random) in the target
# folder, else created under noclobber; never a name a planted symlink could stand at.
xr_tdir=$(dirname -- "$xr_out")
xr_tpl=$xr_tdir/.$(basename -- "$xr_out").xenrel-tmp
if command -v mktemp >/dev/null 2>&1; then
  xr_tmp=$(mktemp "$xr_tpl.XXXXXXXX") || xr_fail "fetch $xr_url: cannot create a temporary file in $xr_tdir"
  # mktemp makes it 0600: give it the mode a download would have (0666 less the umask).
  chmod "$(printf '%o' $((0666 & ~0$(umask))))" "$xr_tmp" || { rm -f "$xr_tmp"; xr_fail "fetch $xr_url: cannot write $xr_out"; }
else
  xr_tmp=$xr_tpl.$$
  (set -C && : >"$xr_tmp") 2>/dev/null || xr_fail "fetch $xr_url: cannot create $xr_tmp (it exists)"
fi
cat "$xr_src" >"$xr_tmp" || { rm -f "$xr_tmp"; xr_fail "fetch $xr_url: cannot write $xr_out"; }
# Check the bytes written, so a damaged store is never served.
if ! xr_why=$(xr_verify_file "$xr_tmp"); then
  rm -f "$xr_tmp"
  xr_fail "refusing to serve $xr_url: .xenrel/$C_STORE $xr_why — run xenrel vendor to restore it"
fi
mv -f "$xr_tmp" "$xr_out" || { rm -f "$xr_tmp"; xr_fail "fetch $xr_url: cannot write $xr_out"; }
xr_log "served $C_NAME -> $xr_out"
exit 0

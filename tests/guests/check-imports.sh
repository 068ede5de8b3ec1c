#!/usr/bin/env bash
# tests/guests/check-imports.sh: checks built guest modules against the ABI spec, docs/abi.md.
#
#   check-imports.sh [--abi path/to/abi.md] module.wasm...
#   check-imports.sh [--abi path/to/abi.md] --self-test
#
# A module passes when (1) every import is a function listed in one of abi.md's import tables (a
# "## ... module `M`" section whose rows read "| `name(...)` | `(i32 ...) -> r` | ...") with
# exactly that signature, and (2) it exports only what abi.md's exports table lists: `memory` (a
# memory of its own) and `_initialize`, always; `fetch` (a worker), `do_fetch` (a Durable Object
# class) or both; `do_alarm` only beside `do_fetch`; the functions all () -> (). The tables are
# the contract the host links against, so a guest that passes here loads; one that fails names
# the module, the import and what abi.md says.
# --self-test builds known-bad modules with wat2wasm and checks each one fails, and known-good
# ones (a worker, a class, both) and checks each one passes.
# Exit: 0 all pass, 1 a module fails, 2 bad usage or missing tools.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
abi=$here/../../docs/abi.md
objdump=${WASM_OBJDUMP:-wasm-objdump}

die() { echo "check-imports: $*" >&2; exit 2; }

# Prints "module.name<TAB>signature" for each row of abi.md's import tables.
allowed_imports() {
  awk '
    /^## / {
      module = ""
      if (match($0, /module `[^`]+`/)) module = substr($0, RSTART + 8, RLENGTH - 9)
      next
    }
    module != "" && /^\| `/ {
      split($0, cell, "|")
      sig = cell[3]
      gsub(/^ *`|` *$/, "", sig)
      if (sig !~ /^\(.*\) -> /) next
      names = cell[2]
      while (match(names, /`[a-z_0-9]+/)) {
        printf "%s.%s\t%s\n", module, substr(names, RSTART + 1, RLENGTH - 1), sig
        names = substr(names, RSTART + RLENGTH)
      }
    }' "$abi"
}

# Checks one module; prints one line per problem and returns 1 if there was any.
check_module() {
  local wasm=$1 dump
  dump=$("$objdump" -x "$wasm" 2>&1) || { echo "$wasm: wasm-objdump failed: $dump"; return 1; }
  printf '%s\n' "$dump" | awk -F'\t' -v wasm="$wasm" '
    FNR == NR { allowed[$1] = $2; next }
    /^[A-Z][A-Za-z]*\[[0-9]+\]:$/ { section = $0; sub(/\[.*/, "", section); next }
    /^Custom:/ { section = "Custom"; next }
    # wasm-objdump writes "(i32, i64) -> nil"; abi.md writes "(i32 i64) -> ()".
    section == "Type" && match($0, /^ - type\[[0-9]+\] /) {
      idx = substr($0, 9, RLENGTH - 10)
      sig = substr($0, RSTART + RLENGTH)
      gsub(/,/, "", sig)
      sub(/-> nil$/, "-> ()", sig)
      type[idx] = sig
      next
    }
    section == "Import" && / <- / {
      name = $0
      sub(/.* <- /, "", name)
      if ($0 !~ /^ - func\[/) { problem("imports a non-function: " name); next }
      match($0, /^ - func\[[0-9]+\]/); fidx = substr($0, 9, RLENGTH - 9)
      match($0, /sig=[0-9]+/); fsig[fidx] = type[substr($0, RSTART + 4, RLENGTH - 4)]
      if (!(name in allowed)) problem("imports " name " " fsig[fidx] ", which docs/abi.md does not list")
      else if (allowed[name] != fsig[fidx])
        problem("imports " name " as " fsig[fidx] "; docs/abi.md says " allowed[name])
      next
    }
    section == "Function" && match($0, /^ - func\[[0-9]+\] sig=[0-9]+/) {
      line = substr($0, 1, RLENGTH)
      fidx = line; sub(/^ - func\[/, "", fidx); sub(/\].*/, "", fidx)
      sidx = line; sub(/.*sig=/, "", sidx)
      fsig[fidx] = type[sidx]
      next
    }
    section == "Export" && match($0, /-> "[^"]*"$/) {
      name = substr($0, RSTART + 4, RLENGTH - 5)
      exported[name] = 1
      if (name == "memory") {
        if ($0 !~ /^ - memory\[/) problem("exports \"memory\" that is not a memory")
      } else if (name == "fetch" || name == "do_fetch" || name == "do_alarm" || name == "_initialize") {
        match($0, /^ - func\[[0-9]+\]/)
        fidx = substr($0, 9, RLENGTH - 9)
        if ($0 !~ /^ - func\[/ || fsig[fidx] != "() -> ()")
          problem("exports " name " as " fsig[fidx] "; docs/abi.md says () -> ()")
      } else {
        problem("exports \"" name "\"; docs/abi.md allows only memory, fetch, do_fetch, do_alarm, _initialize")
      }
      next
    }
    function problem(msg) { print wasm ": " msg; bad = 1 }
    END {
      if (!("memory" in exported)) problem("does not export memory")
      if (!("fetch" in exported) && !("do_fetch" in exported))
        problem("exports neither fetch (a worker) nor do_fetch (a Durable Object class)")
      if (("do_alarm" in exported) && !("do_fetch" in exported))
        problem("exports do_alarm without do_fetch (an alarm runs in a Durable Object class)")
      if (!("_initialize" in exported)) problem("does not export _initialize (build as a reactor)")
      exit bad
    }' <(allowed_imports) -
}

# Each known-bad module must fail and each good one (its name starts with "good") must pass.
self_test() {
  command -v wat2wasm >/dev/null || die "wat2wasm (package wabt) not found"
  local dir good failures=0
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' RETURN
  good='(memory (export "memory") 1) (func (export "_initialize"))'
  local -A cases=(
    [good]="(import \"edgelab\" \"resp_write\" (func (param i32 i32))) $good (func (export \"fetch\"))"
    [undocumented]="(import \"edgelab\" \"kv_cas\" (func (param i32) (result i32))) $good (func (export \"fetch\"))"
    [wrong_sig]="(import \"edgelab\" \"resp_write\" (func (param i32 i32) (result i32))) $good (func (export \"fetch\"))"
    [i64_as_i32]="(import \"wasi_snapshot_preview1\" \"clock_time_get\" (func (param i32 i32 i32) (result i32))) $good (func (export \"fetch\"))"
    [unlisted_wasi]="(import \"wasi_snapshot_preview1\" \"path_open\" (func (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32))) $good (func (export \"fetch\"))"
    [other_module]="(import \"env\" \"foo\" (func)) $good (func (export \"fetch\"))"
    [imported_memory]="(import \"env\" \"memory\" (memory 1)) (export \"memory\" (memory 0)) (func (export \"_initialize\")) (func (export \"fetch\"))"
    [extra_export]="$good (func (export \"fetch\")) (func (export \"main\"))"
    [no_fetch]="$good"
    [fetch_sig]="$good (func (export \"fetch\") (param i32))"
    [good_class]="$good (func (export \"do_fetch\")) (func (export \"do_alarm\"))"
    [good_worker_and_class]="$good (func (export \"fetch\")) (func (export \"do_fetch\")) (func (export \"do_alarm\"))"
    [do_fetch_sig]="$good (func (export \"do_fetch\") (result i32) i32.const 0)"
    [do_alarm_sig]="$good (func (export \"do_fetch\")) (func (export \"do_alarm\") (param i64))"
    [alarm_without_class]="$good (func (export \"fetch\")) (func (export \"do_alarm\"))"
    [class_extra_export]="$good (func (export \"do_fetch\")) (func (export \"do_alarms\"))"
  )
  for name in "${!cases[@]}"; do
    echo "(module ${cases[$name]})" >"$dir/$name.wat"
    wat2wasm "$dir/$name.wat" -o "$dir/$name.wasm" || { echo "self-test: $name does not assemble"; failures=1; continue; }
    if check_module "$dir/$name.wasm" >"$dir/$name.out"; then
      [[ $name == good* ]] || { echo "self-test: $name passed but must fail"; failures=1; }
    else
      [[ $name != good* ]] || { echo "self-test: $name failed:"; cat "$dir/$name.out"; failures=1; }
    fi
  done
  [[ $failures == 0 ]] && echo "check-imports self-test: ${#cases[@]} cases ok"
  return $failures
}

modules=()
self=0
while (($#)); do
  case $1 in
    --abi) abi=${2:?--abi needs a path}; shift 2 ;;
    --self-test) self=1; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) modules+=("$1"); shift ;;
  esac
done
[[ -r $abi ]] || die "cannot read $abi"
command -v "$objdump" >/dev/null || die "$objdump (package wabt) not found"
[[ -n $(allowed_imports) ]] || die "$abi: found no import tables (a '## ... module \`M\`' section)"
if ((self)); then self_test; exit; fi
((${#modules[@]})) || die "usage: check-imports.sh [--abi abi.md] module.wasm... | --self-test"

status=0
for m in "${modules[@]}"; do
  [[ -r $m ]] || { echo "$m: not found (build it first)"; status=1; continue; }
  if check_module "$m"; then echo "ok $m"; else status=1; fi
done
exit $status

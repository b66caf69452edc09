#!/usr/bin/env bash
# Hardware-in-the-loop test: boots meshbox (GOARM=7) on Debian's armhf kernel in
# QEMU's ast2600-evb machine (real gpio-aspeed gpiochip, i2c-aspeed + i2c-dev
# with an emulated TMP105) and drives it from the host as a phone over the
# forwarded WebSocket while QMP plays the hardware (internal/hil, TestHIL).
#
# Usage: bash scripts/hil/run.sh            (make hil)
#        bash scripts/hil/run.sh --prepare  (fetch + build the initramfs only)
# Env:   HIL_TARGET=meshbox|probe  guest program (default meshbox; probe is the
#                                   harness's own stand-in, scripts/hil/probe)
#        HIL_CACHE=DIR             downloads and build output (default .cache/hil)
#        HIL_REFRESH=1             re-resolve and re-download the Debian packages
#        HIL_PROBE_PULL=none|up|down|keep  the probe's input bias (default none)
#        CI=true                   missing tools are an error instead of a skip
# Needs: qemu-system-arm, cpio, apt-get + dpkg-deb (Debian), go. No root.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
t0=$(date +%s)
say() { echo "hil: $* ($(($(date +%s) - t0))s)"; }
die() { echo "hil: FAIL: $*" >&2; exit 1; }
trap 'echo "hil: FAIL: line $LINENO: $BASH_COMMAND (exit $?)" >&2' ERR

prepare_only=false
[ "${1:-}" = "--prepare" ] && prepare_only=true
target=${HIL_TARGET:-meshbox}
case $target in meshbox | probe) ;; *) die "HIL_TARGET must be meshbox or probe, not $target" ;; esac

missing=()
for t in qemu-system-arm cpio apt-get apt-cache dpkg-deb go; do
	command -v "$t" >/dev/null || missing+=("$t")
done
if [ ${#missing[@]} -gt 0 ]; then
	msg="missing tools: ${missing[*]} (apt-get install qemu-system-arm cpio)"
	[ "${CI:-}" = true ] && die "$msg"
	echo "hil: SKIP: $msg"
	exit 0
fi

cache=${HIL_CACHE:-$root/.cache/hil}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
kdir=$cache/kernel # vmlinuz, ast2600-evb.dtb, busybox, modules/*.ko, modules/order, VERSION

# --- 1. Debian armhf packages (private apt state: no foreign architecture is
# added to the system; same mirror as the system's sources) ----------------
fetch_debian() {
	local apt=$cache/apt mirror
	mirror=$(grep -rhoE '(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null |
		grep -v security | head -1 | awk '{print $2}' || true)
	mirror=${mirror:-http://deb.debian.org/debian}
	local suite
	suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
	mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/etc" "$cache/debs"
	: >"$apt/status"
	echo "deb [arch=armhf signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" >"$apt/etc/sources.list"
	local A=(-o APT::Architecture=armhf -o APT::Architectures=armhf
		-o Dir::State="$apt" -o Dir::State::status="$apt/status" -o Dir::Cache="$apt"
		-o Dir::Etc::SourceList="$apt/etc/sources.list" -o Dir::Etc::SourceParts=/dev/null
		-o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
		-o Debug::NoLocking=1 -o APT::Sandbox::User="$(id -un)")
	say "apt-get update (armhf, $mirror $suite, private state)"
	apt-get "${A[@]}" -qq update
	local kpkg
	kpkg=$(apt-cache "${A[@]}" depends linux-image-armmp | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
	[ -n "$kpkg" ] || die "cannot resolve linux-image-armmp for armhf"
	say "apt-get download $kpkg busybox-static"
	(cd "$cache/debs" && rm -f ./*.deb && apt-get "${A[@]}" -qq download "$kpkg" busybox-static)

	local x=$cache/extract
	rm -rf "$x" "$kdir.new"
	mkdir -p "$x" "$kdir.new/modules"
	for d in "$cache"/debs/*.deb; do dpkg-deb -x "$d" "$x"; done
	local kver=${kpkg#linux-image-}
	cp "$x/boot/vmlinuz-$kver" "$kdir.new/vmlinuz"
	local dtb
	dtb=$(find "$x/usr/lib/linux-image-$kver" -name 'aspeed-ast2600-evb.dtb' | head -1)
	[ -n "$dtb" ] || die "no aspeed-ast2600-evb.dtb in $kpkg"
	cp "$dtb" "$kdir.new/ast2600-evb.dtb"
	cp "$x/bin/busybox" "$kdir.new/busybox"

	# Modules and their dependencies (from each .ko's .modinfo depends=),
	# written in load order.
	local mroot=$x/lib/modules/$kver/kernel
	declare -A path=() seen=()
	local f n
	while IFS= read -r f; do
		n=${f##*/}
		n=${n%%.ko*}
		path[${n//-/_}]=$f
	done < <(find "$mroot" -name '*.ko*')
	order=()
	add() {
		local key=${1//-/_} f dep
		[ -n "${seen[$key]:-}" ] && return
		f=${path[$key]:-}
		[ -n "$f" ] || die "module $1 not in $kpkg"
		seen[$key]=1
		local raw=$f
		case $f in
		*.xz) raw=$(mktemp) && xz -dc "$f" >"$raw" ;;
		*.zst) raw=$(mktemp) && zstd -qdc "$f" >"$raw" ;;
		esac
		for dep in $(tr '\0' '\n' <"$raw" | sed -n 's/^depends=//p' | tr ',' ' '); do add "$dep"; done
		local base=${f##*/}
		base=${base%%.ko*}
		cp "$raw" "$kdir.new/modules/$base.ko"
		order+=("$base")
	}
	for m in gpio-aspeed i2c-aspeed i2c-dev mdio-aspeed ftgmac100; do add "$m"; done
	printf '%s\n' "${order[@]}" >"$kdir.new/modules/order"
	echo "$kpkg $(dpkg-deb -f "$cache"/debs/linux-image-*.deb Version)" >"$kdir.new/VERSION"
	rm -rf "$kdir" "$x" "$cache/debs" "$apt" # keep only what the boot needs (~20 MB)
	mv "$kdir.new" "$kdir"
	say "kernel $(cat "$kdir/VERSION"), modules: ${order[*]}"
}

if [ -n "${HIL_REFRESH:-}" ] || [ ! -s "$kdir/VERSION" ]; then
	fetch_debian
else
	say "cached kernel $(cat "$kdir/VERSION") (HIL_REFRESH=1 to re-fetch)"
fi

# --- 2. Guest binary --------------------------------------------------------
run=$cache/run
rm -rf "$run"
mkdir -p "$run/rootfs"/{bin,etc/hil,etc/meshbox,lib/modules,proc,sys,dev,run,tmp,root}
rfs=$run/rootfs
say "go build $target (linux/arm GOARM=7)"
case $target in
meshbox)
	GOOS=linux GOARCH=arm GOARM=7 CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$rfs/bin/meshbox" ./cmd/meshbox
	echo "/bin/meshbox -config /etc/meshbox/meshbox.yaml -listen :8765" >"$rfs/etc/hil/cmd"
	;;
probe)
	GOOS=linux GOARCH=arm GOARM=7 CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$rfs/bin/probe" ./scripts/hil/probe
	# Same wiring as scripts/hil/meshbox.yaml.
	echo "/bin/probe -listen :8765 -chip gpiochip0 -out relay1=40:off -out lamp=42:on -out fan=43:off:on -in door=41 -pull ${HIL_PROBE_PULL:-none} -bus 3 -addr 0x48 -interval 1s" >"$rfs/etc/hil/cmd"
	;;
esac

# --- 3. initramfs (cpio newc, no root needed) --------------------------------
cp "$kdir/busybox" "$rfs/bin/busybox"
cp "$root/scripts/hil/init.sh" "$rfs/init"
chmod 0755 "$rfs/init" "$rfs/bin/busybox"
cp "$kdir"/modules/*.ko "$rfs/lib/modules/"
cp "$kdir/modules/order" "$rfs/etc/hil/modules"
cp "$root/scripts/hil/meshbox.yaml" "$rfs/etc/meshbox/meshbox.yaml"
hil_mac=52:54:00:12:34:56
echo "$hil_mac" >"$rfs/etc/hil/mac"
echo "export MESH_AUTH_TOKEN=hil-token" >"$rfs/etc/hil/env"
(cd "$rfs" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$run/initrd.cpio"
say "initramfs $(($(stat -c %s "$run/initrd.cpio") / 1024)) KiB"

export HIL_KERNEL=$kdir/vmlinuz HIL_DTB=$kdir/ast2600-evb.dtb HIL_INITRD=$run/initrd.cpio HIL_MAC=$hil_mac HIL_LOGDIR=$run
if $prepare_only; then
	echo "HIL_KERNEL=$HIL_KERNEL"
	echo "HIL_DTB=$HIL_DTB"
	echo "HIL_INITRD=$HIL_INITRD"
	echo "HIL_MAC=$HIL_MAC"
	exit 0
fi

# --- 4. Boot and drive it (internal/hil) ------------------------------------
say "go test ./internal/hil (boot + phone + QMP)"
rc=0
MESHBOX_HIL=1 go test -count=1 -v -timeout 5m -run '^TestHIL$' ./internal/hil/ || rc=$?
say "console log: $run/console.log"
[ $rc -eq 0 ] || die "TestHIL failed (rc=$rc)"
say "PASS ($target)"

# shellcheck shell=bash
# Writing the finished image to a card, with the safety checks that keep
# flash.sh away from anything but a removable, unmounted, whole-disk device
# that is not the system disk. Sourced by flash.sh.
#
# Test hooks (used by scripts/flash_test.go, never needed by users):
#   MESHBOX_FLASH_SYSFS        sysfs root (default /sys)
#   MESHBOX_FLASH_MOUNTS       mount table (default /proc/self/mounts)
#   MESHBOX_FLASH_SWAPS        swap table (default /proc/swaps)
#   MESHBOX_FLASH_TEST_DEVICE  path of a regular file accepted as the device
#                              named by its basename (sysfs comes from
#                              MESHBOX_FLASH_SYSFS)
#   MESHBOX_FLASH_NO_BMAPTOOL  1 = use dd even when bmaptool is installed

SYSFS=${MESHBOX_FLASH_SYSFS:-/sys}
MOUNTS=${MESHBOX_FLASH_MOUNTS:-/proc/self/mounts}
SWAPS=${MESHBOX_FLASH_SWAPS:-/proc/swaps}

# disk_of NAME: the whole-disk sysfs name holding block device NAME
# (a disk, a partition, or a device-mapper device on one disk).
disk_of() {
	local n=$1 s
	if [[ -e $SYSFS/block/$n ]]; then
		if [[ -d $SYSFS/block/$n/slaves ]] && compgen -G "$SYSFS/block/$n/slaves/*" >/dev/null; then
			for s in "$SYSFS/block/$n/slaves/"*; do disk_of "$(basename "$s")"; done
			return
		fi
		echo "$n"
		return
	fi
	for s in "$SYSFS/block/"*/"$n"; do
		[[ -e $s ]] && basename "$(dirname "$s")"
	done
}

# mounted_on_disk DISK: print "SOURCE MOUNTPOINT" for every mount (and
# swap) on DISK or its partitions.
mounted_on_disk() {
	local disk=$1 src mp rest name d
	while read -r src mp rest; do
		[[ $src == /dev/* ]] || continue
		name=$(basename "$(readlink -f "$src" 2>/dev/null || echo "$src")")
		for d in $(disk_of "$name") $(disk_of "$(basename "$src")"); do
			if [[ $d == "$disk" ]]; then
				printf '%s %s\n' "$src" "$(printf '%b' "$mp")"
				break
			fi
		done
	done < <(cat "$MOUNTS" 2>/dev/null; awk 'NR > 1 { print $1, "[swap]" }' "$SWAPS" 2>/dev/null)
}

# check_device DEV IMAGE_BYTES: refuse anything but a safe target. Sets
# DEV_BYTES DEV_MODEL.
check_device() {
	local dev=$1 need=$2 real name
	[[ -e $dev ]] || die "$dev does not exist"
	real=$(readlink -f "$dev")
	name=$(basename "$real")
	if [[ -n ${MESHBOX_FLASH_TEST_DEVICE:-} && $real == "$(readlink -f "$MESHBOX_FLASH_TEST_DEVICE")" ]]; then
		[[ -f $real ]] || die "test device $real is not a regular file"
	elif [[ ! -b $real ]]; then
		die "$dev is not a block device"
	fi
	if [[ ! -d $SYSFS/block/$name ]]; then
		if [[ -e $SYSFS/class/block/$name/partition ]] || [[ -n $(disk_of "$name") ]]; then
			die "$dev is a partition; give the whole card (e.g. /dev/$(disk_of "$name" | head -n1))"
		fi
		die "$dev is not a whole disk known to the kernel"
	fi
	local removable=0 path
	removable=$(cat "$SYSFS/block/$name/removable" 2>/dev/null || echo 0)
	path=$(readlink -f "$SYSFS/block/$name" 2>/dev/null || true)
	if [[ $removable != 1 && $name != mmcblk* && $path != */usb* ]]; then
		die "$dev is not removable media (not a USB or SD card reader): refusing to write"
	fi
	# The system disk: whatever holds /, /boot, /usr, /var or /home.
	local src mp hits
	hits=$(mounted_on_disk "$name")
	while read -r src mp; do
		case $mp in
		/ | /boot | /boot/* | /usr | /var | /home | /efi)
			die "$dev holds $mp of the running system ($src): refusing to write to the system disk"
			;;
		esac
	done <<<"$hits"
	if [[ -n $hits ]]; then
		die "$dev is in use, unmount it first: $(tr '\n' ';' <<<"$hits" | sed 's/;$//; s/;/; /g')"
	fi
	DEV_BYTES=$(($(cat "$SYSFS/block/$name/size" 2>/dev/null || echo 0) * 512))
	DEV_MODEL=$(
		v=$(cat "$SYSFS/block/$name/device/vendor" 2>/dev/null || true)
		m=$(cat "$SYSFS/block/$name/device/model" 2>/dev/null || cat "$SYSFS/block/$name/device/name" 2>/dev/null || true)
		echo "$v $m" | tr -s ' ' | sed 's/^ //; s/ $//'
	)
	[[ -n $DEV_MODEL ]] || DEV_MODEL="unknown model"
	((DEV_BYTES > 0)) || die "$dev reports no size (no card in the reader?)"
	((DEV_BYTES >= need)) || die "$dev is too small: $(human "$DEV_BYTES") for a $(human "$need") image"
	if [[ ! -w $real ]]; then
		die "no permission to write $dev (run with sudo)"
	fi
}

human() { numfmt --to=si --round=nearest --suffix=B --format='%.1f' "$1" 2>/dev/null || echo "$1 bytes"; }

# confirm DEV: ask on the terminal unless --yes.
confirm() {
	local dev=$1 answer=''
	[[ $YES == 1 ]] && return 0
	printf 'About to ERASE %s: %s, %s.\nType "yes" to write the image: ' "$dev" "$DEV_MODEL" "$(human "$DEV_BYTES")" >&2
	read -r answer || true
	[[ $answer == yes ]] || die "not confirmed; nothing written (use --yes in scripts)"
}

# write_device IMG DEV: copy, sync, read back and compare.
write_device() {
	local img=$1 dev=$2 len
	len=$(stat -c %s "$img")
	if command -v bmaptool >/dev/null && [[ ${MESHBOX_FLASH_NO_BMAPTOOL:-} != 1 ]]; then
		local bmap="$TMP/image.bmap"
		info "writing with bmaptool"
		bmaptool -q create -o "$bmap" "$img" || die "bmaptool create failed"
		bmaptool -q copy --bmap "$bmap" "$img" "$dev" || die "bmaptool copy to $dev failed"
		sync
		verify_bmap "$bmap" "$dev"
	else
		info "writing with dd"
		dd if="$img" of="$dev" bs=4M conv=fsync,notrunc status=progress || die "dd to $dev failed"
		sync
		verify_full "$img" "$dev" "$len"
	fi
}

# read_dev DEV SKIP COUNT BS: read back from the medium, not the page cache.
read_dev() {
	local flag=''
	[[ -b $1 ]] && flag=iflag=direct
	dd if="$1" bs="$4" skip="$2" count="$3" $flag status=none
}

verify_full() {
	local img=$1 dev=$2 len=$3 want got
	info "verifying $(human "$len")"
	[[ -b $dev ]] && blockdev --flushbufs "$dev" 2>/dev/null
	want=$(sha256sum <"$img" | cut -d' ' -f1)
	got=$(read_dev "$dev" 0 $(((len + 1048575) / 1048576)) 1M | head -c "$len" | sha256sum | cut -d' ' -f1)
	[[ $want == "$got" ]] || die "verification FAILED: $dev does not read back what was written (bad card or reader?)"
	info "verified: sha256 $got"
}

# verify_bmap BMAP DEV: read back every mapped range and check its sha256.
verify_bmap() {
	local bmap=$1 dev=$2 bs first last sum got n=0
	bs=$(sed -n 's:.*<BlockSize> *\([0-9]*\) *</BlockSize>.*:\1:p' "$bmap")
	[[ -n $bs ]] || die "bmap has no block size"
	[[ -b $dev ]] && blockdev --flushbufs "$dev" 2>/dev/null
	info "verifying the mapped ranges"
	while read -r sum first last; do
		last=${last:-$first}
		got=$(read_dev "$dev" "$first" $((last - first + 1)) "$bs" | sha256sum | cut -d' ' -f1)
		[[ $got == "$sum" ]] || die "verification FAILED at blocks $first-$last of $dev (bad card or reader?)"
		n=$((n + 1))
	done < <(sed -n 's:.*<Range chksum="\([0-9a-f]*\)"> *\([0-9]*\)-*\([0-9]*\) *</Range>.*:\1 \2 \3:p' "$bmap")
	((n > 0)) || die "bmap lists no ranges"
	info "verified $n ranges"
}

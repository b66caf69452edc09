#!/usr/bin/env bash
# sample-image.sh: a small Raspberry-Pi-OS-like disk image to try flash.sh
# with, no download needed: an MBR with a FAT boot partition (config.txt,
# cmdline.txt) and an ext4 root holding the files flash.sh edits (users,
# groups, hostname, time zones, an ELF /usr/bin/dash for the architecture
# check). It does not boot: it is for `flash.sh --image-only` and the tests.
#
#   scripts/sample-image.sh OUT.img [--arch arm64|armhf] [--cloud-init]
#   scripts/flash.sh OUT.img --board pi4 --config examples/relays.yaml --image-only /tmp/meshbox.img
#
# Needs: sfdisk (fdisk), mkfs.vfat (dosfstools), mtools, mke2fs and debugfs (e2fsprogs).
set -euo pipefail

die() {
	printf 'sample-image: error: %s\n' "$*" >&2
	exit 1
}

OUT='' ARCH=arm64 CLOUD_INIT=0
while [[ $# -gt 0 ]]; do
	case $1 in
	--arch) [[ $# -ge 2 ]] || die "--arch needs arm64 or armhf"; ARCH=$2; shift ;;
	--cloud-init) CLOUD_INIT=1 ;;
	-h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option $1" ;;
	*) [[ -z $OUT ]] || die "unexpected argument $1"; OUT=$1 ;;
	esac
	shift
done
[[ -n $OUT ]] || die "usage: sample-image.sh OUT.img [--arch arm64|armhf] [--cloud-init]"
[[ $ARCH == arm64 || $ARCH == armhf ]] || die "--arch $ARCH: want arm64 or armhf"
for tool in sfdisk mkfs.vfat mcopy mke2fs debugfs dd; do
	command -v "$tool" >/dev/null || die "$tool is missing (apt-get install fdisk dosfstools mtools e2fsprogs)"
done

BOOT_START=8192 BOOT_KIB=$((32 * 1024)) ROOT_KIB=$((40 * 1024))
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sample-image.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# put PATH MODE: stdin to $TMP/rootfs/PATH.
put() {
	mkdir -p "$(dirname "$TMP/rootfs/$1")"
	cat >"$TMP/rootfs/$1"
	chmod "$2" "$TMP/rootfs/$1"
}

# elf ARCH: an ELF header (64 bytes) for arm64 or armhf, then padding.
elf() {
	if [[ $1 == arm64 ]]; then
		printf '\177ELF\002\001\001\000\000\000\000\000\000\000\000\000\002\000\267\000'
	else
		printf '\177ELF\001\001\001\000\000\000\000\000\000\000\000\000\002\000\050\000'
	fi
	head -c 300 /dev/zero
}

# Boot partition.
mkdir -p "$TMP/bootfs"
printf '# For more options and information see\r\n# http://rptl.io/configtxt\r\ndtparam=audio=on\r\ncamera_auto_detect=1\r\n\r\n[cm4]\r\notg_mode=1\r\n\r\n[all]\r\n' >"$TMP/bootfs/config.txt"
echo "console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait quiet" >"$TMP/bootfs/cmdline.txt"
echo "not a kernel" >"$TMP/bootfs/kernel8.img"
files=(config.txt cmdline.txt kernel8.img)
if ((CLOUD_INIT)); then
	echo "#cloud-config" >"$TMP/bootfs/user-data"
	files+=(user-data)
fi
mkfs.vfat -C -n bootfs "$TMP/boot.fat" "$BOOT_KIB" >/dev/null 2>"$TMP/mkfs.err" || { cat "$TMP/mkfs.err" >&2; die "mkfs.vfat failed"; }
for f in "${files[@]}"; do
	MTOOLS_SKIP_CHECK=1 mcopy -i "$TMP/boot.fat" "$TMP/bootfs/$f" "::/$f"
done

# Root file system.
put etc/passwd 0644 <<'X'
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin
pi:x:1000:1000:,,,:/home/pi:/bin/bash
X
put etc/group 0644 <<'X'
root:x:0:
daemon:x:1:
dialout:x:20:pi
shadow:x:42:
systemd-network:x:998:
gpio:x:997:pi
pi:x:1000:
X
printf 'root:*:19000:0:99999:7:::\npi:*:19000:0:99999:7:::\n' | put etc/shadow 0640
printf 'root:*::\ndialout:*::pi\nshadow:*::\ngpio:!::pi\npi:!::\n' | put etc/gshadow 0640
echo raspberrypi | put etc/hostname 0644
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\traspberrypi\n' | put etc/hosts 0644
put etc/systemd/system/multi-user.target.wants/.keep 0644 </dev/null
put etc/NetworkManager/system-connections/.keep 0644 </dev/null
echo "TZif2 fake" | put usr/share/zoneinfo/Europe/London 0644
echo "TZif2 fake" | put usr/share/zoneinfo/Etc/UTC 0644
elf "$ARCH" | put usr/bin/dash 0755
put usr/local/bin/.keep 0644 </dev/null
if ((CLOUD_INIT)); then
	echo "datasource_list: [ NoCloud, None ]" | put etc/cloud/cloud.cfg 0644
fi
mke2fs -q -F -t ext4 -L rootfs -E root_owner=0:0 -d "$TMP/rootfs" "$TMP/root.ext4" "${ROOT_KIB}k" >/dev/null 2>"$TMP/mke2fs.err" ||
	{ cat "$TMP/mke2fs.err" >&2; die "mke2fs failed"; }
# mke2fs -d copies the caller's uid: make the tree root-owned like a real image.
debugfs -w -f - "$TMP/root.ext4" >/dev/null 2>"$TMP/debugfs.err" <<'X'
sif /etc/shadow uid 0
sif /etc/shadow gid 42
sif /etc/gshadow uid 0
sif /etc/gshadow gid 42
sif /etc/passwd uid 0
sif /etc/group uid 0
sif /etc uid 0
sif /etc gid 0
X
if grep -v '^debugfs 1\.' "$TMP/debugfs.err" | grep -q .; then
	cat "$TMP/debugfs.err" >&2
	die "debugfs failed"
fi

# The disk: MBR, boot at sector 8192 (as Raspberry Pi OS), root after it.
root_start=$((BOOT_START + BOOT_KIB * 2))
rm -f "$OUT"
truncate -s $((root_start * 512 + ROOT_KIB * 1024)) "$OUT"
printf 'label: dos\nlabel-id: 0x4e639091\nstart=%d, size=%d, type=c\nstart=%d, type=83\n' \
	"$BOOT_START" $((BOOT_KIB * 2)) "$root_start" | sfdisk -q "$OUT"
dd if="$TMP/boot.fat" of="$OUT" bs=512 seek="$BOOT_START" conv=notrunc,sparse status=none
dd if="$TMP/root.ext4" of="$OUT" bs=512 seek="$root_start" conv=notrunc,sparse status=none
printf 'sample-image: wrote %s (%s, boot at sector %d, root at sector %d)\n' "$OUT" "$ARCH" "$BOOT_START" "$root_start" >&2

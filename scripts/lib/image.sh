# shellcheck shell=bash
# Image primitives for flash.sh: partition offsets, the FAT boot partition
# through mtools, the ext4 root through debugfs at an offset. Nothing is
# mounted. Sourced by flash.sh; expects die/log/info from it.

# img_partitions IMG: sets BOOT_OFF ROOT_OFF (bytes) from the MBR
# (or GPT) partition table: partition 1 must be FAT, partition 2 Linux.
img_partitions() {
	local img=$1 dump ssz line n start type
	dump=$(sfdisk -d "$img" 2>/dev/null) || die "$img: no partition table (is it a Raspberry Pi OS image?)"
	ssz=$(printf '%s\n' "$dump" | awk -F': *' '/^sector-size:/ {print $2}')
	ssz=${ssz:-512}
	BOOT_OFF='' ROOT_OFF=''
	while IFS= read -r line; do
		[[ $line == *": start="* ]] || continue
		n=${line%% :*}
		n=${n##*[!0-9]}
		start=$(sed -n 's/.*start= *\([0-9]*\).*/\1/p' <<<"$line")
		type=$(sed -n 's/.*type= *\([^,]*\).*/\1/p' <<<"$line")
		case $n in
		1)
			case ${type,,} in
			b | c | e | ef | ebd0a0a2-b9e5-4433-87c0-68b6b72699c7 | c12a7328-f81f-11d2-ba4b-00a0c93ec93b) ;;
			*) die "$img: partition 1 has type $type, expected a FAT boot partition" ;;
			esac
			BOOT_OFF=$((start * ssz))
			;;
		2)
			case ${type,,} in
			83 | 0fc63daf-8483-4772-8e79-3d69d8477de4) ;;
			*) die "$img: partition 2 has type $type, expected a Linux root partition" ;;
			esac
			ROOT_OFF=$((start * ssz))
			;;
		esac
	done <<<"$dump"
	[[ -n $BOOT_OFF && -n $ROOT_OFF ]] || die "$img: expected a FAT boot partition 1 and an ext4 root partition 2"
	# Both file systems must answer at those offsets.
	fat_ok || die "$img: partition 1 is not a FAT file system"
	debugfs -R stats "$(ext_dev)" 2>/dev/null | grep -q '^Filesystem magic number: *0xEF53' ||
		die "$img: partition 2 is not an ext2/3/4 file system"
}

# ---- FAT boot partition (mtools, image@@offset) ----

fat_img() { printf '%s@@%s' "$WORK_IMG" "$BOOT_OFF"; }
fat_ok() { MTOOLS_SKIP_CHECK=1 mdir -i "$(fat_img)" ::/ >/dev/null 2>&1; }
fat_exists() { MTOOLS_SKIP_CHECK=1 mdir -b -i "$(fat_img)" "::/$1" >/dev/null 2>&1; }
fat_cat() { MTOOLS_SKIP_CHECK=1 mtype -i "$(fat_img)" "::/$1"; }

# fat_put LOCAL NAME: copy a file onto the boot partition (overwrite).
fat_put() {
	MTOOLS_SKIP_CHECK=1 mcopy -o -D o -i "$(fat_img)" "$1" "::/$2" ||
		die "cannot write $2 to the boot partition"
}

# fat_text NAME: print a text file with DOS line ends removed ("" if absent).
fat_text() {
	if fat_exists "$1"; then fat_cat "$1" | tr -d '\r'; fi
}

# ---- ext4 root partition (debugfs, image?offset=N) ----

ext_dev() { printf '%s?offset=%s' "$WORK_IMG" "$ROOT_OFF"; }

# ext_run CMD...: run debugfs commands (one per argument) read-write. debugfs
# exits 0 even when a command fails, so any message besides its banner
# is treated as a failure. Callers only issue commands that should succeed
# (existence is checked first: mkdir over an existing directory corrupts
# the file system in e2fsprogs 1.47).
ext_run() {
	local cmds err
	cmds=$(mktemp "$TMP/debugfs.XXXXXX")
	printf '%s\n' "$@" >"$cmds"
	err=$(debugfs -w -f "$cmds" "$(ext_dev)" 2>&1 >/dev/null | grep -v '^debugfs [0-9]' || true)
	if [[ -n $err ]]; then
		die "debugfs failed on the root file system: $err"
	fi
}

ext_exists() {
	local out
	out=$(debugfs -R "stat \"$1\"" "$(ext_dev)" 2>&1 >/dev/null | grep -v '^debugfs [0-9]' || true)
	[[ -z $out ]]
}

# ext_cat PATH: file contents ("" when missing).
ext_cat() {
	ext_exists "$1" || return 0
	debugfs -R "cat \"$1\"" "$(ext_dev)" 2>/dev/null
}

# ext_owner PATH: "MODE UID GID" of an existing inode (octal mode bits).
ext_owner() {
	debugfs -R "stat \"$1\"" "$(ext_dev)" 2>/dev/null | awk '
		/Mode:/ { for (i = 1; i <= NF; i++) if ($i == "Mode:") m = $(i+1) }
		/^User:/ { u = $2; for (i = 1; i <= NF; i++) if ($i == "Group:") g = $(i+1) }
		END { print m, u, g }'
}

# ext_mkdir_p PATH [MODE UID GID]: create missing directories (0755 root);
# with MODE, the last component gets MODE/UID/GID even if it existed.
ext_mkdir_p() {
	local path=$1 mode=${2:-} uid=${3:-0} gid=${4:-0} cur='' part
	local -a parts cmds=()
	IFS=/ read -r -a parts <<<"${path#/}"
	for part in "${parts[@]}"; do
		[[ -n $part ]] || continue
		cur="$cur/$part"
		if ! ext_exists "$cur"; then
			cmds+=("mkdir \"$cur\"" "set_inode_field \"$cur\" mode 040755"
				"set_inode_field \"$cur\" uid 0" "set_inode_field \"$cur\" gid 0")
		fi
	done
	if [[ -n $mode ]]; then
		cmds+=("set_inode_field \"$path\" mode 04$(printf '%04o' "$((8#$mode))")"
			"set_inode_field \"$path\" uid $uid" "set_inode_field \"$path\" gid $gid")
	fi
	((${#cmds[@]} == 0)) || ext_run "${cmds[@]}"
}

# ext_put LOCAL PATH MODE UID GID: install a regular file (replacing it).
ext_put() {
	local src=$1 dst=$2 mode=$3 uid=$4 gid=$5
	ext_mkdir_p "$(dirname "$dst")"
	local -a cmds=()
	if ext_exists "$dst"; then cmds+=("rm \"$dst\""); fi
	cmds+=("write \"$src\" \"$dst\""
		"set_inode_field \"$dst\" mode 010$(printf '%04o' "$((8#$mode))")"
		"set_inode_field \"$dst\" uid $uid" "set_inode_field \"$dst\" gid $gid")
	ext_run "${cmds[@]}"
}

# ext_put_text PATH MODE UID GID <<<TEXT
ext_put_text() {
	local f
	f=$(mktemp "$TMP/file.XXXXXX")
	cat >"$f"
	ext_put "$f" "$@"
}

# ext_symlink LINK TARGET: (re)create a symbolic link owned by root.
ext_symlink() {
	local link=$1 target=$2
	ext_mkdir_p "$(dirname "$link")"
	local -a cmds=()
	if ext_exists "$link"; then cmds+=("rm \"$link\""); fi
	cmds+=("symlink \"$link\" \"$target\"")
	ext_run "${cmds[@]}"
}

# ext_elf_arch: the architecture of the image's userland: arm64, armhf or
# "" when no known binary is found.
ext_elf_arch() {
	local p hdr
	for p in /usr/bin/dash /bin/dash /usr/bin/ls /bin/ls /usr/lib/systemd/systemd /lib/systemd/systemd; do
		ext_exists "$p" || continue
		hdr=$(debugfs -R "cat \"$p\"" "$(ext_dev)" 2>/dev/null | head -c 20 | od -An -tx1 | tr -d ' \n')
		elf_arch_of_hex "$hdr" && return 0
	done
	return 0
}

# elf_arch_of_hex HEX: arm64 | armhf | amd64 | other, from the first 20
# bytes of an ELF file in hex.
elf_arch_of_hex() {
	local h=$1
	[[ ${h:0:8} == 7f454c46 ]] || return 1
	case ${h:36:4} in
	b700) echo arm64 ;;
	2800) echo armhf ;;
	3e00) echo amd64 ;;
	*) echo other ;;
	esac
}

elf_arch() { elf_arch_of_hex "$(head -c 20 "$1" | od -An -tx1 | tr -d ' \n')"; }

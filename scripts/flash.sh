#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# flash.sh: put meshbox on a Raspberry Pi OS SD card.
#
# Takes a Raspberry Pi OS (Lite) image, writes meshbox, its config, its
# systemd unit and the first-boot settings into a copy of it without
# mounting anything (mtools for the FAT boot partition, debugfs at an offset
# for the ext4 root), then writes the copy to a card or stops with
# --image-only. See docs/put-it-on-a-pi.md.
set -euo pipefail

usage() {
	cat <<'USAGE'
usage: scripts/flash.sh [options] IMAGE [DEVICE]

  IMAGE                   Raspberry Pi OS image, .img or .img.xz
  DEVICE                  the SD card, a whole disk: /dev/sdX, /dev/mmcblkN

image:
  --sha256 HEX|FILE       expected SHA-256 of IMAGE (as downloaded); IMAGE.sha256
                          next to IMAGE is used when present
  --board NAME            pi-zero, pi-zero-w, pi1, pi2, pi3, pi-zero-2w, pi4,
                          pi400, cm4, pi5 (picks the binary's architecture)
  --binary FILE           meshbox binary for that board (default:
                          dist/meshbox-linux-ARCH, built with make if missing)
  --config FILE           meshbox.yaml to install (default: a minimal one)
  --owner-token FILE      the owner credential (first line of FILE, 16 to 128
                          characters A-Z a-z 0-9 - _ . ~ + / =), installed 0600 as
                          /var/lib/meshbox/owner-token (default: the box
                          generates one; sudo meshbox owner-token prints it)
  --host-meshbox FILE     meshbox built for THIS machine, which checks the
                          config and prints the config.txt block (default:
                          $MESHBOX_HOST, else bin/meshbox, built with make)
  --update-key FILE       update public key (meshbox keygen's NAME.pub), installed as
                          /etc/meshbox/update.pub: the box then installs only updates
                          signed with its private key (make build-arm signs dist/)
first boot:
  --hostname NAME         (default meshbox)
  --user NAME             first login user
  --password-hash HASH    its crypt(3) hash (openssl passwd -6)
  --ssh-key FILE|KEY      authorized SSH public key(s); enables SSH
  --ssh                   enable SSH (password login)
  --wifi-ssid SSID, --wifi-psk PSK, --wifi-country CC
  --timezone AREA/CITY    e.g. Europe/London
output:
  --image-only OUT.img    write the finished image to OUT.img and stop
  --yes                   do not ask before erasing DEVICE
  -h, --help
USAGE
}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
DEPLOY=$REPO/deploy

log() { printf 'flash: %s\n' "$*" >&2; }
info() { log "$*"; }
warn() { log "warning: $*"; }
die() {
	log "error: $*"
	exit 1
}

# shellcheck source=lib/image.sh
source "$HERE/lib/image.sh"
# shellcheck source=lib/users.sh
source "$HERE/lib/users.sh"
# shellcheck source=lib/settings.sh
source "$HERE/lib/settings.sh"
# shellcheck source=lib/device.sh
source "$HERE/lib/device.sh"

IMAGE='' DEVICE='' SHA256='' BOARD='' BINARY='' CONFIG='' HOSTNAME_=meshbox
HOST_MESHBOX=${MESHBOX_HOST:-} BOARD_MODEL='' CONFIG_TXT_BLOCK=
USER_NAME='' PASSWORD_HASH='' SSH_KEYS='' ENABLE_SSH=0 WIFI_SSID='' WIFI_PSK='' WIFI_COUNTRY=''
TIMEZONE='' IMAGE_ONLY='' YES=0 UPDATE_KEY='' OWNER_TOKEN_FILE='' OWNER_TOKEN=''

need_arg() { [[ $# -ge 2 && -n $2 ]] || die "$1 needs a value"; }

parse_args() {
	while [[ $# -gt 0 ]]; do
		case $1 in
		--sha256) need_arg "$@"; SHA256=$2; shift ;;
		--board) need_arg "$@"; BOARD=$2; shift ;;
		--binary) need_arg "$@"; BINARY=$2; shift ;;
		--config) need_arg "$@"; CONFIG=$2; shift ;;
		--owner-token) need_arg "$@"; OWNER_TOKEN_FILE=$2; shift ;;
		--host-meshbox) need_arg "$@"; HOST_MESHBOX=$2; shift ;;
		--update-key) need_arg "$@"; UPDATE_KEY=$2; shift ;;
		--hostname) need_arg "$@"; HOSTNAME_=$2; shift ;;
		--user) need_arg "$@"; USER_NAME=$2; shift ;;
		--password-hash) need_arg "$@"; PASSWORD_HASH=$2; shift ;;
		--ssh-key)
			need_arg "$@"
			if [[ -f $2 ]]; then SSH_KEYS+=$(grep -v '^[[:space:]]*\(#\|$\)' "$2")$'\n'; else SSH_KEYS+=$2$'\n'; fi
			ENABLE_SSH=1
			shift
			;;
		--ssh) ENABLE_SSH=1 ;;
		--wifi-ssid) need_arg "$@"; WIFI_SSID=$2; shift ;;
		--wifi-psk) need_arg "$@"; WIFI_PSK=$2; shift ;;
		--wifi-country) need_arg "$@"; WIFI_COUNTRY=${2^^}; shift ;;
		--timezone) need_arg "$@"; TIMEZONE=$2; shift ;;
		--image-only) need_arg "$@"; IMAGE_ONLY=$2; shift ;;
		--yes | -y) YES=1 ;;
		-h | --help) usage; exit 0 ;;
		-*) usage >&2; die "unknown option $1" ;;
		*)
			if [[ -z $IMAGE ]]; then IMAGE=$1
			elif [[ -z $DEVICE ]]; then DEVICE=$1
			else die "unexpected argument $1"; fi
			;;
		esac
		shift
	done
	SSH_KEYS=$(sed '/^[[:space:]]*$/d' <<<"$SSH_KEYS")
}

validate() {
	[[ -n $IMAGE ]] || { usage >&2; die "no IMAGE given"; }
	[[ -f $IMAGE ]] || die "$IMAGE: no such file"
	[[ -n $IMAGE_ONLY || -n $DEVICE ]] || die "give a DEVICE to write to, or --image-only OUT.img"
	[[ -z $IMAGE_ONLY || -z $DEVICE ]] || die "--image-only and DEVICE exclude each other"
	[[ -n $BOARD ]] || die "--board is required (pi-zero, pi-zero-2w, pi3, pi4, pi5, ...)"
	# The same names as the config's board: and meshbox pins -board
	# (board/header.go; scripts/boards_test.go keeps the two lists equal).
	case ${BOARD,,} in
	pi-zero | pi-zero-w | pi0 | pi0w | pi1) ARCH=armv6 ;;
	pi2) ARCH=armv7 ;;
	pi-zero-2w | pi02w | pi3 | cm3 | pi4 | pi400 | cm4 | pi5 | pi500 | cm5) ARCH=arm64 ;;
	*) die "unknown board $BOARD (pi-zero, pi-zero-w, pi1, pi2, pi3, pi-zero-2w, pi4, pi400, cm3, cm4, pi5, pi500, cm5)" ;;
	esac
	BOARD_MODEL=${BOARD,,}
	if [[ -n $OWNER_TOKEN_FILE ]]; then
		[[ -f $OWNER_TOKEN_FILE && -r $OWNER_TOKEN_FILE ]] || die "--owner-token $OWNER_TOKEN_FILE: not a readable file"
		OWNER_TOKEN=$(head -n 1 "$OWNER_TOKEN_FILE" | tr -d '\r')
		# Never echo the credential itself.
		[[ $OWNER_TOKEN =~ ^[A-Za-z0-9._~+/=-]{16,128}$ ]] ||
			die "--owner-token $OWNER_TOKEN_FILE: the first line must be 16 to 128 characters A-Z a-z 0-9 - _ . ~ + / = (e.g. openssl rand -base64 24)"
	fi
	[[ $HOSTNAME_ =~ ^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$ ]] ||
		die "--hostname $HOSTNAME_: use letters, digits and '-' (at most 63)"
	if [[ -n $USER_NAME ]]; then
		[[ $USER_NAME =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || die "--user $USER_NAME: not a valid user name"
		[[ $USER_NAME != root && $USER_NAME != meshbox ]] || die "--user $USER_NAME is reserved"
		[[ -n $PASSWORD_HASH || -n $SSH_KEYS ]] || die "--user needs --password-hash or --ssh-key"
	fi
	if [[ -n $PASSWORD_HASH ]]; then
		[[ -n $USER_NAME ]] || die "--password-hash needs --user"
		[[ $PASSWORD_HASH =~ ^\$[0-9a-z]+\$[^:[:space:]]+$ ]] ||
			die "--password-hash must be a crypt(3) hash such as the output of: openssl passwd -6"
	fi
	if [[ -n $SSH_KEYS ]]; then
		[[ -n $USER_NAME ]] || die "--ssh-key needs --user"
		local k
		while IFS= read -r k; do
			[[ $k =~ ^(ssh-|ecdsa-|sk-)[a-z0-9@.-]+\ [A-Za-z0-9+/=]+( .*)?$ ]] || die "--ssh-key: not an SSH public key: ${k:0:40}"
		done <<<"$SSH_KEYS"
	fi
	if [[ -n $WIFI_SSID || -n $WIFI_PSK ]]; then
		[[ -n $WIFI_SSID ]] || die "--wifi-psk needs --wifi-ssid"
		((${#WIFI_SSID} <= 32)) || die "--wifi-ssid is longer than 32 bytes"
		[[ $WIFI_SSID != *$'\n'* ]] || die "--wifi-ssid contains a newline"
		[[ -n $WIFI_COUNTRY ]] || die "--wifi-ssid needs --wifi-country (two letters, e.g. GB): Wi-Fi stays off without it"
		if [[ -n $WIFI_PSK ]]; then
			[[ ${#WIFI_PSK} -ge 8 && ${#WIFI_PSK} -le 63 || $WIFI_PSK =~ ^[0-9a-fA-F]{64}$ ]] ||
				die "--wifi-psk must be 8 to 63 characters (or 64 hex digits)"
			[[ $WIFI_PSK != *$'\n'* ]] || die "--wifi-psk contains a newline"
		fi
	fi
	[[ -z $WIFI_COUNTRY || $WIFI_COUNTRY =~ ^[A-Z]{2}$ ]] || die "--wifi-country must be two letters (ISO 3166), e.g. GB"
	[[ -z $TIMEZONE || $TIMEZONE =~ ^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$ ]] || die "--timezone $TIMEZONE: expected Area/City"
	if [[ -n $CONFIG ]]; then [[ -f $CONFIG ]] || die "--config $CONFIG: no such file"; fi
	if [[ -n $UPDATE_KEY ]]; then check_update_key "$UPDATE_KEY"; fi
	local t
	for t in sfdisk mtype mcopy mdir debugfs sha256sum dd; do
		command -v "$t" >/dev/null || die "$t is missing (apt-get install mtools e2fsprogs fdisk coreutils)"
	done
	if [[ $IMAGE == *.xz ]]; then command -v xz >/dev/null || die "xz is missing (apt-get install xz-utils)"; fi
}

check_sha256() {
	local want=$SHA256 got
	if [[ -z $want && -f $IMAGE.sha256 ]]; then want=$IMAGE.sha256; fi
	[[ -n $want ]] || {
		warn "no --sha256 given: the image is not verified"
		return 0
	}
	if [[ -f $want ]]; then want=$(awk 'NR == 1 { print $1 }' "$want"); fi
	want=${want,,}
	[[ $want =~ ^[0-9a-f]{64}$ ]] || die "--sha256: not a SHA-256 hex digest"
	info "checking sha256 of $IMAGE"
	got=$(sha256sum <"$IMAGE" | cut -d' ' -f1)
	[[ $got == "$want" ]] || die "$IMAGE: sha256 mismatch (got $got, want $want): corrupt or wrong download"
}

# image_bytes: the size of the decompressed image.
image_bytes() {
	if [[ $IMAGE == *.xz ]]; then
		xz --robot --list "$IMAGE" 2>/dev/null | awk '$1 == "totals" { print $5 }' | grep . ||
			die "$IMAGE: not a valid .xz file"
	else
		stat -c %s "$IMAGE"
	fi
}

# copy_image DST: the working copy (decompressed, sparse), with a progress
# line on a terminal.
copy_image() {
	local dst=$1 progress=none
	[[ -t 2 ]] && progress=progress
	if [[ $IMAGE == *.xz ]]; then
		info "decompressing $IMAGE"
		xz -dc -T0 "$IMAGE" | dd of="$dst" bs=4M iflag=fullblock conv=sparse status=$progress ||
			die "$IMAGE: cannot decompress"
	else
		info "copying $IMAGE"
		dd if="$IMAGE" of="$dst" bs=4M conv=sparse status=$progress || die "cannot copy $IMAGE"
	fi
}

pick_binary() {
	if [[ -z $BINARY ]]; then
		BINARY=$REPO/dist/meshbox-linux-$ARCH
		if [[ ! -f $BINARY ]]; then
			info "building $BINARY"
			if ! command -v make >/dev/null || ! command -v go >/dev/null; then
				die "no --binary and no go toolchain to build one"
			fi
			make -C "$REPO" "dist/meshbox-linux-$ARCH" >&2 || die "build failed"
		fi
	fi
	[[ -f $BINARY ]] || die "--binary $BINARY: no such file"
	local barch
	barch=$(elf_arch "$BINARY") || die "$BINARY is not an ELF executable"
	case $ARCH:$barch in
	armv6:armhf | armv7:armhf | arm64:arm64) ;;
	*) die "$BINARY is built for $barch, board $BOARD needs $ARCH" ;;
	esac
}

# check_image_arch: the image's userland must run the binary.
check_image_arch() {
	local iarch
	iarch=$(ext_elf_arch)
	case ${iarch:-unknown}:$ARCH in
	arm64:arm64 | armhf:armv6 | armhf:armv7) ;;
	armhf:arm64)
		die "the image is 32-bit (armhf) but --board $BOARD picks arm64; use a 64-bit image or pass --binary dist/meshbox-linux-armv7"
		;;
	arm64:armv6 | arm64:armv7) die "the image is 64-bit (arm64): board $BOARD cannot boot it" ;;
	unknown:*) warn "cannot tell the image's architecture; assuming it matches $ARCH" ;;
	*) die "the image's userland is $iarch, not a Raspberry Pi OS" ;;
	esac
}

# pick_host_meshbox: the meshbox that runs on this machine (it checks the
# config and writes the config.txt block, so image and check agree).
pick_host_meshbox() {
	if [[ -z $HOST_MESHBOX ]]; then
		HOST_MESHBOX=$REPO/bin/meshbox
		if [[ ! -x $HOST_MESHBOX ]]; then
			info "building $HOST_MESHBOX (for this machine: it checks the config and writes config.txt)"
			command -v make >/dev/null && command -v go >/dev/null ||
				die "no --host-meshbox and no go toolchain to build one (make build)"
			make -C "$REPO" build >&2 || die "build failed"
		fi
	fi
	[[ -x $HOST_MESHBOX ]] || die "--host-meshbox $HOST_MESHBOX: not an executable"
	"$HOST_MESHBOX" version >/dev/null 2>&1 || die "--host-meshbox $HOST_MESHBOX does not run on this machine (build it with make build)"
}

# installed_config FILE: writes the config the image will have to FILE.
installed_config() {
	if [[ -n $CONFIG ]]; then
		cat "$CONFIG" >"$1"
	elif ext_exists /etc/meshbox/meshbox.yaml; then
		ext_cat /etc/meshbox/meshbox.yaml >"$1"
	else
		default_config >"$1"
	fi
}

# check_update_key FILE: one line "meshbox-update-pub-v1 BASE64" holding a
# 32-byte ed25519 public key (internal/update/sign.go), never a private key.
check_update_key() {
	[[ -f $1 ]] || die "--update-key $1: no such file"
	local line n
	line=$(head -c 4096 "$1")
	[[ $line != meshbox-update-key-v1* ]] || die "--update-key $1 is a PRIVATE key: give its .pub file (the private key never goes on a box)"
	[[ $line =~ ^meshbox-update-pub-v1\ ([A-Za-z0-9+/]{43}=)[[:space:]]*$ ]] ||
		die "--update-key $1: not a meshbox update public key (meshbox keygen writes NAME.key and NAME.pub)"
	n=$(printf '%s' "${BASH_REMATCH[1]}" | base64 -d 2>/dev/null | wc -c) || n=0
	((n == 32)) || die "--update-key $1: the key is not 32 bytes"
}

default_config() {
	cat <<'YAML'
# meshbox configuration (written by scripts/flash.sh). Edit and restart:
#   sudo systemctl restart meshbox
# See docs/put-it-on-a-pi.md for outputs, inputs and sensors.
name: meshbox
channel: home
YAML
}

install_meshbox() {
	ext_put "$BINARY" /usr/local/bin/meshbox 0755 0 0
	ext_mkdir_p /etc/meshbox 0750 0 "$MESHBOX_GID"
	if [[ -n $CONFIG ]]; then
		ext_put "$CONFIG" /etc/meshbox/meshbox.yaml 0640 0 "$MESHBOX_GID"
	elif ext_exists /etc/meshbox/meshbox.yaml; then
		info "keeping the image's /etc/meshbox/meshbox.yaml (no --config)"
		ext_run "set_inode_field /etc/meshbox/meshbox.yaml mode 0100640" \
			"set_inode_field /etc/meshbox/meshbox.yaml uid 0" "set_inode_field /etc/meshbox/meshbox.yaml gid $MESHBOX_GID"
	else
		default_config | ext_put_text /etc/meshbox/meshbox.yaml 0640 0 "$MESHBOX_GID"
	fi
	if [[ -n $UPDATE_KEY ]]; then
		# Root-owned, outside the state directory: the service cannot change it.
		ext_put "$UPDATE_KEY" /etc/meshbox/update.pub 0644 0 0
		info "installed the update key: the box accepts only signed updates"
	elif ext_exists /etc/meshbox/update.pub; then
		info "keeping the image's /etc/meshbox/update.pub (no --update-key)"
	else
		warn "no --update-key: the box accepts unsigned updates from its owner (meshbox keygen; docs/security.md)"
	fi
	ext_mkdir_p /var/lib/meshbox 0750 "$MESHBOX_UID" "$MESHBOX_GID"
	if [[ -n $OWNER_TOKEN_FILE ]]; then
		info "installing the owner credential from $OWNER_TOKEN_FILE (/var/lib/meshbox/owner-token, 0600)"
		printf '%s\n' "$OWNER_TOKEN" | ext_put_text /var/lib/meshbox/owner-token 0600 "$MESHBOX_UID" "$MESHBOX_GID"
	fi
	ext_put "$DEPLOY/meshbox.service" /etc/systemd/system/meshbox.service 0644 0 0
	ext_symlink /etc/systemd/system/multi-user.target.wants/meshbox.service /etc/systemd/system/meshbox.service
	ext_put "$DEPLOY/meshbox.sysusers" /usr/lib/sysusers.d/meshbox.conf 0644 0 0
}

uses_cloud_init() { fat_exists user-data || ext_exists /etc/cloud/cloud.cfg; }

main() {
	parse_args "$@"
	validate
	local start=$SECONDS
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/meshbox-flash.XXXXXX")
	trap 'rm -rf "$TMP"' EXIT
	# Fail fast: a card that cannot be written is refused before minutes of work.
	if [[ -n $DEVICE ]]; then
		local need
		need=$(image_bytes) || exit 1
		check_device "$DEVICE" "$need"
		confirm "$DEVICE"
	fi
	check_sha256
	pick_binary
	pick_host_meshbox
	# A config meshbox would refuse stops here, before any copying.
	if [[ -n $CONFIG ]] && ! "$HOST_MESHBOX" check -board "$BOARD_MODEL" "$CONFIG" >/dev/null 2>"$TMP/check.err"; then
		grep -v '^warning: ' "$TMP/check.err" >&2
		die "meshbox refuses $CONFIG; fix it (meshbox check $CONFIG) and flash again"
	fi
	if [[ -n $IMAGE_ONLY ]]; then
		WORK_IMG=$IMAGE_ONLY
		[[ $(readlink -f "$IMAGE_ONLY") != "$(readlink -f "$IMAGE")" ]] || die "--image-only must not overwrite IMAGE"
	else
		WORK_IMG=$TMP/meshbox.img
	fi
	# An output left half-written is worse than none.
	# shellcheck disable=SC2154 # rc is assigned inside the trap
	[[ -z $IMAGE_ONLY ]] || trap 'rc=$?; rm -rf "$TMP"; [[ $rc == 0 ]] || rm -f "$IMAGE_ONLY"' EXIT
	copy_image "$WORK_IMG"
	img_partitions "$WORK_IMG"
	check_image_arch
	info "installing meshbox ($ARCH) into the image"
	installed_config "$TMP/meshbox.yaml"
	install_meshbox_user
	install_meshbox
	write_config_txt "$TMP/meshbox.yaml"
	write_cmdline
	if uses_cloud_init; then
		info "image uses cloud-init: writing user-data/network-config on the boot partition"
		write_cloud_init
	else
		write_hostname
		if [[ -n $USER_NAME ]]; then write_userconf; fi
		if [[ -n $WIFI_SSID ]]; then write_wifi_nm; fi
	fi
	if [[ -n $TIMEZONE ]]; then write_timezone; fi
	if [[ $ENABLE_SSH == 1 ]]; then write_ssh; fi
	if [[ -n $IMAGE_ONLY ]]; then
		info "wrote $IMAGE_ONLY in $((SECONDS - start))s"
		return 0
	fi
	# Checked again: a desktop may have auto-mounted the card meanwhile.
	check_device "$DEVICE" "$(stat -c %s "$WORK_IMG")"
	write_device "$WORK_IMG" "$DEVICE"
	info "done in $((SECONDS - start))s: put the card in the Pi and power it"
}

main "$@"

# shellcheck shell=bash
# First-boot settings written into the image: config.txt bus lines,
# cmdline.txt, user (userconf.txt), SSH, Wi-Fi (NetworkManager keyfile or
# cloud-init seed), hostname, time zone. Sourced by flash.sh.

# config_txt_block YAML: the config.txt block for the config, printed by
# the host's meshbox (meshbox config-txt): bus lines and one gpio= line per
# output at its power-on level. A config meshbox refuses stops the flash.
config_txt_block() {
	local out
	if ! out=$("$HOST_MESHBOX" config-txt -board "$BOARD_MODEL" -config "$1" 2>"$TMP/config-txt.err"); then
		cat "$TMP/config-txt.err" >&2
		die "meshbox refuses the config; fix it (meshbox check $1) and flash again"
	fi
	# Power-on hazards (an output on during the first second) are warnings.
	sed 's/^warning: //' "$TMP/config-txt.err" | while IFS= read -r l; do [[ -n $l ]] && warn "$l"; done
	printf '%s\n' "$out"
}

# write_config_txt YAML: replace (or add) the meshbox block in config.txt.
write_config_txt() {
	local f block
	f=$(mktemp "$TMP/config.XXXXXX")
	block=$(config_txt_block "$1") || exit 1
	CONFIG_TXT_BLOCK=$block
	fat_text config.txt | awk '/^# >>> meshbox/ { skip = 1 } !skip { print } /^# <<< meshbox/ { skip = 0 }' >"$f"
	printf '%s\n' "$block" >>"$f"
	fat_put "$f" config.txt
	info "config.txt: $(grep -v '^#\|^\[' <<<"$block" | tr '\n' ' ')"
}

# write_cmdline: drop the serial console when meshbox owns the UART (the
# config.txt block enables it; write_config_txt runs first),
# set the Wi-Fi regulatory domain.
write_cmdline() {
	fat_exists cmdline.txt || {
		warn "no cmdline.txt on the boot partition; leaving the kernel command line alone"
		return 0
	}
	local line new f
	line=$(fat_text cmdline.txt | head -n1)
	new=$line
	if grep -qx 'enable_uart=1' <<<"$CONFIG_TXT_BLOCK"; then
		new=$(tr ' ' '\n' <<<"$new" | grep -Ev '^console=(serial0|ttyAMA0|ttyS0)' | tr '\n' ' ')
	fi
	if [[ -n $WIFI_COUNTRY ]]; then
		new=$(tr ' ' '\n' <<<"$new" | grep -v '^cfg80211.ieee80211_regdom=' | tr '\n' ' ')
		new="$new cfg80211.ieee80211_regdom=$WIFI_COUNTRY"
	fi
	new=$(tr -s ' ' <<<"$new" | sed 's/^ //; s/ $//')
	[[ $new == "$line" ]] && return 0
	f=$(mktemp "$TMP/cmdline.XXXXXX")
	printf '%s\n' "$new" >"$f"
	fat_put "$f" cmdline.txt
	info "cmdline.txt: $new"
}

write_hostname() {
	ext_put_text /etc/hostname 0644 0 0 <<<"$HOSTNAME_"
	local hosts
	hosts=$(ext_cat /etc/hosts)
	if grep -q '^127\.0\.1\.1' <<<"$hosts"; then
		hosts=$(sed "s/^127\.0\.1\.1.*/127.0.1.1\t$HOSTNAME_/" <<<"$hosts")
	else
		hosts=$(printf '%s\n127.0.1.1\t%s' "$hosts" "$HOSTNAME_")
	fi
	ext_put_text /etc/hosts 0644 0 0 <<<"$hosts"
}

write_timezone() {
	if ext_exists /usr/share/zoneinfo && ! ext_exists "/usr/share/zoneinfo/$TIMEZONE"; then
		die "time zone $TIMEZONE is not in the image's /usr/share/zoneinfo"
	fi
	ext_put_text /etc/timezone 0644 0 0 <<<"$TIMEZONE"
	ext_symlink /etc/localtime "/usr/share/zoneinfo/$TIMEZONE"
}

# write_userconf: Raspberry Pi OS's userconfig service creates (renames) the
# first user from userconf.txt at first boot. Without a password hash the
# password is locked ("*") and only the SSH key logs in.
write_userconf() {
	local f
	f=$(mktemp "$TMP/userconf.XXXXXX")
	printf '%s:%s\n' "$USER_NAME" "${PASSWORD_HASH:-*}" >"$f"
	fat_put "$f" userconf.txt
}

# write_ssh: enable sshd (the "ssh" flag file) and install the keys for
# USER_NAME where sshd finds them regardless of the home directory the
# first-boot user rename ends up with.
write_ssh() {
	local f
	f=$(mktemp "$TMP/ssh.XXXXXX")
	: >"$f"
	fat_put "$f" ssh
	[[ -n $SSH_KEYS ]] || return 0
	ext_put_text "/etc/ssh/authorized_keys.d/$USER_NAME" 0644 0 0 <<<"$SSH_KEYS"
	{
		echo "# meshbox (scripts/flash.sh): keys installed at flash time"
		echo "AuthorizedKeysFile .ssh/authorized_keys /etc/ssh/authorized_keys.d/%u"
		if [[ -z $PASSWORD_HASH ]]; then echo "PasswordAuthentication no"; fi
	} | ext_put_text /etc/ssh/sshd_config.d/meshbox.conf 0644 0 0
}

# write_wifi_nm: a NetworkManager keyfile (Raspberry Pi OS Bookworm and later).
write_wifi_nm() {
	local uuid
	uuid=$(cat /proc/sys/kernel/random/uuid)
	{
		echo "[connection]"
		echo "id=meshbox-wifi"
		echo "uuid=$uuid"
		echo "type=wifi"
		echo "autoconnect=true"
		echo
		echo "[wifi]"
		echo "mode=infrastructure"
		echo "ssid=$WIFI_SSID"
		if [[ -n $WIFI_PSK ]]; then
			echo
			echo "[wifi-security]"
			echo "key-mgmt=wpa-psk"
			echo "psk=$WIFI_PSK"
		fi
		echo
		echo "[ipv4]"
		echo "method=auto"
		echo
		echo "[ipv6]"
		echo "addr-gen-mode=default"
		echo "method=auto"
	} | ext_put_text /etc/NetworkManager/system-connections/meshbox-wifi.nmconnection 0600 0 0
	if [[ -n $WIFI_COUNTRY ]]; then
		sed "s/@COUNTRY@/$WIFI_COUNTRY/g" "$DEPLOY/meshbox-firstboot.service" |
			ext_put_text /etc/systemd/system/meshbox-firstboot.service 0644 0 0
		ext_symlink /etc/systemd/system/multi-user.target.wants/meshbox-firstboot.service \
			/etc/systemd/system/meshbox-firstboot.service
	fi
}

# yq_str S: S as a double-quoted YAML string.
yq_str() {
	local s=${1//\\/\\\\}
	s=${s//\"/\\\"}
	printf '"%s"' "$s"
}

# write_cloud_init: NoCloud seed on the boot partition for images that run
# cloud-init (Raspberry Pi OS since Trixie): user-data, network-config,
# meta-data.
write_cloud_init() {
	local ud nc md k
	ud=$(mktemp "$TMP/user-data.XXXXXX")
	{
		echo "#cloud-config"
		echo "# written by meshbox scripts/flash.sh"
		echo "hostname: $(yq_str "$HOSTNAME_")"
		echo "manage_etc_hosts: true"
		[[ -n $TIMEZONE ]] && echo "timezone: $(yq_str "$TIMEZONE")"
		if [[ -n $USER_NAME ]]; then
			echo "users:"
			echo "  - name: $(yq_str "$USER_NAME")"
			echo "    groups: [users, adm, dialout, audio, netdev, video, plugdev, input, gpio, spi, i2c, render, sudo]"
			echo "    shell: /bin/bash"
			echo "    sudo: ALL=(ALL) NOPASSWD:ALL"
			if [[ -n $PASSWORD_HASH ]]; then
				echo "    lock_passwd: false"
				echo "    passwd: $(yq_str "$PASSWORD_HASH")"
			else
				echo "    lock_passwd: true"
			fi
			if [[ -n $SSH_KEYS ]]; then
				echo "    ssh_authorized_keys:"
				while IFS= read -r k; do
					[[ -n $k ]] && echo "      - $(yq_str "$k")"
				done <<<"$SSH_KEYS"
			fi
		fi
		if [[ $ENABLE_SSH == 1 ]]; then
			if [[ -n $PASSWORD_HASH ]]; then echo "ssh_pwauth: true"; else echo "ssh_pwauth: false"; fi
		fi
	} >"$ud"
	fat_put "$ud" user-data
	if [[ -n $WIFI_SSID ]]; then
		nc=$(mktemp "$TMP/network-config.XXXXXX")
		{
			echo "network:"
			echo "  version: 2"
			echo "  wifis:"
			echo "    wlan0:"
			echo "      dhcp4: true"
			echo "      optional: true"
			[[ -n $WIFI_COUNTRY ]] && echo "      regulatory-domain: $(yq_str "$WIFI_COUNTRY")"
			echo "      access-points:"
			echo "        $(yq_str "$WIFI_SSID"):"
			if [[ -n $WIFI_PSK ]]; then echo "          password: $(yq_str "$WIFI_PSK")"; else echo "          {}"; fi
		} >"$nc"
		fat_put "$nc" network-config
	fi
	md=$(mktemp "$TMP/meta-data.XXXXXX")
	printf 'instance-id: meshbox-%s\n' "$(date +%s)-$RANDOM" >"$md"
	fat_put "$md" meta-data
}

# shellcheck shell=bash
# First-boot settings written into the image: config.txt bus lines,
# cmdline.txt, user (userconf.txt), SSH, Wi-Fi (NetworkManager keyfile or
# cloud-init seed), hostname, time zone. Sourced by flash.sh.

# config_buses YAML: prints the config.txt lines the meshbox config needs.
# A deliberately simple reading of the YAML: sensor drivers, pwm outputs
# and serial ports.
config_buses() {
	local yaml=$1
	echo "dtparam=strict_gpiod"
	if grep -Eq '^[^#]*(^|[{,[:space:]-])driver:[[:space:]]*["'\'']?(bme280|sht3x|bh1750|ads1115|ina219|tmp102|tmp105|lm75)\b' "$yaml"; then
		echo "dtparam=i2c_arm=on"
	fi
	if grep -Eq '^[^#]*(^|[{,[:space:]-])driver:[[:space:]]*["'\'']?ds18b20\b' "$yaml"; then
		echo "dtoverlay=w1-gpio"
	fi
	# PWM: the BCM pins of kind: pwm outputs pick the overlay parameters.
	local pins
	pins=$(awk '
		function flush() { if (kind == "pwm" && pin != "") print pin; kind = ""; pin = "" }
		function print_kv(f,   k, v) {
			k = f; sub(/:.*/, "", k)
			v = f; sub(/^[^:]*:[[:space:]]*/, "", v); gsub(/["'\'' ]/, "", v)
			if (k == "kind") { kind = v; return }
			sub(/^(GPIO|gpio|BCM|bcm)/, "", v)
			# header pins (phys:N, pinN) of the PWM-capable lines
			if (v ~ /^(phys:|pin)/) { sub(/^(phys:|pin)/, "", v); v = (v == 12 ? 18 : v == 32 ? 12 : v == 33 ? 13 : v == 35 ? 19 : "phys" v) }
			pin = v
		}
		/^[^[:space:]#-]/ { flush(); sect = $1; next }
		sect != "outputs:" { next }
		/^[[:space:]]*-[[:space:]]/ { flush(); sub(/-[[:space:]]*/, "") }
		{ line = $0; sub(/#.*/, "", line) }
		# flow style: - {id: fan, kind: pwm, pin: 12}
		line ~ /\{/ { gsub(/[{}]/, "", line); n = split(line, kv, ","); for (i = 1; i <= n; i++) { f = kv[i]; sub(/^[[:space:]-]*/, "", f); if (f ~ /^(kind|pin):/) print_kv(f) } next }
		line ~ /^[[:space:]]*(kind|pin):/ { f = line; sub(/^[[:space:]]*/, "", f); print_kv(f) }
		END { flush() }' "$yaml")
	if [[ -n $pins ]]; then
		# Channel 0 is on BCM 12 (alt0) or 18 (alt5), channel 1 on 13 or 19.
		local p0=18 f0=2 p1=19 f1=2 p valid=0 c0='' c1=''
		for p in $pins; do
			case $p in
			12 | 18) [[ -z $c0 || $c0 == "$p" ]] || warn "pwm outputs on BCM $c0 and $p share PWM channel 0"; c0=$p ;;
			13 | 19) [[ -z $c1 || $c1 == "$p" ]] || warn "pwm outputs on BCM $c1 and $p share PWM channel 1"; c1=$p ;;
			*) warn "pwm output on pin $p: hardware PWM is only on BCM 12/18 (channel 0) and 13/19 (channel 1)"; continue ;;
			esac
			valid=1
		done
		if [[ $c0 == 12 ]]; then p0=12 f0=4; fi
		if [[ $c1 == 13 ]]; then p1=13 f1=4; fi
		if ((valid)); then echo "dtoverlay=pwm-2chan,pin=$p0,func=$f0,pin2=$p1,func2=$f1"; fi
	fi
	if uses_uart "$yaml"; then
		echo "enable_uart=1"
	fi
}

# uses_uart YAML: true when a serial device is on the header UART.
uses_uart() {
	grep -Eq '^[^#]*(^|[{,[:space:]-])port:[[:space:]]*["'\'']?/dev/(serial0|ttyAMA0|ttyS0|ttyAMA10)\b' "$1"
}

# write_config_txt YAML: replace (or add) the meshbox block in config.txt.
write_config_txt() {
	local f lines
	f=$(mktemp "$TMP/config.XXXXXX")
	lines=$(config_buses "$1")
	fat_text config.txt | awk '/^# >>> meshbox/ { skip = 1 } !skip { print } /^# <<< meshbox/ { skip = 0 }' >"$f"
	{
		echo "# >>> meshbox (scripts/flash.sh): buses used by /etc/meshbox/meshbox.yaml"
		echo "[all]"
		printf '%s\n' "$lines"
		echo "# <<< meshbox"
	} >>"$f"
	fat_put "$f" config.txt
	info "config.txt: $(tr '\n' ' ' <<<"$lines")"
}

# write_cmdline YAML: drop the serial console when meshbox owns the UART,
# set the Wi-Fi regulatory domain.
write_cmdline() {
	fat_exists cmdline.txt || {
		warn "no cmdline.txt on the boot partition; leaving the kernel command line alone"
		return 0
	}
	local line new f
	line=$(fat_text cmdline.txt | head -n1)
	new=$line
	if uses_uart "$1"; then
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

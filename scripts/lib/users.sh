# shellcheck shell=bash
# The meshbox system user and its groups, written straight into the image's
# /etc/passwd, /etc/group, /etc/shadow and /etc/gshadow (so files can be
# owned by it before first boot), plus a sysusers.d file that recreates the
# same entries if they go missing. Sourced by flash.sh.

# free_id FILE: the highest id in [100, 999] not used in FILE (passwd or group).
free_id() {
	awk -F: '{ used[$3] = 1 } END { for (i = 999; i >= 100; i--) if (!(i in used)) { print i; exit } }' "$1"
}

# ensure_group GROUPFILE GSHADOWFILE NAME [MEMBER] [GID]: add the group when
# missing (GID if free, else the highest free system gid) and add MEMBER.
ensure_group() {
	local gf=$1 gsf=$2 name=$3 member=${4:-} gid=${5:-}
	if ! grep -q "^$name:" "$gf"; then
		if [[ -z $gid ]] || awk -F: -v g="$gid" '$3 == g { f = 1 } END { exit !f }' "$gf"; then
			gid=$(free_id "$gf")
		fi
		[[ -n $gid ]] || die "no free system gid for group $name"
		printf '%s:x:%s:\n' "$name" "$gid" >>"$gf"
		if [[ -f $gsf ]]; then printf '%s:!::\n' "$name" >>"$gsf"; fi
	fi
	[[ -n $member ]] || return 0
	awk -F: -v OFS=: -v n="$name" -v m="$member" '
		$1 == n { k = split($4, a, ","); found = 0
			for (i = 1; i <= k; i++) if (a[i] == m) found = 1
			if (!found) $4 = ($4 == "" ? m : $4 "," m) }
		{ print }' "$gf" >"$gf.new" && mv "$gf.new" "$gf"
	if [[ -f $gsf ]]; then
		awk -F: -v OFS=: -v n="$name" -v m="$member" '
			$1 == n { k = split($4, a, ","); found = 0
				for (i = 1; i <= k; i++) if (a[i] == m) found = 1
				if (!found) $4 = ($4 == "" ? m : $4 "," m) }
			{ print }' "$gsf" >"$gsf.new" && mv "$gsf.new" "$gsf"
	fi
}

# install_meshbox_user: sets MESHBOX_UID MESHBOX_GID, writing the account
# databases back into the image only when they changed.
install_meshbox_user() {
	local d f
	d=$(mktemp -d "$TMP/etc.XXXXXX")
	for f in passwd group shadow gshadow; do
		ext_cat "/etc/$f" >"$d/$f"
		cp "$d/$f" "$d/$f.orig"
	done
	[[ -s $d/passwd && -s $d/group ]] || die "the image has no /etc/passwd or /etc/group"
	if grep -q '^meshbox:' "$d/passwd"; then
		MESHBOX_UID=$(awk -F: '$1 == "meshbox" { print $3 }' "$d/passwd")
		MESHBOX_GID=$(awk -F: '$1 == "meshbox" { print $4 }' "$d/passwd")
	else
		MESHBOX_UID=$(free_id "$d/passwd")
		[[ -n $MESHBOX_UID ]] || die "no free system uid for the meshbox user"
	fi
	ensure_group "$d/group" "$d/gshadow" meshbox "" "${MESHBOX_GID:-$MESHBOX_UID}"
	MESHBOX_GID=$(awk -F: '$1 == "meshbox" { print $3 }' "$d/group")
	local g
	for g in gpio i2c dialout; do
		ensure_group "$d/group" "$d/gshadow" "$g" meshbox
	done
	if ! grep -q '^meshbox:' "$d/passwd"; then
		printf 'meshbox:x:%s:%s:meshbox appliance:/var/lib/meshbox:/usr/sbin/nologin\n' \
			"$MESHBOX_UID" "$MESHBOX_GID" >>"$d/passwd"
	fi
	if [[ -s $d/shadow.orig ]] && ! grep -q '^meshbox:' "$d/shadow"; then
		printf 'meshbox:!*:%s::::::\n' "$(($(date +%s) / 86400))" >>"$d/shadow"
	fi
	for f in passwd group shadow gshadow; do
		[[ -s $d/$f.orig ]] || continue
		cmp -s "$d/$f" "$d/$f.orig" && continue
		local mode uid gid
		read -r mode uid gid <<<"$(ext_owner "/etc/$f")"
		ext_put "$d/$f" "/etc/$f" "${mode:-0644}" "${uid:-0}" "${gid:-0}"
	done
	info "user meshbox: uid $MESHBOX_UID gid $MESHBOX_GID, groups gpio i2c dialout"
}

#!/bin/busybox sh
# shellcheck shell=dash
# /init of the HIL initramfs (scripts/hil/run.sh copies it in). Runs as PID 1
# in the emulated ast2600-evb: loads the GPIO/I²C/NIC modules listed in
# /etc/hil/modules, brings up the user-mode network, starts the target
# (/etc/hil/cmd) in the background and leaves a shell on the serial console so
# the host can signal it. Console markers the host test waits for:
#   HIL-TARGET-START pid=N   the target was started (its pid is in /run/target.pid)
#   HIL-EXIT rc=N            the target exited with status N
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /run /tmp /var/lib/meshbox
mount -t tmpfs tmp /run
echo "HIL-INIT uptime=$(cut -d' ' -f1 /proc/uptime)"

while read -r m; do
	[ -n "$m" ] || continue
	insmod "/lib/modules/$m.ko" || echo "HIL-ERROR insmod $m failed"
done < /etc/hil/modules

# The NIC QEMU's -nic user attached has the MAC run.sh/the test chose.
want=$(cat /etc/hil/mac)
dev=
for _ in 1 2 3 4 5 6 7 8 9 10; do
	for n in /sys/class/net/eth*; do
		[ "$(cat "$n/address" 2>/dev/null)" = "$want" ] && dev=${n##*/}
	done
	[ -n "$dev" ] && break
	sleep 0.5
done
ip link set lo up
if [ -n "$dev" ]; then
	ip link set "$dev" up
	ip addr add 10.0.2.15/24 dev "$dev"
	ip route add default via 10.0.2.2
	echo "HIL-NET $dev 10.0.2.15"
else
	echo "HIL-ERROR no NIC with MAC $want"
fi
# The wiring facts the host test checks (gpiochipN -> controller, i2c-N -> bus).
for g in /sys/class/gpio/gpiochip*; do
	d=$(readlink -f "$g/device")
	n=$(ls -d "$d"/gpiochip[0-9]* 2>/dev/null | head -1)
	echo "HIL-GPIO ${n##*/} $(cat "$g/label") lines=$(cat "$g/ngpio")"
done
for c in /sys/bus/i2c/devices/i2c-*; do
	echo "HIL-I2C ${c##*/} $(cat "$c/name")"
done
cd /
export HOME=/root
[ -f /etc/hil/env ] && . /etc/hil/env
(
	/bin/sh -c "exec $(cat /etc/hil/cmd)" &
	echo $! > /run/target.pid
	echo "HIL-TARGET-START pid=$! uptime=$(cut -d' ' -f1 /proc/uptime)"
	wait $!
	echo "HIL-EXIT rc=$?"
) &
# A console shell for the host (kill -TERM "$(cat /run/target.pid)").
exec /bin/sh

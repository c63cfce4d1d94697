# Cases for init-test.sh: each case_NAME function sets up a router (UCI config, firewall,
# zones), runs init script actions and states the exact trace expected: what was logged,
# every ftwall command run, and every procd call (instances and triggers).
# shellcheck shell=sh

# The triggers every start declares, and the end of a start.
TRIGGERS="procd reload_trigger ftwall firewall
procd raw_trigger 'interface.*.up' 2000 /etc/init.d/ftwall reload
procd validation validate_ftwall_section
procd close_service"

# The instance the shipped configuration produces once enabled, on fw4 with
# lan: br-lan and wan: eth1 pppoe-wan.
SHIPPED_RULES="--backend nft --queue 0 --lan-if br-lan --wan-if eth1 --wan-if pppoe-wan"
SHIPPED_INSTANCE="procd open_instance
procd set command /usr/sbin/ftwall -s $SHIPPED_RULES -t 120 --protocols all --pattern-file /etc/ftwall/patterns -f /var/lib/ftwall/peers -D /var/lib/ftwall/dns -l cp --status-file /var/run/ftwall/status
procd set respawn
procd set stdout 1
procd set stderr 1
procd set file /etc/ftwall/patterns
procd close_instance"

# The trace of `start` on the shipped router, enabled.
SHIPPED_START="== start
procd open_service ftwall
ftwall rules apply $SHIPPED_RULES
$SHIPPED_INSTANCE
$TRIGGERS"

shipped_router() {
	shipped_config
	file /etc/ftwall/patterns
	firewall fw4
	zones 'lan br-lan' 'wan eth1 pppoe-wan' 'guest br-guest'
}

case_shipped_default_is_disabled() {
	shipped_router
	run start
	state
	expect <<-EOF
		== start
		procd open_service ftwall
		log daemon.notice ftwall: disabled; set ftwall.main.enabled=1 to start it
		$TRIGGERS
		state:
	EOF
}

case_fw4_zones_resolved_to_devices() {
	shipped_router
	set_option enabled 1
	run start
	state
	show /var/run/ftwall/rules.args
	expect <<-EOF
		$SHIPPED_START
		state: daemon.args rules.args
		-- /var/run/ftwall/rules.args
		--backend
		nft
		--queue
		0
		--lan-if
		br-lan
		--wan-if
		eth1
		--wan-if
		pppoe-wan
	EOF
}

case_fw3_every_option() {
	config <<-'EOF'
		config ftwall 'main'
			option enabled 'yes'
			list lan_zone 'lan'
			list lan_device 'br-lan'
			list lan_device 'wlan1'
			list wan_zone 'wan'
			list wan_device 'eth0.2'
			list lan_net '192.168.1.0/24'
			list lan_net 'fd00:1::/64'
			option timelock '0'
			option block_udp '0'
			list protocols 'fasttrack'
			list protocols 'winmx'
			list protocols 'dns'
			list pattern '*.winmx.com'
			list pattern 'napster.example'
			option pattern_file '@ROOT@/etc/ftwall/patterns'
			list exempt_mac '00:11:22:aa:bb:cc'
			list exempt_addr '192.168.1.10'
			list exempt_addr '192.168.1.64/26'
			list never_block '198.51.100.0/24'
			list never_block '2001:db8::/32'
			option monitor '1'
			option storefile '@ROOT@/etc/ftwall/peers'
			option training_file '@ROOT@/tmp/ftwall/dns'
			option client_dir '@ROOT@/var/run/ftwall/clients'
			option log_events 'uUtTcpm'
			option queue '7'
			option fail_closed 'on'
			option ipv6 'off'
			option backend 'auto'
			list router_addr '192.168.1.1'
			list router_addr 'fd00:1::1'
			option buffer '2048'
	EOF
	file /etc/ftwall/patterns
	firewall fw3
	zones 'lan br-lan' 'wan eth0.2'
	run start
	state
	dirs='dirs:'
	for d in etc/ftwall tmp/ftwall var/run/ftwall/clients; do
		[ -d "$ROOT/$d" ] && dirs="$dirs $d"
	done
	echo "$dirs" >> "$ROOT/trace"
	R="--backend iptables --queue 7 --lan-if br-lan --lan-if wlan1 --wan-if eth0.2 --lan 192.168.1.0/24 --lan fd00:1::/64 --fail-closed --no-ipv6"
	expect <<-EOF
		== start
		procd open_service ftwall
		ftwall rules apply $R
		procd open_instance
		procd set command /usr/sbin/ftwall -s $R -t 0 -n --monitor --protocols fasttrack,winmx,dns --pattern '*.winmx.com' --pattern napster.example --pattern-file /etc/ftwall/patterns --exempt 00:11:22:aa:bb:cc --exempt 192.168.1.10 --exempt 192.168.1.64/26 --never-block 198.51.100.0/24 --never-block 2001:db8::/32 -a 192.168.1.1 -a fd00:1::1 -f /etc/ftwall/peers -D /tmp/ftwall/dns -c /var/run/ftwall/clients -l uUtTcpm -b 2048 --status-file /var/run/ftwall/status
		procd set respawn
		procd set stdout 1
		procd set stderr 1
		procd set file /etc/ftwall/patterns
		procd close_instance
		$TRIGGERS
		state: clients daemon.args rules.args
		dirs: etc/ftwall tmp/ftwall var/run/ftwall/clients
	EOF
}

case_no_firewall_devices_only() {
	config <<-'EOF'
		config ftwall 'main'
			option enabled '1'
			list lan_device 'eth0'
			list wan_device 'eth1'
			list protocols 'all'
			list protocols 'bittorrent'
	EOF
	firewall none
	run start
	expect <<-EOF
		== start
		procd open_service ftwall
		ftwall rules apply --backend auto --queue 0 --lan-if eth0 --wan-if eth1
		procd open_instance
		procd set command /usr/sbin/ftwall -s --backend auto --queue 0 --lan-if eth0 --wan-if eth1 -t 120 --protocols all --status-file /var/run/ftwall/status
		procd set respawn
		procd set stdout 1
		procd set stderr 1
		procd close_instance
		$TRIGGERS
	EOF
}

case_explicit_backend_kept() {
	config <<-'EOF'
		config ftwall 'main'
			option enabled '1'
			list lan_device 'br-lan'
			list wan_device 'wan'
			option backend 'iptables'
			option ipv6 '1'
	EOF
	firewall fw4
	run start
	expect <<-EOF
		== start
		procd open_service ftwall
		ftwall rules apply --backend iptables --queue 0 --lan-if br-lan --wan-if wan
		procd open_instance
		procd set command /usr/sbin/ftwall -s --backend iptables --queue 0 --lan-if br-lan --wan-if wan -t 120 --protocols all --status-file /var/run/ftwall/status
		procd set respawn
		procd set stdout 1
		procd set stderr 1
		procd close_instance
		$TRIGGERS
	EOF
}

case_invalid_values_refused() {
	shipped_router
	set_option enabled 1
	set_option timelock 'two minutes'
	set_option queue 70000
	set_option backend pf
	run start
	state
	expect <<-EOF
		== start
		procd open_service ftwall
		log daemon.err ftwall: invalid configuration in /etc/config/ftwall (section 'main')
		log daemon.err ftwall: invalid option ftwall.main.timelock=two minutes must be range(0,604800)
		log daemon.err ftwall: invalid option ftwall.main.queue=70000 must be range(0,65535)
		log daemon.err ftwall: invalid option ftwall.main.backend=pf must be or("auto","nft","iptables")
		log daemon.err ftwall: refused; ftwall not started
		$TRIGGERS
		state:
	EOF
}

# validate_data exits 0 when only an earlier list element is bad; the script must still
# refuse rather than run with the bad entry silently dropped.
case_invalid_list_element_refused() {
	shipped_router
	set_option enabled 1
	cat >> "$ROOT/etc/config/ftwall" <<-'EOF'
			list exempt_mac 'not-a-mac'
			list exempt_mac '00:11:22:33:44:55'
			list protocols 'kazaa'
			list protocols 'fasttrack'
	EOF
	run start
	expect <<-EOF
		== start
		procd open_service ftwall
		log daemon.err ftwall: invalid configuration in /etc/config/ftwall (section 'main')
		log daemon.err ftwall: invalid option ftwall.main.protocols[1]=kazaa must be list(or("all","fasttrack","winmx","opennap","bittorrent","edonkey","gnutella","directconnect","ares","soulseek","dns"))
		log daemon.err ftwall: invalid option ftwall.main.exempt_mac[0]=not-a-mac must be list(macaddr)
		log daemon.err ftwall: refused; ftwall not started
		$TRIGGERS
	EOF
}

case_invalid_reload_keeps_daemon_and_rules() {
	shipped_router
	set_option enabled 1
	run start
	set_option timelock -5
	run reload
	state
	expect <<-EOF
		$SHIPPED_START
		== reload
		procd open_service ftwall
		log daemon.err ftwall: invalid configuration in /etc/config/ftwall (section 'main')
		log daemon.err ftwall: invalid option ftwall.main.timelock=-5 must be range(0,604800)
		log daemon.err ftwall: refused; the running ftwall and its rules stay as they were
		$SHIPPED_INSTANCE
		$TRIGGERS
		state: daemon.args rules.args
	EOF
}

case_missing_pattern_file_refused() {
	shipped_router
	set_option enabled 1
	rm "$ROOT/etc/ftwall/patterns"
	run start
	expect <<-EOF
		== start
		procd open_service ftwall
		log daemon.err ftwall: invalid configuration in /etc/config/ftwall (section 'main')
		log daemon.err ftwall: invalid option ftwall.main.pattern_file=/etc/ftwall/patterns must be file
		log daemon.err ftwall: refused; ftwall not started
		$TRIGGERS
	EOF
}

case_bad_log_letters_refused() {
	shipped_router
	set_option enabled 1
	set_option log_events cpx
	run start
	expect <<-EOF
		== start
		procd open_service ftwall
		log daemon.err ftwall: invalid option log_events: 'cpx' (letters of uUtTcpm)
		log daemon.err ftwall: refused; ftwall not started
		$TRIGGERS
	EOF
}

case_relative_storefile_refused() {
	shipped_router
	set_option enabled 1
	set_option storefile peers.txt
	run start
	expect <<-EOF
		== start
		procd open_service ftwall
		log daemon.err ftwall: invalid option storefile: 'peers.txt' is not an absolute path
		log daemon.err ftwall: refused; ftwall not started
		$TRIGGERS
	EOF
}

case_unknown_zone_refused() {
	shipped_router
	set_option enabled 1
	zones 'lan br-lan' 'guest br-guest'
	run start
	expect <<-EOF
		== start
		procd open_service ftwall
		log daemon.err ftwall: wan_zone 'wan': no such firewall zone (or the firewall is not running)
		log daemon.err ftwall: refused; ftwall not started
		$TRIGGERS
	EOF
}

case_zone_without_devices_refused() {
	shipped_router
	set_option enabled 1
	zones 'lan br-lan' 'wan'
	run start
	expect <<-EOF
		== start
		procd open_service ftwall
		log daemon.warning ftwall: wan_zone 'wan' has no device up yet
		log daemon.err ftwall: no wan device: set wan_zone or wan_device (devices of a zone appear when its interfaces are up)
		log daemon.err ftwall: refused; ftwall not started
		$TRIGGERS
	EOF
}

case_zones_without_firewall_refused() {
	shipped_router
	set_option enabled 1
	rm "$ROOT/sbin/fw4"
	run start
	expect <<-EOF
		== start
		procd open_service ftwall
		log daemon.err ftwall: lan_zone 'lan': neither fw4 nor fw3 is installed to resolve zones; use lan_device
		log daemon.err ftwall: refused; ftwall not started
		$TRIGGERS
	EOF
}

case_device_on_both_sides_refused() {
	shipped_router
	set_option enabled 1
	echo "	list lan_device 'eth1'" >> "$ROOT/etc/config/ftwall"
	run start
	expect <<-EOF
		== start
		procd open_service ftwall
		log daemon.err ftwall: device eth1 is on both the LAN and the WAN side
		log daemon.err ftwall: refused; ftwall not started
		$TRIGGERS
	EOF
}

case_stop_removes_the_applied_rules() {
	shipped_router
	set_option enabled 1
	run start
	run stop
	state
	expect <<-EOF
		$SHIPPED_START
		== stop
		ftwall rules remove $SHIPPED_RULES
		procd kill ftwall
		state:
	EOF
}

# A reload that changes nothing runs no rule command and declares the same instance (procd
# keeps an unchanged instance running); an interface change swaps the rules.
case_reload_changes_rules_only_when_needed() {
	shipped_router
	set_option enabled 1
	run start
	run reload
	zones 'lan br-lan' 'wan eth2'
	set_option timelock 300
	run reload
	expect <<-EOF
		$SHIPPED_START
		== reload
		procd open_service ftwall
		$SHIPPED_INSTANCE
		$TRIGGERS
		== reload
		procd open_service ftwall
		ftwall rules remove $SHIPPED_RULES
		ftwall rules apply --backend nft --queue 0 --lan-if br-lan --wan-if eth2
		procd open_instance
		procd set command /usr/sbin/ftwall -s --backend nft --queue 0 --lan-if br-lan --wan-if eth2 -t 300 --protocols all --pattern-file /etc/ftwall/patterns -f /var/lib/ftwall/peers -D /var/lib/ftwall/dns -l cp --status-file /var/run/ftwall/status
		procd set respawn
		procd set stdout 1
		procd set stderr 1
		procd set file /etc/ftwall/patterns
		procd close_instance
		$TRIGGERS
	EOF
}

case_disable_while_running_removes_rules() {
	shipped_router
	set_option enabled 1
	run start
	set_option enabled 0
	set_option timelock bogus
	run reload
	state
	expect <<-EOF
		$SHIPPED_START
		== reload
		procd open_service ftwall
		log daemon.notice ftwall: disabled; set ftwall.main.enabled=1 to start it
		ftwall rules remove $SHIPPED_RULES
		$TRIGGERS
		state:
	EOF
}

case_failed_rules_do_not_start() {
	shipped_router
	set_option enabled 1
	export FAKE_FTWALL_FAIL='rules apply'
	run start
	state
	expect <<-EOF
		== start
		procd open_service ftwall
		ftwall rules apply $SHIPPED_RULES
		log daemon.err ftwall: ftwall rules apply failed; not starting (see the messages above)
		ftwall rules remove $SHIPPED_RULES
		$TRIGGERS
		state:
	EOF
}

case_firewall_include_replays_rules() {
	shipped_router
	set_option enabled 1
	firewall_reload
	run start
	firewall_reload
	run stop
	firewall_reload
	expect <<-EOF
		== firewall include
		include exit 0
		$SHIPPED_START
		== firewall include
		ftwall rules apply $SHIPPED_RULES
		ubus call service signal '{"name":"ftwall","signal":1}'
		include exit 0
		== stop
		ftwall rules remove $SHIPPED_RULES
		procd kill ftwall
		== firewall include
		include exit 0
	EOF
}

case_firewall_include_reports_failure() {
	shipped_router
	set_option enabled 1
	run start
	export FAKE_FTWALL_FAIL='rules apply'
	firewall_reload
	expect <<-EOF
		$SHIPPED_START
		== firewall include
		ftwall rules apply $SHIPPED_RULES
		log daemon.err ftwall: could not put the ftwall rules back after a firewall reload
		include exit 0
	EOF
}

'use strict';
'require view';
'require form';
'require uci';
'require tools.widgets as widgets';

/*
 * ftwall settings: every option of /etc/config/ftwall (section 'main', type 'ftwall'),
 * validated here as /etc/init.d/ftwall validates it (same types), so that what LuCI saves
 * is what the init script accepts. Save & Apply reloads the service through its procd
 * reload trigger.
 */

var PROTOCOLS = [
	[ 'fasttrack', 'FastTrack (Kazaa, Grokster, iMesh)' ],
	[ 'winmx', 'WinMX' ],
	[ 'opennap', 'OpenNap / Napster' ],
	[ 'bittorrent', 'BitTorrent' ],
	[ 'edonkey', 'eDonkey / Kad' ],
	[ 'gnutella', 'Gnutella / G2' ],
	[ 'directconnect', 'Direct Connect' ],
	[ 'ares', 'Ares' ],
	[ 'soulseek', 'Soulseek' ],
	[ 'dns', 'DNS names (patterns below)' ]
];

var LOG_EVENTS = [
	[ 'u', 'Dropped UDP packets' ],
	[ 'U', 'Accepted UDP packets' ],
	[ 't', 'Dropped TCP packets' ],
	[ 'T', 'Accepted TCP packets' ],
	[ 'c', 'Clients caught and released' ],
	[ 'p', 'Peers learned' ],
	[ 'm', 'Add MAC addresses to log lines' ]
];

/* A form value (string, array or nothing) as a list of non-empty words. */
function words(value) {
	if (value == null)
		return [];
	return (Array.isArray(value) ? value : String(value).split(/\s+/)).filter(function(w) {
		return w != null && w !== '';
	});
}

/* Empty, or an absolute path without spaces: what the init script accepts. */
function validatePath(section_id, value) {
	if (value == null || value === '')
		return true;
	if (!/^\/\S*$/.test(value))
		return _('Must be an absolute path (starting with /) without spaces');
	return true;
}

/* A DNS name pattern: labels, with '*' wildcards, as ftwall's --pattern takes them. */
function validatePattern(section_id, value) {
	if (value == null || value === '')
		return true;
	if (!/^[A-Za-z0-9*_.-]+$/.test(value))
		return _('Use letters, digits, ".", "-", "_" and "*" only, e.g. *.example.com');
	return true;
}

/* Letters of uUtTcpm, each at most once. */
function validateLogLetters(value) {
	var s = String(value || '');
	if (!/^[uUtTcpm]*$/.test(s))
		return _('Only the letters u U t T c p m');
	return true;
}

return view.extend({
	/* Exposed for tests. */
	words: words,
	validatePath: validatePath,
	validatePattern: validatePattern,
	validateLogLetters: validateLogLetters,

	render: function() {
		var m, s, o;

		m = new form.Map('ftwall', _('ftwall'),
			_('Stops peer-to-peer clients on the LAN from reaching peers on the internet. ' +
			  'Clients caught are locked out for the time-lock; peers learned are blocked.'));

		s = m.section(form.NamedSection, 'main', 'ftwall');
		s.addremove = false;
		s.anonymous = true;

		s.tab('general', _('General'));
		s.tab('blocking', _('Blocking'));
		s.tab('exempt', _('Exemptions'));
		s.tab('advanced', _('Advanced'));

		/* General: on/off, and which side is which. */

		o = s.taboption('general', form.Flag, 'enabled', _('Enabled'),
			_('ftwall is installed disabled; check LAN and WAN below first.'));
		o.rmempty = false;
		o.default = '0';
		o.validate = function(section_id, value) {
			if (value !== '1')
				return true;
			var lan = words(this.section.formvalue(section_id, 'lan_zone'))
				.concat(words(this.section.formvalue(section_id, 'lan_device')));
			var wan = words(this.section.formvalue(section_id, 'wan_zone'))
				.concat(words(this.section.formvalue(section_id, 'wan_device')));
			if (!lan.length)
				return _('Choose a LAN zone or a LAN device');
			if (!wan.length)
				return _('Choose a WAN zone or a WAN device');
			return true;
		};

		o = s.taboption('general', form.Flag, 'monitor', _('Monitor only'),
			_('Detect and log, block nothing.'));
		o.default = '0';

		o = s.taboption('general', widgets.ZoneSelect, 'lan_zone', _('LAN zones'),
			_('Firewall zones whose devices are the LAN side.'));
		o.multiple = true;
		o.nocreate = true;
		o.datatype = 'uciname';

		o = s.taboption('general', widgets.DeviceSelect, 'lan_device', _('LAN devices'),
			_('Devices on the LAN side besides those of the zones.'));
		o.multiple = true;
		o.noaliases = true;
		o.datatype = 'maxlength(15)';

		o = s.taboption('general', widgets.ZoneSelect, 'wan_zone', _('WAN zones'),
			_('Firewall zones whose devices are the internet side.'));
		o.multiple = true;
		o.nocreate = true;
		o.datatype = 'uciname';

		o = s.taboption('general', widgets.DeviceSelect, 'wan_device', _('WAN devices'),
			_('Devices on the WAN side besides those of the zones.'));
		o.multiple = true;
		o.noaliases = true;
		o.datatype = 'maxlength(15)';

		o = s.taboption('general', form.DynamicList, 'lan_net', _('LAN networks'),
			_('Only needed when the LAN side is more than its interfaces\' subnets (CIDR).'));
		o.datatype = 'cidr';

		/* Blocking: what is caught, and for how long. */

		o = s.taboption('blocking', form.Value, 'timelock', _('Time-lock (seconds)'),
			_('How long a client that was caught stays locked out; 0 turns the time-lock off.'));
		o.datatype = 'range(0,604800)';
		o.placeholder = '120';

		o = s.taboption('blocking', form.Flag, 'block_udp', _('Drop peer-to-peer UDP'),
			_('Off: still recognise and lock, but let the UDP packets through.'));
		o.default = '1';
		o.rmempty = false;

		o = s.taboption('blocking', form.MultiValue, 'protocols', _('Protocols'),
			_('Which protocols to recognise.'));
		o.value('all', _('All'));
		PROTOCOLS.forEach(function(p) { o.value(p[0], p[1]); });
		o.default = 'all';
		o.rmempty = false;

		o = s.taboption('blocking', form.DynamicList, 'pattern', _('DNS name patterns'),
			_('Addresses of names that match are blocked, e.g. *.example.com.'));
		o.validate = validatePattern;

		o = s.taboption('blocking', form.Value, 'pattern_file', _('Pattern file'),
			_('File with one pattern a line. Must exist; empty: none.'));
		o.placeholder = '/etc/ftwall/patterns';
		o.validate = validatePath;

		/* Exemptions. */

		o = s.taboption('exempt', form.DynamicList, 'exempt_mac', _('Exempt clients (MAC)'),
			_('Never blocked or locked, whatever address DHCP gives them.'));
		o.datatype = 'macaddr';

		o = s.taboption('exempt', form.DynamicList, 'exempt_addr', _('Exempt clients (address)'),
			_('Never blocked or locked: addresses or networks.'));
		o.datatype = 'or(ipaddr,cidr)';

		o = s.taboption('exempt', form.DynamicList, 'never_block', _('Never block'),
			_('Addresses or networks never learned or blocked as peers.'));
		o.datatype = 'or(ipaddr,cidr)';

		/* Advanced. */

		o = s.taboption('advanced', form.Value, 'queue', _('Queue number'),
			_('Netfilter queue, not shared with any other program.'));
		o.datatype = 'range(0,65535)';
		o.placeholder = '0';

		o = s.taboption('advanced', form.Flag, 'fail_closed', _('Fail closed'),
			_('Off (fail-open): traffic flows unchecked while the daemon is not running. ' +
			  'On: queued traffic is dropped while it is not running.'));
		o.default = '0';

		o = s.taboption('advanced', form.Flag, 'ipv6', _('IPv6'),
			_('Inspect IPv6 as well as IPv4.'));
		o.default = '1';
		o.rmempty = false;

		o = s.taboption('advanced', form.ListValue, 'backend', _('Rules backend'),
			_('auto: nftables with firewall4, iptables with firewall3.'));
		o.value('auto', _('auto'));
		o.value('nft', 'nftables');
		o.value('iptables', 'iptables');
		o.default = 'auto';

		o = s.taboption('advanced', form.MultiValue, 'log_events', _('Log events'),
			_('Written to the system log (logread -e ftwall).'));
		LOG_EVENTS.forEach(function(e) { o.value(e[0], '%s (%s)'.format(e[1], e[0])); });
		o.cfgvalue = function(section_id) {
			return String(uci.get('ftwall', section_id, 'log_events') || '').split('');
		};
		o.validate = function(section_id, value) {
			return validateLogLetters(words(value).join(''));
		};
		o.write = function(section_id, value) {
			uci.set('ftwall', section_id, 'log_events', words(value).join(''));
		};
		o.remove = function(section_id) {
			uci.unset('ftwall', section_id, 'log_events');
		};

		o = s.taboption('advanced', form.Value, 'storefile', _('Peer store'),
			_('Peers learned survive daemon restarts here. /var is RAM (lost at reboot); ' +
			  'a path on flash keeps them at the cost of flash writes.'));
		o.placeholder = '/var/lib/ftwall/peers';
		o.validate = validatePath;

		o = s.taboption('advanced', form.Value, 'training_file', _('DNS training file'),
			_('Addresses learned from DNS survive daemon restarts here.'));
		o.placeholder = '/var/lib/ftwall/dns';
		o.validate = validatePath;

		o = s.taboption('advanced', form.Value, 'client_dir', _('Client directory'),
			_('One file per locked client; empty: none.'));
		o.placeholder = '/var/run/ftwall/clients';
		o.validate = validatePath;

		o = s.taboption('advanced', form.DynamicList, 'router_addr', _('Router addresses'),
			_('The router\'s own addresses, when the automatic ones are not enough.'));
		o.datatype = 'ipaddr("nomask")';

		o = s.taboption('advanced', form.Value, 'buffer', _('Packet copy size (bytes)'),
			_('How much of each queued packet the daemon sees; empty: its default.'));
		o.datatype = 'range(256,65535)';

		return m.render();
	}
});

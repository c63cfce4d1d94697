'use strict';
'require view';
'require fs';
'require poll';
'require rpc';
'require ui';

/*
 * ftwall status: whether the service runs, the clients it has locked out (with the time
 * left and the protocol that caught them), the peers and DNS-learned addresses it blocks,
 * its counters, and its recent log lines. Refreshed every 5 seconds.
 *
 * Source: the status file the daemon keeps, /var/run/ftwall/status (the init script
 * passes --status-file /var/run/ftwall/status). The daemon's src/daemon/status.rs writes
 * it and is the authority on its format; what this page relies on:
 *
 *   - plain text, one record per line, fields separated by spaces or tabs; empty lines
 *     and lines starting with '#' are comments;
 *   - the first word names the record; records of an unknown kind are skipped, so that
 *     the daemon may add kinds without breaking readers;
 *   - the file is replaced as a whole (temporary file, then rename), rewritten every few
 *     seconds, and removed when the daemon stops cleanly.
 *
 *   pid <pid>                        the daemon's process id
 *   started <unix-seconds>           when it started
 *   updated <unix-seconds>           when it wrote this file
 *   mode enforcing|monitor           monitor: detects and logs, blocks nothing
 *   client <ip> <protocol> <secs-left> <mac>
 *       a locked client: its address, the protocol that caught it (a --protocols name),
 *       whole seconds until the lock ends, and its MAC address ('-' when unknown)
 *   peer <ip:port> <protocol>        a blocked peer; IPv6 as [addr]:port
 *   dns <ip> <secs-left> <name>      an address blocked because a DNS answer for <name>
 *                                    (matching a pattern) gave it; seconds until it expires
 *   counter <name> <value>           a counter (decimal, unsigned)
 *
 * Example:
 *   # ftwall status
 *   pid 1234
 *   started 1732480000
 *   updated 1732480100
 *   mode enforcing
 *   client 192.168.1.23 fasttrack 97 00:11:22:33:44:55
 *   peer 203.0.113.9:1214 fasttrack
 *   peer [2001:db8::7]:6346 gnutella
 *   dns 198.51.100.4 3540 peer.winmx.example
 *   counter packets 12345
 */

var STATUS_FILE = '/var/run/ftwall/status';

var callServiceList = rpc.declare({
	object: 'service',
	method: 'list',
	params: [ 'name' ],
	expect: { '': {} }
});

/* Parses the status file's text into { pid, started, updated, mode, clients, peers, dns,
 * counters, skipped }. */
function parseStatus(text) {
	var st = { pid: null, started: null, updated: null, mode: null,
	           clients: [], peers: [], dns: [], counters: [], skipped: 0 };

	String(text || '').split(/\r?\n/).forEach(function(line) {
		var f = line.trim().split(/[ \t]+/);

		if (f[0] === '' || f[0].charAt(0) === '#')
			return;

		var secs;
		switch (f[0]) {
		case 'pid':
		case 'started':
		case 'updated':
			secs = toSecs(f[1]);
			if (secs == null)
				break;
			st[f[0]] = secs;
			return;

		case 'mode':
			if (f[1] !== 'enforcing' && f[1] !== 'monitor')
				break;
			st.mode = f[1];
			return;

		case 'client':
			secs = toSecs(f[3]);
			if (f.length < 5 || secs == null)
				break;
			st.clients.push({ ip: f[1], protocol: f[2], secs: secs, mac: f[4] === '-' ? null : f[4] });
			return;

		case 'peer':
			if (f.length < 3)
				break;
			st.peers.push({ endpoint: f[1], protocol: f[2] });
			return;

		case 'dns':
			secs = toSecs(f[2]);
			if (f.length < 4 || secs == null)
				break;
			st.dns.push({ ip: f[1], secs: secs, name: f[3] });
			return;

		case 'counter':
			if (f.length < 3 || !/^[0-9]+$/.test(f[2]))
				break;
			st.counters.push({ name: f[1], value: f[2] });
			return;
		}

		st.skipped++;
	});

	return st;
}

function toSecs(s) {
	return /^[0-9]+$/.test(s || '') ? parseInt(s, 10) : null;
}

/* 97 -> "1m 37s", 3661 -> "1h 1m 1s". */
function formatSecs(secs) {
	var h = Math.floor(secs / 3600), m = Math.floor((secs % 3600) / 60), s = secs % 60;
	if (h > 0)
		return h + 'h ' + m + 'm ' + s + 's';
	if (m > 0)
		return m + 'm ' + s + 's';
	return s + 's';
}

function table(titles, rows, empty) {
	var t = E('table', { 'class': 'table' }, [
		E('tr', { 'class': 'tr table-titles' }, titles.map(function(title) {
			return E('th', { 'class': 'th' }, [ title ]);
		}))
	]);

	if (!rows.length)
		t.appendChild(E('tr', { 'class': 'tr placeholder' }, [
			E('td', { 'class': 'td' }, [ E('em', {}, [ empty ]) ])
		]));

	rows.forEach(function(row) {
		t.appendChild(E('tr', { 'class': 'tr' }, row.map(function(cell) {
			return E('td', { 'class': 'td' }, [ cell ]);
		})));
	});

	return t;
}

function isRunning(services) {
	var instances = (services && services.ftwall && services.ftwall.instances) || {};
	return Object.keys(instances).some(function(name) {
		return instances[name] && instances[name].running;
	});
}

return view.extend({
	/* Exposed for tests. */
	parseStatus: parseStatus,
	formatSecs: formatSecs,
	isRunning: isRunning,

	load: function() {
		return Promise.all([
			L.resolveDefault(callServiceList('ftwall'), {}),
			L.resolveDefault(fs.read(STATUS_FILE), null),
			L.resolveDefault(fs.exec('/sbin/logread', [ '-e', 'ftwall' ]), null)
		]);
	},

	renderStatus: function(data) {
		var running = isRunning(data[0]),
		    text = data[1],
		    log = data[2],
		    st = parseStatus(text);

		var state;
		if (running && st.mode === 'monitor')
			state = _('Running in monitor mode: detects and logs, blocks nothing');
		else if (running)
			state = _('Running');
		else
			state = _('Not running (enable it under Settings)');

		var notes = [];
		if (st.updated != null)
			notes.push(E('p', {}, [ _('Status written %s.').format(new Date(st.updated * 1000).toLocaleString()) ]));
		if (!running && text != null)
			notes.push(E('p', {}, [ E('em', {}, [ _('This status is from a daemon that no longer runs.') ]) ]));
		else if (text == null && running)
			notes.push(E('p', {}, [ E('em', {}, [ _('No status file yet (%s).').format(STATUS_FILE) ]) ]));

		var logLines = (log && log.stdout) ? log.stdout.trim().split('\n').slice(-30) : [];

		return E('div', {}, [
			E('div', { 'class': 'cbi-section' }, [
				E('h3', {}, [ _('Service') ]),
				E('p', {}, [ state ])
			].concat(notes)),
			E('div', { 'class': 'cbi-section' }, [
				E('h3', {}, [ _('Locked clients') ]),
				table([ _('Address'), _('MAC'), _('Caught by'), _('Time left') ],
					st.clients.map(function(c) {
						return [ c.ip, c.mac || '-', c.protocol, formatSecs(c.secs) ];
					}), _('No client is locked.'))
			]),
			E('div', { 'class': 'cbi-section' }, [
				E('h3', {}, [ _('Blocked peers') ]),
				table([ _('Peer'), _('Protocol') ],
					st.peers.map(function(p) { return [ p.endpoint, p.protocol ]; }),
					_('No peer learned yet.'))
			]),
			E('div', { 'class': 'cbi-section' }, [
				E('h3', {}, [ _('Addresses learned from DNS') ]),
				table([ _('Address'), _('Name'), _('Expires in') ],
					st.dns.map(function(d) { return [ d.ip, d.name, formatSecs(d.secs) ]; }),
					_('No address learned from DNS.'))
			]),
			E('div', { 'class': 'cbi-section' }, [
				E('h3', {}, [ _('Counters') ]),
				table([ _('Counter'), _('Value') ],
					st.counters.map(function(c) { return [ c.name, c.value ]; }),
					_('No counters yet.'))
			]),
			E('div', { 'class': 'cbi-section' }, [
				E('h3', {}, [ _('Recent log') ]),
				logLines.length
					? E('pre', { 'style': 'white-space:pre-wrap' }, [ logLines.join('\n') ])
					: E('p', {}, [ E('em', {}, [ _('No log lines from ftwall.') ]) ])
			])
		]);
	},

	render: function(data) {
		var container = E('div', {}, [ this.renderStatus(data) ]);

		poll.add(L.bind(function() {
			return this.load().then(L.bind(function(fresh) {
				container.replaceChild(this.renderStatus(fresh), container.firstChild);
			}, this));
		}, this), 5);

		return E('div', {}, [
			E('h2', {}, [ _('ftwall status') ]),
			container
		]);
	},

	handleSave: null,
	handleSaveApply: null,
	handleReset: null
});

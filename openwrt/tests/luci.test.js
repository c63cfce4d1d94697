'use strict';
// Tests of luci-app-ftwall's views, run by node's test runner (node --test). Each view is
// compiled the way LuCI's loader does it, as the body of a function that receives the
// modules its 'require' lines name, here small stand-ins: the settings view must declare
// every option the init script validates, with matching types, and its validators must
// accept and refuse what the init script does; the status view must read the status file
// format documented in status.js.

const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');

const top = path.resolve(__dirname, '..', '..');
const viewDir = path.join(top, 'openwrt/luci-app-ftwall/htdocs/luci-static/resources/view/ftwall');

// ---- LuCI stand-ins ----------------------------------------------------------------------

// E(tag, attrs, children): a plain tree, enough to search the text of what was rendered.
function E(tag, attrs, children) {
	const node = { tag, attrs: attrs || {}, children: [] };
	node.appendChild = (c) => { node.children.push(c); return c; };
	node.replaceChild = (n, old) => { node.children[node.children.indexOf(old)] = n; };
	Object.defineProperty(node, 'firstChild', { get: () => node.children[0] });
	(Array.isArray(children) ? children : children == null ? [] : [children]).forEach((c) => node.children.push(c));
	return node;
}

function textOf(node) {
	if (node == null || node === '')
		return '';
	if (typeof node !== 'object')
		return String(node);
	return node.children.map(textOf).join(' ');
}

function installGlobals() {
	global.E = E;
	global._ = (s) => s;
	global.L = {
		resolveDefault: (p, d) => Promise.resolve(p).catch(() => d),
		bind: (fn, self) => fn.bind(self)
	};
	// LuCI adds String.prototype.format (printf-like %s).
	if (!String.prototype.format) {
		Object.defineProperty(String.prototype, 'format', {
			value: function(...args) { let i = 0; return this.replace(/%s/g, () => String(args[i++])); },
			configurable: true
		});
	}
}

// form: records every option a view declares, with its properties.
function makeForm(uciStore) {
	const options = [];
	class AbstractValue {
		constructor(section, name, title) {
			this.section = section;
			this.option = name;
			this.title = title;
			this.values = [];
		}
		value(key, label) { this.values.push([key, label]); }
		depends() {}
	}
	const types = ['Flag', 'Value', 'ListValue', 'MultiValue', 'DynamicList'];
	const form = {};
	types.forEach((t) => { form[t] = class extends AbstractValue {}; Object.defineProperty(form[t], 'name', { value: t }); });
	form.NamedSection = class {
		constructor(map, sid, type) { this.map = map; this.sid = sid; this.type = type; this.formvalues = {}; }
		tab() {}
		taboption(tab, Cls, name, title) {
			const o = new Cls(this, name, title);
			o.tab = tab;
			o.kind = Cls.name;
			options.push(o);
			return o;
		}
		option(Cls, name, title) { return this.taboption(null, Cls, name, title); }
		formvalue(sid, name) { return this.formvalues[name]; }
	};
	form.Map = class {
		constructor(config) { this.config = config; this.sections = []; }
		section(Cls, ...args) { const s = new Cls(this, ...args); this.sections.push(s); return s; }
		render() { return Promise.resolve(E('div', {}, [])); }
	};
	return { form, options };
}

function makeUci() {
	const store = {};
	return {
		store,
		get: (c, s, o) => (store[`${c}.${s}.${o}`]),
		set: (c, s, o, v) => { store[`${c}.${s}.${o}`] = v; },
		unset: (c, s, o) => { delete store[`${c}.${s}.${o}`]; },
		load: () => Promise.resolve()
	};
}

// Compiles a view like LuCI: its 'require' lines name the function's parameters.
function loadView(file, modules) {
	const src = fs.readFileSync(path.join(viewDir, file), 'utf8');
	const names = [];
	const re = /^'require ([\w.]+)(?: as (\w+))?';$/gm;
	let m;
	while ((m = re.exec(src)) !== null)
		names.push(m[2] || m[1]);
	for (const n of names)
		assert.ok(n in modules, `${file} requires ${n}, which the test does not provide`);
	const fn = new Function(...names, src);
	return fn(...names.map((n) => modules[n]));
}

const view = { extend: (proto) => proto };

// ---- the init script's options --------------------------------------------------------------

function initOptions() {
	const init = fs.readFileSync(path.join(top, 'files/ftwall.init'), 'utf8');
	const block = init.match(/^FTWALL_OPTIONS='\n([\s\S]*?)'$/m);
	assert.ok(block, 'FTWALL_OPTIONS not found in files/ftwall.init');
	const opts = {};
	block[1].trim().split('\n').forEach((line) => {
		const [name, type] = line.split(':');
		opts[name] = type;
	});
	return opts;
}

// ---- settings view ----------------------------------------------------------------------------

// Loads and renders the settings view; returns it with the options it declared.
function renderSettings() {
	installGlobals();
	const uci = makeUci();
	const { form, options } = makeForm(uci);
	const settings = loadView('settings.js', { view, form, uci, widgets: { ZoneSelect: form.Value, DeviceSelect: form.Value } });
	settings.render();
	return { settings, options, uci };
}

test('settings view declares every option the init script validates', () => {
	const { settings, options, uci } = renderSettings();

	const declared = options.map((o) => o.option).sort();
	const expected = Object.keys(initOptions()).sort();
	assert.deepStrictEqual(declared, expected);

	// Every option of the shipped UCI default is one of them too.
	const shipped = fs.readFileSync(path.join(top, 'files/ftwall.config'), 'utf8')
		.split('\n').map((l) => l.match(/^\s*#?(?:option|list) (\w+) /)).filter(Boolean).map((m) => m[1]);
	for (const name of shipped)
		assert.ok(expected.includes(name), `files/ftwall.config has ${name}, which the init script does not know`);
});

test('settings view types match the init script types', () => {
	const { settings, options, uci } = renderSettings();
	const init = initOptions();
	const byName = Object.fromEntries(options.map((o) => [o.option, o]));

	for (const name of ['timelock', 'queue', 'buffer'])
		assert.strictEqual(byName[name].datatype, init[name], name);
	assert.strictEqual(init.exempt_mac, 'list(macaddr)');
	assert.strictEqual(byName.exempt_mac.datatype, 'macaddr');
	assert.strictEqual(byName.lan_zone.datatype, 'uciname');
	assert.strictEqual(init.lan_device, 'list(maxlength(15))');
	assert.strictEqual(byName.lan_device.datatype, 'maxlength(15)');
	for (const b of ['enabled', 'block_udp', 'monitor', 'fail_closed', 'ipv6'])
		assert.strictEqual(byName[b].kind, 'Flag', b);

	// The protocol choices are exactly the init script's list.
	const protos = init.protocols.match(/"(\w+)"/g).map((s) => s.replace(/"/g, '')).sort();
	assert.deepStrictEqual(byName.protocols.values.map((v) => v[0]).sort(), protos);
	const backends = init.backend.match(/"(\w+)"/g).map((s) => s.replace(/"/g, '')).sort();
	assert.deepStrictEqual(byName.backend.values.map((v) => v[0]).sort(), backends);
	// Defaults match where the init script has one.
	assert.strictEqual(byName.block_udp.default, '1');
	assert.strictEqual(byName.ipv6.default, '1');
	assert.strictEqual(byName.enabled.default, '0');
	assert.strictEqual(byName.timelock.placeholder, '120');
});

test('settings validators accept and refuse like the init script', () => {
	const { settings, options, uci } = renderSettings();
	const byName = Object.fromEntries(options.map((o) => [o.option, o]));

	assert.strictEqual(settings.validatePattern('x', '*.winmx.com'), true);
	assert.strictEqual(settings.validatePattern('x', 'napster.example'), true);
	assert.strictEqual(typeof settings.validatePattern('x', 'two words'), 'string');
	assert.strictEqual(typeof settings.validatePattern('x', 'a/b'), 'string');

	assert.strictEqual(settings.validatePath('x', '/var/lib/ftwall/peers'), true);
	assert.strictEqual(settings.validatePath('x', ''), true);
	assert.strictEqual(typeof settings.validatePath('x', 'peers.txt'), 'string');

	const log = byName.log_events;
	assert.strictEqual(log.validate('main', ['c', 'p']), true);
	assert.strictEqual(typeof settings.validateLogLetters('cpx'), 'string');

	// log_events: a string of letters in UCI, a set of choices in the form.
	uci.set('ftwall', 'main', 'log_events', 'cpm');
	assert.deepStrictEqual(log.cfgvalue('main'), ['c', 'p', 'm']);
	log.write('main', ['u', 'c']);
	assert.strictEqual(uci.get('ftwall', 'main', 'log_events'), 'uc');
	log.remove('main');
	assert.strictEqual(uci.get('ftwall', 'main', 'log_events'), undefined);

	// Enabling needs a LAN and a WAN, by zone or device.
	const enabled = byName.enabled;
	const section = enabled.section;
	section.formvalues = { lan_zone: [], lan_device: [], wan_zone: ['wan'] };
	assert.strictEqual(typeof enabled.validate.call(enabled, 'main', '1'), 'string');
	section.formvalues = { lan_zone: [], lan_device: 'br-lan', wan_zone: ['wan'] };
	assert.strictEqual(enabled.validate.call(enabled, 'main', '1'), true);
	section.formvalues = { lan_zone: ['lan'], wan_zone: [], wan_device: '' };
	assert.strictEqual(typeof enabled.validate.call(enabled, 'main', '1'), 'string');
	section.formvalues = {};
	assert.strictEqual(enabled.validate.call(enabled, 'main', '0'), true);
});

// ---- status view -------------------------------------------------------------------------------

function loadStatus(services, statusText, logText) {
	installGlobals();
	const polls = [];
	const fsStub = {
		read: (p) => (p === '/var/run/ftwall/status' && statusText != null ? Promise.resolve(statusText) : Promise.reject(new Error('ENOENT'))),
		exec: (cmd, args) => Promise.resolve({ code: 0, stdout: logText || '' })
	};
	const rpc = { declare: () => () => Promise.resolve(services) };
	const status = loadView('status.js', { view, fs: fsStub, poll: { add: (fn, n) => polls.push([fn, n]) }, rpc, ui: {} });
	return { status, polls };
}

const SAMPLE = [
	'# ftwall status (see `ftwall status`)',
	'pid 1234',
	'started 1732480000',
	'updated 1732480100',
	'mode monitor',
	'client 192.168.1.23 fasttrack 97 00:11:22:33:44:55',
	'client\t2001:db8::23\tbittorrent\t3661\t-',
	'peer 203.0.113.9:1214 fasttrack',
	'peer [2001:db8::7]:6346 gnutella',
	'dns 198.51.100.4 3540 peer.winmx.example',
	'counter packets 12345',
	'counter locks 2',
	'',
	'future-kind 1 2 3',
	'client 192.168.1.99 fasttrack soon 00:11:22:33:44:66',
	'counter broken -1',
	'mode sleeping'
].join('\n');

test('status file is parsed as documented', () => {
	const { status } = loadStatus({}, null);
	const st = status.parseStatus(SAMPLE);
	assert.deepStrictEqual(st.clients, [
		{ ip: '192.168.1.23', protocol: 'fasttrack', secs: 97, mac: '00:11:22:33:44:55' },
		{ ip: '2001:db8::23', protocol: 'bittorrent', secs: 3661, mac: null }
	]);
	assert.deepStrictEqual(st.peers, [
		{ endpoint: '203.0.113.9:1214', protocol: 'fasttrack' },
		{ endpoint: '[2001:db8::7]:6346', protocol: 'gnutella' }
	]);
	assert.deepStrictEqual(st.dns, [{ ip: '198.51.100.4', secs: 3540, name: 'peer.winmx.example' }]);
	assert.deepStrictEqual(st.counters, [{ name: 'packets', value: '12345' }, { name: 'locks', value: '2' }]);
	assert.strictEqual(st.pid, 1234);
	assert.strictEqual(st.started, 1732480000);
	assert.strictEqual(st.updated, 1732480100);
	assert.strictEqual(st.mode, 'monitor');
	// The unknown kind and the three malformed records are skipped, not shown wrongly.
	assert.strictEqual(st.skipped, 4);
	assert.deepStrictEqual(status.parseStatus(''), { pid: null, started: null, updated: null, mode: null,
		clients: [], peers: [], dns: [], counters: [], skipped: 0 });
	assert.deepStrictEqual(status.parseStatus(null).clients, []);
});

test('time left is shown in hours, minutes and seconds', () => {
	const { status } = loadStatus({}, null);
	assert.strictEqual(status.formatSecs(0), '0s');
	assert.strictEqual(status.formatSecs(59), '59s');
	assert.strictEqual(status.formatSecs(97), '1m 37s');
	assert.strictEqual(status.formatSecs(3661), '1h 1m 1s');
});

test('status page shows clients, peers, DNS addresses, counters and log', async () => {
	const services = { ftwall: { instances: { instance1: { running: true, pid: 42 } } } };
	const { status, polls } = loadStatus(services, SAMPLE, 'Mon ftwall[42]: client 192.168.1.23 locked\n');
	const data = await status.load();
	const page = status.render(data);
	const text = textOf(page);
	for (const s of ['Running in monitor mode', 'Status written', '192.168.1.23', '00:11:22:33:44:55', 'fasttrack', '1m 37s', '1h 1m 1s',
		'[2001:db8::7]:6346', 'gnutella', 'peer.winmx.example', '59m 0s', 'packets', '12345',
		'client 192.168.1.23 locked'])
		assert.ok(text.includes(s), `page lacks ${s}`);
	assert.strictEqual(polls.length, 1);
	assert.strictEqual(polls[0][1], 5);
});

test('status left by a daemon that stopped is marked as such', async () => {
	const { status } = loadStatus({}, SAMPLE);
	const text = textOf(status.render(await status.load()));
	assert.ok(text.includes('Not running'));
	assert.ok(text.includes('no longer runs'));
});

test('status page without daemon or status file says so', async () => {
	const { status } = loadStatus({}, null);
	const text = textOf(status.render(await status.load()));
	assert.ok(text.includes('Not running'));
	assert.ok(text.includes('No client is locked.'));
	assert.ok(text.includes('No peer learned yet.'));
	assert.strictEqual(status.isRunning({ ftwall: { instances: { i: { running: false } } } }), false);
});

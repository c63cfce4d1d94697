//! The kernel side of ftwall: the netfilter rules that feed the daemon's queue and
//! enforce the time-lock and the peer block list without it.
//!
//! One policy ([`policy`]) is written once as abstract rules and rendered for two
//! backends: nftables ([`nft`], its own `table inet ftwall`) and iptables plus ipset
//! ([`ipt`], `ftwall_*` chains in the mangle table). Both can be printed, applied
//! idempotently and removed without a trace. The daemon changes set contents (locks,
//! blocked peers) through [`CommandSets`].
//!
//! Everything is rendered and validated before any tool is run, so a bad option never
//! leaves a half-changed firewall.

pub mod cli;
pub mod exec;
pub mod iface;
pub mod ipt;
pub mod nft;
pub mod policy;
pub mod sets;

use core::fmt;

pub use exec::{Exec, SystemExec};
pub use iface::Iface;
pub use sets::CommandSets;

use crate::engine::Path;

/// Set of time-locked IPv4 clients (elements carry their own timeout).
pub const SET_LOCKED4: &str = "ftwall_locked4";
/// Set of time-locked IPv6 clients.
pub const SET_LOCKED6: &str = "ftwall_locked6";
/// Set of blocked IPv4 peers.
pub const SET_PEERS4: &str = "ftwall_peers4";
/// Set of blocked IPv6 peers.
pub const SET_PEERS6: &str = "ftwall_peers6";

/// The packet mark bit that means "the daemon has passed this packet".
///
/// To accept a queued packet the daemon gives the verdict NF_REPEAT with this bit added
/// to the packet's mark; the packet then runs through the same hook again, skips the
/// queue rules because of the bit, and meets every other rule of that hook (with
/// iptables, a plain NF_ACCEPT would skip the rest of the mangle table, such as fw3's
/// MSS clamping). The daemon also sets it (SO_MARK) on its own sockets so that its
/// spoofed replies and probes are never queued back to itself.
pub const PASS_MARK: u32 = 0x1000_0000;

/// Packets queued per direction of a TCP connection: the handshake plus the first
/// payload packets, where every detector's evidence is.
pub const TCP_INSPECT_PACKETS: u32 = 6;
/// Packets queued per direction of a UDP flow. A dropped first packet leaves the flow
/// unconfirmed in conntrack, so a retry is a "first packet" again and is queued again.
pub const UDP_INSPECT_PACKETS: u32 = 3;

/// The default queue number (what the classic `-j QUEUE` target feeds).
pub const DEFAULT_QUEUE: u16 = 0;

/// Which netfilter front end carries the rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// nftables: `table inet ftwall` (OpenWrt 22.03+ fw4, modern Linux).
    Nft,
    /// `iptables`/`ip6tables` as installed (legacy or nft-based) plus ipset.
    Iptables,
    /// `iptables-legacy`/`ip6tables-legacy` explicitly, on machines that have both.
    IptablesLegacy,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Nft => "nft",
            Backend::Iptables => "iptables",
            Backend::IptablesLegacy => "iptables-legacy",
        }
    }
}

/// `--backend` as given: a backend or "find the best one here".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendChoice {
    Auto,
    Is(Backend),
}

impl core::str::FromStr for BackendChoice {
    type Err = RulesError;

    fn from_str(s: &str) -> Result<BackendChoice, RulesError> {
        match s {
            "auto" => Ok(BackendChoice::Auto),
            "nft" | "nftables" => Ok(BackendChoice::Is(Backend::Nft)),
            "iptables" => Ok(BackendChoice::Is(Backend::Iptables)),
            "iptables-legacy" => Ok(BackendChoice::Is(Backend::IptablesLegacy)),
            other => Err(RulesError::Spec(format!("unknown backend '{other}' (nft, iptables, iptables-legacy or auto)"))),
        }
    }
}

/// What the inspection rules do with the packets the daemon must see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inspect {
    /// Send them to the NFQUEUE queue (the normal mode).
    Queue,
    /// Only count them and let them pass: for kernels without a queue target (tests)
    /// and for measuring how much traffic the queue would carry.
    CountOnly,
}

/// Everything that decides the rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSpec {
    pub backend: Backend,
    /// NFQUEUE queue number.
    pub queue: u16,
    /// LAN interfaces (at least one).
    pub lan_ifs: Vec<Iface>,
    /// WAN interfaces (at least one).
    pub wan_ifs: Vec<Iface>,
    /// Drop queued packets when no daemon is bound to the queue (default: let them pass).
    pub fail_closed: bool,
    /// Also handle IPv6.
    pub ipv6: bool,
    pub inspect: Inspect,
    /// Accept interface names that do not exist yet (e.g. a PPP link that is down).
    /// Wildcard names (`ppp+`) are never checked.
    pub allow_missing_ifs: bool,
}

impl RuleSpec {
    /// A spec with the defaults: queue 0, fail-open, IPv6 on, queueing.
    pub fn new(backend: Backend, lan_ifs: Vec<Iface>, wan_ifs: Vec<Iface>) -> RuleSpec {
        RuleSpec {
            backend,
            queue: DEFAULT_QUEUE,
            lan_ifs,
            wan_ifs,
            fail_closed: false,
            ipv6: true,
            inspect: Inspect::Queue,
            allow_missing_ifs: false,
        }
    }

    /// One line saying what the rules do, for the head of a printed script.
    pub fn describe(&self) -> String {
        let ifs = |v: &[Iface]| v.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(" ");
        format!(
            "LAN: {}  WAN: {}  queue {} ({}), IPv6 {}.",
            ifs(&self.lan_ifs),
            ifs(&self.wan_ifs),
            self.queue,
            if self.fail_closed { "fail-closed" } else { "fail-open" },
            if self.ipv6 { "on" } else { "off" }
        )
    }

    /// Checks what can be checked without the kernel: at least one LAN and one WAN
    /// interface, and no interface on both sides.
    pub fn check(&self) -> Result<(), RulesError> {
        if self.lan_ifs.is_empty() {
            return Err(RulesError::Spec("no LAN interface: give at least one --lan-if".into()));
        }
        if self.wan_ifs.is_empty() {
            return Err(RulesError::Spec("no WAN interface: give at least one --wan-if".into()));
        }
        for l in &self.lan_ifs {
            if let Some(w) = self.wan_ifs.iter().find(|w| w.overlaps(l)) {
                return Err(RulesError::Spec(format!("interface '{l}' is both LAN and WAN ('{w}')")));
            }
        }
        Ok(())
    }

    /// [`check`](Self::check), plus: every non-wildcard interface exists in this
    /// network namespace, unless `allow_missing_ifs`.
    pub fn check_live(&self) -> Result<(), RulesError> {
        self.check()?;
        if !self.allow_missing_ifs {
            for i in self.lan_ifs.iter().chain(&self.wan_ifs) {
                if !i.exists() {
                    return Err(RulesError::Spec(format!(
                        "no such interface '{i}' (check the name; for a link that comes up later use --allow-missing-if or a wildcard such as ppp+)"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Where a queued packet travels, from the names of its input and output devices
    /// (as NFQUEUE reports them; `None` where there is none). `None` for paths the
    /// rules never queue (LAN to LAN, router to WAN, unknown interfaces).
    pub fn path_of(&self, indev: Option<&str>, outdev: Option<&str>) -> Option<Path> {
        let lan = |d: Option<&str>| d.is_some_and(|d| self.lan_ifs.iter().any(|i| i.matches(d)));
        let wan = |d: Option<&str>| d.is_some_and(|d| self.wan_ifs.iter().any(|i| i.matches(d)));
        match (indev, outdev) {
            (Some(_), Some(_)) if lan(indev) && wan(outdev) => Some(Path::LanToWan),
            (Some(_), Some(_)) if wan(indev) && lan(outdev) => Some(Path::WanToLan),
            (Some(_), None) if lan(indev) => Some(Path::LanToRouter),
            (Some(_), None) if wan(indev) => Some(Path::WanToRouter),
            (None, Some(_)) if lan(outdev) => Some(Path::RouterToLan),
            (None, Some(_)) if wan(outdev) => Some(Path::RouterToWan),
            _ => None,
        }
    }
}

/// Renders the complete script for the spec's backend, as `ftwall rules print` shows it:
/// an `nft -f` script, or for iptables the ipset and iptables-restore inputs.
pub fn render(spec: &RuleSpec) -> Result<String, RulesError> {
    spec.check()?;
    Ok(match spec.backend {
        Backend::Nft => nft::render(spec),
        Backend::Iptables | Backend::IptablesLegacy => ipt::render_all(spec),
    })
}

/// Installs (or refreshes) the rules. Idempotent; keeps the sets' elements; changes
/// nothing if anything is wrong.
pub fn apply(spec: &RuleSpec, exec: &mut dyn Exec) -> Result<(), RulesError> {
    spec.check_live()?;
    match spec.backend {
        Backend::Nft => nft::apply(spec, exec),
        Backend::Iptables | Backend::IptablesLegacy => ipt::apply(spec, exec),
    }
}

/// Removes every rule, chain, jump and set ftwall installed with this backend.
/// Removing what is not there is not an error.
pub fn remove(backend: Backend, exec: &mut dyn Exec) -> Result<(), RulesError> {
    match backend {
        Backend::Nft => nft::remove(exec),
        Backend::Iptables | Backend::IptablesLegacy => ipt::remove(backend, exec),
    }
}

/// Picks the backend for `auto`: nftables if `nft` works and the kernel can queue from
/// nftables, else iptables if it is installed.
pub fn detect_backend(exec: &mut dyn Exec) -> Result<Backend, RulesError> {
    if nft::usable(exec) {
        return Ok(Backend::Nft);
    }
    if ipt::usable(Backend::Iptables, exec) {
        return Ok(Backend::Iptables);
    }
    Err(RulesError::Spec("no usable backend: need nft (with kernel queue support) or iptables and ipset".into()))
}

/// Why the rules could not be rendered, applied or removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RulesError {
    /// The options are wrong; nothing was changed.
    Spec(String),
    /// A tool is not installed.
    MissingTool(String),
    /// A tool failed; `what` says which step, `detail` is its error output.
    Tool { what: String, detail: String },
    /// An address of a family the rules do not handle (IPv6 with `--no-ipv6`).
    FamilyDisabled(std::net::IpAddr),
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RulesError::Spec(s) => f.write_str(s),
            RulesError::MissingTool(t) => write!(f, "'{t}' is not installed (or not in PATH)"),
            RulesError::Tool { what, detail } => write!(f, "{what} failed: {}", detail.trim_end()),
            RulesError::FamilyDisabled(ip) => write!(f, "{ip}: IPv6 is disabled in the rules"),
        }
    }
}

impl std::error::Error for RulesError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RuleSpec {
        RuleSpec::new(
            Backend::Nft,
            vec!["br-lan".parse().unwrap(), "wlan+".parse().unwrap()],
            vec!["wan".parse().unwrap(), "ppp+".parse().unwrap()],
        )
    }

    #[test]
    fn paths_follow_interfaces() {
        let s = spec();
        assert_eq!(s.path_of(Some("br-lan"), Some("wan")), Some(Path::LanToWan));
        assert_eq!(s.path_of(Some("wlan0"), Some("ppp0")), Some(Path::LanToWan));
        assert_eq!(s.path_of(Some("pppoe-wan"), Some("br-lan")), Some(Path::WanToLan));
        assert_eq!(s.path_of(Some("br-lan"), None), Some(Path::LanToRouter));
        assert_eq!(s.path_of(Some("wan"), None), Some(Path::WanToRouter));
        assert_eq!(s.path_of(None, Some("wlan1")), Some(Path::RouterToLan));
        assert_eq!(s.path_of(None, Some("wan")), Some(Path::RouterToWan));
        assert_eq!(s.path_of(Some("br-lan"), Some("wlan0")), None, "LAN to LAN is not ftwall's");
        assert_eq!(s.path_of(Some("eth9"), Some("wan")), None);
        assert_eq!(s.path_of(None, None), None);
    }

    #[test]
    fn spec_needs_both_sides_apart() {
        let mut s = spec();
        assert!(s.check().is_ok());
        s.wan_ifs.push("wlan0".parse().unwrap());
        let e = s.check().unwrap_err().to_string();
        assert!(e.contains("both LAN and WAN"), "{e}");
        s.wan_ifs.clear();
        assert!(s.check().unwrap_err().to_string().contains("--wan-if"));
        s.lan_ifs.clear();
        assert!(s.check().unwrap_err().to_string().contains("--lan-if"));
    }

    #[test]
    fn backends_parse() {
        assert_eq!("auto".parse::<BackendChoice>(), Ok(BackendChoice::Auto));
        assert_eq!("nft".parse::<BackendChoice>(), Ok(BackendChoice::Is(Backend::Nft)));
        assert_eq!("iptables-legacy".parse::<BackendChoice>(), Ok(BackendChoice::Is(Backend::IptablesLegacy)));
        assert!("ipchains".parse::<BackendChoice>().is_err());
    }

    #[test]
    fn missing_interfaces_are_refused_unless_allowed() {
        let mut s = RuleSpec::new(Backend::Nft, vec!["lo".parse().unwrap()], vec!["ftw-no-such0".parse().unwrap()]);
        let e = s.check_live().unwrap_err().to_string();
        assert!(e.contains("no such interface 'ftw-no-such0'"), "{e}");
        s.allow_missing_ifs = true;
        assert!(s.check_live().is_ok());
        s.allow_missing_ifs = false;
        s.wan_ifs = vec!["ftw-no+".parse().unwrap()];
        assert!(s.check_live().is_ok(), "wildcards are not checked");
    }
}

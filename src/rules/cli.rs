//! `ftwall rules print|apply|remove [rule options]`: the command line of the rules.
//!
//! [`add_options`] and [`spec_from`] are public so that the daemon's command line can
//! accept the same rule options and build the same [`RuleSpec`].

use getopts::{Matches, Options};

use super::{apply, detect_backend, remove, render, Backend, BackendChoice, Exec, Iface, RuleSpec, RulesError, SystemExec};

const USAGE: &str = "Usage: ftwall rules print|apply|remove [options]";

/// Adds the rule options to `opts`.
pub fn add_options(opts: &mut Options) {
    opts.optopt("", "backend", "nft, iptables, iptables-legacy or auto (default auto)", "NAME");
    opts.optopt("", "queue", "NFQUEUE queue number (default 0)", "N");
    opts.optmulti("", "lan-if", "LAN interface (repeatable; a trailing + matches a prefix)", "IFACE");
    opts.optmulti("", "wan-if", "WAN interface (repeatable; a trailing + matches a prefix)", "IFACE");
    opts.optflag("", "fail-closed", "drop queued packets while no daemon is running");
    opts.optflag("", "no-ipv6", "leave IPv6 alone");
    opts.optflag("", "allow-missing-if", "accept interface names that do not exist (yet)");
}

/// The backend choice in `m` (default `auto`).
pub fn backend_from(m: &Matches) -> Result<BackendChoice, RulesError> {
    m.opt_str("backend").map_or(Ok(BackendChoice::Auto), |b| b.parse())
}

/// Builds the spec from parsed options, with `backend` already resolved.
pub fn spec_from(m: &Matches, backend: Backend) -> Result<RuleSpec, RulesError> {
    let ifaces = |name: &str| m.opt_strs(name).iter().map(|s| s.parse::<Iface>()).collect::<Result<Vec<_>, _>>();
    let mut spec = RuleSpec::new(backend, ifaces("lan-if")?, ifaces("wan-if")?);
    if let Some(q) = m.opt_str("queue") {
        spec.queue = q.parse().map_err(|_| RulesError::Spec(format!("bad queue number '{q}' (0-65535)")))?;
    }
    spec.fail_closed = m.opt_present("fail-closed");
    spec.ipv6 = !m.opt_present("no-ipv6");
    spec.allow_missing_ifs = m.opt_present("allow-missing-if");
    spec.check()?;
    Ok(spec)
}

enum Verb {
    Print,
    Apply,
    Remove,
}

/// Runs `ftwall rules ...`; `args` are the words after `rules`. Returns the exit
/// status: 0 done, 1 a tool failed, 2 bad options (nothing was changed).
pub fn main(args: &[String]) -> i32 {
    main_with(args, &mut SystemExec, &mut std::io::stdout())
}

pub fn main_with(args: &[String], exec: &mut dyn Exec, out: &mut dyn std::io::Write) -> i32 {
    let mut opts = Options::new();
    add_options(&mut opts);
    opts.optflag("h", "help", "show this help");
    let bad = |msg: &str| {
        eprintln!("ftwall rules: {msg}");
        2
    };
    let m = match opts.parse(args) {
        Ok(m) => m,
        Err(e) => return bad(&e.to_string()),
    };
    if m.opt_present("help") {
        let _ = write!(out, "{}", opts.usage(USAGE));
        return 0;
    }
    let verb = match m.free.as_slice() {
        [v] if v == "print" => Verb::Print,
        [v] if v == "apply" => Verb::Apply,
        [v] if v == "remove" => Verb::Remove,
        [] => return bad("say print, apply or remove"),
        [v] => return bad(&format!("unknown action '{v}' (print, apply or remove)")),
        [_, extra, ..] => return bad(&format!("unexpected argument '{extra}'")),
    };
    let choice = match backend_from(&m) {
        Ok(c) => c,
        Err(e) => return bad(&e.to_string()),
    };
    if let Verb::Remove = verb {
        // `auto` removes ftwall from every backend it can find here.
        let backends = match choice {
            BackendChoice::Is(b) => vec![b],
            BackendChoice::Auto => vec![Backend::Nft, Backend::Iptables],
        };
        for b in backends {
            match remove(b, exec) {
                Ok(()) => {}
                Err(RulesError::MissingTool(_)) if choice == BackendChoice::Auto => {}
                Err(e) => {
                    eprintln!("ftwall rules: remove ({}): {e}", b.name());
                    return 1;
                }
            }
        }
        return 0;
    }
    let backend = match choice {
        BackendChoice::Is(b) => b,
        BackendChoice::Auto => match (detect_backend(exec), &verb) {
            (Ok(b), _) => b,
            // Printing needs no kernel: show what a modern system would use.
            (Err(_), Verb::Print) => Backend::Nft,
            (Err(e), _) => {
                eprintln!("ftwall rules: {e}");
                return 1;
            }
        },
    };
    let spec = match spec_from(&m, backend) {
        Ok(s) => s,
        Err(e) => return bad(&e.to_string()),
    };
    match verb {
        Verb::Print => match render(&spec) {
            Ok(text) => {
                let _ = write!(out, "{text}");
                0
            }
            Err(e) => bad(&e.to_string()),
        },
        Verb::Apply => match apply(&spec, exec) {
            Ok(()) => 0,
            Err(RulesError::Spec(s)) => bad(&s),
            Err(e) => {
                eprintln!("ftwall rules: apply ({}): {e}", backend.name());
                1
            }
        },
        Verb::Remove => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::exec::fake::FakeExec;

    fn run(args: &[&str]) -> (i32, String, FakeExec) {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut x = FakeExec::default();
        let mut out = Vec::new();
        let code = main_with(&args, &mut x, &mut out);
        (code, String::from_utf8(out).unwrap(), x)
    }

    #[test]
    fn print_renders_the_chosen_backend() {
        let (code, text, x) = run(&["print", "--backend", "nft", "--lan-if", "br-lan", "--wan-if", "wan", "--queue", "4", "--fail-closed"]);
        assert_eq!(code, 0);
        assert!(text.contains("add table inet ftwall") && text.contains("queue num 4\n"), "{text}");
        assert!(x.calls.is_empty(), "print with an explicit backend runs nothing");
        let (code, text, _) = run(&["print", "--backend", "iptables", "--lan-if", "br-lan", "--wan-if", "wan", "--no-ipv6"]);
        assert_eq!(code, 0);
        assert!(text.contains("-j NFQUEUE --queue-num 0 --queue-bypass") && !text.contains("ip6tables"), "{text}");
    }

    #[test]
    fn bad_options_exit_2_and_touch_nothing() {
        for args in [
            &["apply", "--lan-if", "br lan", "--wan-if", "wan"][..],
            &["apply", "--lan-if", "br-lan"],
            &["apply", "--lan-if", "br-lan", "--wan-if", "wan", "--queue", "70000"],
            &["apply", "--lan-if", "br-lan", "--wan-if", "wan", "--backend", "pf"],
            &["apply", "--lan-if", "eth0", "--wan-if", "eth0", "--backend", "nft"],
            &["frobnicate", "--lan-if", "br-lan", "--wan-if", "wan"],
            &["apply", "--bogus"],
            &[],
        ] {
            let (code, _, x) = run(args);
            assert_eq!(code, 2, "{args:?}");
            assert!(x.commands().iter().all(|c| c.starts_with("nft -c") || c.contains("-save") || c.starts_with("ipset version")), "{args:?}: {:?}", x.commands());
        }
    }

    #[test]
    fn a_missing_interface_is_refused_before_any_change() {
        let (code, _, x) = run(&["apply", "--backend", "nft", "--lan-if", "lo", "--wan-if", "ftw-typo0"]);
        assert_eq!(code, 2);
        assert!(x.calls.is_empty());
        let (code, _, x) = run(&["apply", "--backend", "nft", "--lan-if", "lo", "--wan-if", "ftw-typo0", "--allow-missing-if"]);
        assert_eq!(code, 0);
        assert_eq!(x.commands(), ["nft -f -"]);
    }

    #[test]
    fn auto_remove_cleans_every_backend() {
        let (code, _, x) = run(&["remove"]);
        assert_eq!(code, 0);
        let cmds = x.commands();
        assert!(cmds.contains(&"nft list tables") && cmds.contains(&"iptables-save -t mangle") && cmds.contains(&"ipset list -n"), "{cmds:?}");
    }
}

//! `ftwall rules print|apply|remove [options]`: the rules from the command line's
//! [`Settings`] (the same options the daemon reads, so an init script can pass one
//! argument list to both).

use crate::cli::{settings, usage_error, Settings};

use super::{apply, detect_backend, remove, render, Backend, BackendChoice, CommandSets, Exec, Iface, RuleSpec, RulesError, SystemExec};

/// The backend the options ask for.
pub fn backend_choice(s: &Settings) -> BackendChoice {
    match s.backend {
        settings::Backend::Auto => BackendChoice::Auto,
        settings::Backend::Nft => BackendChoice::Is(Backend::Nft),
        settings::Backend::Iptables => BackendChoice::Is(Backend::Iptables),
        settings::Backend::IptablesLegacy => BackendChoice::Is(Backend::IptablesLegacy),
    }
}

/// Resolves `auto` on this machine (see [`detect_backend`]).
pub fn resolve(choice: BackendChoice, exec: &mut dyn Exec) -> Result<Backend, RulesError> {
    match choice {
        BackendChoice::Is(b) => Ok(b),
        BackendChoice::Auto => detect_backend(exec),
    }
}

/// The rule spec the options describe, for a resolved backend.
pub fn spec_from(s: &Settings, backend: Backend) -> Result<RuleSpec, RulesError> {
    let ifaces = |names: &[String]| names.iter().map(|n| n.parse::<Iface>()).collect::<Result<Vec<_>, _>>();
    let mut spec = RuleSpec::new(backend, ifaces(&s.lan_ifs)?, ifaces(&s.wan_ifs)?);
    spec.queue = s.queue;
    spec.fail_closed = s.fail_closed;
    spec.ipv6 = s.ipv6;
    spec.allow_missing_ifs = s.allow_missing_ifs;
    spec.check()?;
    Ok(spec)
}

/// The daemon's handle on the kernel sets, for the backend the options ask for.
/// An error if that backend's ftwall sets are not installed (no `ftwall rules apply`
/// yet): the daemon then does without, and its verdicts do all the work.
pub fn kernel_sets(s: &Settings) -> Result<CommandSets<SystemExec>, RulesError> {
    let mut exec = SystemExec;
    let backend = resolve(backend_choice(s), &mut exec)?;
    let installed = match backend {
        Backend::Nft => super::nft::table_exists(&mut exec)?,
        Backend::Iptables | Backend::IptablesLegacy => {
            exec.run("ipset", &["list", "-n"], None)?.lines().any(|l| l.trim() == super::SET_LOCKED4)
        }
    };
    if !installed {
        return Err(RulesError::Spec(format!("no ftwall sets in {} (run `ftwall rules apply` first)", backend.name())));
    }
    Ok(CommandSets::new(backend, s.ipv6, exec))
}

/// Runs `ftwall rules ...`. Returns the exit status: 0 done, 1 a tool failed, 2 bad
/// options (nothing was changed).
pub fn run(s: &Settings) -> i32 {
    run_with(s, &mut SystemExec, &mut std::io::stdout())
}

enum Verb {
    Print,
    Apply,
    Remove,
}

pub fn run_with(s: &Settings, exec: &mut dyn Exec, out: &mut dyn std::io::Write) -> i32 {
    let verb = match s.free.as_slice() {
        [v] if v == "print" => Verb::Print,
        [v] if v == "apply" => Verb::Apply,
        [v] if v == "remove" => Verb::Remove,
        [] => return usage_error("rules: say print, apply or remove"),
        [v] => return usage_error(&format!("rules: unknown action '{v}' (print, apply or remove)")),
        [_, extra, ..] => return usage_error(&format!("rules: unexpected operand '{extra}'")),
    };
    let choice = backend_choice(s);
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
                    eprintln!("ftwall: rules remove ({}): {e}", b.name());
                    return 1;
                }
            }
        }
        return 0;
    }
    let backend = match (resolve(choice, exec), &verb) {
        (Ok(b), _) => b,
        // Printing needs no kernel: show what a modern system would use.
        (Err(_), Verb::Print) => Backend::Nft,
        (Err(e), _) => {
            eprintln!("ftwall: rules: {e}");
            return 1;
        }
    };
    let spec = match spec_from(s, backend) {
        Ok(spec) => spec,
        Err(e) => return usage_error(&format!("rules: {e}")),
    };
    match verb {
        Verb::Print => match render(&spec) {
            Ok(text) => {
                let _ = write!(out, "{text}");
                0
            }
            Err(e) => usage_error(&format!("rules: {e}")),
        },
        Verb::Apply => match apply(&spec, exec) {
            Ok(()) => 0,
            Err(RulesError::Spec(m)) => usage_error(&format!("rules: {m}")),
            Err(e) => {
                eprintln!("ftwall: rules apply ({}): {e}", backend.name());
                1
            }
        },
        Verb::Remove => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Request;
    use crate::rules::exec::fake::FakeExec;

    fn run(args: &[&str]) -> (i32, String, FakeExec) {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut x = FakeExec::default();
        let mut out = Vec::new();
        let code = match settings::parse(&args) {
            Ok(Request::Run(s)) => run_with(&s, &mut x, &mut out),
            other => panic!("{args:?} did not parse: {other:?}"),
        };
        (code, String::from_utf8(out).unwrap(), x)
    }

    #[test]
    fn print_renders_the_chosen_backend() {
        let (code, text, x) = run(&["print", "--backend", "nft", "--lan-if", "br-lan", "--wan-if", "wan", "--queue", "4", "--fail-closed"]);
        assert_eq!(code, 0);
        assert!(text.contains("add table inet ftwall") && text.contains("queue num 4\n"), "{text}");
        assert!(x.calls.is_empty(), "print with an explicit backend runs nothing");
        let (code, text, _) = run(&["print", "--backend", "iptables-legacy", "--lan-if", "br-lan", "--wan-if", "wan", "--no-ipv6"]);
        assert_eq!(code, 0);
        assert!(text.contains("-j NFQUEUE --queue-num 0 --queue-bypass") && text.contains("iptables-legacy-restore"), "{text}");
        assert!(!text.contains("ip6tables"), "{text}");
    }

    #[test]
    fn the_daemons_options_are_accepted_and_ignored() {
        let (code, text, _) = run(&["print", "--backend", "nft", "--lan-if", "br-lan", "--wan-if", "wan", "-t", "60", "-f", "/tmp/x", "--monitor"]);
        assert_eq!(code, 0);
        assert!(text.contains("add table inet ftwall"));
    }

    #[test]
    fn bad_options_exit_2_and_change_nothing() {
        for args in [
            &["apply", "--backend", "nft", "--lan-if", "br\"lan", "--wan-if", "wan"][..],
            &["apply", "--backend", "nft", "--lan-if", "br-lan"],
            &["apply", "--backend", "nft", "--lan-if", "ppp+", "--wan-if", "ppp0"],
            &["apply", "--backend", "iptables", "--wan-if", "wan"],
            &["frobnicate", "--backend", "nft", "--lan-if", "br-lan", "--wan-if", "wan"],
            &["apply", "remove", "--backend", "nft", "--lan-if", "br-lan", "--wan-if", "wan"],
            &["--backend", "nft"],
        ] {
            let (code, _, x) = run(args);
            assert_eq!(code, 2, "{args:?}");
            assert!(x.calls.is_empty(), "{args:?}: {:?}", x.commands());
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

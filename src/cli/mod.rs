//! The command line: subcommand dispatch, `--help` and `--version`.
//!
//! `ftwall [options]` runs the daemon; `ftwall inspect`, `ftwall rules` and
//! `ftwall status` are the other subcommands. All read the same options
//! ([`settings`]), and every usage error is one line on stderr with exit status 2.

pub mod settings;

pub use settings::{Backend, Request, Settings};

/// Exit status for a usage error, as ftwall(8) promises.
pub const USAGE: i32 = 2;

// The head of HELP (only the test renders it).
#[cfg(test)]
const SYNOPSIS: &str = "\
Usage: ftwall [options]                      run the firewall daemon (NFQUEUE)
       ftwall inspect CAPTURE [options]      replay a pcap/pcapng file through the engine
       ftwall rules print|apply|remove [options]
       ftwall status [--status-file FILE]    show the running daemon's clients, peers, counters";

/// `ftwall --help`: getopts' rendering of [`settings::options`] under `SYNOPSIS`, kept as
/// text because rendering it at run time links getopts' Unicode width tables (about 17 KB of
/// each router binary). The test `the_help_text_is_what_getopts_renders` keeps it in step.
const HELP: &str = include_str!("help.txt");

/// Runs the program with its arguments (the first is the program name) and returns the
/// exit status.
pub fn main(args: &[String]) -> i32 {
    let rest = args.get(1..).unwrap_or(&[]);
    let (command, rest) = match rest.first().map(String::as_str) {
        Some(c @ ("inspect" | "rules" | "status")) => (c, &rest[1..]),
        _ => ("daemon", rest),
    };
    let settings = match settings::parse(rest) {
        Ok(Request::Run(s)) => s,
        Ok(Request::Help) => {
            print!("{HELP}");
            return 0;
        }
        Ok(Request::Version) => {
            println!("ftwall {}", env!("CARGO_PKG_VERSION"));
            return 0;
        }
        Err(msg) => return usage_error(&msg),
    };
    for w in &settings.warnings {
        eprintln!("ftwall: warning: {w}");
    }
    match command {
        "inspect" => crate::inspect::main(&settings),
        "daemon" if !settings.free.is_empty() => usage_error(&format!("unexpected operand '{}'", settings.free[0])),
        "daemon" => crate::daemon::run(&settings),
        "status" => crate::daemon::status::command(&settings.status_file),
        "rules" => crate::rules::cli::run(&settings),
        _ => usage_error(&format!("'{command}' is not available in this build")),
    }
}

/// Prints a one-line usage error and returns the usage exit status.
pub fn usage_error(msg: &str) -> i32 {
    eprintln!("ftwall: {msg} (see ftwall --help)");
    USAGE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_text_is_what_getopts_renders() {
        let rendered = settings::options().usage(SYNOPSIS);
        assert!(rendered.contains("--status-file FILE"), "{rendered}");
        assert_eq!(HELP, rendered, "src/cli/help.txt is out of date: write the left side into it");
    }
}

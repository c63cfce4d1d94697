//! Running the netfilter tools (nft, iptables-restore, ipset ...). Behind a trait so
//! that the apply/undo sequences can be tested without root, and so that a netlink
//! implementation could replace the tools later.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::RulesError;

/// Runs one tool.
pub trait Exec {
    /// Runs `prog args`, with `input` on its standard input; returns its standard
    /// output if it exits with status 0, and its error output otherwise.
    fn run(&mut self, prog: &str, args: &[&str], input: Option<&str>) -> Result<String, RulesError>;
}

/// Runs the real programs, found through PATH (plus the sbin directories, which a
/// non-login root shell may lack).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemExec;

const EXTRA_PATH: &str = "/usr/sbin:/sbin:/usr/bin:/bin";

/// The file `prog` names: the first executable `prog` in PATH, then in EXTRA_PATH (the
/// tool's own search path is left alone: setting an environment variable for the child
/// costs std's whole environment map, about 4.6 KB of each router binary).
fn find_tool(prog: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(std::env::split_paths(EXTRA_PATH))
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(prog))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

impl Exec for SystemExec {
    fn run(&mut self, prog: &str, args: &[&str], input: Option<&str>) -> Result<String, RulesError> {
        let file = find_tool(prog).ok_or_else(|| RulesError::MissingTool(prog.to_string()))?;
        let what = || format!("{prog} {}", args.join(" "));
        let mut child = Command::new(file)
            .arg0(prog)
            .args(args)
            .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => RulesError::MissingTool(prog.to_string()),
                _ => RulesError::Tool { what: what(), detail: e.to_string() },
            })?;
        if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
            // A tool that exits early closes the pipe; its status tells the story.
            let _ = stdin.write_all(text.as_bytes());
        }
        let out = child.wait_with_output().map_err(|e| RulesError::Tool { what: what(), detail: e.to_string() })?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            let mut detail = String::from_utf8_lossy(&out.stderr).into_owned();
            if detail.trim().is_empty() {
                detail = format!("exit status {}", out.status);
            }
            Err(RulesError::Tool { what: what(), detail })
        }
    }
}

#[cfg(test)]
pub(crate) mod fake {
    //! A scripted [`Exec`] for tests: records every call and answers from a list of
    //! (program-and-args prefix, result) pairs; the first match wins, unmatched calls
    //! succeed with empty output.
    use super::*;

    #[derive(Default)]
    pub struct FakeExec {
        pub calls: Vec<(String, Option<String>)>,
        pub answers: Vec<(String, Result<String, String>)>,
    }

    impl FakeExec {
        pub fn answer(&mut self, prefix: &str, result: Result<&str, &str>) {
            self.answers.push((prefix.to_string(), result.map(str::to_string).map_err(str::to_string)));
        }

        /// The command lines run, without their inputs.
        pub fn commands(&self) -> Vec<&str> {
            self.calls.iter().map(|(c, _)| c.as_str()).collect()
        }
    }

    impl Exec for FakeExec {
        fn run(&mut self, prog: &str, args: &[&str], input: Option<&str>) -> Result<String, RulesError> {
            let line = format!("{prog} {}", args.join(" "));
            self.calls.push((line.clone(), input.map(str::to_string)));
            for (prefix, result) in &self.answers {
                if line.starts_with(prefix.as_str()) {
                    return result.clone().map_err(|detail| RulesError::Tool { what: line.clone(), detail });
                }
            }
            Ok(String::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_exec_reports_output_failure_and_absence() {
        let mut x = SystemExec;
        assert_eq!(x.run("cat", &[], Some("hello\n")).unwrap(), "hello\n");
        match x.run("sh", &["-c", "echo oops >&2; exit 3"], None) {
            Err(RulesError::Tool { detail, .. }) => assert_eq!(detail.trim(), "oops"),
            other => panic!("expected a tool error, got {other:?}"),
        }
        assert_eq!(x.run("ftwall-no-such-tool", &[], None), Err(RulesError::MissingTool("ftwall-no-such-tool".into())));
    }
}

//! Private network namespaces for the tests that must keep their traffic
//! off the host's interfaces (LAN discovery broadcasts, a real client
//! that tries the internet): created with `ip netns add`, deleted on drop
//! (so on every exit path, a failed assertion included), and left-overs
//! of killed runs removed. They need root (CI runs as root); without it
//! the test fails, saying so, rather than skipping.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::binary::wait_bounded;

/// How long one `ip` command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// A network namespace with only `lo`, up; deleted on drop.
pub(crate) struct Netns {
    name: String,
}

impl Netns {
    /// Creates `<prefix>-<pid>-<case>` (first deleting namespaces of
    /// `prefix` whose test process is gone) and brings its `lo` up.
    /// `why` tells a person without root what the namespace is for.
    pub(crate) fn create(prefix: &str, case: &str, why: &str) -> Self {
        assert!(
            toxide_interop::running_as_root(),
            "this test needs root and network namespaces ({why}); run it as root (CI does)"
        );
        remove_stale_namespaces(prefix);
        let name = format!("{prefix}-{}-{case}", std::process::id());
        let (ok, stderr) = ip(&["netns", "add", &name]);
        assert!(
            ok,
            "`ip netns add {name}` failed: this test needs root with network \
             namespaces (CAP_SYS_ADMIN, iproute2's `ip`; {why}): {stderr}"
        );
        // From here on, drop deletes it.
        let ns = Self { name };
        ip_ok(&["-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// `ip netns exec <name> <program>`: `ip` execs the program, so the
    /// child's pid is the program's.
    pub(crate) fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }

    /// The ids of the processes running in the namespace.
    pub(crate) fn pids(&self) -> Vec<u32> {
        ip_ok(&["netns", "pids", &self.name])
            .split_whitespace()
            .filter_map(|pid| pid.parse().ok())
            .collect()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// Deletes namespaces named `<prefix>-<pid>-…` whose process is gone (a
/// run that was killed before its guards could run).
fn remove_stale_namespaces(prefix: &str) {
    let (ok, list) = ip(&["netns", "list"]);
    if !ok {
        return;
    }
    for name in list
        .lines()
        .filter_map(|line| line.split_whitespace().next())
    {
        let Some(pid) = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = ip(&["netns", "del", name]);
        }
    }
}

/// Runs `ip` and fails the test unless it succeeds; its stdout.
pub(crate) fn ip_ok(args: &[&str]) -> String {
    let (ok, output) = ip(args);
    assert!(ok, "`ip {}` failed: {output}", args.join(" "));
    output
}

/// Runs `ip` with a bounded wait: success, and stdout or (on failure)
/// stderr.
pub(crate) fn ip(args: &[&str]) -> (bool, String) {
    let child = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `ip` (iproute2): {e}"));
    let (status, stdout, stderr) = wait_bounded(child, COMMAND_TIMEOUT);
    if status.success() {
        (true, stdout)
    } else {
        (false, stderr)
    }
}

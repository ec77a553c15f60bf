//! Terminal programs driven as a person drives them: a private tmux
//! server (its socket named after the test and this process, so no other
//! tmux is touched; killed on drop), keys sent with `send-keys`, screens
//! read with `capture-pane`. Every wait polls the screen, bounded.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A tmux server of our own; killed on drop.
pub(crate) struct Tmux {
    socket: String,
    /// How long one expected change may take to show on a screen.
    timeout: Duration,
}

impl Tmux {
    /// A server on socket `<name>-<pid>`, whose waits give up after
    /// `timeout`.
    pub(crate) fn new(name: &str, timeout: Duration) -> Self {
        Self {
            socket: format!("{name}-{}", std::process::id()),
            timeout,
        }
    }

    fn run(&self, args: &[&str]) -> String {
        self.try_run(args)
            .unwrap_or_else(|stderr| panic!("tmux {args:?}: {stderr}"))
    }

    /// tmux's stdout, or its stderr if it failed.
    fn try_run(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("tmux runs (Debian package tmux)");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Starts `command` (a shell command line) in a detached 160×45
    /// session `name`.
    pub(crate) fn start(&self, name: &str, command: &str) {
        self.run(&[
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            "160",
            "-y",
            "45",
            command,
        ]);
    }

    /// What session `name` shows now.
    pub(crate) fn screen(&self, name: &str) -> String {
        self.run(&["capture-pane", "-p", "-t", name])
    }

    /// What session `name` shows now, or why it shows nothing (its
    /// program exited, or crashed): for failure messages.
    pub(crate) fn last_screen(&self, name: &str) -> String {
        self.try_run(&["capture-pane", "-p", "-t", name])
            .unwrap_or_else(|stderr| format!("(no screen: {})", stderr.trim()))
    }

    /// Types `text` and Enter into session `name`.
    pub(crate) fn type_line(&self, name: &str, text: &str) {
        self.run(&["send-keys", "-t", name, "-l", text]);
        self.run(&["send-keys", "-t", name, "Enter"]);
    }

    /// Presses `key` (tmux's key names: `Enter`, `Down`, `C-p`) in
    /// session `name`.
    pub(crate) fn key(&self, name: &str, key: &str) {
        self.run(&["send-keys", "-t", name, key]);
    }

    /// Waits until session `name` shows something `found` takes a value
    /// from.
    pub(crate) fn wait<T>(
        &self,
        name: &str,
        what: &str,
        mut found: impl FnMut(&str) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + self.timeout;
        loop {
            let screen = self.screen(name);
            if let Some(value) = found(&screen) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "{name}: no {what} within {:?}; the screen:\n{screen}",
                self.timeout
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until session `name` shows `text`.
    pub(crate) fn wait_text(&self, name: &str, text: &str) {
        self.wait(name, &format!("{text:?}"), |s| {
            s.contains(text).then_some(())
        });
    }
}

impl Drop for Tmux {
    /// Kills the server and removes its socket file, which tmux leaves.
    fn drop(&mut self) {
        let tmux = |args: &[&str]| {
            Command::new("tmux")
                .arg("-L")
                .arg(&self.socket)
                .args(args)
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
        };
        let socket_path = tmux(&["display-message", "-p", "#{socket_path}"])
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned());
        let _ = tmux(&["kill-server"]);
        if let Some(path) = socket_path.filter(|p| !p.is_empty()) {
            let _ = std::fs::remove_file(path);
        }
    }
}

//! README's main job, `cargo run --release --example local_chat`, run as
//! a newcomer would (here in the test profile): it must end well and say
//! that every step happened, the conference included.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::binary::{example_binary, wait_bounded};

/// The demo takes a few seconds; its own waits are bounded too.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

#[test]
fn the_local_chat_demo_runs_every_step() {
    let bin = example_binary("local_chat");
    let child = Command::new(bin)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (status, stdout, stderr) = wait_bounded(child, RUN_TIMEOUT);
    assert!(status.success(), "{status}\n{stdout}\n{stderr}");
    for line in [
        "Alice sees Bob online",
        "Bob: Alice says \"Hello Bob!\"",
        "Alice: Bob has read it",
        "file id is its SHA-256, content identical",
        "every byte as sent; Alice heard it arrived",
        "Bob joined Alice's conference \"Alice and Bob\"",
        "Alice: Bob says \"Hello, conference!\" in the conference",
        "Alice quit; Bob sees her offline at once",
    ] {
        assert!(stdout.contains(line), "no {line:?} in:\n{stdout}");
    }
}

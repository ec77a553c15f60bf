//! The `chat` example end to end, as a person uses it: two instances in
//! a private tmux server (terminals 160×45), a toxide-node on loopback as
//! the only bootstrap node, keys typed and screens read back. Alice adds
//! Bob by the Tox ID her screen shows him, Bob accepts, they chat; then
//! Alice starts a conference, invites Bob, Bob accepts and they talk in
//! it. Every wait polls the screen for at most [`SCREEN_TIMEOUT`].

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use toxide_interop::TempDir;

use common::binary::example_binary;
use common::inprocess::{runtime, start_nodes};
use common::tmux::Tmux;

/// How long one expected change may take to show on a screen.
const SCREEN_TIMEOUT: Duration = Duration::from_secs(60);

/// The 76-hex Tox ID after "Your Tox ID: " on a screen.
fn tox_id(screen: &str) -> Option<String> {
    let start = screen.find("Your Tox ID: ")? + "Your Tox ID: ".len();
    let id: String = screen
        .get(start..)?
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    (id.len() == 76).then_some(id)
}

fn chat_command(bin: &Path, dir: &Path, who: &str, bootstrap: &str) -> String {
    format!(
        "{} --savedata {}/{who}.tox --downloads {}/{who}-downloads --port 0 --bootstrap {bootstrap} 2>{}/{who}.err",
        bin.display(),
        dir.display(),
        dir.display(),
        dir.display()
    )
}

#[test]
fn two_people_chat_and_share_a_conference_in_the_chat_example() {
    let bin = example_binary("chat");
    let rt = runtime();
    let nodes = start_nodes(&rt, 1);
    let bootstrap = format!(
        "127.0.0.1:{}:{}",
        nodes[0].local_addr().port(),
        nodes[0].public_key()
    );
    let dir = TempDir::new("chat-example").unwrap();
    let tmux = Tmux::new("toxide-chat-test", SCREEN_TIMEOUT);
    tmux.start(
        "alice",
        &chat_command(&bin, dir.path(), "alice", &bootstrap),
    );
    tmux.start("bob", &chat_command(&bin, dir.path(), "bob", &bootstrap));
    let bob_id = tmux.wait("bob", "Bob's Tox ID", tox_id);
    tmux.wait("alice", "Alice's Tox ID", tox_id);
    tmux.type_line("alice", "/name Alice");
    tmux.type_line("bob", "/name Bob");

    // Alice asks by the ID Bob's screen shows; Bob accepts request #0.
    tmux.type_line("alice", &format!("/add {bob_id} hi Bob"));
    tmux.wait_text("bob", "/accept 0");
    tmux.type_line("bob", "/accept 0");
    tmux.wait_text("alice", "● Bob");
    tmux.wait_text("bob", "● Alice");
    tmux.type_line("alice", "hello from Alice");
    tmux.wait_text("bob", "Alice: hello from Alice");
    tmux.type_line("bob", "hello from Bob");
    tmux.wait_text("alice", "Bob: hello from Bob");

    // A conference: Alice starts it and invites friend 0 (Bob); Bob's
    // invitation is item #1.
    tmux.type_line("alice", "/conference new");
    tmux.wait_text("alice", "# conference 0 (1)");
    tmux.type_line("alice", "/title the two of us");
    tmux.type_line("alice", "/invite 0");
    tmux.wait_text("bob", "/accept 1");
    tmux.type_line("bob", "/accept 1");
    tmux.wait_text("bob", "# the two of us (2)");
    tmux.wait_text("alice", "# the two of us (2)");
    // Bob selects the conference (below his one friend) and speaks.
    tmux.key("bob", "Down");
    tmux.type_line("bob", "hi all");
    tmux.wait_text("alice", "Bob: hi all");
    tmux.wait_text("bob", "me: hi all");

    tmux.type_line("alice", "/quit");
    tmux.type_line("bob", "/quit");
    // Both saved their profiles on the way out.
    let deadline = Instant::now() + SCREEN_TIMEOUT;
    while !(dir.path().join("alice.tox").is_file() && dir.path().join("bob.tox").is_file()) {
        assert!(Instant::now() < deadline, "no saves written");
        std::thread::sleep(Duration::from_millis(100));
    }
}

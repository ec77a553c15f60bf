//! The one error type of the harness.

use std::io;
use std::time::Duration;

/// What went wrong while driving a C helper process.
///
/// Timeouts and early exits carry `context`: the last lines the process wrote
/// (stdout and stderr), which is usually all one needs to see why a test hung.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The program could not be started at all.
    #[error("could not start {program}: {source}")]
    Spawn {
        /// Path of the program.
        program: String,
        /// Why the operating system refused.
        source: io::Error,
    },
    /// Reading, writing or preparing files or pipes failed.
    #[error("{what}: {source}")]
    Io {
        /// What the harness was doing.
        what: String,
        /// The underlying error.
        source: io::Error,
    },
    /// A bounded wait ran out.
    #[error("{process}: no {what} within {waited:?}\n{context}")]
    Timeout {
        /// Which process was waited on.
        process: String,
        /// What was expected.
        what: String,
        /// How long the harness waited.
        waited: Duration,
        /// Recent output of the process.
        context: String,
    },
    /// The process closed its output (exited) while the harness waited.
    #[error("{process} exited while waiting for {what}\n{context}")]
    Exited {
        /// Which process exited.
        process: String,
        /// What was expected.
        what: String,
        /// Recent output of the process.
        context: String,
    },
    /// The peer answered a command with `ERR`.
    #[error("command `{command}` was refused: {reply}")]
    Command {
        /// The command line sent.
        command: String,
        /// The `ERR ...` line received.
        reply: String,
    },
    /// A line did not have the expected shape.
    #[error("{process}: unexpected output `{line}`")]
    Protocol {
        /// Which process wrote it.
        process: String,
        /// The line.
        line: String,
    },
    /// A command argument would break the line protocol.
    #[error("invalid command line `{0}`: it must be one line")]
    InvalidCommand(String),
}

/// Shorthand used throughout the harness.
pub type Result<T, E = Error> = std::result::Result<T, E>;

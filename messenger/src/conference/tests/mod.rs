//! Tests of the conference codecs and state machine: the packets, each
//! concept on its own, two instances wired by hand, and whole
//! conferences in a simulated world.

mod flows;
mod payload;
mod scenarios;
mod sim;
mod units;

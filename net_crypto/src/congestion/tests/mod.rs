//! The controller on its own, and sessions over a modelled link.

mod cases;
mod link;
mod unit;

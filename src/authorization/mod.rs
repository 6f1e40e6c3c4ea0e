//! The authorization switch: typed requests, decisions, and the frame handler
//! the network server calls.
//!
//! - [`action_code`]: the DE 39 table;
//! - [`switch`]: [`Switch`], decode → dispatch by MTI → encode.

pub mod action_code;
pub mod switch;

pub use action_code::ActionCode;
pub use switch::Switch;

//! The authorization switch: typed requests, pure decisions, operations on the
//! state, and the frame handler the network server calls.
//!
//! - [`action_code`]: the DE 39 table (declines are values);
//! - [`request`]: a decoded message checked into a typed [`request::Request`];
//! - [`decision`]: pure rules — lock reason → action code, expiry, CVC2, PIN, amounts;
//! - [`operations`]: hold, post, complete, reverse, stop-list, expire — as state submissions;
//! - [`switch`]: [`Switch`], decode → claim → decide → durable → encode.

pub mod action_code;
pub mod decision;
pub mod operations;
pub mod request;
pub mod switch;

pub use action_code::ActionCode;
pub use switch::Switch;

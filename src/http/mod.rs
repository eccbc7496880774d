//! The HTTP layer that the API (`api`), the pages (`web`) and the MCP endpoint (`mcp`) are built
//! on: the route table, the request as handlers see it, building replies, the one error type and
//! its JSON shape, the pace every request body must keep, and the wire form of ids. It knows
//! nothing of any resource; everything above it points down to it.

pub mod body_pace;
pub mod counters;
pub mod error;
pub mod ids;
pub mod reply;
pub mod request;
pub mod router;
pub mod send_deadline;

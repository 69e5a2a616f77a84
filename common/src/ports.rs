//! The seed's ports, in one place: each app listens on its own and calls
//! the next one's, so all three must agree.

/// app-a listens here; `curl localhost:5000/` starts a trace.
pub const APP_A: u16 = 5000;
/// app-b listens here.
pub const APP_B: u16 = 5001;
/// app-c listens here.
pub const APP_C: u16 = 5002;

//! common (being written).

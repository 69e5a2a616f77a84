//! app-b (being written).

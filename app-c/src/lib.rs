//! app-c (being written).

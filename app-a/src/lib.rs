//! app-a (being written).

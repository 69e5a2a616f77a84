//! tracelab (being written).

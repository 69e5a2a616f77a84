//! Placeholder: the trace store is being written.

//! libdetshim: see the shim issue.

//! Integration tests of the actor system against a real PostgreSQL cluster.

mod batching;
mod supervision;
mod support;

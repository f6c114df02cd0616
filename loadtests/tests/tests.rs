//! The loadtests integration tests.

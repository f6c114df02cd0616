//! Calls `engine::prepare_resource` N times on one body, so that a tool that counts
//! instructions (valgrind's cachegrind) can compare two builds on a busy machine, where
//! criterion's wall-clock times move by more than the change being measured.
//!
//! Run: cargo build --release -p ember-benches --example prepare_loop
//!      valgrind --tool=cachegrind --cache-sim=no target/release/examples/prepare_loop BODY N
//! Instructions per call are the difference of the `I refs` of two runs with different N,
//! divided by the difference of the Ns (so that start-up and decompressing the definitions
//! cancel out); docs/benchmarks.md, "Element type checks at ingest", has the commands.

use std::hint::black_box;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(count)) = (args.next(), args.next()) else {
        eprintln!("usage: prepare_loop BODY.json N");
        std::process::exit(2);
    };
    let body = std::fs::read(&path).expect("the body can be read");
    let count: usize = count.parse().expect("N is a whole number");
    for _ in 0..count {
        black_box(engine::prepare_resource(black_box(&body)).expect("a valid resource"));
    }
}

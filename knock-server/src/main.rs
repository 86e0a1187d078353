//! knock-server binary (being written).
fn main() {}

//! A WASI command, not a notifier: a well-formed component of the wrong world, which the
//! host must refuse to load.

fn main() {
    println!("I am not a notifier");
}

//! Writes the documentation of the built-in media types: `cargo run -p events-core
//! --example write_docs -- DIR`.
fn main() {
    let out = std::env::args_os().nth(1).expect("usage: write_docs DIR");
    let registry = events_core::Registry::builtin();
    match events_core::docs::write_docs(&registry, std::path::Path::new(&out)) {
        Ok(paths) => paths.iter().for_each(|p| println!("{}", p.display())),
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(1);
        }
    }
}

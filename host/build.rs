//! Embeds `../migrations/*.sql` so the binary carries its schema with it, and
//! `../examples/providers/*.toml` so `plugin test --preset` works without the repository.

use std::fmt::Write as _;
use std::path::PathBuf;

/// Writes `$OUT_DIR/<out>`: a `&[(stem, contents)]` of every `*.<ext>` file in `dir`
/// (relative to this crate), in name order.
fn embed(dir: &str, ext: &str, out: &str) -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join(dir);
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|found| found == ext) {
            println!("cargo:rerun-if-changed={}", path.display());
            files.push(path.canonicalize()?);
        }
    }
    files.sort();
    let mut text = String::from("&[\n");
    for path in &files {
        let stem = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .ok_or("embedded file name is not UTF-8")?;
        writeln!(
            text,
            "    ({stem:?}, include_str!({:?})),",
            path.display().to_string()
        )?;
    }
    text.push(']');
    std::fs::write(PathBuf::from(std::env::var("OUT_DIR")?).join(out), text)?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    embed("../migrations", "sql", "migrations.rs")?;
    embed("../examples/providers", "toml", "presets.rs")?;
    Ok(())
}

//! Compiles the client stubs of `proto/accountd/v1/*.proto` with protox (pure Rust, no
//! system protoc): the same files the server compiles, never a copy of them.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    println!("cargo:rerun-if-changed={}", root.join("accountd/v1").display());
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(root.join("accountd/v1"))?.map(|entry| entry.map(|e| e.path())).collect::<Result<_, _>>()?;
    files.retain(|path| path.extension().is_some_and(|e| e == "proto"));
    files.sort();
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    // A presented token travels in CheckRequest: its `Debug` is written by hand (authorize.rs).
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(false)
        .skip_debug(["accountd.v1.CheckRequest"])
        .compile_fds(protox::compile(&files, [&root])?)?;
    Ok(())
}

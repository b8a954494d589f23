//! Compiles `proto/accountd/v1/*.proto` with protox (pure Rust: no system protoc) and keeps
//! the descriptor set for the reflection service.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    // The directory too, so that a newly added .proto triggers a rebuild.
    println!("cargo:rerun-if-changed={}", root.join("accountd/v1").display());
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root.join("accountd/v1"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "proto") {
            println!("cargo:rerun-if-changed={}", path.display());
            files.push(path);
        }
    }
    files.sort();
    let descriptors = protox::compile(&files, [&root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("accountd_descriptor.bin"), prost::Message::encode_to_vec(&descriptors))?;
    // A presented token's secret must never reach a log line: `Debug` of the request that
    // carries one is written by hand (authorization.rs) and shows no secret.
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .skip_debug(["accountd.v1.CheckRequest"])
        .compile_fds(descriptors)?;
    Ok(())
}

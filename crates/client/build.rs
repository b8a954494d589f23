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
    // Messages carrying a secret (a presented token, a new token's value, a mailbox
    // password, a TOTP secret) get a `Debug` written by hand that prints `..` in its place
    // (authorize.rs, redact.rs), so a product logging `{answer:?}` leaks nothing.
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(false)
        .skip_debug([
            "accountd.v1.CheckRequest",
            "accountd.v1.CreateTokenResponse",
            "accountd.v1.RollTokenResponse",
            "accountd.v1.AliasWithPassword",
            "accountd.v1.CreateAliasRequest",
            "accountd.v1.ResetAliasPasswordRequest",
            "accountd.v1.AuthenticateMailboxRequest",
            "accountd.v1.EnrollTotpResponse",
        ])
        .compile_fds(protox::compile(&files, [&root])?)?;
    Ok(())
}

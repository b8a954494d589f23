//! The MFA key end to end: generated into the data directory on first start, reused after a
//! restart (a factor enrolled before it activates after it), taken from the configuration
//! when given, and never logged.

use std::process::Command;

use accountd_domain::TotpSecret;
use chrono::Utc;
use serde_json::{Value, json};

use crate::{bootstrap, default_key_file, isolated, start, stop};

async fn post(base: &str, token: &str, path: &str, body: Value) -> (u16, Value) {
    let reply =
        reqwest::Client::new().post(format!("{base}{path}")).bearer_auth(token).json(&body).send().await.expect("post");
    (reply.status().as_u16(), reply.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_generated_key_file_outlives_a_restart_and_no_secret_reaches_a_log_or_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (token, _) = bootstrap(dir.path(), &[]);
    let first = start(dir.path(), &[]);
    let (status, enrolled) = post(&format!("http://{}", first.http), &token, "/v1/me/mfa/totp", json!({})).await;
    assert_eq!(status, 201, "{enrolled}");
    let secret = enrolled["secret"].as_str().expect("secret").to_owned();
    let first_log = first.log.lock().expect("log").join("\n");
    stop(first).await;

    let key_file = default_key_file(dir.path());
    let key = std::fs::read_to_string(&key_file).expect("the key file is in the data directory");
    assert_eq!(key.trim().len(), 44, "32 bytes in base64");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).expect("metadata").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only its owner reads the key");
    }

    let second = start(dir.path(), &[]);
    let code = TotpSecret::from_base32(&secret).expect("base32").code_at(Utc::now());
    let (status, activated) =
        post(&format!("http://{}", second.http), &token, "/v1/me/mfa/totp/activate", json!({"code": code})).await;
    assert_eq!(status, 200, "the sealed secret opens with the reused key: {activated}");
    let second_log = second.log.lock().expect("log").join("\n");
    stop(second).await;
    assert_eq!(std::fs::read_to_string(&key_file).expect("key"), key, "the key is not replaced");

    for log in [&first_log, &second_log] {
        assert!(!log.contains(&secret) && !log.contains(key.trim()), "a secret reached the log");
    }
    assert!(!dir.path().join("mfa.key").exists(), "no key in the working directory");
    for entry in std::fs::read_dir(dir.path()).expect("dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            continue;
        }
        let bytes = std::fs::read(path).expect("read");
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "a file holds the TOTP secret");
    }
}

#[tokio::test]
async fn a_configured_key_is_used_instead_of_a_file_and_a_bad_one_refuses_to_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("accountd.toml");
    let key = "dGhpcnR5LXR3by1ieXRlcy1vZi1rZXktbWF0ZXJpYSE=";
    std::fs::write(&config, format!("mfa_key = \"{key}\"\ndata_dir = \"state\"\n")).expect("config");
    let config = config.to_str().expect("utf-8 path").to_owned();
    let (token, _) = bootstrap(dir.path(), &["--config", &config]);
    let running = start(dir.path(), &["--config", &config]);
    let (status, _) = post(&format!("http://{}", running.http), &token, "/v1/me/mfa/totp", json!({})).await;
    assert_eq!(status, 201);
    stop(running).await;
    assert!(!dir.path().join("state").join("mfa.key").exists() && !dir.path().join("mfa.key").exists());
    assert!(!default_key_file(dir.path()).exists(), "a configured key makes no key file");

    let output = isolated(&mut Command::new(env!("CARGO_BIN_EXE_accountd")), dir.path())
        .current_dir(dir.path())
        .arg("serve")
        .env("ACCOUNTD_MFA_KEY", "too-short-to-be-a-key")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("mfa_key"), "{stderr}");
    assert!(!stderr.contains("too-short-to-be-a-key"), "the bad key is not echoed: {stderr}");
}

//! The checkout stays clean: git tracks no key, and running the README's commands from a
//! checkout leaves nothing that `git status` would show.

use std::path::Path;
use std::process::Command;

use crate::{bootstrap, default_key_file, start, stop};

/// The workspace root, two levels above this crate.
fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().and_then(Path::parent).expect("workspace root")
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git").current_dir(dir).args(args).output().expect("run git");
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn git_tracks_no_key_file() {
    let tracked = git(workspace_root(), &["ls-files"]);
    let keys: Vec<&str> = tracked
        .lines()
        .filter(|path| {
            let name = path.rsplit('/').next().unwrap_or(path);
            name == "mfa.key" || name.ends_with(".key") || name.ends_with(".pem")
        })
        .collect();
    assert!(keys.is_empty(), "tracked key files: {keys:?}");
}

#[tokio::test]
async fn running_from_a_checkout_leaves_git_status_clean() {
    let dir = tempfile::tempdir().expect("temp dir");
    let checkout = dir.path();
    git(checkout, &["init", "--quiet"]);
    std::fs::copy(workspace_root().join(".gitignore"), checkout.join(".gitignore")).expect("copy .gitignore");
    git(checkout, &["add", ".gitignore"]);
    git(checkout, &["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "clone"]);
    // `home` stands outside the checkout in real life; here it is a sibling the test ignores.
    std::fs::write(checkout.join(".git").join("info").join("exclude"), "/home/\n").expect("exclude home");

    let (token, _) = bootstrap(checkout, &[]);
    assert!(token.starts_with("acd_"));
    let running = start(checkout, &[]);
    stop(running).await;

    assert!(default_key_file(checkout).exists(), "the key went to the user's data directory");
    let status = git(checkout, &["status", "--porcelain", "--untracked-files=all"]);
    assert_eq!(status, "", "the run left files git would pick up");
}

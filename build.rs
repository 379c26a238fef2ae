//! Tells the tests whether PostgreSQL is there: with `TEST_DATABASE_URL` set at build
//! time the PostgreSQL copies of the storage tests run; without it they are reported as
//! ignored, never as passed. Changing the variable rebuilds the tests.
//!
//! Also names the commit the binary is built from, for `studio-bff --version`:
//! `GIT_COMMIT` from the environment when set (a Docker build, which has no `.git`),
//! else `git rev-parse --short HEAD`, else `unknown`. It is read again when HEAD moves
//! (a checkout, or a commit on the branch checked out).
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_URL");
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    if std::env::var_os("TEST_DATABASE_URL").is_some() {
        println!("cargo::rustc-cfg=postgres_tests");
    }

    println!("cargo::rerun-if-env-changed=GIT_COMMIT");
    let commit = std::env::var("GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| {
            for file in git_files_naming_head() {
                println!("cargo::rerun-if-changed={}", file.display());
            }
            git(&["rev-parse", "--short", "HEAD"])
        })
        .unwrap_or_else(|| "unknown".into());
    println!("cargo::rustc-env=GIT_COMMIT={commit}");
}

/// The files whose change moves HEAD: `HEAD` itself (a checkout), the branch it points
/// to (a commit), and `packed-refs`. In a worktree `.git` is a file, so git says where
/// they are.
fn git_files_naming_head() -> Vec<PathBuf> {
    let mut refs = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        refs.push(branch);
    }
    refs.iter()
        .filter_map(|name| git(&["rev-parse", "--git-path", name]))
        .map(PathBuf::from)
        .filter(|path| path.exists())
        .collect()
}

/// What `git args` prints, trimmed; none when git is missing or fails (no `.git`).
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (output.status.success() && !text.is_empty()).then_some(text)
}

//! Tells the tests whether PostgreSQL is there: with `TEST_DATABASE_URL` set at build
//! time the PostgreSQL copies of the storage tests run; without it they are reported as
//! ignored, never as passed. Changing the variable rebuilds the tests.
fn main() {
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_URL");
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    if std::env::var_os("TEST_DATABASE_URL").is_some() {
        println!("cargo::rustc-cfg=postgres_tests");
    }
}

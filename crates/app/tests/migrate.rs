//! `tollgate migrate`, the real binary, twice on each store.

use std::process::Command;

use tollgate_store_contract::harness::TestDatabase;

fn migrate(database_url: &str, config_dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["migrate", "--config-dir"])
        .arg(config_dir)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run tollgate migrate")
}

fn assert_ok(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "tollgate migrate failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("migrations applied"));
}

#[test]
fn migrate_creates_the_sqlite_file_and_can_run_twice() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("fresh/folder/tollgate.db");
    let url = format!("sqlite://{}", file.display());
    assert_ok(&migrate(&url, dir.path()));
    assert!(file.exists(), "the database file and its folders are created");
    assert_ok(&migrate(&url, dir.path()));
}

#[tokio::test]
async fn migrate_can_run_twice_on_postgres() {
    let Some(db) = TestDatabase::create().await else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let url = db.url().to_owned();
    let (first, second) = tokio::task::spawn_blocking(move || {
        let first = migrate(&url, dir.path());
        let second = migrate(&url, dir.path());
        (first, second)
    })
    .await
    .expect("joined");
    db.drop_now().await;
    assert_ok(&first);
    assert_ok(&second);
}

#[test]
fn an_unreachable_database_fails_with_a_message_and_no_password() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = migrate("postgres://app:hunter2hunter2@127.0.0.1:1/tollgate", dir.path());
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Failed to connect"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "the password leaked: {stderr}");
}

//! The real binary's commands: `migrate` twice on each store, `user`, `key`, `backup`.

// Tests run on real time and make their own ids.
#![allow(clippy::disallowed_methods, reason = "tests run on real time and make their own ids")]
#![allow(clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use std::collections::HashMap;
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

fn tollgate(args: &[&str], database_url: &str, config_dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .arg("--config-dir")
        .arg(config_dir)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run tollgate")
}

/// A migrated SQLite store in `dir` with Ada on the free plan: its URL, the store and Ada's id.
async fn store_with_ada(dir: &std::path::Path) -> (String, tollgate::store::Store, tollgate_domain::UserId) {
    use tollgate_domain::{Email, FullName, Role, Subscription, SubscriptionId, User, UserId};
    use tollgate_ports::PasswordHash;

    let url = format!("sqlite://{}/tollgate.db", dir.display());
    let env = HashMap::from([("DATABASE_URL".to_owned(), url.clone())]);
    let settings = tollgate::settings::Settings::load_from(dir, Some(env)).expect("settings");
    let store = tollgate::store::Store::open(&settings).await.expect("store");
    store.migrate().await.expect("migrated");
    let now = time::OffsetDateTime::now_utc();
    let user = User {
        id: UserId::from_uuid(uuid::Uuid::new_v4()),
        fullname: FullName::parse("Ada Lovelace").expect("valid"),
        email: Email::parse("ada@example.com").expect("valid"),
        role: Role::User,
        created_at: now,
    };
    let sub = Subscription::new_free(
        SubscriptionId::from_uuid(uuid::Uuid::new_v4()),
        tollgate_domain::AccountId::personal(user.id),
        now,
    );
    store.ports().users.create(&user, &PasswordHash("$argon2id$x".into()), &sub).await.expect("created");
    (url, store, user.id)
}

/// One run for `user`, so `user show` has a usage record to list.
async fn use_one_run(store: &tollgate::store::Store, user: tollgate_domain::UserId) {
    let consumption = tollgate_ports::Consumption {
        record_id: uuid::Uuid::new_v4(),
        account_id: tollgate_domain::AccountId::personal(user),
        user_id: Some(user),
        units: tollgate_domain::RunCount::new(1),
        limit: tollgate_domain::plan::RunLimit::limited(10),
        expected_version: 0,
        idempotency_key: None,
        reason: tollgate_ports::UsageReason::SessionCreate,
        at: time::OffsetDateTime::now_utc(),
    };
    store.ports().usage.consume(&consumption).await.expect("consumed");
}

#[tokio::test]
async fn operators_show_and_set_plans_through_the_cli() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (url, store, ada) = store_with_ada(dir.path()).await;
    use_one_run(&store, ada).await;

    let (set, show, unknown, bad_plan, unlimited_free) = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        move || {
            (
                tollgate(
                    &["user", "set-plan", "ADA@example.com", "enterprise", "--runs", "25000"],
                    &url,
                    &dir,
                ),
                tollgate(&["user", "show", "ada@example.com", "--json"], &url, &dir),
                tollgate(&["user", "show", "nobody@example.com"], &url, &dir),
                tollgate(&["user", "set-plan", "ada@example.com", "platinum"], &url, &dir),
                tollgate(&["user", "set-plan", "ada@example.com", "free", "--runs", "unlimited"], &url, &dir),
            )
        }
    })
    .await
    .expect("joined");
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    // A change confirms in one line, without colour codes (the output is not a terminal).
    let confirmed = String::from_utf8_lossy(&set.stdout);
    assert_eq!(confirmed.lines().count(), 1, "{confirmed}");
    assert!(
        confirmed.starts_with("ada@example.com: plan set to enterprise; enterprise (active), 1 of 25000 runs used, 24999 remaining, 0 granted, period ends "),
        "{confirmed}"
    );
    for output in [&set, &show] {
        assert!(!output.stdout.contains(&0x1b) && !output.stderr.contains(&0x1b), "no ANSI escapes");
    }
    // `--json` is the admin API's document: its names and RFC 3339 times.
    let shown: serde_json::Value = serde_json::from_slice(&show.stdout).expect("json");
    assert_eq!(shown["subscription"]["plan"], "enterprise");
    assert_eq!(shown["subscription"]["monthly_agent_runs_limit"], 25000);
    assert_eq!(shown["subscription"]["granted_runs"], 0);
    assert_eq!(shown["subscription"]["remaining_runs"], 24999);
    assert_eq!(shown["user"]["email"], "ada@example.com");
    assert_eq!(shown["recent_usage"][0]["reason"], "session.create");
    assert_eq!(shown["recent_usage"][0]["runs"], 1);
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    for at in [
        &shown["subscription"]["current_period_end"],
        &shown["user"]["created_at"],
        &shown["recent_usage"][0]["at"],
    ] {
        assert!(time::OffsetDateTime::parse(at.as_str().expect("text"), rfc3339).is_ok(), "{at}");
    }
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no user with this email"));
    assert!(!bad_plan.status.success());
    assert!(String::from_utf8_lossy(&bad_plan.stderr).contains("unknown plan"));
    assert!(!unlimited_free.status.success());
    assert!(String::from_utf8_lossy(&unlimited_free.stderr).contains("refused"));

    // Roles and grants, each audited with the command line as the actor.
    let (promote, grant, bad_role, no_reason) = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        let url = format!("sqlite://{}/tollgate.db", dir.display());
        move || {
            (
                tollgate(&["user", "set-role", "ada@example.com", "admin"], &url, &dir),
                tollgate(
                    &["user", "grant", "ada@example.com", "5", "--reason", "outage on the 3rd", "--json"],
                    &url,
                    &dir,
                ),
                tollgate(&["user", "set-role", "ada@example.com", "root"], &url, &dir),
                tollgate(&["user", "grant", "ada@example.com", "5", "--reason", " "], &url, &dir),
            )
        }
    })
    .await
    .expect("joined");
    assert!(promote.status.success(), "{}", String::from_utf8_lossy(&promote.stderr));
    let confirmed = String::from_utf8_lossy(&promote.stdout);
    assert!(
        confirmed.starts_with("ada@example.com: role set to admin; ") && confirmed.lines().count() == 1,
        "{confirmed}"
    );
    assert!(grant.status.success(), "{}", String::from_utf8_lossy(&grant.stderr));
    let shown: serde_json::Value = serde_json::from_slice(&grant.stdout).expect("json");
    assert_eq!(shown["user"]["role"], "admin");
    assert_eq!(shown["subscription"]["granted_runs"], 5);
    assert_eq!(shown["subscription"]["monthly_agent_runs_limit"], 25005);
    assert!(String::from_utf8_lossy(&bad_role.stderr).contains("unknown role"));
    assert!(String::from_utf8_lossy(&no_reason.stderr).contains("a reason is required"));
    let page = tollgate_ports::Page { limit: 10, offset: 0 };
    let (log, total) = store.ports().admin.audit_log(page).await.expect("audit");
    assert_eq!(total, 3, "set-plan, set-role, grant; nothing for the refused commands");
    let actions: Vec<_> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["user.grant_runs", "user.set_role", "user.set_plan"]);
    assert!(log.iter().all(|e| e.actor.starts_with("cli:") && e.target_user_id == Some(ada)));
    assert_eq!(log[0].reason.as_deref(), Some("outage on the 3rd"));
}

/// `tollgate account …` addresses an organisation by id: show (members and their use), set-plan,
/// grant; the audit names the account, and a bad id or plan changes nothing.
#[tokio::test]
async fn operators_show_set_plans_and_grant_runs_for_an_account_through_the_cli() {
    use tollgate_domain::{Account, AccountId, AccountKind, AccountName, Subscription, SubscriptionId};
    let dir = tempfile::tempdir().expect("temp dir");
    let (url, store, ada) = store_with_ada(dir.path()).await;
    let now = time::OffsetDateTime::now_utc();
    let acme = Account {
        id: AccountId::from_uuid(uuid::Uuid::new_v4()),
        kind: AccountKind::Organisation,
        name: AccountName::parse("Acme").expect("name"),
        created_at: now,
    };
    let sub = Subscription::new_free(SubscriptionId::from_uuid(uuid::Uuid::new_v4()), acme.id, now);
    store.ports().accounts.create_organisation(&acme, ada, &sub, now).await.expect("organisation");
    let id = acme.id.to_string();
    let (set, grant, show, bad_id) = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        move || {
            (
                tollgate(&["account", "set-plan", &id, "pro"], &url, &dir),
                tollgate(&["--json", "account", "grant", &id, "7", "--reason", "launch week"], &url, &dir),
                tollgate(&["account", "show", &id], &url, &dir),
                tollgate(&["account", "set-plan", "not-an-id", "pro"], &url, &dir),
            )
        }
    })
    .await
    .expect("joined");
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    assert!(String::from_utf8_lossy(&set.stdout).starts_with("Acme: plan set to pro; pro (active)"));
    let shown: serde_json::Value = serde_json::from_slice(&grant.stdout).expect("json");
    assert_eq!(shown["subscription"]["granted_runs"], 7);
    assert_eq!(shown["members"][0]["email"], "ada@example.com");
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        text.starts_with("Acme (organisation)") && text.contains("owner ada@example.com (no cap): 0 runs"),
        "{text}"
    );
    assert!(
        !bad_id.status.success() && String::from_utf8_lossy(&bad_id.stderr).contains("not an account id")
    );
    let (log, total) =
        store.ports().admin.audit_log(tollgate_ports::Page { limit: 10, offset: 0 }).await.expect("audit");
    assert_eq!(total, 2);
    assert!(log.iter().all(|e| e.target_account_id == Some(acme.id) && e.target_user_id.is_none()));
}

#[tokio::test]
async fn operators_create_list_and_revoke_service_keys_through_the_cli() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/tollgate.db", dir.path().display());
    // Key commands open an existing store only (`migrate` or `serve` makes it).
    assert_ok(&migrate(&url, dir.path()));
    let (created, listed, revoked, again, unknown, json) = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        move || {
            (
                tollgate(&["key", "create", "research-backend"], &url, &dir),
                tollgate(&["key", "list"], &url, &dir),
                tollgate(&["key", "revoke", "research-backend"], &url, &dir),
                tollgate(&["key", "create", "research-backend"], &url, &dir),
                tollgate(&["key", "revoke", "nobody"], &url, &dir),
                tollgate(&["key", "list", "--json"], &url, &dir),
            )
        }
    })
    .await
    .expect("joined");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let key = String::from_utf8_lossy(&created.stdout).trim().to_owned();
    assert!(key.starts_with("tgk_") && key.len() > 40, "{key}");
    let list = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(
        list.contains("research-backend") && !list.contains(&key),
        "the list never shows the key: {list}"
    );
    // A table: the key's first characters to tell it apart, and its last use (none yet).
    let row = list.lines().nth(1).expect("a row");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        list.lines().next().map(|h| h.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["NAME", "PREFIX", "CREATED", "LAST", "USED", "REVOKED"])
    );
    assert_eq!(cells[0], "research-backend");
    assert_eq!(cells[1], format!("{}…", &key[..12]));
    assert_eq!(&cells[3..], ["never", "-"]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(json[0]["prefix"], key[..12]);
    assert!(json[0]["last_used_at"].is_null());
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    for at in [&json[0]["created_at"], &json[0]["revoked_at"]] {
        assert!(time::OffsetDateTime::parse(at.as_str().expect("text"), rfc3339).is_ok(), "{at}");
    }
    assert!(revoked.status.success());
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("exists"));
    assert!(!unknown.status.success() && String::from_utf8_lossy(&unknown.stderr).contains("no service key"));
}

#[tokio::test]
async fn a_sqlite_backup_taken_under_load_is_a_consistent_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (url, store, ada) = store_with_ada(dir.path()).await;
    // Writers keep going while the backup runs.
    let writer = {
        let store = store.clone();
        let user = ada;
        tokio::spawn(async move {
            let mut written = 0u32;
            for _ in 0..400 {
                let c = tollgate_ports::Consumption {
                    record_id: uuid::Uuid::new_v4(),
                    account_id: tollgate_domain::AccountId::personal(user),
                    user_id: Some(user),
                    units: tollgate_domain::RunCount::new(1),
                    limit: tollgate_domain::plan::RunLimit::Unlimited,
                    expected_version: 0,
                    idempotency_key: None,
                    reason: tollgate_ports::UsageReason::SessionCreate,
                    at: time::OffsetDateTime::now_utc(),
                };
                if store.ports().usage.consume(&c).await.is_ok() {
                    written += 1;
                }
            }
            written
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let copy = dir.path().join("backup.db");
    let out = tokio::task::spawn_blocking({
        let (url, dir, copy) = (url.clone(), dir.path().to_owned(), copy.clone());
        move || tollgate(&["backup", &copy.display().to_string()], &url, &dir)
    })
    .await
    .expect("joined");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(writer.await.expect("writer"), 400);
    // The copy opens as a store, migrated, with the user and a usage count matching its counter.
    let env = HashMap::from([("DATABASE_URL".to_owned(), format!("sqlite://{}", copy.display()))]);
    let settings = tollgate::settings::Settings::load_from(dir.path(), Some(env)).expect("settings");
    let restored = tollgate::store::Store::open(&settings).await.expect("the copy opens");
    restored.migrate().await.expect("already migrated");
    let sub = restored
        .ports()
        .subs
        .get_by_account(tollgate_domain::AccountId::personal(ada))
        .await
        .expect("read")
        .expect("the user is there");
    let records =
        restored.ports().usage.list(tollgate_domain::AccountId::personal(ada), 1000).await.expect("records");
    assert_eq!(sub.runs_used().get() as usize, records.len(), "counter and records agree in the copy");
    // A second backup never overwrites the first; Postgres is refused with pg_dump named.
    let again = tollgate(&["backup", &copy.display().to_string()], &url, dir.path());
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("exists"));
    let Some(db) = TestDatabase::create().await else { return };
    let pg = tollgate(&["backup", &dir.path().join("pg.db").display().to_string()], db.url(), dir.path());
    assert!(!pg.status.success() && String::from_utf8_lossy(&pg.stderr).contains("pg_dump"));
    db.drop_now().await;
}

#[tokio::test]
async fn the_health_command_reports_a_ready_server_and_fails_without_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/tollgate.db", dir.path().display());
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let health = move |dir: std::path::PathBuf, url: String| {
        Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(["health", "--config-dir"])
            .arg(&dir)
            .env("DATABASE_URL", url)
            .env("TOLLGATE_LISTEN", format!("127.0.0.1:{port}"))
            .output()
            .expect("run tollgate")
    };
    let down = health(dir.path().to_owned(), url.clone());
    assert!(!down.status.success(), "no server yet");
    // Something answers, but not ready (a store that is down): still unhealthy.
    {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind the port");
        let answer = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().expect("the probe connects");
            let mut request = [0u8; 1024];
            let read = socket.read(&mut request).expect("the probe writes");
            socket
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
                .expect("answered");
            String::from_utf8_lossy(&request[..read]).into_owned()
        });
        let unready = health(dir.path().to_owned(), url.clone());
        assert!(answer.join().expect("joined").starts_with("GET /ready "), "it asks /ready");
        assert!(!unready.status.success(), "a 503 from /ready is not healthy");
        assert!(String::from_utf8_lossy(&unready.stderr).contains("503"));
    }
    // The very command the container's HEALTHCHECK runs, against the very command it starts.
    let mut server = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["serve", "--config-dir"])
        .arg(dir.path())
        .env("DATABASE_URL", &url)
        .env("TOLLGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("TOLLGATE_METRICS_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("server starts");
    let mut up = None;
    for _ in 0..100 {
        let out = tokio::task::spawn_blocking({
            let (dir, url) = (dir.path().to_owned(), url.clone());
            move || health(dir, url)
        })
        .await
        .expect("joined");
        if out.status.success() {
            up = Some(out);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = server.kill();
    let _ = server.wait();
    let up = up.expect("the server became ready");
    assert_eq!(String::from_utf8_lossy(&up.stdout).trim(), "ready");
}

#[test]
fn a_command_on_a_store_that_does_not_exist_says_so_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("elsewhere/tollgate.db");
    let url = format!("sqlite://{}", file.display());
    for args in
        [&["user", "show", "ada@example.com"][..], &["key", "list"][..], &["backup", "/tmp/never.db"][..]]
    {
        let output = tollgate(args, &url, dir.path());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("there is no store at") && stderr.contains("tollgate migrate"), "{stderr}");
        assert!(!file.exists(), "{args:?} created the store");
    }
    // Once the store exists, the command says which one it opened.
    assert!(migrate(&url, dir.path()).status.success());
    let output = tollgate(&["key", "list"], &url, dir.path());
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("store: {}", file.display())), "{stderr}");
}

fn lines_with(text: &[u8], needle: &str) -> usize {
    String::from_utf8_lossy(text).lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn configuration_typos_stop_every_command_with_the_closest_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/tollgate.db", dir.path().display());
    let output = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["migrate", "--config-dir"])
        .arg(dir.path())
        .env("DATABASE_URL", &url)
        .env("TOLLGATE_PLAN_PRO_RUN", "7")
        .output()
        .expect("run tollgate");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim(),
        "tollgate: unknown setting `TOLLGATE_PLAN_PRO_RUN` in the environment; did you mean `TOLLGATE_PLAN_PRO_RUNS`?"
    );
    std::fs::write(dir.path().join("default.toml"), "[server]\nlisen = \"127.0.0.1:1\"\n").expect("file");
    let output = tollgate(&["migrate"], &url, dir.path());
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("did you mean `[server] listen`?"), "{stderr}");
    assert!(!dir.path().join("tollgate.db").exists(), "nothing was done");
}

#[test]
fn an_error_is_printed_once_by_a_command_and_by_the_server() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/tollgate.db", dir.path().display());
    assert!(migrate(&url, dir.path()).status.success());
    let output = tollgate(&["user", "show", "nobody@example.com"], &url, dir.path());
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(lines_with(&output.stderr, "no user"), 1, "{}", String::from_utf8_lossy(&output.stderr));
    // Logs asked for on a pipe come without colour codes.
    let output = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["key", "list", "--config-dir"])
        .arg(dir.path())
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "info")
        .output()
        .expect("run tollgate key list");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("INFO") && !stderr.contains('\x1b'), "{stderr}");

    // A server that cannot bind says so once, after warning about production on SQLite without Stripe.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let output = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["serve", "--config-dir"])
        .arg(dir.path())
        .env("DATABASE_URL", &url)
        .env("TOLLGATE_ENV", "production")
        .env("JWT_SECRET_KEY", "0123456789abcdef0123456789abcdef-test")
        .env("TOLLGATE_LISTEN", taken.local_addr().expect("addr").to_string())
        .env("TOLLGATE_METRICS_LISTEN", "off")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run tollgate serve");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(lines_with(&output.stderr, "production on SQLite"), 1, "{stderr}");
    assert_eq!(lines_with(&output.stderr, "production without STRIPE_SECRET_KEY"), 1, "{stderr}");
    assert_eq!(lines_with(&output.stderr, "Address already in use"), 1, "{stderr}");
    assert!(stderr.lines().all(|l| l.starts_with('{')), "production logs JSON lines only: {stderr}");
}

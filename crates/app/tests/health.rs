//! The server answers over a real socket, on a real store.

#![allow(clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;

use tollgate::settings::Settings;
use tollgate::startup::Application;

fn get(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
}

#[actix_web::test]
async fn the_server_answers_health_and_ready_on_the_port_it_bound() {
    let dir = tempfile::tempdir().expect("temp dir");
    let env = HashMap::from([
        ("TOLLGATE_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        ("TOLLGATE_METRICS_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        ("DATABASE_URL".to_owned(), format!("sqlite://{}/db/tollgate.db", dir.path().display())),
    ]);
    let settings = Settings::load_from(dir.path(), Some(env)).expect("settings");
    let app = Application::build(&settings).await.expect("built");
    let port = app.port();
    assert_ne!(port, 0);
    assert!(dir.path().join("db/tollgate.db").exists(), "the SQLite file and its folder are created");
    actix_web::rt::spawn(app.run_until_stopped());
    let response = actix_web::rt::task::spawn_blocking(move || get(port, "/health")).await.expect("joined");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("{\"status\":\"ok\"}"), "{response}");
    let ready = actix_web::rt::task::spawn_blocking(move || get(port, "/ready")).await.expect("joined");
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    let missing = actix_web::rt::task::spawn_blocking(move || get(port, "/nope")).await.expect("joined");
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
}

//! The real `ember` executable: help text, start with an embedded cluster, clean stop on
//! SIGTERM, restart with the same data, recovery after SIGKILL, two processes sharing one
//! external database, and the probes' answers while a migration waits.
//! Spec: docs/operations.md, docs/configuration.md; https://hl7.org/fhir/R4/http.html#read

use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use sonic_rs::{JsonValueTrait, Value};
use tempfile::TempDir;

const EMBER: &str = env!("CARGO_BIN_EXE_ember");

/// Under /tmp and mode 0755, so the unprivileged `postgres` user can reach it when tests
/// run as root.
fn data_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("ember-bin-")
        .permissions(Permissions::from_mode(0o755))
        .tempdir_in("/tmp")
        .expect("a temporary directory")
}

/// Ports nobody listens on right now (each bound, then released).
fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<_> = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    std::array::from_fn(|index| listeners[index].local_addr().unwrap().port())
}

fn pid_file(data_dir: &Path) -> PathBuf {
    data_dir.join("postgres").join("postmaster.pid")
}

/// A running `ember serve`, killed if a test fails before stopping it.
struct Server {
    child: Option<Child>,
    base: String,
    log: PathBuf,
    client: reqwest::Client,
}

impl Server {
    /// Starts `ember serve --listen 127.0.0.1:PORT <args>`, logging to `log`, with `cwd` as
    /// working directory (so no stray ember.toml is read).
    fn spawn(port: u16, args: &[&str], cwd: &Path, log: PathBuf) -> Server {
        let output = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("a log file");
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new(EMBER)
            .arg("serve")
            .args(["--listen", &listen, "--pool-size", "4"])
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .spawn()
            .expect("ember starts");
        Server {
            child: Some(child),
            base: format!("http://{listen}"),
            log,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.as_ref().expect("running").id() as i32)
    }

    /// Polls /readyz until it answers 200 (up to a minute: the first start runs initdb).
    async fn ready(self) -> Server {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut server = self;
        loop {
            if let Ok(response) = server
                .client
                .get(format!("{}/readyz", server.base))
                .send()
                .await
            {
                if response.status().as_u16() == 200 {
                    return server;
                }
            }
            if let Some(status) = server.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "ember exited with {status} before it was ready:\n{}",
                    server.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "ember was not ready within a minute:\n{}",
                server.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn create_patient(&self, family: &str) -> String {
        let response = self
            .client
            .post(format!("{}/fhir/Patient", self.base))
            .header("content-type", "application/fhir+json")
            .body(format!(
                r#"{{"resourceType":"Patient","name":[{{"family":"{family}"}}]}}"#
            ))
            .send()
            .await
            .expect("ember answers");
        assert_eq!(response.status().as_u16(), 201);
        let created: Value = sonic_rs::from_slice(&response.bytes().await.unwrap()).unwrap();
        created["id"].as_str().unwrap().to_owned()
    }

    /// Reads Patient/`id` and returns its family name, asserting 200.
    async fn read_family(&self, id: &str) -> String {
        let response = self
            .client
            .get(format!("{}/fhir/Patient/{id}", self.base))
            .send()
            .await
            .expect("ember answers");
        assert_eq!(response.status().as_u16(), 200, "{}", self.log());
        let resource: Value = sonic_rs::from_slice(&response.bytes().await.unwrap()).unwrap();
        resource["name"][0]["family"].as_str().unwrap().to_owned()
    }

    /// Sends `signal` and waits for the process to exit (a hang is a failure, after 30 s).
    async fn signal_and_wait(mut self, signal: Signal) -> ExitStatus {
        kill(self.pid(), signal).expect("the signal is delivered");
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("ember did not exit after {signal}:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM: asserts a successful exit.
    async fn stop(self) {
        let log = self.log.clone();
        let status = self.signal_and_wait(Signal::SIGTERM).await;
        assert!(
            status.success(),
            "ember exited with {status} on SIGTERM:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn help(args: &[&str]) -> String {
    let output = Command::new(EMBER).args(args).output().expect("ember runs");
    assert!(output.status.success(), "ember {args:?}: {}", output.status);
    String::from_utf8(output.stdout).expect("UTF-8 help")
}

#[test]
fn help_names_the_serve_command_and_every_option() {
    assert!(help(&["--help"]).contains("serve"));

    let serve = help(&["serve", "--help"]);

    for option in [
        "--listen",
        "--data-dir",
        "--database-url",
        "--config",
        "--base-url",
        "--max-body-bytes",
        "--pool-size",
        "--default-page-size",
        "--max-page-size",
        "--log-format",
        "--log-level",
    ] {
        assert!(serve.contains(option), "{option} missing from:\n{serve}");
    }
}

#[tokio::test]
async fn embedded_cluster_survives_stop_restart_and_kill() {
    let dir = data_dir();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, Permissions::from_mode(0o755)).unwrap();
    let data_arg = data.to_str().unwrap();
    let log = dir.path().join("ember.log");
    let start =
        |port: u16| Server::spawn(port, &["--data-dir", data_arg], dir.path(), log.clone()).ready();

    // First start: initdb, migrations, then a write.
    let [port] = free_ports();
    let server = start(port).await;
    let id = server.create_patient("First").await;

    // SIGTERM: a clean exit that takes PostgreSQL down with it.
    server.stop().await;
    assert!(
        !pid_file(&data).exists(),
        "PostgreSQL still runs after a clean stop"
    );

    // Restart with the same directory: the data is still there.
    let [port] = free_ports();
    let server = start(port).await;
    assert_eq!(server.read_family(&id).await, "First");

    // SIGKILL: no chance to clean up; the next start recovers.
    let status = server.signal_and_wait(Signal::SIGKILL).await;
    assert!(!status.success());
    let [port] = free_ports();
    let server = start(port).await;
    assert_eq!(server.read_family(&id).await, "First");
    server.stop().await;
    assert!(
        !pid_file(&data).exists(),
        "PostgreSQL still runs after a clean stop"
    );
}

/// How `ember --database-url` reaches a database of the test cluster:
/// `postgresql://USER@/DBNAME?host=SOCKETDIR&port=PORT`.
fn database_url(config: &tokio_postgres::Config) -> String {
    let host = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Unix(path) => path.to_str().unwrap().to_owned(),
        tokio_postgres::config::Host::Tcp(host) => host.clone(),
    };
    let host: String = form_urlencoded::byte_serialize(host.as_bytes()).collect();
    format!(
        "postgresql://{}@/{}?host={host}&port={}",
        config.get_user().unwrap(),
        config.get_dbname().unwrap(),
        config.get_ports()[0]
    )
}

#[tokio::test]
async fn two_servers_migrate_and_share_one_external_database() {
    let config = storage::testing::fresh_database().await;
    let url = database_url(&config);
    let dir = data_dir();
    let [port_a, port_b] = free_ports();

    // Started at the same moment: both migrate the empty database, one after the other.
    let a = Server::spawn(
        port_a,
        &["--database-url", &url],
        dir.path(),
        dir.path().join("a.log"),
    );
    let b = Server::spawn(
        port_b,
        &["--database-url", &url],
        dir.path(),
        dir.path().join("b.log"),
    );
    let (a, b) = tokio::join!(a.ready(), b.ready());

    let from_a = a.create_patient("Alpha").await;
    let from_b = b.create_patient("Beta").await;
    assert_eq!(b.read_family(&from_a).await, "Alpha");
    assert_eq!(a.read_family(&from_b).await, "Beta");

    tokio::join!(a.stop(), b.stop());
}

/// `path`'s status and body, polled until the server answers at all (up to a minute).
async fn first_answer(server: &Server, path: &str) -> (u16, Value) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = server
            .client
            .get(format!("{}{path}", server.base))
            .send()
            .await
        {
            let status = response.status().as_u16();
            let body = sonic_rs::from_slice(&response.bytes().await.unwrap()).unwrap();
            return (status, body);
        }
        assert!(Instant::now() < deadline, "no answer:\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An Ember started on a fresh external database whose migration lock another connection
/// (the returned client) holds, so it stays in its start-up; with its data directory.
async fn server_waiting_for_the_migration_lock() -> (tokio_postgres::Client, TempDir, Server) {
    let config = storage::testing::fresh_database().await;
    let (holder, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    holder
        .execute(
            "SELECT pg_advisory_lock($1)",
            &[&storage::MIGRATION_LOCK_KEY],
        )
        .await
        .unwrap();
    let dir = data_dir();
    let [port] = free_ports();
    let server = Server::spawn(
        port,
        &["--database-url", &database_url(&config)],
        dir.path(),
        dir.path().join("ember.log"),
    );
    (holder, dir, server)
}

async fn release_the_migration_lock(holder: &tokio_postgres::Client) {
    holder
        .execute(
            "SELECT pg_advisory_unlock($1)",
            &[&storage::MIGRATION_LOCK_KEY],
        )
        .await
        .unwrap();
}

// docs/operations.md, "Upgrading": while a migration runs (here: waits for the migration
// lock another process holds), the process is alive for a liveness probe and not ready for
// traffic; once migrated it serves.
#[tokio::test]
async fn a_server_is_alive_and_not_ready_while_it_migrates() {
    let (holder, _dir, server) = server_waiting_for_the_migration_lock().await;

    let (status, alive) = first_answer(&server, "/healthz").await;
    assert_eq!((status, alive["status"].as_str()), (200, Some("alive")));
    for not_yet in ["/readyz", "/fhir/metadata", "/fhir/Patient/1"] {
        let (status, outcome) = first_answer(&server, not_yet).await;
        assert_eq!(status, 503, "{not_yet}");
        assert_eq!(outcome["resourceType"].as_str(), Some("OperationOutcome"));
    }

    release_the_migration_lock(&holder).await;
    let server = server.ready().await;
    let id = server.create_patient("Later").await;
    assert_eq!(server.read_family(&id).await, "Later");
    server.stop().await;
}

// A SIGTERM before the server is ready (here: while it waits for the migration lock another
// process holds) ends the start-up with a clean exit, as once it serves; it does not kill
// the process with the migration half done.
#[tokio::test]
async fn a_server_stopped_while_it_migrates_exits_cleanly() {
    let (holder, _dir, server) = server_waiting_for_the_migration_lock().await;
    let (status, _) = first_answer(&server, "/healthz").await;
    assert_eq!(status, 200);

    let log = server.log.clone();
    let status = server.signal_and_wait(Signal::SIGTERM).await;
    let log = std::fs::read_to_string(log).unwrap_or_default();
    assert!(status.success(), "ember exited with {status}:\n{log}");
    assert!(log.contains("stopped before it was ready"), "{log}");
    release_the_migration_lock(&holder).await;
}

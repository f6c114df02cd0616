//! The embedded PostgreSQL cluster: first start, restart, recovery from a killed Ember, the
//! guardian, error messages, and the test harness's fresh databases.

use std::fs::Permissions;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::{getpid, Pid};
use storage::{EmbeddedOptions, EmbeddedPostgres, Error};
use tempfile::TempDir;
use tokio_postgres::{Client, Config, NoTls};

/// Under /tmp and mode 0755, so that the `postgres` user can reach it when tests run as root.
fn data_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("ember-embedded-")
        .permissions(Permissions::from_mode(0o755))
        .tempdir_in("/tmp")
        .unwrap()
}

async fn connect(config: &Config) -> Client {
    let (client, connection) = config.connect(NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

fn pid_file(data_dir: &Path) -> PathBuf {
    data_dir.join("postgres").join("postmaster.pid")
}

fn pid_in(data_dir: &Path) -> Option<Pid> {
    let text = std::fs::read_to_string(pid_file(data_dir)).ok()?;
    text.lines().next()?.trim().parse().ok().map(Pid::from_raw)
}

fn is_alive(pid: Pid) -> bool {
    let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z'))
    });
    kill(pid, None).is_ok() && !zombie
}

fn wait_for(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

#[tokio::test]
async fn first_start_creates_a_cluster_and_database() {
    let dir = data_dir();

    let started = Instant::now();
    let postgres = EmbeddedPostgres::start(EmbeddedOptions::new(dir.path()))
        .await
        .unwrap();
    eprintln!("first start (initdb included): {:?}", started.elapsed());

    let client = connect(&postgres.connection_config()).await;
    let row = client
        .query_one(
            "SELECT current_database(), current_user, current_setting('listen_addresses'), \
             current_setting('server_encoding'), current_setting('lc_collate')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "ember");
    assert_eq!(row.get::<_, String>(1), "ember");
    assert_eq!(row.get::<_, String>(2), "", "no TCP listener");
    assert_eq!(row.get::<_, String>(3), "UTF8");
    assert_eq!(row.get::<_, String>(4), "C");

    let socket_dir = postgres.socket_dir().metadata().unwrap();
    let cluster_dir = dir.path().join("postgres").metadata().unwrap();
    assert_eq!(socket_dir.mode() & 0o777, 0o700);
    assert_eq!(
        socket_dir.uid(),
        cluster_dir.uid(),
        "owned by the server's user"
    );

    let via_url: Config = postgres.database_url().parse().unwrap();
    let client = connect(&via_url).await;
    let one: i32 = client.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);

    let socket = postgres.socket_dir().join(".s.PGSQL.5432");
    postgres.stop().await.unwrap();
    assert!(
        !pid_file(dir.path()).exists(),
        "a clean shutdown removes the pid file"
    );
    assert!(!socket.exists());
}

#[tokio::test]
async fn restart_with_same_data_dir_keeps_data() {
    let dir = data_dir();
    let postgres = EmbeddedPostgres::start(EmbeddedOptions::new(dir.path()))
        .await
        .unwrap();
    let client = connect(&postgres.connection_config()).await;
    client
        .batch_execute("CREATE TABLE kept (note text); INSERT INTO kept VALUES ('still here')")
        .await
        .unwrap();
    drop(client);
    let version_file = dir.path().join("postgres").join("PG_VERSION");
    let created = version_file.metadata().unwrap().ino();
    postgres.stop().await.unwrap();

    let started = Instant::now();
    let postgres = EmbeddedPostgres::start(EmbeddedOptions::new(dir.path()))
        .await
        .unwrap();
    let restart = started.elapsed();
    eprintln!("restart with an existing cluster: {restart:?}");

    let client = connect(&postgres.connection_config()).await;
    let note: String = client
        .query_one("SELECT note FROM kept", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(note, "still here");
    assert_eq!(
        version_file.metadata().unwrap().ino(),
        created,
        "no second initdb"
    );
    assert!(restart < Duration::from_secs(5), "restart took {restart:?}");
    postgres.stop().await.unwrap();
}

// initdb writes its own shared_buffers into postgresql.conf; Ember passes another on the
// command line. A reload must not then log that the file "contains errors" (a setting that
// needs a restart differing from the one in force), and Ember's value stays in force.
#[tokio::test]
async fn a_configuration_reload_finds_no_errors_and_keeps_embers_settings() {
    let dir = data_dir();
    let postgres = EmbeddedPostgres::start(EmbeddedOptions::new(dir.path()))
        .await
        .unwrap();
    let client = connect(&postgres.connection_config()).await;
    let shared_buffers = || async {
        let row = client
            .query_one("SELECT current_setting('shared_buffers')", &[])
            .await
            .unwrap();
        row.get::<_, String>(0)
    };
    let before = shared_buffers().await;
    let log = dir.path().join("postgres.log");
    let logged_before = std::fs::read_to_string(&log).unwrap().len();

    client
        .batch_execute("SELECT pg_reload_conf()")
        .await
        .unwrap();
    let reloaded = wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(&log).is_ok_and(|text| {
            text[logged_before..].contains("received SIGHUP, reloading configuration files")
        })
    });
    assert!(reloaded, "the postmaster logged no reload");
    // The reload's messages follow the SIGHUP line within the same pass.
    std::thread::sleep(Duration::from_millis(300));
    let after_reload = std::fs::read_to_string(&log).unwrap()[logged_before..].to_owned();
    assert!(
        !after_reload.contains("contains errors") && !after_reload.contains("cannot be changed"),
        "{after_reload}"
    );
    assert_eq!(shared_buffers().await, before);

    let config_file = dir.path().join("postgres").join("postgresql.conf");
    let cluster_dir = dir.path().join("postgres").metadata().unwrap();
    assert_eq!(config_file.metadata().unwrap().uid(), cluster_dir.uid());
    drop(client);
    postgres.stop().await.unwrap();
}

/// Models an Ember killed together with its guardian: a postmaster still running on the
/// cluster, started by nobody alive.
#[tokio::test]
async fn stale_postmaster_from_killed_process_is_recovered() {
    let dir = data_dir();
    let postgres = EmbeddedPostgres::start(EmbeddedOptions::new(dir.path()))
        .await
        .unwrap();
    connect(&postgres.connection_config())
        .await
        .batch_execute("CREATE TABLE kept (note text); INSERT INTO kept VALUES ('intact')")
        .await
        .unwrap();
    let socket_dir = postgres.socket_dir().to_path_buf();
    postgres.stop().await.unwrap();

    let cluster = dir.path().join("postgres");
    // postmaster.opts holds the command line of the last start, binary path first.
    let opts = std::fs::read_to_string(cluster.join("postmaster.opts")).unwrap();
    let binary = opts.split_whitespace().next().unwrap().to_owned();
    let owner = cluster.metadata().unwrap();
    let mut orphan = Command::new(binary)
        .arg("-D")
        .arg(&cluster)
        .arg("-k")
        .arg(&socket_dir)
        .args(["-c", "listen_addresses="])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .uid(owner.uid())
        .gid(owner.gid())
        .spawn()
        .unwrap();
    let orphan_pid = Pid::from_raw(orphan.id() as i32);
    assert!(
        wait_for(Duration::from_secs(30), || {
            let text = std::fs::read_to_string(pid_file(dir.path())).unwrap_or_default();
            pid_in(dir.path()) == Some(orphan_pid)
                && text.lines().nth(7).map(str::trim) == Some("ready")
        }),
        "the orphan postmaster did not come up"
    );

    let postgres = EmbeddedPostgres::start(EmbeddedOptions::new(dir.path()))
        .await
        .unwrap();

    assert!(
        orphan.try_wait().unwrap().is_some(),
        "the orphan was stopped"
    );
    assert_ne!(pid_in(dir.path()), Some(orphan_pid));
    let note: String = connect(&postgres.connection_config())
        .await
        .query_one("SELECT note FROM kept", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(note, "intact");
    postgres.stop().await.unwrap();
}

#[tokio::test]
async fn stale_pid_file_without_its_postmaster_is_ignored() {
    let dir = data_dir();
    EmbeddedPostgres::start(EmbeddedOptions::new(dir.path()))
        .await
        .unwrap()
        .stop()
        .await
        .unwrap();
    let stale = |pid: u32| {
        format!(
            "{pid}\n{}\n0\n5432\n/nowhere\n\n0 0\nready   \n",
            dir.path().display()
        )
    };

    // A pid whose process has exited: the usual leftover of a crash.
    let mut exited = Command::new("true").spawn().unwrap();
    exited.wait().unwrap();
    std::fs::write(pid_file(dir.path()), stale(exited.id())).unwrap();
    EmbeddedPostgres::start(EmbeddedOptions::new(dir.path()))
        .await
        .unwrap()
        .stop()
        .await
        .unwrap();

    // A pid reused by an unrelated live process (after a reboot, say), which PostgreSQL
    // alone would take for a running postmaster. It must be left alone.
    let mut unrelated = Command::new("sleep").arg("30").spawn().unwrap();
    std::fs::write(pid_file(dir.path()), stale(unrelated.id())).unwrap();
    let postgres = EmbeddedPostgres::start(EmbeddedOptions::new(dir.path()))
        .await
        .unwrap();
    assert!(
        unrelated.try_wait().unwrap().is_none(),
        "the unrelated process lives on"
    );
    unrelated.kill().unwrap();
    unrelated.wait().unwrap();
    postgres.stop().await.unwrap();
}

#[tokio::test]
async fn second_start_on_a_data_dir_in_use_is_refused() {
    let dir = data_dir();
    let first = EmbeddedPostgres::start(EmbeddedOptions::new(dir.path()))
        .await
        .unwrap();
    let pid = pid_in(dir.path()).unwrap();

    let error = EmbeddedPostgres::start(EmbeddedOptions::new(dir.path()))
        .await
        .unwrap_err();

    assert!(matches!(error, Error::EmbeddedCluster { .. }), "{error:?}");
    assert!(error.to_string().contains("in use"), "{error}");
    assert!(is_alive(pid), "the running cluster was not touched");
    connect(&first.connection_config())
        .await
        .query_one("SELECT 1", &[])
        .await
        .unwrap();
    first.stop().await.unwrap();
}

#[tokio::test]
async fn missing_binaries_error_names_what_to_install() {
    let dir = data_dir();
    let empty_install_root = data_dir();
    let options = EmbeddedOptions {
        data_dir: dir.path().join("data"),
        search_path: Some("".into()),
        install_roots: vec![empty_install_root.path().to_path_buf()],
    };

    let error = EmbeddedPostgres::start(options).await.unwrap_err();

    assert!(
        matches!(error, Error::PostgresBinariesNotFound { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("apt-get install postgresql"), "{message}");
    assert!(message.contains("PATH (empty)"), "{message}");
    assert!(message.contains("pg_config"), "{message}");
    assert!(
        message.contains(&format!("{}/*/bin", empty_install_root.path().display())),
        "{message}"
    );
    assert!(
        !dir.path().join("data").exists(),
        "nothing created before the binaries are found"
    );
}

#[tokio::test]
async fn unreachable_data_dir_is_reported_before_initdb() {
    if !nix::unistd::geteuid().is_root() {
        // Only root hands the cluster to another user who might not reach it.
        return;
    }
    let private = tempfile::Builder::new()
        .prefix("ember-private-")
        .permissions(Permissions::from_mode(0o700))
        .tempdir_in("/tmp")
        .unwrap();
    let data = private.path().join("data");

    let error = EmbeddedPostgres::start(EmbeddedOptions::new(&data))
        .await
        .unwrap_err();

    let message = error.to_string();
    assert!(
        message.contains(&private.path().display().to_string()),
        "{message}"
    );
    assert!(message.contains("--data-dir"), "{message}");
    assert!(!data.join("postgres").exists(), "initdb never ran");
}

#[tokio::test]
async fn long_data_dir_puts_the_socket_under_tmp() {
    let dir = data_dir();
    let long = dir.path().join("d".repeat(100));

    let postgres = EmbeddedPostgres::start(EmbeddedOptions::new(&long))
        .await
        .unwrap();

    let socket_dir = postgres.socket_dir().to_path_buf();
    assert!(socket_dir.starts_with("/tmp"), "{}", socket_dir.display());
    assert!(socket_dir.join(".s.PGSQL.5432").as_os_str().len() <= 107);
    connect(&postgres.connection_config())
        .await
        .query_one("SELECT 1", &[])
        .await
        .unwrap();
    postgres.stop().await.unwrap();
    std::fs::remove_dir_all(socket_dir).unwrap();
}

const KILLED_EMBER_DIR: &str = "EMBER_TEST_KILLED_EMBER_DATA_DIR";

/// Not a test on its own: [`killed_ember_does_not_leave_postgres_running`] runs it in a
/// child process, which starts a cluster and then SIGKILLs itself, as `kill -9` would.
#[tokio::test]
async fn helper_process_that_is_killed_while_running_a_cluster() {
    let Some(dir) = std::env::var_os(KILLED_EMBER_DIR) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let postgres = EmbeddedPostgres::start(EmbeddedOptions::new(&dir))
        .await
        .unwrap();
    std::fs::write(dir.join("started"), "").unwrap();
    kill(getpid(), Signal::SIGKILL).unwrap();
    drop(postgres);
}

#[tokio::test]
async fn killed_ember_does_not_leave_postgres_running() {
    let dir = data_dir();

    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "embedded::helper_process_that_is_killed_while_running_a_cluster",
            "--test-threads=1",
        ])
        .env(KILLED_EMBER_DIR, dir.path())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.signal(), Some(Signal::SIGKILL as i32), "{status:?}");
    assert!(
        dir.path().join("started").exists(),
        "the helper started a cluster"
    );

    // The guardian notices the closed pipe and asks for a fast shutdown; PostgreSQL removes
    // its pid file when it has finished.
    let pid = pid_in(dir.path());
    assert!(
        wait_for(Duration::from_secs(30), || !pid_file(dir.path()).exists()),
        "PostgreSQL (pid {pid:?}) still running after its Ember was killed"
    );
    if let Some(pid) = pid {
        assert!(wait_for(Duration::from_secs(5), || !is_alive(pid)));
    }

    // And the next Ember starts normally on the same directory.
    EmbeddedPostgres::start(EmbeddedOptions::new(dir.path()))
        .await
        .unwrap()
        .stop()
        .await
        .unwrap();
}

#[tokio::test]
async fn dropping_without_stop_shuts_postgres_down() {
    let dir = data_dir();
    let postgres = EmbeddedPostgres::start(EmbeddedOptions::new(dir.path()))
        .await
        .unwrap();
    assert!(pid_file(dir.path()).exists());

    drop(postgres);

    assert!(
        wait_for(Duration::from_secs(30), || !pid_file(dir.path()).exists()),
        "PostgreSQL still running after its EmbeddedPostgres was dropped"
    );
}

const TEST_CLUSTER_REPORT: &str = "EMBER_TEST_CLUSTER_REPORT";

/// Not a test on its own: [`test_cluster_is_deleted_when_the_test_process_exits`] runs it
/// in a child process, which starts the shared test cluster, says where it is, and exits.
#[tokio::test]
async fn helper_process_that_uses_the_test_cluster() {
    let Some(report) = std::env::var_os(TEST_CLUSTER_REPORT) else {
        return;
    };
    let config = storage::testing::fresh_database().await;
    connect(&config)
        .await
        .query_one("SELECT 1", &[])
        .await
        .unwrap();
    let data_dir = storage::testing::shared_cluster().await.data_dir();
    std::fs::write(report, data_dir.as_os_str().as_encoded_bytes()).unwrap();
}

#[tokio::test]
async fn test_cluster_is_deleted_when_the_test_process_exits() {
    let dir = data_dir();
    let report = dir.path().join("report");

    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "embedded::helper_process_that_uses_the_test_cluster",
            "--test-threads=1",
        ])
        .env(TEST_CLUSTER_REPORT, &report)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{status:?}");

    let cluster_dir = PathBuf::from(std::fs::read_to_string(&report).unwrap());
    assert!(cluster_dir.starts_with("/tmp"), "{}", cluster_dir.display());
    assert!(
        wait_for(Duration::from_secs(30), || !cluster_dir.exists()),
        "{} still there after the test process exited",
        cluster_dir.display()
    );
}

#[tokio::test]
async fn fresh_database_gives_isolated_databases() {
    let first = storage::testing::fresh_database().await;
    let second = storage::testing::fresh_database().await;
    assert_ne!(first.get_dbname(), second.get_dbname());

    let first = connect(&first).await;
    let second = connect(&second).await;
    first
        .batch_execute("CREATE TABLE mine (id int); INSERT INTO mine VALUES (1)")
        .await
        .unwrap();

    let seen: i64 = first
        .query_one("SELECT count(*) FROM mine", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(seen, 1);
    let error = second
        .query_one("SELECT count(*) FROM mine", &[])
        .await
        .unwrap_err();
    assert_eq!(
        error.code(),
        Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE),
        "{error}"
    );
}

#[tokio::test]
async fn fresh_databases_share_one_cluster_across_tests() {
    let before = storage::testing::shared_cluster()
        .await
        .data_dir()
        .to_path_buf();
    let config = storage::testing::fresh_database().await;

    let client = connect(&config).await;
    let name: String = client
        .query_one("SELECT current_database()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(name.starts_with("test_"), "{name}");
    assert_eq!(storage::testing::shared_cluster().await.data_dir(), before);
    assert!(before.starts_with("/tmp"), "{}", before.display());
}

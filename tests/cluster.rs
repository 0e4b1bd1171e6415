//! A throwaway PostgreSQL cluster of a test's own, on its own port and directory, which the test
//! may stop and start again (an outage), unlike the shared server of [`crate::PostgresDatabase`].
//! `initdb` and `pg_ctl` come from the PATH or Debian's `/usr/lib/postgresql/*/bin`; as root they
//! run as the `postgres` user, since PostgreSQL refuses to run as root.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

pub struct PostgresCluster {
    dir: PathBuf,
    bin: PathBuf,
    pub port: u16,
}

impl PostgresCluster {
    /// Creates the cluster (trust auth) and starts it.
    pub fn start_new() -> Self {
        let bin = postgres_bin_dir();
        let dir = std::env::temp_dir().join(format!(
            "blendlab-cluster-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("the cluster's directory");
        if running_as_root() {
            run(Command::new("chown").arg("postgres").arg(&dir));
        }
        let port = free_port();
        let cluster = Self { dir, bin, port };
        cluster.pg(&[
            "initdb",
            "-D",
            &cluster.data(),
            "-A",
            "trust",
            "-U",
            "postgres",
        ]);
        cluster.start();
        cluster
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the stopped cluster and waits until it accepts connections.
    pub fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log").display().to_string();
        self.pg(&[
            "pg_ctl",
            "-D",
            &self.data(),
            "-l",
            &log,
            "-w",
            "-o",
            &options,
            "start",
        ]);
    }

    /// A fast shutdown, as an operator's restart does: sessions are ended, nothing is lost.
    pub fn stop(&self) {
        self.pg(&["pg_ctl", "-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    /// Runs a PostgreSQL program (as `postgres` when this is root) and checks that it succeeded.
    fn pg(&self, args: &[&str]) {
        let program = self.bin.join(args[0]);
        let mut command = if running_as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        command.args(&args[1..]).current_dir(&self.dir);
        run(&mut command);
    }
}

impl Drop for PostgresCluster {
    fn drop(&mut self) {
        let program = self.bin.join("pg_ctl");
        let data = self.data();
        let args = ["-D", data.as_str(), "-m", "immediate", "stop"];
        let _ = if running_as_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .output()
        } else {
            Command::new(&program).args(args).output()
        };
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(command: &mut Command) {
    let output = command.output().expect("the PostgreSQL program runs");
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Where `initdb` lives: on the PATH, or the newest Debian package's directory.
fn postgres_bin_dir() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).find(|dir| dir.join("initdb").is_file()));
    let debian = || -> Option<PathBuf> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
            .filter(|bin| bin.join("initdb").is_file())
            .collect();
        dirs.sort_by_key(|dir| major_version(dir));
        dirs.pop()
    };
    on_path.or_else(debian).expect(
        "initdb is needed for a throwaway PostgreSQL cluster: install PostgreSQL's server \
         (`make test` does, when no PostgreSQL answers)",
    )
}

fn major_version(bin: &Path) -> u32 {
    bin.parent()
        .and_then(|v| v.file_name()?.to_str()?.parse().ok())
        .unwrap_or(0)
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

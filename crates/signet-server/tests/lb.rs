//! Scale-out: two replicas behind a real nginx on loopback. Each replica is
//! a `signet serve` process, as an operator runs it. Requests spread over
//! both; one replica is killed (SIGKILL) mid-run and the rest are still
//! served.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use crate::common::*;

fn nginx_binary() -> PathBuf {
    for p in ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"] {
        if Path::new(p).is_file() {
            return PathBuf::from(p);
        }
    }
    panic!(
        "nginx is not installed: the load-balancer test needs it \
         (`cargo xtask setup` installs the Debian package `nginx`)"
    );
}

/// One replica: a `signet serve` process on a free loopback port, with the
/// test home and key; killed with SIGKILL when dropped.
struct Replica {
    addr: SocketAddr,
    child: Child,
    dir: tempfile::TempDir,
}

impl Replica {
    fn start() -> Replica {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        std::fs::write(&keys, format!("alice:{}\n", signet_server::hash_key(KEY))).unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        // Logs go to a file, read on failure: a pipe nobody drains could
        // block the server.
        let log = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
        let child = Command::new(signet_binary())
            .arg("serve")
            .arg("--home")
            .arg(home())
            .args(["--bind", &addr.to_string(), "--voice", VOICE])
            .args(["--workers", "1", "--keys-file"])
            .arg(&keys)
            .env("SIGNET_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start signet serve");
        let mut replica = Replica { addr, child, dir };
        let ready = wait_until(60, || {
            TcpStream::connect(addr).is_ok() && get(addr, "/readyz", &[]).status == 200
        });
        if !ready {
            let _ = replica.child.kill();
            panic!(
                "signet serve on {addr} did not get ready: {}",
                replica.stderr()
            );
        }
        replica
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// Value of one metric line of this replica, 0 when absent.
    fn metric(&self, name: &str) -> f64 {
        let auth = bearer();
        let r = get(self.addr, "/metrics", &[("Authorization", &auth)]);
        assert_eq!(r.status, 200, "{}", self.stderr());
        metric_value(&r.text(), name)
    }

    /// SIGKILL: the process dies at once, mid-request if need be.
    fn kill(mut self) {
        self.child.kill().expect("kill the replica");
        let status = self.child.wait().unwrap();
        assert!(!status.success(), "the replica was not killed: {status}");
        assert!(
            TcpStream::connect(self.addr).is_err(),
            "a killed replica still accepts connections"
        );
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn two_replicas_behind_nginx_survive_losing_one() {
    let nginx = nginx_binary();
    let a = Replica::start();
    let b = Replica::start();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let template = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nginx/signet.conf"),
    )
    .expect("deploy/nginx/signet.conf");
    // The shipped example, pointed at this test's replicas and port.
    let site = template
        .replace(
            "server 127.0.0.1:8081 max_fails=1 fail_timeout=10s;",
            &format!("server {} max_fails=1 fail_timeout=10s;", a.addr),
        )
        .replace(
            "server 127.0.0.1:8082 max_fails=1 fail_timeout=10s;",
            &format!("server {} max_fails=1 fail_timeout=10s;", b.addr),
        )
        .replace(
            "listen 127.0.0.1:8080;",
            &format!("listen 127.0.0.1:{port};"),
        );
    assert!(site.contains(&a.addr.to_string()) && site.contains(&b.addr.to_string()));
    let p = dir.path();
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {pid};\n\
         error_log {err} warn;\nevents {{ worker_connections 256; }}\n\
         http {{\n access_log off;\n client_body_temp_path {tmp}/body;\n proxy_temp_path {tmp}/proxy;\n\
         fastcgi_temp_path {tmp}/fcgi;\n uwsgi_temp_path {tmp}/uwsgi;\n scgi_temp_path {tmp}/scgi;\n{site}\n}}\n",
        pid = p.join("nginx.pid").display(),
        err = p.join("error.log").display(),
        tmp = p.display(),
    );
    let conf_path = p.join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let child = Command::new(&nginx)
        .arg("-c")
        .arg(&conf_path)
        .arg("-p")
        .arg(p)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nginx");
    let _nginx = Nginx(child);
    let front: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    assert!(
        wait_until(20, || std::net::TcpStream::connect(front).is_ok()),
        "nginx did not start: {}",
        std::fs::read_to_string(p.join("error.log")).unwrap_or_default()
    );
    let auth = bearer();
    let body = json!({"input": "Hi.", "voice": VOICE});
    // Spread: every request through nginx succeeds and both replicas serve.
    for _ in 0..8 {
        let r = get(front, "/v1/voices", &[("Authorization", &auth)]);
        assert_eq!(r.status, 200, "{}", r.text());
    }
    for _ in 0..4 {
        let r = speak(front, &body);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(&r.body[..4], b"RIFF");
    }
    let served = |s: &Replica| {
        s.metric("signet_requests_total{endpoint=\"voices\",status=\"200\"}")
            + s.metric("signet_requests_total{endpoint=\"speech\",status=\"200\"}")
    };
    let (na, nb) = (served(&a), served(&b));
    assert_eq!(na + nb, 12.0);
    assert!(na >= 2.0 && nb >= 2.0, "not spread: {na} and {nb}");

    // Kill one replica in the middle of a run: two clients keep sending
    // while it dies. Only a request in flight on it at that moment may fail;
    // every later one is served by the survivor.
    let done = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..2)
        .map(|c| {
            let done = Arc::clone(&done);
            let (auth, body) = (auth.clone(), body.clone());
            std::thread::spawn(move || {
                let mut log = Vec::new();
                for i in 0..10 {
                    let t = Instant::now();
                    let r = if (i + c) % 2 == 0 {
                        speak(front, &body)
                    } else {
                        get(front, "/v1/voices", &[("Authorization", &auth)])
                    };
                    // A response cut short counts as a failure.
                    log.push((t, if r.complete { r.status } else { 0 }));
                    done.fetch_add(1, Ordering::SeqCst);
                }
                log
            })
        })
        .collect();
    assert!(wait_until(60, || done.load(Ordering::SeqCst) >= 5));
    let before_b = served(&b);
    a.kill();
    let killed = Instant::now();
    let log: Vec<(Instant, u16)> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let failed = log.iter().filter(|(_, s)| *s != 200).count();
    let after: Vec<_> = log.iter().filter(|(t, _)| *t > killed).collect();
    assert!(
        after.len() >= 5,
        "the kill came too late: {} requests after it",
        after.len()
    );
    assert!(
        after.iter().all(|(_, s)| *s == 200),
        "requests after the kill failed: {log:?}"
    );
    assert!(
        failed <= 2,
        "{failed} failures: only requests in flight may fail"
    );
    assert!(served(&b) - before_b >= after.len() as f64);
}

//! A real HTTPS server for the tests: nginx (Debian package `nginx`, installed by
//! `cargo xtask setup`) on 127.0.0.1 at a free port, with a certificate from a CA generated at
//! test time. Each test gets its own server and web root; dropping it stops nginx.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};

pub struct Server {
    child: Child,
    pub root: PathBuf,
    pub port: u16,
    pub ca_pem: Vec<u8>,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// `https://127.0.0.1:<port>/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}/{path}", self.port)
    }
}

fn nginx_binary() -> PathBuf {
    let candidates = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")]);
    for dir in candidates {
        let bin = dir.join("nginx");
        if bin.is_file() {
            return bin;
        }
    }
    panic!(
        "nginx is missing: these tests serve the signed index with a real nginx. \
         Run `cargo xtask setup` (it installs the Debian package `nginx`) or `apt-get install nginx`"
    );
}

/// A test CA and a server certificate for 127.0.0.1 and localhost signed by it.
pub fn certificates() -> (String, String, String) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(
        DnType::CommonName,
        "Signet test CA (generated at test time)",
    );
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    leaf.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let key = KeyPair::generate().unwrap();
    let cert = leaf.signed_by(&key, &ca_cert, &ca_key).unwrap();
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts nginx serving `<tmp>/www`; fails with nginx's error log if it does not come up.
pub fn start() -> Server {
    let nginx = nginx_binary();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = d.join("www");
    std::fs::create_dir(&root).unwrap();
    let (ca_pem, cert_pem, key_pem) = certificates();
    std::fs::write(d.join("server.crt"), cert_pem).unwrap();
    std::fs::write(d.join("server.key"), key_pem).unwrap();
    for t in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
        std::fs::create_dir(d.join(t)).unwrap();
    }
    let mut last_log = String::new();
    for _attempt in 0..5 {
        let port = free_port();
        let conf = format!(
            "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  default_type application/octet-stream;\n\
               client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               server {{\n    listen 127.0.0.1:{port} ssl;\n\
                 ssl_certificate {d}/server.crt;\n    ssl_certificate_key {d}/server.key;\n\
                 root {root};\n  }}\n}}\n",
            d = d.display(),
            root = root.display(),
        );
        let conf_path = d.join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let mut child = Command::new(&nginx)
            .arg("-p")
            .arg(d)
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", nginx.display()));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Server {
                    child,
                    root,
                    port,
                    ca_pem: ca_pem.into_bytes(),
                    _dir: dir,
                };
            }
            if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                last_log = std::fs::read_to_string(d.join("error.log")).unwrap_or_default();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("nginx did not start; its error log:\n{last_log}");
}

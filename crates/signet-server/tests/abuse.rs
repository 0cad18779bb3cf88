//! Abuse: a full queue, clients that leave, trickle or never read, and a
//! shutdown with requests in flight.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;

fn long_request(srv: &TestServer, n: usize, format: &str) -> std::net::TcpStream {
    let auth = bearer();
    let body = json!({"input": sentences(n), "voice": VOICE, "response_format": format});
    let mut s = connect(srv.addr);
    s.write_all(&request_bytes(
        "POST",
        "/v1/audio/speech",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body.to_string().as_bytes(),
    ))
    .unwrap();
    s
}

#[test]
fn full_queue_gives_503_and_a_waiting_request_times_out() {
    let mut c = config();
    c.queue_capacity = Some(1);
    c.queue_timeout_ms = 300;
    let srv = start(c);
    // Occupies the only worker.
    let mut busy = long_request(&srv, 20, "pcm");
    let (status, _, _) = read_head(&mut busy);
    assert_eq!(status, 200);
    // Takes the only queue place; its wait times out with 503.
    let auth = bearer();
    let body = json!({"input": "Hi.", "voice": VOICE}).to_string();
    let mut queued = connect(srv.addr);
    queued
        .write_all(&request_bytes(
            "POST",
            "/v1/audio/speech",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        ))
        .unwrap();
    assert!(wait_until(10, || srv.metric("signet_queue_depth") == 1.0));
    // No place left: 503 at once.
    let r = speak(srv.addr, &json!({"input": "Hi.", "voice": VOICE}));
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(r.text().contains("queue is full"), "{}", r.text());
    let r = read_response(&mut queued);
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().contains("no synthesis worker"), "{}", r.text());
    let m = srv.metrics();
    assert_eq!(
        metric_value(&m, "signet_rejections_total{reason=\"queue_full\"}"),
        1.0,
        "{m}"
    );
    assert_eq!(
        metric_value(&m, "signet_rejections_total{reason=\"queue_timeout\"}"),
        1.0,
        "{m}"
    );
    drop(busy);
}

#[test]
fn disconnect_cancels_synthesis() {
    let srv = start(config());
    let n = 40;
    let mut s = long_request(&srv, n, "pcm");
    let (status, _, _) = read_head(&mut s);
    assert_eq!(status, 200);
    let mut first = [0u8; 1024];
    s.read_exact(&mut first).unwrap();
    drop(s);
    assert!(
        wait_until(60, || srv
            .metric("signet_rejections_total{reason=\"client_gone\"}")
            == 1.0),
        "the worker never noticed the client left: {}",
        srv.metrics()
    );
    let done = srv.metric("signet_sentences_total");
    assert!(
        done < (n as f64) / 2.0,
        "{done} of {n} sentences synthesized after the client left"
    );
    // The worker is free again.
    let r = speak(srv.addr, &json!({"input": "Hi.", "voice": VOICE}));
    assert_eq!(r.status, 200);
}

#[test]
fn deadline_stops_a_long_synthesis() {
    let mut c = config();
    c.request_timeout_secs = 1;
    let srv = start(c);
    let mut s = long_request(&srv, 60, "pcm");
    let r = read_response(&mut s);
    assert_eq!(r.status, 200);
    // The stream was cut: no terminating chunk.
    assert!(
        !r.complete,
        "a stopped synthesis must not look like a complete response"
    );
    assert_eq!(
        srv.metric("signet_rejections_total{reason=\"deadline\"}"),
        1.0
    );
}

#[test]
fn slowloris_headers_do_not_exhaust_connections() {
    let mut c = config();
    c.header_read_timeout_secs = 1;
    c.max_connections = 2;
    let srv = start(c);
    // Two clients that trickle a header byte now and then take every slot.
    let mut trickling: Vec<_> = (0..2)
        .map(|_| {
            let mut s = connect(srv.addr);
            s.write_all(b"POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            s
        })
        .collect();
    let t0 = Instant::now();
    let feeder = std::thread::spawn(move || {
        let mut closed = 0;
        for _ in 0..40 {
            std::thread::sleep(Duration::from_millis(200));
            closed = 0;
            for s in &mut trickling {
                if s.write_all(b"X").is_err() {
                    closed += 1;
                }
            }
            if closed == trickling.len() {
                break;
            }
        }
        closed
    });
    // A normal client is served once the header timeout has cut them off.
    let r = get(srv.addr, "/healthz", &[]);
    assert_eq!(r.status, 200);
    assert!(t0.elapsed() < Duration::from_secs(8), "{:?}", t0.elapsed());
    assert_eq!(
        feeder.join().unwrap(),
        2,
        "trickling clients were not cut off"
    );
}

#[test]
fn a_client_that_never_reads_frees_its_worker() {
    let mut c = config();
    c.send_timeout_secs = 1;
    c.socket_send_buffer_bytes = 8192;
    c.max_connection_secs = 30;
    let srv = start(c);
    // A reader that never reads, with a small receive window.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.connect(&srv.addr.into()).unwrap();
    let mut s: std::net::TcpStream = sock.into();
    let auth = bearer();
    let body = json!({"input": sentences(30), "voice": VOICE, "response_format": "pcm"});
    s.write_all(&request_bytes(
        "POST",
        "/v1/audio/speech",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body.to_string().as_bytes(),
    ))
    .unwrap();
    assert!(
        wait_until(60, || srv
            .metric("signet_rejections_total{reason=\"slow_client\"}")
            == 1.0),
        "the worker kept waiting for a client that does not read: {}",
        srv.metrics()
    );
    let t0 = Instant::now();
    let r = speak(srv.addr, &json!({"input": "Hi.", "voice": VOICE}));
    assert_eq!(r.status, 200);
    assert!(t0.elapsed() < Duration::from_secs(20));
    drop(s);
}

#[test]
fn graceful_shutdown_finishes_in_flight_requests() {
    let srv = start(config());
    let mut s = long_request(&srv, 6, "wav");
    let (status, headers, mut rest) = read_head(&mut s);
    assert_eq!(status, 200);
    let stopper = std::thread::spawn(move || srv.stop());
    s.read_to_end(&mut rest).unwrap();
    stopper.join().unwrap();
    assert!(headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v == "chunked"));
    let body = dechunk(&rest);
    assert!(body.len() > 44 + 22050 * 2 * 3, "{} bytes", body.len());
}

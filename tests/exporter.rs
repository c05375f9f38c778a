//! `meritflow exporter` without a broker: simulated GPUs printed as valid events, the one-line
//! refusal without an NVIDIA driver, and the Prometheus exposition as a scraper sees it.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{meritflow, replay_csv, scratch, stdout};
use meritflow_connectors::exporter::prometheus::parse;

#[test]
fn four_simulated_gpus_print_four_valid_samples() {
    let out = stdout(&meritflow(&[
        "exporter",
        "--node",
        "n1",
        "--simulate",
        "4",
        "--once",
        "--stdout",
    ]));
    assert_eq!(out.lines().count(), 4, "{out}");
    let events = scratch("exporter-once.jsonl");
    std::fs::write(&events, &out).unwrap();
    let store = scratch("exporter-once-store");
    let tables = stdout(&replay_csv(
        &events,
        &[
            "SELECT count(*) AS gpus, count(DISTINCT gpu) AS distinct_gpus FROM gpu_latest WHERE node = 'n1'",
            "SELECT count(*) AS rejected FROM rejects",
        ],
        &["--store", store.to_str().unwrap()],
    ));
    assert_eq!(tables, "gpus,distinct_gpus\n4,4\n\nrejected\n0\n");
}

#[test]
fn without_a_driver_it_says_so_in_one_line_and_exits_1() {
    let output = meritflow(&["exporter", "--node", "n1"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("NVML not available")
            && stderr.contains("use --simulate N to try without a GPU"),
        "{stderr}"
    );
}

#[test]
fn prometheus_text_parses_with_every_gpu() {
    let port = 19_400 + (std::process::id() % 500) as u16;
    let addr = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_meritflow"))
        .args([
            "exporter",
            "--node",
            "n1",
            "--simulate",
            "3",
            "--stdout",
            "--interval",
            "1s",
            "--for",
            "20s",
            "--prometheus",
            &addr,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let body = loop {
        if let Ok(mut stream) = TcpStream::connect(&addr) {
            stream
                .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let mut text = String::new();
            stream.read_to_string(&mut text).unwrap();
            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            assert!(
                head.starts_with("HTTP/1.1 200") && head.contains("text/plain; version=0.0.4"),
                "{head}"
            );
            if body.contains("DCGM_FI_DEV_GPU_UTIL{") {
                break body.to_owned();
            }
        }
        assert!(Instant::now() < deadline, "no metrics on {addr}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = child.kill();
    let _ = child.wait();
    let samples = parse(&body).unwrap_or_else(|e| panic!("{e}\n{body}"));
    assert!(samples >= 3 * 9 + 4, "{samples} samples:\n{body}");
    for gpu in 0..3 {
        assert!(
            body.contains(&format!("DCGM_FI_DEV_FB_USED{{gpu=\"{gpu}\"")),
            "{body}"
        );
    }
}

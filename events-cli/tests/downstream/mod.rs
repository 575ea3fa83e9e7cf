//! A bare HTTP/1.1 collector on 127.0.0.1 for the sink tests: it keeps every request's
//! JSON body before it answers, so a test knows what the collector had when its sender
//! was told.

// Each test file uses some of these.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// A bare HTTP/1.1 server: answers every request with `status`, keeps the bodies.
pub fn server(status: u16) -> (String, Arc<Mutex<Vec<Value>>>) {
    server_with(move |_| (status, ""))
}

/// A bare HTTP/1.1 server answering request `n` (from 0) with `plan(n)`: a status and
/// header lines (each ending in `\r\n`); keeps the bodies of every request.
pub fn server_with(
    plan: impl Fn(usize) -> (u16, &'static str) + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<Value>>>) {
    let plan = Arc::new(plan);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/batch", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&bodies);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let kept = Arc::clone(&kept);
            let plan = Arc::clone(&plan);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                loop {
                    let mut length = 0;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some((name, value)) = line.split_once(':') {
                            if name.eq_ignore_ascii_case("content-length") {
                                length = value.trim().parse().unwrap();
                            }
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    let (status, headers) = {
                        let mut kept = kept.lock().unwrap();
                        kept.push(serde_json::from_slice(&body).unwrap());
                        plan(kept.len() - 1)
                    };
                    let answer = if status == 200 { "{}" } else { "bad batch" };
                    let response = format!(
                        "HTTP/1.1 {status} X\r\n{headers}content-length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                    if writer.write_all(response.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, bodies)
}

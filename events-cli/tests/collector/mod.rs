//! A `webaction serve` process on 127.0.0.1 for the collector tests, and a plain HTTP/1.1
//! client over a socket (the tests also speak broken HTTP on purpose, which a client
//! library would not).

// Each test file uses some of these.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A running `webaction serve`, stopped (SIGKILL) when dropped.
pub struct Server {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Its working directory: the default sink and dead letter are here.
    pub dir: PathBuf,
    _stdout: BufReader<ChildStdout>,
}

impl Server {
    /// Starts `webaction serve --listen 127.0.0.1:0 ARGS...` in `dir` and reads the bound
    /// address from the first line it prints.
    pub fn start(dir: &Path, args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_webaction"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(dir.join("serve.stderr")).unwrap(),
            ))
            .spawn()
            .expect("webaction starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let Some(url) = line.trim_end().strip_prefix("listening on http://") else {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = std::fs::read_to_string(dir.join("serve.stderr")).unwrap_or_default();
            panic!("serve did not start: first line {line:?}; stderr:\n{stderr}");
        };
        Server {
            addr: url.to_owned(),
            child,
            dir: dir.to_owned(),
            _stdout: stdout,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`TERM`, `INT`) to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// SIGKILL, and reaps it.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Waits for the process to exit (at most two minutes: a hang fails the test).
    pub fn wait(&mut self) -> ExitStatus {
        let until = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < until, "serve did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process's peak resident memory (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/PID/status")
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("serve.stderr")).unwrap_or_default()
    }

    /// The default sink's file: one JSON value per complete line (a line cut by a
    /// `kill -9` is skipped).
    pub fn sink_events(&self) -> Vec<serde_json::Value> {
        read_ndjson(&self.dir.join("webaction-events.ndjson"))
    }

    /// The default dead letter's records.
    pub fn dead_letter(&self) -> Vec<serde_json::Value> {
        read_ndjson(&self.dir.join("webaction-dead-letter.ndjson"))
    }

    pub fn post(&self, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
        request(&self.addr, "POST", target, headers, body).expect("the server answers")
    }

    /// `POST /v1/events` with NDJSON as the browser script sends it.
    pub fn post_events(&self, query: &str, body: &str) -> Answer {
        self.post(
            &format!("/v1/events{query}"),
            &[("Content-Type", "text/plain;charset=UTF-8")],
            body.as_bytes(),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn read_ndjson(path: &Path) -> Vec<serde_json::Value> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// A response.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: body {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request on a new connection (`Connection: close`).
pub fn request(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Answer> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    read_answer(&mut stream)
}

/// Reads one response to the end of the connection.
pub fn read_answer(stream: &mut TcpStream) -> std::io::Result<Answer> {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_answer(&raw)
}

pub fn parse_answer(raw: &[u8]) -> std::io::Result<Answer> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of head"))?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| bad("head not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(
                std::str::from_utf8(&rest[..line_end]).unwrap_or("0").trim(),
                16,
            )
            .map_err(|_| bad("chunk size"))?;
            if size == 0 {
                break;
            }
            let start = line_end + 2;
            out.extend_from_slice(&rest[start..start + size]);
            rest = &rest[start + size + 2..];
        }
        body = out;
    }
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// A valid `webchat` event of `action` in `state`.
pub fn event(action: uuid::Uuid, state: &str) -> String {
    format!(
        r#"{{"actionId":"{action}","actionState":"{state}","actionMediaType":"webchat","actionMapId":"0b9e8f7a-6d5c-4b3a-8f2e-1d0c9b8a7f6e","actionMapVersion":3,"customerId":"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d","customerIdType":"cookie","sessionId":"1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"}}"#
    )
}

/// `n` offered events of new actions, as NDJSON, and their action ids.
pub fn batch(n: usize) -> (String, Vec<uuid::Uuid>) {
    let ids: Vec<uuid::Uuid> = (0..n).map(|_| uuid::Uuid::new_v4()).collect();
    let body = ids
        .iter()
        .map(|id| event(*id, "offered"))
        .collect::<Vec<_>>()
        .join("\n");
    (body, ids)
}

//! Support for the hostile-input tests: the one judgement every answer must pass, and
//! clients that speak HTTP/1.1 and WebSocket frames byte by byte on a loopback socket,
//! so a test can send what no well-behaved client library would (a half-sent frame, a
//! 10 MB body, invalid UTF-8 where text belongs).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Statuses a hostile request may get; anything else (a 500 above all) is a violation.
pub const ALLOWED_STATUSES: [u16; 7] = [200, 400, 401, 405, 408, 413, 415];

/// Codes a top-level error may carry when the input was hostile. `INTERNAL` is not
/// among them: a fault the client caused is the service's bug.
pub const ALLOWED_CODES: [&str; 4] = [
    "BAD_USER_INPUT",
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "TOO_MANY_SUBSCRIPTIONS",
];

/// Text that must never reach a client: SQL, driver and ORM names, panics, source
/// paths, parser internals. The generators never produce these, so an echo of the
/// input cannot trip them; SQL is matched as sea-orm writes it (a quoted table after
/// the verb), so the schema's words such as `STALE_UPDATE` are not taken for it.
pub const INTERNAL_TEXT: [&str; 16] = [
    "SELECT ",
    "INSERT INTO",
    "UPDATE \"",
    "sqlx",
    "sea_orm",
    "sea-orm",
    "SeaORM",
    "DbErr",
    "rusqlite",
    "panicked",
    "RUST_BACKTRACE",
    "src/",
    ".rs:",
    "/root/",
    "stack limit",
    "call limit",
];

/// What one answer was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// At least one operation ran (it may still have `userErrors`).
    Answered,
    /// Refused as a whole: a non-200 status, or errors and no data for every operation.
    Refused,
}

/// Judges one HTTP answer to a hostile request: an allowed status; a JSON body unless
/// 408 (the timeout answers with none); every top-level error with an allowed
/// `extensions.code`; no `data` on a non-200; no internal text anywhere.
pub fn judge(status: u16, body: &[u8]) -> Result<Verdict, String> {
    if !ALLOWED_STATUSES.contains(&status) {
        return Err(format!("status {status}: {}", excerpt(body)));
    }
    let text = String::from_utf8_lossy(body);
    if let Some(leak) = INTERNAL_TEXT.iter().find(|t| text.contains(*t)) {
        return Err(format!("status {status} shows {leak:?}: {}", excerpt(body)));
    }
    if status == 408 && body.is_empty() {
        return Ok(Verdict::Refused);
    }
    let json: Value =
        serde_json::from_slice(body).map_err(|_| format!("status {status} without a JSON body: {}", excerpt(body)))?;
    let responses = match &json {
        Value::Array(responses) if status == 200 && !responses.is_empty() => responses.clone(),
        Value::Object(_) => vec![json.clone()],
        _ => {
            return Err(format!(
                "status {status} with a body of the wrong shape: {}",
                excerpt(body)
            ));
        }
    };
    let mut answered = false;
    for response in &responses {
        let errors = match response.get("errors") {
            None => &Vec::new(),
            Some(Value::Array(errors)) => errors,
            Some(_) => return Err(format!("errors is not a list: {}", excerpt(body))),
        };
        for error in errors {
            let code = error["extensions"]["code"].as_str().unwrap_or("(none)");
            if !ALLOWED_CODES.contains(&code) {
                return Err(format!("an error with code {code}: {}", excerpt(body)));
            }
            if !error["message"].is_string() {
                return Err(format!("an error without a message: {}", excerpt(body)));
            }
        }
        let data = response.get("data").filter(|d| !d.is_null());
        match (status, data) {
            (200, Some(_)) => answered = true,
            (200, None) if errors.is_empty() => return Err(format!("neither data nor errors: {}", excerpt(body))),
            (200, None) => {}
            (_, Some(_)) => return Err(format!("data with status {status}: {}", excerpt(body))),
            (_, None) if errors.is_empty() => return Err(format!("status {status} with no error: {}", excerpt(body))),
            (_, None) => {}
        }
    }
    Ok(if answered { Verdict::Answered } else { Verdict::Refused })
}

/// Whether every operation of an answer read nothing but the schema: its `data` is
/// absent, null, or names only `__schema`, `__type` and `__typename`. That is all a
/// request without a token may be answered on a public schema (the service runs such a
/// document only when none of them is aliased).
pub fn reads_only_schema(body: &[u8]) -> bool {
    let only = |response: &Value| match response.get("data") {
        None | Some(Value::Null) => true,
        Some(Value::Object(data)) => data
            .keys()
            .all(|key| ["__schema", "__type", "__typename"].contains(&key.as_str())),
        Some(_) => false,
    };
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(responses)) => responses.iter().all(only),
        Ok(response @ Value::Object(_)) => only(&response),
        _ => false,
    }
}

/// Whether any operation of an answered body reported a business refusal
/// (`userErrors`), after which nothing may have changed.
pub fn has_user_errors(body: &[u8]) -> bool {
    fn walk(value: &Value) -> bool {
        match value {
            Value::Object(map) => map.iter().any(|(key, value)| {
                (key == "userErrors" && value.as_array().is_some_and(|e| !e.is_empty())) || walk(value)
            }),
            Value::Array(items) => items.iter().any(walk),
            _ => false,
        }
    }
    serde_json::from_slice::<Value>(body).is_ok_and(|v| walk(&v))
}

/// The start of `bytes` as text, for failure messages.
pub fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(400)]).into_owned();
    if bytes.len() > 400 {
        format!("{text}… ({} bytes)", bytes.len())
    } else {
        text
    }
}

/// Longest a raw exchange waits for the server: a debug binary taking in a 10 MB body
/// among 8 at once, on two cores that a loaded machine shares (10 s once ran out under a
/// load average of 16); work that explodes still shows.
const PATIENCE: Duration = Duration::from_secs(30);

/// One HTTP/1.1 exchange on a fresh connection: writes `head` (request line and
/// headers, without the blank line; `Connection: close` is added) and `body`, then
/// reads the answer to the end. Errors when the server cut the connection before
/// answering, which a refusal of an oversized body may do while it is still written.
pub async fn exchange(addr: SocketAddr, head: &str, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("{head}\r\nConnection: close\r\n\r\n");
    let (mut reader, mut writer) = stream.split();
    let write = async {
        writer.write_all(request.as_bytes()).await?;
        for chunk in body.chunks(64 * 1024) {
            writer.write_all(chunk).await?;
        }
        writer.flush().await
    };
    let mut answer = Vec::new();
    let read = reader.read_to_end(&mut answer);
    let (written, read) = tokio::time::timeout(PATIENCE, async { tokio::join!(write, read) })
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, format!("no answer within {PATIENCE:?}")))?;
    // A refusal may come before the whole body was written; the answer is what counts.
    if read.is_err() && answer.is_empty() {
        written?;
    }
    parse_answer(&answer)
}

/// Splits a raw HTTP/1.1 answer into its status and body (chunked bodies decoded).
pub fn parse_answer(answer: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
    let invalid = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| invalid("no end of headers"))?;
    let head = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("no status"))?;
    let mut body = answer[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        let mut decoded = Vec::new();
        let mut rest = &body[..];
        loop {
            let line_end = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .ok_or_else(|| invalid("a chunk"))?;
            let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..line_end]).trim(), 16)
                .map_err(|_| invalid("a chunk size"))?;
            if size == 0 {
                break;
            }
            let start = line_end + 2;
            decoded.extend_from_slice(rest.get(start..start + size).ok_or_else(|| invalid("a short chunk"))?);
            rest = rest.get(start + size + 2..).ok_or_else(|| invalid("a chunk end"))?;
        }
        body = decoded;
    }
    Ok((status, body))
}

/// Opens a WebSocket to `/graphql/ws` offering `protocol`, byte by byte; the stream
/// after the 101 answer.
pub async fn ws_open(addr: SocketAddr, protocol: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("a connection");
    let request = format!(
        "GET /graphql/ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: {protocol}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("a handshake sent");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let byte = tokio::time::timeout(PATIENCE, stream.read_u8())
            .await
            .expect("a handshake answer within 10 s")
            .expect("a handshake answer");
        head.push(byte);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    stream
}

pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CONTINUATION: u8 = 0x0;
pub const CLOSE: u8 = 0x8;

/// The header of a masked client frame announcing `length` bytes of payload.
pub fn frame_header(opcode: u8, fin: bool, length: u64) -> Vec<u8> {
    let mut header = vec![if fin { 0x80 } else { 0 } | opcode];
    match length {
        0..=125 => header.push(0x80 | length as u8),
        126..=0xFFFF => {
            header.push(0x80 | 126);
            header.extend_from_slice(&(length as u16).to_be_bytes());
        }
        _ => {
            header.push(0x80 | 127);
            header.extend_from_slice(&length.to_be_bytes());
        }
    }
    header.extend_from_slice(&MASK);
    header
}

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// `payload` masked as a client must send it, from its first byte.
pub fn masked(payload: &[u8]) -> Vec<u8> {
    payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]).collect()
}

/// A whole masked client frame.
pub fn frame(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
    let mut frame = frame_header(opcode, fin, payload.len() as u64);
    frame.extend(masked(payload));
    frame
}

/// What the server sent on a raw WebSocket.
#[derive(Debug, PartialEq, Eq)]
pub enum ServerFrame {
    Text(String),
    Close(Option<u16>),
    Other(u8),
    /// The connection ended without a close frame.
    Ended,
}

/// The next frame from the server, within `patience`; `None` when nothing came.
pub async fn ws_read(stream: &mut (impl AsyncRead + Unpin), patience: Duration) -> Option<ServerFrame> {
    let read = async {
        let mut head = [0_u8; 2];
        if stream.read_exact(&mut head).await.is_err() {
            return ServerFrame::Ended;
        }
        let length = match head[1] & 0x7f {
            126 => stream.read_u16().await.map(u64::from),
            127 => stream.read_u64().await,
            n => Ok(u64::from(n)),
        };
        let Ok(length) = length else {
            return ServerFrame::Ended;
        };
        let mut payload = vec![0_u8; usize::try_from(length).unwrap_or(usize::MAX).min(1 << 20)];
        if stream.read_exact(&mut payload).await.is_err() {
            return ServerFrame::Ended;
        }
        match head[0] & 0x0f {
            TEXT => ServerFrame::Text(String::from_utf8_lossy(&payload).into_owned()),
            CLOSE => ServerFrame::Close(payload.get(..2).map(|code| u16::from_be_bytes([code[0], code[1]]))),
            opcode => ServerFrame::Other(opcode),
        }
    };
    tokio::time::timeout(patience, read).await.ok()
}

/// Reads until the server closes (a close frame or the end of the connection) and
/// returns the close code, if one came; fails when it has not closed within `patience`.
pub async fn ws_closed(stream: &mut (impl AsyncRead + Unpin), patience: Duration) -> Option<u16> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match ws_read(stream, left).await {
            Some(ServerFrame::Close(code)) => return code,
            Some(ServerFrame::Ended) => return None,
            Some(_) => {}
            None => panic!("the server did not close within {patience:?}"),
        }
    }
}

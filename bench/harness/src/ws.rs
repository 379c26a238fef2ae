//! WebSocket subscribers speaking graphql-transport-ws: `connection_init` with the
//! bearer in its payload, then `subscribe`. Pushes are timed where they arrive.
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::{Result, bail};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Longest the harness waits for an expected message.
const PATIENCE: Duration = Duration::from_secs(60);

/// The loopback address a socket comes from unless it says otherwise.
pub const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A socket acknowledged with `token`, from the local address `source` (port chosen by
/// the kernel): one source address has about 28,000 ports, so more subscribers need
/// several (127.0.0.2 ...). Small buffers: the harness holds thousands.
pub async fn open_from(source: IpAddr, addr: SocketAddr, token: &str) -> Result<Socket> {
    let mut request = format!("ws://{addr}/graphql/ws").into_client_request()?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse()?);
    let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
    let connect = async {
        let tcp = TcpSocket::new_v4()?;
        tcp.bind(SocketAddr::new(source, 0))?;
        let stream = tcp.connect(addr).await?;
        stream.set_nodelay(true)?;
        tokio_tungstenite::client_async_with_config(request, MaybeTlsStream::Plain(stream), Some(config))
            .await
            .map_err(crate::Error::from)
    };
    let (mut socket, _) = tokio::time::timeout(PATIENCE, connect)
        .await
        .map_err(|_| "WebSocket handshake timed out")??;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}}),
    )
    .await?;
    let (_, ack) = receive(&mut socket).await?;
    if ack["type"] != "connection_ack" {
        bail!("expected connection_ack, got {ack}");
    }
    Ok(socket)
}

pub async fn send(socket: &mut Socket, message: Value) -> Result<()> {
    socket.send(Message::Text(message.to_string().into())).await?;
    Ok(())
}

/// The next protocol message other than a ping, and when it arrived.
pub async fn receive(socket: &mut Socket) -> Result<(Instant, Value)> {
    loop {
        let frame = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .map_err(|_| "no WebSocket message within 60 s")?
            .ok_or("the WebSocket closed")??;
        let at = Instant::now();
        match frame {
            Message::Text(text) => {
                let message: Value = serde_json::from_str(&text)?;
                match message["type"].as_str() {
                    Some("ping") => send(socket, json!({"type": "pong"})).await?,
                    Some("pong") => {}
                    _ => return Ok((at, message)),
                }
            }
            Message::Close(frame) => bail!("the WebSocket was closed: {frame:?}"),
            _ => {}
        }
    }
}

/// The `data` of a `next` message; an `error` message or `errors` is a failure.
pub fn next_data(message: &Value) -> Result<&Value> {
    if message["type"] != "next" {
        bail!("expected next, got {message}");
    }
    if let Some(errors) = message["payload"].get("errors") {
        bail!("errors in a push: {errors}");
    }
    Ok(&message["payload"]["data"])
}

/// A socket subscribed to `balanceChanged` with `document` (HeaderBalanceLive) and the
/// `available` of its first push.
pub async fn subscriber(addr: SocketAddr, token: &str, document: &str) -> Result<(Socket, i64)> {
    subscriber_from(LOOPBACK, addr, token, document).await
}

/// [`subscriber`] from the local address `source` (see [`open_from`]).
pub async fn subscriber_from(source: IpAddr, addr: SocketAddr, token: &str, document: &str) -> Result<(Socket, i64)> {
    let mut socket = open_from(source, addr, token).await?;
    send(
        &mut socket,
        json!({"id": "1", "type": "subscribe", "payload": {"query": document, "operationName": "HeaderBalanceLive"}}),
    )
    .await?;
    let (_, first) = receive(&mut socket).await?;
    let available = available(next_data(&first)?)?;
    Ok((socket, available))
}

/// `balanceChanged.available` of a push's data.
pub fn available(data: &Value) -> Result<i64> {
    data["balanceChanged"]["available"]
        .as_i64()
        .ok_or_else(|| format!("no balanceChanged.available in {data}").into())
}

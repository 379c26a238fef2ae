//! GraphQL over WebSocket at `/graphql/ws`: `graphql-transport-ws` (the npm `graphql-ws`
//! package) and the older `graphql-ws` (subscriptions-transport-ws), with the close codes
//! of the former on both. async-graphql's own handler bends the protocol (see
//! `../shared/conventions.md`), hence this one. A socket is one task: its operations are
//! id-tagged streams polled together, so an idle subscriber costs a few KiB, not a task.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::http::WebSocketProtocols;
use async_graphql::{Data, Executor, Request, Response, ServerError, Value};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use chrono::Utc;
use futures_util::StreamExt;
use futures_util::stream::{self, AbortHandle, BoxStream, SelectAll};
use serde::{Deserialize, Serialize};
use serde_json::Map;
use tokio::time::{Interval, MissedTickBehavior, Sleep};

use crate::auth::Auth;
use crate::graphql::Api;
use crate::graphql::errors::{self, ErrorCode};
use crate::limits::Limits;
use crate::stopping::Stopping;

const CLOSE_NORMAL: u16 = 1000;
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_INTERNAL: u16 = 1011;
const CLOSE_BAD_REQUEST: u16 = 4400;
const CLOSE_UNAUTHORIZED: u16 = 4401;
const CLOSE_FORBIDDEN: u16 = 4403;
const CLOSE_INIT_TIMEOUT: u16 = 4408;
const CLOSE_SUBSCRIBER_EXISTS: u16 = 4409;
const CLOSE_TOO_MANY_INITS: u16 = 4429;

/// A close frame's reason must fit in 123 bytes.
const MAX_REASON_BYTES: usize = 122;
/// Largest message or frame a client may send: a GraphQL request is far smaller.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// tungstenite allocates its read buffer up front on every socket (128 KiB by default);
/// clients send small messages, and 1 KiB keeps a socket near 6 KiB on our side (an
/// idle subscription adds about 1 KiB: [`crate::graphql::subscription`]).
const BUFFER_BYTES: usize = 1024;
/// How long a closing socket waits for the client's close frame, so ours is read.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The upgrade with buffers sized for thousands of mostly idle sockets; a larger
/// message is refused by the transport.
pub fn sized(upgrade: WebSocketUpgrade) -> WebSocketUpgrade {
    upgrade
        .read_buffer_size(BUFFER_BYTES)
        .write_buffer_size(BUFFER_BYTES)
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
}

/// The protocol the handshake agreed on. axum echoes the first of ours the client
/// offers; async-graphql's `GraphQLProtocol` may pick another and keeps its pick
/// private, so the echoed one is what this socket speaks.
pub fn negotiated(upgrade: &WebSocketUpgrade) -> Option<WebSocketProtocols> {
    upgrade.selected_protocol()?.to_str().ok()?.parse().ok()
}

/// Serves one socket until it closes: `connection_init` with a bearer token first,
/// then operations run as that viewer until the token expires.
/// When the service stops, it closes with 1001 (Going Away).
pub async fn serve(
    socket: WebSocket,
    protocol: WebSocketProtocols,
    api: &Api,
    auth: &Auth,
    limits: &Limits,
    stopping: Stopping,
) {
    let mut keep_alive = tokio::time::interval(limits.keep_alive);
    keep_alive.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut connection = Connection {
        socket,
        protocol,
        api,
        limits,
        session: None,
        deadline: Box::pin(tokio::time::sleep(limits.connection_init)),
        keep_alive,
        active: HashMap::new(),
        operations: SelectAll::new(),
        serial: 0,
        stopping,
    };
    let end = connection.run(auth).await;
    connection.finish(end).await;
}

/// Why the socket stops.
enum End {
    /// Close it with this code and reason.
    Close(u16, Utf8Bytes),
    /// The client closed it or it broke: nothing more to say.
    Gone,
}

/// A close with `reason` cut to what a close frame holds.
fn close(code: u16, reason: impl Into<String>) -> End {
    let mut reason = reason.into();
    if reason.len() > MAX_REASON_BYTES {
        let cut = (0..=MAX_REASON_BYTES)
            .rev()
            .find(|&i| reason.is_char_boundary(i))
            .unwrap_or(0);
        reason.truncate(cut);
    }
    End::Close(code, reason.into())
}

/// One result of an operation, or its end (`None`), tagged with the operation.
struct Event {
    id: Arc<str>,
    serial: u64,
    response: Option<Response>,
}

/// An operation in flight. `serial` tells it from an earlier one of the same id whose
/// last events may still be queued.
struct Active {
    serial: u64,
    abort: AbortHandle,
    answered: bool,
}

struct Connection<'a> {
    socket: WebSocket,
    protocol: WebSocketProtocols,
    api: &'a Api,
    limits: &'a Limits,
    /// The viewer's data, once `connection_init` was acknowledged.
    session: Option<Arc<Data>>,
    /// `connection_init` is due by then; after the ack, the token expires then.
    deadline: std::pin::Pin<Box<Sleep>>,
    keep_alive: Interval,
    active: HashMap<String, Active>,
    operations: SelectAll<BoxStream<'static, Event>>,
    serial: u64,
    /// Whether the service is stopping.
    stopping: Stopping,
}

/// What a client sends, in either protocol; each message type checks what it needs.
#[derive(Deserialize)]
struct ClientMessage {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    payload: Option<Map<String, serde_json::Value>>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ServerMessage<'a> {
    ConnectionAck,
    /// A result, graphql-transport-ws.
    Next {
        id: &'a str,
        payload: &'a Response,
    },
    /// A result, graphql-ws.
    Data {
        id: &'a str,
        payload: &'a Response,
    },
    Error {
        id: &'a str,
        payload: &'a [ServerError],
    },
    Complete {
        id: &'a str,
    },
    Ping,
    Pong {
        #[serde(skip_serializing_if = "Option::is_none")]
        payload: Option<Map<String, serde_json::Value>>,
    },
    /// Keep-alive, graphql-ws.
    #[serde(rename = "ka")]
    KeepAlive,
}

impl Connection<'_> {
    fn modern(&self) -> bool {
        self.protocol == WebSocketProtocols::GraphQLWS
    }

    async fn run(&mut self, auth: &Auth) -> End {
        loop {
            let acknowledged = self.session.is_some();
            let step = tokio::select! {
                message = self.socket.recv() => match message {
                    // Boxed: a message's handling (a token's check may fetch the
                    // provider's keys) would otherwise size every idle socket's task.
                    Some(Ok(Message::Text(text))) => Box::pin(self.receive(text.as_str(), auth)).await,
                    Some(Ok(Message::Binary(_))) => Err(close(CLOSE_BAD_REQUEST, "Binary messages are not supported")),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(()),
                    Some(Ok(Message::Close(_))) | None => Err(End::Gone),
                    Some(Err(e)) => Err(read_failed(e)),
                },
                Some(event) = self.operations.next() => self.deliver(event).await,
                _ = self.keep_alive.tick(), if acknowledged => {
                    let ping = if self.modern() { ServerMessage::Ping } else { ServerMessage::KeepAlive };
                    self.send(&ping).await
                }
                () = self.stopping.wait() => Err(close(CLOSE_GOING_AWAY, "The server is shutting down")),
                () = &mut self.deadline => Err(if acknowledged {
                    close(CLOSE_FORBIDDEN, "Forbidden: token expired")
                } else {
                    close(CLOSE_INIT_TIMEOUT, "Connection initialisation timeout")
                }),
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    async fn receive(&mut self, text: &str, auth: &Auth) -> Result<(), End> {
        let message: ClientMessage = serde_json::from_str(text).map_err(|e| {
            tracing::debug!(error = %e, "WebSocket message refused");
            close(CLOSE_BAD_REQUEST, "Invalid message")
        })?;
        let modern = self.modern();
        match message.kind.as_str() {
            "connection_init" => self.initialise(message.payload, auth).await,
            "ping" => {
                self.send(&ServerMessage::Pong {
                    payload: message.payload,
                })
                .await
            }
            "pong" => Ok(()),
            "subscribe" if modern => self.subscribe(message.id, message.payload).await,
            "start" if !modern => self.subscribe(message.id, message.payload).await,
            "complete" if modern => self.stop(message.id),
            "stop" if !modern => self.stop(message.id),
            "connection_terminate" if !modern => Err(close(CLOSE_NORMAL, "")),
            _ => Err(close(CLOSE_BAD_REQUEST, "Unknown message type")),
        }
    }

    async fn initialise(&mut self, payload: Option<Map<String, serde_json::Value>>, auth: &Auth) -> Result<(), End> {
        if self.session.is_some() {
            return Err(close(CLOSE_TOO_MANY_INITS, "Too many initialisation requests"));
        }
        let authorization = payload
            .as_ref()
            .and_then(|p| p.get("authorization").or_else(|| p.get("Authorization")))
            .and_then(serde_json::Value::as_str);
        let viewer = auth.verify_bearer(authorization).await.map_err(|e| {
            tracing::debug!(error = %e, "WebSocket token refused");
            close(CLOSE_FORBIDDEN, "Forbidden")
        })?;
        // Wall time, not the service's clock: the token's `exp` is real time.
        let Ok(lifetime) = (viewer.expires_at - Utc::now()).to_std() else {
            tracing::debug!("WebSocket token expired");
            return Err(close(CLOSE_FORBIDDEN, "Forbidden"));
        };
        let mut data = Data::default();
        data.insert(viewer);
        self.session = Some(Arc::new(data));
        self.deadline.set(tokio::time::sleep(lifetime));
        self.keep_alive.reset();
        self.send(&ServerMessage::ConnectionAck).await
    }

    async fn subscribe(
        &mut self,
        id: Option<String>,
        payload: Option<Map<String, serde_json::Value>>,
    ) -> Result<(), End> {
        let id = id.ok_or_else(|| close(CLOSE_BAD_REQUEST, "The message has no id"))?;
        // A persisted query may come as its hash alone (`crate::trusted`).
        let request = payload
            .filter(|p| match p.get("query") {
                Some(query) => query.is_string(),
                None => p.get("extensions").is_some_and(|e| e.get("persistedQuery").is_some()),
            })
            .and_then(|p| serde_json::from_value::<Request>(serde_json::Value::Object(p)).ok())
            .ok_or_else(|| close(CLOSE_BAD_REQUEST, "The payload is not a GraphQL request"))?;
        let Some(session) = &self.session else {
            return Err(close(CLOSE_UNAUTHORIZED, "Unauthorized"));
        };
        if self.active.contains_key(&id) {
            return Err(close(
                CLOSE_SUBSCRIBER_EXISTS,
                format!("Subscriber for {id} already exists"),
            ));
        }
        if self.active.len() >= self.limits.subscriptions_per_connection {
            tracing::debug!(id = %id, "WebSocket subscription over the cap refused");
            let error = too_many_subscriptions(self.limits.subscriptions_per_connection);
            return self
                .send(&ServerMessage::Error {
                    id: &id,
                    payload: &[error],
                })
                .await;
        }
        self.serial += 1;
        let serial = self.serial;
        let (results, abort) = stream::abortable(self.api.execute_stream(request, Some(Arc::clone(session))));
        let tag: Arc<str> = id.as_str().into();
        let events = results
            .map(Some)
            .chain(stream::iter([None]))
            .map(move |response| Event {
                id: Arc::clone(&tag),
                serial,
                response,
            });
        self.operations.push(events.boxed());
        self.active.insert(
            id,
            Active {
                serial,
                abort,
                answered: false,
            },
        );
        Ok(())
    }

    /// The client is done with `id`: no reply, and the id is free again.
    fn stop(&mut self, id: Option<String>) -> Result<(), End> {
        let id = id.ok_or_else(|| close(CLOSE_BAD_REQUEST, "The message has no id"))?;
        if let Some(active) = self.active.remove(&id) {
            active.abort.abort();
        }
        Ok(())
    }

    /// Sends a result: an error-only first result ends the operation as `error`, and
    /// the end of a stream is `complete`. Events of a stopped operation are dropped.
    async fn deliver(&mut self, event: Event) -> Result<(), End> {
        let id = &*event.id;
        let Some(active) = self.active.get_mut(id).filter(|a| a.serial == event.serial) else {
            return Ok(());
        };
        let Some(response) = event.response else {
            self.active.remove(id);
            return self.send(&ServerMessage::Complete { id }).await;
        };
        if !active.answered && response.data == Value::Null && !response.errors.is_empty() {
            active.abort.abort();
            self.active.remove(id);
            return self
                .send(&ServerMessage::Error {
                    id,
                    payload: &response.errors,
                })
                .await;
        }
        active.answered = true;
        let message = if self.modern() {
            ServerMessage::Next { id, payload: &response }
        } else {
            ServerMessage::Data { id, payload: &response }
        };
        self.send(&message).await
    }

    async fn send(&mut self, message: &ServerMessage<'_>) -> Result<(), End> {
        let text = serde_json::to_string(message).map_err(|e| {
            tracing::error!(error = %e, "a WebSocket message does not serialise");
            close(CLOSE_INTERNAL, "Internal error")
        })?;
        self.socket.send(Message::Text(text.into())).await.map_err(|e| {
            tracing::debug!(error = %e, "WebSocket write failed");
            End::Gone
        })
    }

    /// Closes with `end`'s code, then waits briefly for the client's close frame: a
    /// socket dropped at once may lose ours in a reset.
    async fn finish(mut self, end: End) {
        if let End::Close(code, reason) = end {
            tracing::debug!(code, reason = reason.as_str(), "WebSocket closed");
            let frame = CloseFrame { code, reason };
            if self.socket.send(Message::Close(Some(frame))).await.is_err() {
                return;
            }
        }
        let drained = async { while let Some(Ok(_)) = self.socket.recv().await {} };
        let _ = tokio::time::timeout(CLOSE_GRACE, drained).await;
    }
}

/// How a failed read ends the socket. A message or frame over [`MAX_MESSAGE_BYTES`]
/// is refused by the transport before it is read; the socket can still be written, so
/// it is closed with 1009 (Message Too Big). Dropped without a close frame, the client
/// would see 1006 and retry as after a network fault, sending the same message again.
fn read_failed(error: axum::Error) -> End {
    tracing::debug!(error = %error, "WebSocket read failed");
    match error.into_inner().downcast::<tungstenite::Error>() {
        Ok(e) if matches!(*e, tungstenite::Error::Capacity(_)) => close(
            CLOSE_TOO_BIG,
            format!("Messages are limited to {MAX_MESSAGE_BYTES} bytes"),
        ),
        _ => End::Gone,
    }
}

fn too_many_subscriptions(cap: usize) -> ServerError {
    errors::server_error(
        ErrorCode::TooManySubscriptions,
        format!("A connection runs at most {cap} operations at once."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_close_reason_is_cut_on_a_character_boundary() {
        let End::Close(_, reason) = close(CLOSE_SUBSCRIBER_EXISTS, "é".repeat(100)) else {
            panic!("a close");
        };

        assert_eq!(reason.as_str(), "é".repeat(61));
    }
}

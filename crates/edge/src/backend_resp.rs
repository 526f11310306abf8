//! The proxy for a cluster backend reads the conversation instead of pumping bytes: a client
//! must only ever hear the endpoint it came through (its address and that endpoint's per-node
//! port for each node), as Azure's private endpoints tell a clustered cache's clients, so every
//! reply that names a backend node is rewritten on its way back:
//!
//! - `-MOVED`/`-ASK` errors (RESP2 simple errors, RESP3 simple or blob errors), whatever the
//!   command;
//! - the replies to `CLUSTER SLOTS`, `CLUSTER SHARDS`, `CLUSTER NODES` and `CLUSTER
//!   REPLICAS`/`SLAVES` (RESP2 and RESP3 shapes), told apart by following the client's requests in
//!   order (pipelines included; RESP3 pushes answer no request). A `CLUSTER` command queued in
//!   `MULTI` gets `+QUEUED`, and its answer inside `EXEC`'s array stays as the backend wrote it; so
//!   do the replies after a client enters subscribed mode, `MONITOR` or `CLIENT REPLY` (replies
//!   no longer match requests one to one), `-MOVED`/`-ASK` excepted.
//!
//! Requests are read with the engine's own request parser (bytes go on unchanged), replies with
//! redis-protocol's decoders (RESP2 until a `HELLO 3` succeeds), and only rewritten replies are
//! encoded again: everything else passes as the backend's bytes. A reply naming a node the table
//! does not know (a node added since) waits for the runtime to discover it
//! ([`ClusterBackend::learn`](crate::backend_cluster::ClusterBackend::learn)); any `-MOVED` makes
//! it look again soon ([`ClusterBackend::nudge`](crate::backend_cluster::ClusterBackend::nudge)).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::{Buf, BytesMut};
use redis_protocol::resp2::types::{OwnedFrame as Frame2, Resp2Frame};
use redis_protocol::resp3::types::{OwnedFrame as Frame3, Resp3Frame};
use redlink_engine::protocol::{Frame, Limits, RequestParser};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::{debug, warn};

use crate::backend::{BackendStream, PROXY_BUFFER};
use crate::backend_cluster::ClusterRoute;

/// What the reply to one request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Any reply: only `-MOVED`/`-ASK` are rewritten.
    Plain,
    /// `CLUSTER SLOTS`.
    Slots,
    /// `CLUSTER SHARDS`.
    Shards,
    /// `CLUSTER NODES` (one text) or `CLUSTER REPLICAS`/`SLAVES` (one text per node).
    Nodes,
    /// `HELLO n`: the protocol is `n` from this reply on, if it succeeds.
    Hello(u8),
    /// From this reply on, replies no longer answer requests one to one.
    Untrack,
}

/// The requests whose replies are still to come, in order.
#[derive(Debug, Default)]
struct Pending {
    queue: VecDeque<Expect>,
    /// Set once the request side met a request after which replies cannot be matched.
    untracked: bool,
}

/// What the client asked, as the requests go by.
struct Requests {
    parser: RequestParser,
    buf: BytesMut,
    pending: Arc<Mutex<Pending>>,
    /// The request stream could not be read (a protocol error): nothing more is tracked.
    lost: bool,
}

/// No limit of its own: the backend applies its own `proto-max-bulk-len`.
const LIMITS: Limits = Limits {
    unauthenticated: false,
    max_bulk: i64::MAX,
};

fn expect_of(args: &[&[u8]]) -> Expect {
    let is = |i: usize, name: &str| {
        args.get(i)
            .is_some_and(|a| a.eq_ignore_ascii_case(name.as_bytes()))
    };
    if is(0, "CLUSTER") {
        if is(1, "SLOTS") {
            Expect::Slots
        } else if is(1, "SHARDS") {
            Expect::Shards
        } else if is(1, "NODES") || is(1, "REPLICAS") || is(1, "SLAVES") {
            Expect::Nodes
        } else {
            Expect::Plain
        }
    } else if is(0, "HELLO") {
        match args.get(1).copied() {
            Some(b"3") => Expect::Hello(3),
            Some(b"2") => Expect::Hello(2),
            _ => Expect::Plain,
        }
    } else if is(0, "RESET") {
        Expect::Hello(2)
    } else if [
        "SUBSCRIBE",
        "PSUBSCRIBE",
        "SSUBSCRIBE",
        "UNSUBSCRIBE",
        "PUNSUBSCRIBE",
        "SUNSUBSCRIBE",
        "MONITOR",
    ]
    .iter()
    .any(|c| is(0, c))
        || (is(0, "CLIENT") && is(1, "REPLY"))
    {
        Expect::Untrack
    } else {
        Expect::Plain
    }
}

impl Requests {
    fn new(pending: Arc<Mutex<Pending>>) -> Requests {
        Requests {
            parser: RequestParser::default(),
            buf: BytesMut::new(),
            pending,
            lost: false,
        }
    }

    /// Notes the requests completed by `bytes` (which go to the backend right after).
    fn feed(&mut self, bytes: &[u8]) {
        if self.lost {
            return;
        }
        self.buf.extend_from_slice(bytes);
        let mut expects = Vec::new();
        loop {
            match self.parser.parse(&self.buf, LIMITS) {
                Ok(Frame::Command { consumed }) => {
                    let mut args = redlink_engine::protocol::ArgVec::new();
                    self.parser.args(&self.buf[..consumed], &mut args);
                    let e = expect_of(&args);
                    drop(args);
                    expects.push(e);
                    self.buf.advance(consumed);
                    if e == Expect::Untrack {
                        self.lost = true;
                        break;
                    }
                }
                Ok(Frame::Skip { consumed }) => self.buf.advance(consumed),
                Ok(Frame::Incomplete { .. }) => break,
                Err(e) => {
                    debug!("cluster proxy: requests no longer followed: {}", e.0);
                    self.lost = true;
                    expects.push(Expect::Untrack);
                    break;
                }
            }
        }
        if self.lost {
            self.buf = BytesMut::new();
        }
        if let Ok(mut p) = self.pending.lock() {
            p.queue.extend(expects);
        }
    }
}

/// The replies on their way back, rewritten where they name nodes.
struct Replies {
    buf: BytesMut,
    pending: Arc<Mutex<Pending>>,
    resp3: bool,
    /// The replies could not be decoded: the rest passes unchanged.
    raw: bool,
    route: ClusterRoute,
    tls: bool,
}

/// How one decoded reply is handled.
enum Handling {
    Pass,
    Rewrite(Expect),
}

impl Replies {
    fn new(pending: Arc<Mutex<Pending>>, route: ClusterRoute, tls: bool) -> Replies {
        Replies {
            buf: BytesMut::new(),
            pending,
            resp3: false,
            raw: false,
            route,
            tls,
        }
    }

    /// The expectation the next reply answers, without taking it.
    fn front(&self) -> Option<Expect> {
        let p = self.pending.lock().ok()?;
        if p.untracked {
            return None;
        }
        p.queue.front().copied()
    }

    fn pop(&self) -> Expect {
        let Ok(mut p) = self.pending.lock() else {
            return Expect::Plain;
        };
        if p.untracked {
            return Expect::Plain;
        }
        let e = p.queue.pop_front().unwrap_or(Expect::Plain);
        if e == Expect::Untrack {
            p.untracked = true;
            p.queue.clear();
        }
        e
    }

    /// Adds `bytes` from the backend and appends to `out` what the client gets for every reply
    /// they complete.
    async fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        if self.raw {
            out.extend_from_slice(bytes);
            return;
        }
        self.buf.extend_from_slice(bytes);
        while !self.buf.is_empty() {
            // A HELLO's reply is in the protocol it asks for (its error is the same in both).
            let resp3 = match self.front() {
                Some(Expect::Hello(v)) => v == 3,
                _ => self.resp3,
            };
            let decoded = if resp3 {
                redis_protocol::resp3::decode::complete::decode_range(&self.buf).map(|f| {
                    f.map(|(frame, len)| {
                        use redis_protocol::resp3::types::RangeFrame as R;
                        let error = matches!(frame, R::SimpleError { .. } | R::BlobError { .. });
                        (matches!(frame, R::Push { .. }), error, len)
                    })
                })
            } else {
                redis_protocol::resp2::decode::decode_range(&self.buf).map(|f| {
                    f.map(|(frame, len)| {
                        use redis_protocol::resp2::types::RangeFrame as R;
                        (false, matches!(frame, R::Error(_)), len)
                    })
                })
            };
            let (push, error, len) = match decoded {
                Ok(Some(d)) => d,
                Ok(None) => return,
                Err(e) => {
                    warn!(
                        "cluster proxy: a backend reply is not RESP ({e}); passing the rest unchanged"
                    );
                    self.raw = true;
                    out.extend_from_slice(&self.buf);
                    self.buf.clear();
                    return;
                }
            };
            let expect = if push { Expect::Plain } else { self.pop() };
            if let Expect::Hello(v) = expect
                && !error
            {
                self.resp3 = v == 3;
            }
            let redirect = error && is_redirect(&self.buf[..len]);
            if redirect && contains(&self.buf[..len], b"MOVED ") {
                // The topology changed: the runtime looks again (the table, the main node).
                self.route.backend.nudge();
            }
            let handling = match expect {
                _ if redirect => Handling::Rewrite(Expect::Plain),
                Expect::Slots | Expect::Shards | Expect::Nodes if !error => {
                    Handling::Rewrite(expect)
                }
                _ => Handling::Pass,
            };
            match handling {
                Handling::Pass => out.extend_from_slice(&self.buf[..len]),
                Handling::Rewrite(expect) => {
                    let frame = self.buf[..len].to_vec();
                    match self.rewrite(&frame, resp3, expect).await {
                        Some(bytes) => out.extend_from_slice(&bytes),
                        None => out.extend_from_slice(&frame),
                    }
                }
            }
            self.buf.advance(len);
        }
    }

    /// The reply `bytes` with every node named as the client must hear it; `None` to pass it
    /// unchanged. A node not in the table makes the runtime look again, once.
    async fn rewrite(&self, bytes: &[u8], resp3: bool, expect: Expect) -> Option<Vec<u8>> {
        let mut frame = if resp3 {
            redis_protocol::resp3::decode::complete::decode(bytes)
                .ok()??
                .0
        } else {
            from_resp2(redis_protocol::resp2::decode::decode(bytes).ok()??.0)
        };
        let original = frame.clone();
        let mut namer = Namer {
            route: &self.route,
            tls: self.tls,
            unknown: false,
        };
        namer.frame(&mut frame, expect);
        if namer.unknown && self.route.backend.learn().await {
            frame = original;
            namer.unknown = false;
            namer.frame(&mut frame, expect);
        }
        if namer.unknown {
            warn!(
                "cluster proxy: a reply names a backend node redlink does not know; it passes unchanged in part"
            );
        }
        if resp3 {
            let mut out = vec![0; frame.encode_len(false)];
            let n =
                redis_protocol::resp3::encode::complete::encode(&mut out, &frame, false).ok()?;
            out.truncate(n);
            Some(out)
        } else {
            let frame = to_resp2(frame)?;
            let mut out = vec![0; frame.encode_len(false)];
            let n = redis_protocol::resp2::encode::encode(&mut out, &frame, false).ok()?;
            out.truncate(n);
            Some(out)
        }
    }
}

/// Whether the error reply `bytes` is a `-MOVED` or `-ASK` (simple or blob error).
fn is_redirect(bytes: &[u8]) -> bool {
    let text = match bytes.first() {
        Some(b'-') => &bytes[1..],
        Some(b'!') => match bytes.iter().position(|&b| b == b'\n') {
            Some(i) => &bytes[i + 1..],
            None => return false,
        },
        _ => return false,
    };
    text.starts_with(b"MOVED ") || text.starts_with(b"ASK ")
}

fn contains(bytes: &[u8], what: &[u8]) -> bool {
    bytes.windows(what.len()).any(|w| w == what)
}

fn from_resp2(f: Frame2) -> Frame3 {
    match f {
        Frame2::SimpleString(data) => Frame3::SimpleString {
            data,
            attributes: None,
        },
        Frame2::Error(data) => Frame3::SimpleError {
            data,
            attributes: None,
        },
        Frame2::Integer(data) => Frame3::Number {
            data,
            attributes: None,
        },
        Frame2::BulkString(data) => Frame3::BlobString {
            data,
            attributes: None,
        },
        Frame2::Array(items) => Frame3::Array {
            data: items.into_iter().map(from_resp2).collect(),
            attributes: None,
        },
        Frame2::Null => Frame3::Null,
    }
}

/// Back to RESP2 (only the shapes [`from_resp2`] makes).
fn to_resp2(f: Frame3) -> Option<Frame2> {
    Some(match f {
        Frame3::SimpleString { data, .. } => Frame2::SimpleString(data),
        Frame3::SimpleError { data, .. } => Frame2::Error(data),
        Frame3::Number { data, .. } => Frame2::Integer(data),
        Frame3::BlobString { data, .. } => Frame2::BulkString(data),
        Frame3::Array { data, .. } => {
            Frame2::Array(data.into_iter().map(to_resp2).collect::<Option<_>>()?)
        }
        Frame3::Null => Frame2::Null,
        _ => return None,
    })
}

/// Renames nodes in one reply.
struct Namer<'a> {
    route: &'a ClusterRoute,
    tls: bool,
    /// Some node was not in the table.
    unknown: bool,
}

fn text(f: &Frame3) -> Option<String> {
    match f {
        Frame3::BlobString { data, .. }
        | Frame3::SimpleString { data, .. }
        | Frame3::VerbatimString { data, .. } => Some(String::from_utf8_lossy(data).into_owned()),
        _ => None,
    }
}

fn set_text(f: &mut Frame3, value: String) {
    match f {
        Frame3::BlobString { data, .. }
        | Frame3::SimpleString { data, .. }
        | Frame3::VerbatimString { data, .. } => *data = value.into_bytes(),
        Frame3::SimpleError { data, .. } => *data = value,
        Frame3::BlobError { data, .. } => *data = value.into_bytes(),
        _ => {}
    }
}

/// The key/value pairs of a RESP3 map or a RESP2 flattened one.
fn pairs(f: &mut Frame3) -> Vec<(String, &mut Frame3)> {
    match f {
        Frame3::Map { data, .. } => data
            .iter_mut()
            .filter_map(|(k, v)| Some((text(k)?, v)))
            .collect(),
        Frame3::Array { data, .. } => {
            let mut out = Vec::new();
            let mut it = data.iter_mut();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                if let Some(k) = text(k) {
                    out.push((k, v));
                }
            }
            out
        }
        _ => Vec::new(),
    }
}

fn items(f: &mut Frame3) -> Option<&mut Vec<Frame3>> {
    match f {
        Frame3::Array { data, .. } => Some(data),
        _ => None,
    }
}

impl Namer<'_> {
    fn frame(&mut self, f: &mut Frame3, expect: Expect) {
        match f {
            Frame3::SimpleError { data, .. } => {
                if let Some(told) = self.redirect(data) {
                    *data = told;
                }
            }
            Frame3::BlobError { data, .. } => {
                if let Some(told) = self.redirect(&String::from_utf8_lossy(data)) {
                    *data = told.into_bytes();
                }
            }
            _ => match expect {
                Expect::Slots => self.slots(f),
                Expect::Shards => self.shards(f),
                Expect::Nodes => self.nodes(f),
                _ => {}
            },
        }
    }

    /// The number of the node named by `id` or else `host:port`.
    fn number(&mut self, id: Option<&str>, host: &str, port: u16) -> Option<u16> {
        let backend = &self.route.backend;
        let found = id
            .and_then(|id| backend.number_of_id(id))
            .or_else(|| backend.number_at(host, port));
        if found.is_none() {
            self.unknown = true;
        }
        found
    }

    fn told(&self, number: u16) -> Option<(String, u16)> {
        self.route.told(number, self.tls)
    }

    /// `MOVED 3999 127.0.0.1:7001` → `MOVED 3999 ENDPOINT:PORT`.
    fn redirect(&mut self, error: &str) -> Option<String> {
        let mut words = error.splitn(3, ' ');
        let (kind, slot, at) = (words.next()?, words.next()?, words.next()?);
        let (host, port) = at.rsplit_once(':')?;
        let port: u16 = port.trim().parse().ok()?;
        let number = self.number(None, host, port)?;
        let (host, port) = self.told(number)?;
        Some(format!("{kind} {slot} {host}:{port}"))
    }

    /// `[[start, end, [host, port, id, {meta}], ...], ...]`.
    fn slots(&mut self, f: &mut Frame3) {
        let Some(ranges) = items(f) else { return };
        for range in ranges {
            let Some(entries) = items(range) else {
                continue;
            };
            for node in entries.iter_mut().skip(2) {
                let Some(fields) = items(node) else { continue };
                let host = fields.first().and_then(text).unwrap_or_default();
                let port = match fields.get(1) {
                    Some(Frame3::Number { data, .. }) => u16::try_from(*data).unwrap_or(0),
                    _ => continue,
                };
                let id = fields.get(2).and_then(text);
                let Some(number) = self.number(id.as_deref(), &host, port) else {
                    continue;
                };
                let Some((host, port)) = self.told(number) else {
                    continue;
                };
                if let Some(h) = fields.get_mut(0) {
                    set_text(h, host);
                }
                if let Some(Frame3::Number { data, .. }) = fields.get_mut(1) {
                    *data = i64::from(port);
                }
                // Metadata (the backend's hostname) would name the backend: left empty.
                match fields.get_mut(3) {
                    Some(Frame3::Map { data, .. }) => data.clear(),
                    Some(Frame3::Array { data, .. }) => data.clear(),
                    _ => {}
                }
            }
        }
    }

    /// `[{slots, nodes: [{id, port, tls-port, ip, endpoint, hostname, role, ...}]}, ...]`.
    fn shards(&mut self, f: &mut Frame3) {
        let Some(shards) = items(f) else { return };
        for shard in shards {
            for (key, value) in pairs(shard) {
                if key != "nodes" {
                    continue;
                }
                let Some(nodes) = items(value) else { continue };
                for node in nodes {
                    self.shard_node(node);
                }
            }
        }
    }

    fn shard_node(&mut self, node: &mut Frame3) {
        let mut id = None;
        let mut host = String::new();
        let mut port = 0u16;
        for (key, value) in pairs(node) {
            match (key.as_str(), &*value) {
                ("id", v) => id = text(v),
                ("endpoint" | "ip", v) if host.is_empty() => host = text(v).unwrap_or_default(),
                ("port" | "tls-port", Frame3::Number { data, .. }) if port == 0 => {
                    port = u16::try_from(*data).unwrap_or(0);
                }
                _ => {}
            }
        }
        let Some(number) = self.number(id.as_deref(), &host, port) else {
            return;
        };
        let plain = self.route.told(number, false);
        let tls = self.route.told(number, true);
        let Some((told_host, _)) = plain.clone().or_else(|| tls.clone()) else {
            return;
        };
        for (key, value) in pairs(node) {
            match key.as_str() {
                "ip" | "endpoint" | "hostname" => set_text(value, told_host.clone()),
                "port" => {
                    if let (Frame3::Number { data, .. }, Some((_, p))) =
                        (value, plain.clone().or_else(|| tls.clone()))
                    {
                        *data = i64::from(p);
                    }
                }
                "tls-port" => {
                    if let (Frame3::Number { data, .. }, Some((_, p))) =
                        (value, tls.clone().or_else(|| plain.clone()))
                    {
                        *data = i64::from(p);
                    }
                }
                _ => {}
            }
        }
    }

    /// `CLUSTER NODES` (one text, lines) or `REPLICAS` (an array of lines): each line's second
    /// field `ip:port@cport[,hostname]` becomes `ENDPOINT:PORT@cport`.
    fn nodes(&mut self, f: &mut Frame3) {
        match f {
            Frame3::Array { data, .. } => {
                for line in data {
                    self.nodes(line);
                }
            }
            other => {
                let Some(t) = text(other) else { return };
                let lines: Vec<String> = t.split('\n').map(|l| self.node_line(l)).collect();
                set_text(other, lines.join("\n"));
            }
        }
    }

    fn node_line(&mut self, line: &str) -> String {
        let mut fields: Vec<&str> = line.split(' ').collect();
        let (Some(id), Some(at)) = (fields.first().copied(), fields.get(1).copied()) else {
            return line.to_owned();
        };
        let (address, _hostname) = at.split_once(',').unwrap_or((at, ""));
        let (address, bus) = address.split_once('@').unwrap_or((address, ""));
        let Some((host, port)) = address.rsplit_once(':') else {
            return line.to_owned();
        };
        let Ok(port) = port.parse::<u16>() else {
            return line.to_owned();
        };
        let Some(number) = self.number(Some(id), host, port) else {
            return line.to_owned();
        };
        let Some((host, port)) = self.told(number) else {
            return line.to_owned();
        };
        let told = if bus.is_empty() {
            format!("{host}:{port}")
        } else {
            format!("{host}:{port}@{bus}")
        };
        fields[1] = &told;
        fields.join(" ")
    }
}

/// Proxies `client` to `upstream` for a port of a cluster backend until either side closes,
/// rewriting the replies that name nodes (see the module's doc). `tls`: the client came in
/// through a TLS port (it is told TLS ports).
pub(crate) async fn pipe<S>(client: S, upstream: BackendStream, route: ClusterRoute, tls: bool)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let pending = Arc::new(Mutex::new(Pending::default()));
    let (mut client_reader, mut client_writer) = tokio::io::split(client);
    let (mut backend_reader, mut backend_writer) = tokio::io::split(upstream);
    let mut requests = Requests::new(pending.clone());
    let mut replies = Replies::new(pending, route, tls);
    let to_backend = async {
        let mut buf = vec![0u8; PROXY_BUFFER];
        loop {
            let n = client_reader.read(&mut buf).await?;
            if n == 0 {
                let _ = backend_writer.shutdown().await;
                return Ok::<(), std::io::Error>(());
            }
            requests.feed(&buf[..n]);
            backend_writer.write_all(&buf[..n]).await?;
        }
    };
    let to_client = async {
        let mut buf = vec![0u8; PROXY_BUFFER];
        let mut out = Vec::with_capacity(PROXY_BUFFER);
        loop {
            let n = backend_reader.read(&mut buf).await?;
            if n == 0 {
                let _ = client_writer.shutdown().await;
                return Ok::<(), std::io::Error>(());
            }
            out.clear();
            replies.feed(&buf[..n], &mut out).await;
            client_writer.write_all(&out).await?;
        }
    };
    tokio::pin!(to_backend, to_client);
    tokio::select! {
        done = &mut to_backend => {
            // The client finished sending: its last replies still come.
            if done.is_ok() {
                let _ = to_client.await;
            }
        }
        _ = &mut to_client => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EndpointAnnounce;
    use crate::backend_cluster::{BackendNode, ClusterBackend};
    use redlink_world::{PortScheme, Protocols};
    use std::net::{Ipv4Addr, SocketAddr};

    fn route() -> ClusterRoute {
        let backend = Arc::new(ClusterBackend::new());
        backend.publish(
            (0..3u16)
                .map(|n| BackendNode {
                    number: n,
                    id: format!("{:040}", n),
                    address: SocketAddr::from(([127, 0, 0, 1], 7000 + n)),
                    hosts: vec!["127.0.0.1".into()],
                    primary: true,
                })
                .collect(),
            Some(0),
        );
        ClusterRoute {
            backend,
            node: None,
            announce: Some(Arc::new(EndpointAnnounce {
                host: Ipv4Addr::new(127, 10, 1, 4),
                scheme: PortScheme::Premium,
                protocols: Protocols {
                    plain: true,
                    tls: true,
                },
            })),
        }
    }

    async fn through(requests: &[u8], replies: &[u8], tls: bool) -> String {
        let pending = Arc::new(Mutex::new(Pending::default()));
        let mut req = Requests::new(pending.clone());
        // Byte by byte: frames split anywhere still decode.
        for b in requests {
            req.feed(std::slice::from_ref(b));
        }
        let mut rep = Replies::new(pending, route(), tls);
        let mut out = Vec::new();
        for chunk in replies.chunks(7) {
            rep.feed(chunk, &mut out).await;
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test]
    async fn redirections_name_the_endpoint_and_the_nodes_port() {
        let out = through(
            b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n",
            b"-MOVED 15495 127.0.0.1:7002\r\n-ASK 3999 127.0.0.1:7001\r\n",
            false,
        )
        .await;
        assert_eq!(
            out,
            "-MOVED 15495 127.10.1.4:13002\r\n-ASK 3999 127.10.1.4:13001\r\n"
        );
        let out = through(b"GET a\r\n", b"-MOVED 1 127.0.0.1:7000\r\n", true).await;
        assert_eq!(out, "-MOVED 1 127.10.1.4:15000\r\n");
    }

    #[tokio::test]
    async fn only_the_cluster_commands_replies_are_rewritten_in_a_pipeline() {
        let id1 = format!("{:040}", 1);
        let slots = format!(
            "*1\r\n*3\r\n:0\r\n:16383\r\n*4\r\n$9\r\n127.0.0.1\r\n:7001\r\n$40\r\n{id1}\r\n*0\r\n"
        );
        // GET's reply looks like an address and stays; CLUSTER SLOTS' is rewritten.
        let replies = format!("$14\r\n127.0.0.1:7001\r\n{slots}+PONG\r\n");
        let out = through(
            b"GET k\r\nCLUSTER SLOTS\r\n*1\r\n$4\r\nPING\r\n",
            replies.as_bytes(),
            false,
        )
        .await;
        assert_eq!(
            out,
            format!(
                "$14\r\n127.0.0.1:7001\r\n*1\r\n*3\r\n:0\r\n:16383\r\n*4\r\n$10\r\n127.10.1.4\r\n:13001\r\n$40\r\n{id1}\r\n*0\r\n+PONG\r\n"
            )
        );
    }

    #[tokio::test]
    async fn nodes_and_shards_in_resp3_keep_their_types() {
        let id2 = format!("{:040}", 2);
        let line =
            format!("{id2} 127.0.0.1:7002@17002,host2 master - 0 0 3 connected 10923-16383\n");
        let hello = "%1\r\n$6\r\nserver\r\n$5\r\nredis\r\n";
        let nodes = format!("={}\r\ntxt:{line}\r\n", line.len() + 4);
        let shards = format!(
            "*1\r\n%2\r\n$5\r\nslots\r\n*2\r\n:10923\r\n:16383\r\n$5\r\nnodes\r\n*1\r\n%4\r\n$2\r\nid\r\n$40\r\n{id2}\r\n$4\r\nport\r\n:7002\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n"
        );
        let out = through(
            b"HELLO 3\r\nCLUSTER NODES\r\nCLUSTER SHARDS\r\n",
            format!("{hello}{nodes}{shards}").as_bytes(),
            false,
        )
        .await;
        let want_line =
            format!("{id2} 127.10.1.4:13002@17002 master - 0 0 3 connected 10923-16383\n");
        assert!(out.starts_with(hello), "{out}");
        assert!(
            out.contains(&format!("={}\r\ntxt:{want_line}\r\n", want_line.len() + 4)),
            "{out}"
        );
        assert!(out.contains("$4\r\nport\r\n:13002\r\n"), "{out}");
        assert!(out.contains("$2\r\nip\r\n$10\r\n127.10.1.4\r\n"), "{out}");
        assert!(out.contains("%2\r\n"), "maps stay maps: {out}");
    }

    #[tokio::test]
    async fn pushes_and_subscribed_mode_do_not_shift_the_replies() {
        // A RESP3 push answers no request: CLUSTER SLOTS' reply is still found.
        let id0 = format!("{:040}", 0);
        let out = through(
            b"HELLO 3\r\nCLUSTER SLOTS\r\n",
            format!(
                "%0\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n*1\r\n*3\r\n:0\r\n:1\r\n*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$40\r\n{id0}\r\n"
            )
            .as_bytes(),
            false,
        )
        .await;
        assert!(out.contains("127.10.1.4\r\n:13000"), "{out}");
        // After SUBSCRIBE nothing is matched, but a MOVED is still rewritten.
        let out = through(
            b"SUBSCRIBE c\r\nCLUSTER SLOTS\r\nSSUBSCRIBE x\r\n",
            b"*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n-MOVED 1 127.0.0.1:7001\r\n",
            false,
        )
        .await;
        assert!(out.ends_with("-MOVED 1 127.10.1.4:13001\r\n"), "{out}");
    }
}

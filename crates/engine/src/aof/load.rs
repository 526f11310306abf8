//! Loading an AOF: its commands replayed through the engine's own command path (a private client,
//! nothing propagated: the feed is not read yet), with Redis 7.0's rules for a damaged file — a
//! last command cut short is dropped and the file truncated to the last whole command when
//! `aof-load-truncated yes` (as after a crash mid-write), anything else malformed is refused with the
//! file's name and the byte offset, and a MULTI without its EXEC at the end is dropped too.

use std::path::Path;

use crate::Engine;
use crate::client::Client;
use crate::commands::{Ctx, execute};
use crate::protocol::Out;

/// How reading one file ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// Every command was whole.
    Clean,
    /// The file ends inside a command (or inside MULTI ... EXEC): whole commands end at this offset.
    Truncated(u64),
}

/// A file Redis would refuse to load.
#[derive(Debug)]
pub struct Corrupt {
    /// Where the bad bytes start.
    pub offset: u64,
    /// What is wrong there.
    pub what: String,
}

/// One command of an AOF file: its arguments and where it ends.
struct Parsed {
    argv: Vec<Vec<u8>>,
    end: usize,
}

/// Parse the command at `pos`: `Ok(None)` when the data ends inside it.
fn parse_one(data: &[u8], pos: usize) -> Result<Option<Parsed>, Corrupt> {
    let bad = |offset: usize, what: &str| Corrupt {
        offset: offset as u64,
        what: what.to_string(),
    };
    let line = |at: usize| -> Option<(usize, usize)> {
        let rel = data.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
        Some((at + rel, at + rel + 2))
    };
    if data[pos] != b'*' {
        return Err(bad(pos, "expected '*' (a command array)"));
    }
    let Some((end, mut at)) = line(pos) else {
        return Ok(None);
    };
    let n = crate::protocol::parse_i64(&data[pos + 1..end])
        .filter(|n| (1..=1 << 20).contains(n))
        .ok_or_else(|| bad(pos, "invalid argument count"))?;
    let mut argv = Vec::with_capacity(n as usize);
    for _ in 0..n {
        if at >= data.len() {
            return Ok(None);
        }
        if data[at] != b'$' {
            return Err(bad(at, "expected '$' (a bulk argument)"));
        }
        let Some((end, body)) = line(at) else {
            return Ok(None);
        };
        let len = crate::protocol::parse_i64(&data[at + 1..end])
            .filter(|l| (0..=1 << 32).contains(l))
            .ok_or_else(|| bad(at, "invalid bulk length"))? as usize;
        if body + len + 2 > data.len() {
            return Ok(None);
        }
        if &data[body + len..body + len + 2] != b"\r\n" {
            return Err(bad(body + len, "bulk argument not followed by CRLF"));
        }
        argv.push(data[body..body + len].to_vec());
        at = body + len + 2;
    }
    Ok(Some(Parsed { argv, end: at }))
}

/// A private client that replays commands (Redis's fake AOF client).
pub struct Replayer {
    client: Client,
}

impl Replayer {
    /// A client of `engine`, authenticated, registered for the time of the load.
    pub fn new(engine: &Engine) -> Replayer {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let handle = engine.clients.register(crate::ConnContext {
            peer: addr,
            local: addr,
            tls: false,
            endpoint: Some("aof-loader".into()),
            announce: None,
        });
        Replayer {
            client: Client::new(handle, true),
        }
    }

    /// Run one command.
    fn run(&mut self, engine: &Engine, argv: &[Vec<u8>]) -> Result<(), String> {
        let args: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
        if crate::commands::lookup(args[0]).is_none() {
            return Err(format!(
                "Unknown command '{}'",
                String::from_utf8_lossy(&args[0][..args[0].len().min(128)])
            ));
        }
        let mut out = Out::new(false);
        let mut ctx = Ctx {
            engine,
            client: &mut self.client,
            out: &mut out,
            now: engine.clock().now_ms(),
            in_exec: false,
            retry: false,
        };
        execute(&mut ctx, &args);
        // A blocking command in an AOF cannot wait: there is nobody to wake it.
        self.client.block = None;
        Ok(())
    }

    /// Replay AOF-format `data` (a file's contents from `start`), naming `file` in errors.
    pub fn replay(
        &mut self,
        engine: &Engine,
        data: &[u8],
        start: usize,
        file: &Path,
    ) -> Result<End, String> {
        let name = file.display();
        let mut pos = start;
        // Where the open MULTI began (its commands are replayed only if EXEC follows).
        let mut multi_at: Option<usize> = None;
        while pos < data.len() {
            // Annotations (`#TS:...`, aof-timestamp-enabled) are lines of their own.
            if data[pos] == b'#' {
                match data[pos..].windows(2).position(|w| w == b"\r\n") {
                    Some(rel) => {
                        pos += rel + 2;
                        continue;
                    }
                    None => return self.cut(engine, multi_at, pos),
                }
            }
            let parsed = parse_one(data, pos).map_err(|c| {
                format!(
                    "Bad file format reading the append only file {name} at byte offset {}: {}",
                    c.offset, c.what
                )
            })?;
            let Some(Parsed { argv, end }) = parsed else {
                return self.cut(engine, multi_at, pos);
            };
            if argv[0].eq_ignore_ascii_case(b"MULTI") {
                multi_at = Some(pos);
            } else if argv[0].eq_ignore_ascii_case(b"EXEC") {
                multi_at = None;
            }
            self.run(engine, &argv).map_err(|e| {
                format!("{e} reading the append only file {name} at byte offset {pos}")
            })?;
            pos = end;
        }
        if multi_at.is_some() {
            return self.cut(engine, multi_at, pos);
        }
        Ok(End::Clean)
    }

    /// The file ends at `pos` inside a command, or inside a transaction begun at `multi_at`: a
    /// transaction whose EXEC never reached the file is reverted, as Redis does.
    fn cut(&mut self, engine: &Engine, multi_at: Option<usize>, pos: usize) -> Result<End, String> {
        if multi_at.is_some() {
            self.run(engine, &[b"DISCARD".to_vec()])?;
        }
        Ok(End::Truncated(multi_at.unwrap_or(pos) as u64))
    }

    /// Unregister the client.
    pub fn finish(mut self, engine: &Engine) {
        self.client.release(engine);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_whole_and_cut_commands() {
        let data = b"*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n*3\r\n$3\r\nSET\r\n$1\r\nk";
        let first = parse_one(data, 0).unwrap().unwrap();
        assert_eq!(first.argv, vec![b"DEL".to_vec(), b"k".to_vec()]);
        assert!(parse_one(data, first.end).unwrap().is_none());
        let bad = parse_one(b"*1\r\n+OK\r\n", 0).err().unwrap();
        assert_eq!(bad.offset, 4);
    }
}

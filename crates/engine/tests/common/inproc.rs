//! An engine driven in-process, without sockets: one client runs commands through the engine's
//! `execute` and gets each reply decoded. For property tests that run thousands of commands.

use redis_protocol::resp2::types::OwnedFrame;
use redlink_engine::client::Client;
use redlink_engine::commands::{Ctx, execute};
use redlink_engine::protocol::Out;
use redlink_engine::{Config, ConnContext, Engine};

/// An engine with one registered (authenticated) client.
pub struct InProcess {
    pub engine: Engine,
    pub client: Client,
}

impl InProcess {
    /// A fresh engine with the default configuration (without save points).
    pub fn new() -> InProcess {
        let mut config = Config::default();
        // No save points: FLUSHALL writes no dump.rdb into the working directory.
        config.set_startup("save", "").expect("save");
        let engine = Engine::new(config);
        let addr = "127.0.0.1:1".parse().expect("addr");
        let handle = engine.clients.register(ConnContext {
            peer: addr,
            local: addr,
            tls: false,
            endpoint: None,
            announce: None,
        });
        InProcess {
            client: Client::new(handle, true),
            engine,
        }
    }

    /// Run one command; its RESP2 reply, decoded.
    pub fn run(&mut self, args: &[&[u8]]) -> OwnedFrame {
        let mut out = Out::new(false);
        let mut ctx = Ctx {
            engine: &self.engine,
            client: &mut self.client,
            out: &mut out,
            now: self.engine.clock().now_ms(),
            in_exec: false,
            retry: false,
        };
        execute(&mut ctx, args);
        let (frame, _) = redis_protocol::resp2::decode::decode(&out.buf)
            .expect("decodes")
            .expect("complete");
        frame
    }

    /// Run one command given as words.
    pub fn run_str(&mut self, args: &[&str]) -> OwnedFrame {
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.run(&argv)
    }
}

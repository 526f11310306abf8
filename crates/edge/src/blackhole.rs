//! The blackhole primitive: the connection is accepted, everything the client sends is read and
//! discarded, and nothing is ever answered; the client's commands time out. It ends when the client
//! closes, or with a reset when the path changes (see [`crate::Cut`]).

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::conn::Cut;
use crate::reset::arm_reset;

/// Holds `stream`, discarding what it reads, until the client leaves or `cut` fires (then resets).
pub async fn blackhole(mut stream: TcpStream, cut: &Cut) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            _ = cut.cut_off() => {
                arm_reset(&stream);
                return;
            }
            r = stream.read(&mut buf) => match r {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }
}

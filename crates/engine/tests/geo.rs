//! Integration tests for the geo commands (GEOADD, GEOPOS, GEODIST, GEOHASH, GEORADIUS*,
//! GEOSEARCH, GEOSEARCHSTORE). Every expected reply below was recorded byte for byte from
//! redis-server 7.0.15 for the same command sequence (Redis's documentation examples: Palermo,
//! Catania, Agrigento...), so scores, coordinates, distances, result order and error texts must
//! match it exactly. Each test starts its own engine on a distinct 127.0.6.x loopback address.

mod common;

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One connection that sends a command and reads back exactly one raw RESP reply.
struct Session {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Session {
    async fn connect(addr: SocketAddr) -> Session {
        Session {
            stream: TcpStream::connect(addr).await.expect("connect"),
            buf: Vec::new(),
        }
    }

    async fn call(&mut self, args: &[&str]) -> String {
        self.stream
            .write_all(&common::resp(args))
            .await
            .expect("write");
        let mut chunk = [0u8; 16384];
        loop {
            if let Some(n) = common::frame_len(&self.buf) {
                let reply: Vec<u8> = self.buf.drain(..n).collect();
                return String::from_utf8(reply).expect("utf-8 reply");
            }
            let n = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                self.stream.read(&mut chunk),
            )
            .await
            .expect("reply in time")
            .expect("read");
            assert!(n > 0, "connection closed during {args:?}");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    async fn expect(&mut self, args: &[&str], want: &str) {
        let got = self.call(args).await;
        assert_eq!(got, want, "reply to {args:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn geoadd_scores_pos_hash_dist() {
    let (_server, addr) = common::start("127.0.6.1", &[]);
    let mut s = Session::connect(addr).await;
    s.expect(
        &[
            "GEOADD",
            "Sicily",
            "13.361389",
            "38.115556",
            "Palermo",
            "15.087269",
            "37.502669",
            "Catania",
        ],
        ":2\r\n",
    )
    .await;
    s.expect(&["ZRANGE", "Sicily", "0", "-1", "WITHSCORES"], "*4\r\n$7\r\nPalermo\r\n$16\r\n3479099956230698\r\n$7\r\nCatania\r\n$16\r\n3479447370796909\r\n").await;
    s.expect(&["GEOPOS", "Sicily", "Palermo", "Catania", "NonExisting"], "*3\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n*2\r\n$20\r\n15.08726745843887329\r\n$20\r\n37.50266842333162032\r\n*-1\r\n").await;
    s.expect(
        &["GEOHASH", "Sicily", "Palermo", "Catania", "nope"],
        "*3\r\n$11\r\nsqc8b49rny0\r\n$11\r\nsqdtr74hyu0\r\n$-1\r\n",
    )
    .await;
    s.expect(
        &["GEODIST", "Sicily", "Palermo", "Catania"],
        "$11\r\n166274.1516\r\n",
    )
    .await;
    s.expect(
        &["GEODIST", "Sicily", "Palermo", "Catania", "km"],
        "$8\r\n166.2742\r\n",
    )
    .await;
    s.expect(
        &["GEODIST", "Sicily", "Palermo", "Catania", "mi"],
        "$8\r\n103.3182\r\n",
    )
    .await;
    s.expect(
        &["GEODIST", "Sicily", "Palermo", "Catania", "FT"],
        "$11\r\n545518.8700\r\n",
    )
    .await;
    s.expect(&["GEODIST", "Sicily", "Palermo", "Nope"], "$-1\r\n")
        .await;
    s.expect(&["GEODIST", "nokey", "a", "b"], "$-1\r\n").await;
    s.expect(
        &[
            "GEOADD",
            "Sicily",
            "NX",
            "13.361389",
            "38.2",
            "Palermo",
            "1",
            "1",
            "New",
        ],
        ":1\r\n",
    )
    .await;
    s.expect(
        &[
            "GEOADD",
            "Sicily",
            "XX",
            "CH",
            "13.361389",
            "38.2",
            "Palermo",
            "2",
            "2",
            "New2",
        ],
        ":1\r\n",
    )
    .await;
    s.expect(
        &["ZSCORE", "Sicily", "Palermo"],
        "$16\r\n3479101030759983\r\n",
    )
    .await;
    s.expect(&["EXISTS", "New2"], ":0\r\n").await;
    s.expect(
        &[
            "GEOADD",
            "pts",
            "-180",
            "-85.05112878",
            "sw",
            "180",
            "85.05112878",
            "ne",
            "0",
            "0",
            "zero",
        ],
        ":3\r\n",
    )
    .await;
    s.expect(&["GEOPOS", "pts", "sw", "ne", "zero"], "*3\r\n*2\r\n$22\r\n-179.99999731779098511\r\n$21\r\n-85.05112751263942528\r\n*2\r\n$3\r\n180\r\n$19\r\n85.0511287799999991\r\n*2\r\n$19\r\n0.00000268220901489\r\n$19\r\n0.00000126736058093\r\n").await;
    s.expect(
        &["GEOHASH", "pts", "sw", "ne", "zero"],
        "*3\r\n$11\r\n00bh0hbj200\r\n$11\r\nbp05b5048p0\r\n$11\r\ns0000000000\r\n",
    )
    .await;
    s.expect(&["ZRANGE", "pts", "0", "-1", "WITHSCORES"], "*6\r\n$2\r\nsw\r\n$1\r\n0\r\n$4\r\nzero\r\n$16\r\n3377699720527872\r\n$2\r\nne\r\n$17\r\n13510798882111488\r\n").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn geo_errors() {
    let (_server, addr) = common::start("127.0.6.2", &[]);
    let mut s = Session::connect(addr).await;
    s.expect(
        &["GEOADD", "k", "200", "1", "a"],
        "-ERR invalid longitude,latitude pair 200.000000,1.000000\r\n",
    )
    .await;
    s.expect(
        &["GEOADD", "k", "1", "85.06", "a"],
        "-ERR invalid longitude,latitude pair 1.000000,85.060000\r\n",
    )
    .await;
    s.expect(
        &["GEOADD", "k", "x", "1", "a"],
        "-ERR value is not a valid float\r\n",
    )
    .await;
    s.expect(
        &["GEOADD", "k", "XX", "NX", "1", "1", "a"],
        "-ERR syntax error\r\n",
    )
    .await;
    s.expect(&["GEOADD", "k", "CH", "1", "1"], "-ERR syntax error\r\n")
        .await;
    s.expect(
        &["GEOADD", "k"],
        "-ERR wrong number of arguments for 'geoadd' command\r\n",
    )
    .await;
    s.expect(
        &["GEODIST", "k", "a", "b", "parsec"],
        "-ERR unsupported unit provided. please use M, KM, FT, MI\r\n",
    )
    .await;
    s.expect(
        &["GEODIST", "k", "a", "b", "km", "x"],
        "-ERR syntax error\r\n",
    )
    .await;
    s.expect(&["SET", "str", "x"], "+OK\r\n").await;
    s.expect(
        &["GEOADD", "str", "1", "1", "a"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    s.expect(
        &["GEOPOS", "str", "a"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    s.expect(
        &[
            "GEOSEARCH",
            "str",
            "FROMLONLAT",
            "1",
            "2",
            "BYRADIUS",
            "1",
            "km",
        ],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    s.expect(
        &["GEORADIUS", "k", "15", "37", "-1", "km"],
        "-ERR radius cannot be negative\r\n",
    )
    .await;
    s.expect(
        &["GEORADIUS", "k", "15", "37", "x", "km"],
        "-ERR need numeric radius\r\n",
    )
    .await;
    s.expect(
        &["GEORADIUS", "k", "15", "37", "1", "km", "COUNT", "0"],
        "-ERR COUNT must be > 0\r\n",
    )
    .await;
    s.expect(
        &["GEORADIUS", "k", "15", "37", "1", "km", "ANY"],
        "-ERR the ANY argument requires COUNT argument\r\n",
    )
    .await;
    s.expect(
        &["GEORADIUS_RO", "k", "15", "37", "1", "km", "STORE", "d"],
        "-ERR syntax error\r\n",
    )
    .await;
    s.expect(&["GEORADIUS", "k", "15", "37", "1", "km", "STORE", "d", "WITHDIST"], "-ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options\r\n").await;
    s.expect(&["GEOADD", "k", "1", "1", "a"], ":1\r\n").await;
    s.expect(
        &["GEORADIUSBYMEMBER", "k", "nope", "1", "km"],
        "-ERR could not decode requested zset member\r\n",
    )
    .await;
    s.expect(
        &["GEOSEARCH", "k", "BYRADIUS", "1", "km"],
        "-ERR wrong number of arguments for 'geosearch' command\r\n",
    )
    .await;
    s.expect(
        &["GEOSEARCH", "k", "FROMLONLAT", "1", "1"],
        "-ERR wrong number of arguments for 'geosearch' command\r\n",
    )
    .await;
    s.expect(
        &[
            "GEOSEARCH",
            "k",
            "FROMLONLAT",
            "1",
            "1",
            "BYRADIUS",
            "1",
            "km",
            "BYBOX",
            "1",
            "1",
            "km",
        ],
        "-ERR syntax error\r\n",
    )
    .await;
    s.expect(
        &[
            "GEOSEARCH",
            "k",
            "FROMLONLAT",
            "1",
            "1",
            "BYBOX",
            "-1",
            "1",
            "km",
        ],
        "-ERR height or width cannot be negative\r\n",
    )
    .await;
    s.expect(
        &[
            "GEOSEARCH",
            "k",
            "FROMLONLAT",
            "1",
            "1",
            "BYBOX",
            "x",
            "1",
            "km",
        ],
        "-ERR need numeric width\r\n",
    )
    .await;
    s.expect(
        &[
            "GEOSEARCH",
            "k",
            "FROMLONLAT",
            "1",
            "1",
            "BYRADIUS",
            "x",
            "km",
        ],
        "-ERR need numeric radius\r\n",
    )
    .await;
    s.expect(
        &[
            "GEOSEARCH",
            "k",
            "FROMLONLAT",
            "1",
            "1",
            "BYRADIUS",
            "1",
            "km",
            "STORE",
            "x",
        ],
        "-ERR syntax error\r\n",
    )
    .await;
    s.expect(
        &[
            "GEOSEARCH",
            "k",
            "FROMMEMBER",
            "nope",
            "BYRADIUS",
            "1",
            "km",
        ],
        "-ERR could not decode requested zset member\r\n",
    )
    .await;
    s.expect(
        &[
            "GEOSEARCHSTORE",
            "d",
            "k",
            "FROMLONLAT",
            "1",
            "1",
            "BYRADIUS",
            "1",
            "km",
            "WITHCOORD",
        ],
        "-ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options\r\n",
    )
    .await;
    s.expect(
        &[
            "GEOSEARCH",
            "k",
            "FROMLONLAT",
            "1",
            "1",
            "BYRADIUS",
            "1",
            "km",
            "COUNT",
            "-3",
        ],
        "-ERR COUNT must be > 0\r\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn georadius_family() {
    let (_server, addr) = common::start("127.0.6.3", &[]);
    let mut s = Session::connect(addr).await;
    s.expect(
        &[
            "GEOADD",
            "Sicily",
            "13.361389",
            "38.115556",
            "Palermo",
            "15.087269",
            "37.502669",
            "Catania",
        ],
        ":2\r\n",
    )
    .await;
    s.expect(
        &[
            "GEOADD",
            "Sicily",
            "13.583333",
            "37.316667",
            "Agrigento",
            "12.758489",
            "38.788135",
            "edge1",
            "17.241510",
            "38.788135",
            "edge2",
        ],
        ":3\r\n",
    )
    .await;
    s.expect(&["GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "WITHCOORD", "WITHHASH", "ASC"], "*3\r\n*4\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n:3479447370796909\r\n*2\r\n$20\r\n15.08726745843887329\r\n$20\r\n37.50266842333162032\r\n*4\r\n$9\r\nAgrigento\r\n$8\r\n130.4235\r\n:3479030013248308\r\n*2\r\n$19\r\n13.5833314061164856\r\n$20\r\n37.31666804993816555\r\n*4\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n:3479099956230698\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n").await;
    s.expect(
        &["GEORADIUS", "Sicily", "15", "37", "200", "km"],
        "*3\r\n$9\r\nAgrigento\r\n$7\r\nPalermo\r\n$7\r\nCatania\r\n",
    )
    .await;
    s.expect(
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "200",
            "km",
            "COUNT",
            "1",
            "DESC",
            "WITHDIST",
        ],
        "*1\r\n*2\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n",
    )
    .await;
    s.expect(
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "300",
            "km",
            "COUNT",
            "2",
            "ANY",
        ],
        "*2\r\n$9\r\nAgrigento\r\n$7\r\nPalermo\r\n",
    )
    .await;
    s.expect(&["GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "WITHDIST"], "*3\r\n*2\r\n$9\r\nAgrigento\r\n$8\r\n130.4235\r\n*2\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n*2\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n").await;
    s.expect(
        &[
            "GEORADIUSBYMEMBER",
            "Sicily",
            "Agrigento",
            "100",
            "km",
            "WITHDIST",
        ],
        "*2\r\n*2\r\n$9\r\nAgrigento\r\n$6\r\n0.0000\r\n*2\r\n$7\r\nPalermo\r\n$7\r\n90.9778\r\n",
    )
    .await;
    s.expect(&["GEORADIUSBYMEMBER_RO", "Sicily", "Palermo", "300", "km", "DESC", "WITHCOORD"], "*4\r\n*2\r\n$7\r\nCatania\r\n*2\r\n$20\r\n15.08726745843887329\r\n$20\r\n37.50266842333162032\r\n*2\r\n$5\r\nedge1\r\n*2\r\n$19\r\n12.7584877610206604\r\n$20\r\n38.78813451624225195\r\n*2\r\n$9\r\nAgrigento\r\n*2\r\n$19\r\n13.5833314061164856\r\n$20\r\n37.31666804993816555\r\n*2\r\n$7\r\nPalermo\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n").await;
    s.expect(
        &["GEORADIUSBYMEMBER", "nokey", "Nope", "100", "km"],
        "*0\r\n",
    )
    .await;
    s.expect(
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "200",
            "km",
            "STORE",
            "dst",
        ],
        ":3\r\n",
    )
    .await;
    s.expect(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"], "*6\r\n$9\r\nAgrigento\r\n$16\r\n3479030013248308\r\n$7\r\nPalermo\r\n$16\r\n3479099956230698\r\n$7\r\nCatania\r\n$16\r\n3479447370796909\r\n").await;
    s.expect(
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "200",
            "km",
            "STOREDIST",
            "dst2",
        ],
        ":3\r\n",
    )
    .await;
    s.expect(
        &["ZRANGE", "dst2", "0", "-1"],
        "*3\r\n$7\r\nCatania\r\n$9\r\nAgrigento\r\n$7\r\nPalermo\r\n",
    )
    .await;
    s.expect(
        &["ZSCORE", "dst2", "Palermo"],
        "$18\r\n190.44242984775784\r\n",
    )
    .await;
    s.expect(&["SET", "dst3", "x"], "+OK\r\n").await;
    s.expect(
        &[
            "GEORADIUS",
            "nokey",
            "15",
            "37",
            "200",
            "km",
            "STORE",
            "dst3",
        ],
        ":0\r\n",
    )
    .await;
    s.expect(&["EXISTS", "dst3"], ":0\r\n").await;
    s.expect(&["GEORADIUS", "nokey", "15", "37", "200", "km"], "*0\r\n")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn geosearch_family() {
    let (_server, addr) = common::start("127.0.6.4", &[]);
    let mut s = Session::connect(addr).await;
    s.expect(
        &[
            "GEOADD",
            "Sicily",
            "13.361389",
            "38.115556",
            "Palermo",
            "15.087269",
            "37.502669",
            "Catania",
        ],
        ":2\r\n",
    )
    .await;
    s.expect(
        &[
            "GEOADD",
            "Sicily",
            "13.583333",
            "37.316667",
            "Agrigento",
            "12.758489",
            "38.788135",
            "edge1",
            "17.241510",
            "38.788135",
            "edge2",
        ],
        ":3\r\n",
    )
    .await;
    s.expect(
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
            "ASC",
        ],
        "*3\r\n$7\r\nCatania\r\n$9\r\nAgrigento\r\n$7\r\nPalermo\r\n",
    )
    .await;
    s.expect(&["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km", "ASC", "WITHCOORD", "WITHDIST"], "*5\r\n*3\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n*2\r\n$20\r\n15.08726745843887329\r\n$20\r\n37.50266842333162032\r\n*3\r\n$9\r\nAgrigento\r\n$8\r\n130.4235\r\n*2\r\n$19\r\n13.5833314061164856\r\n$20\r\n37.31666804993816555\r\n*3\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n*3\r\n$5\r\nedge2\r\n$8\r\n279.7403\r\n*2\r\n$20\r\n17.24151045083999634\r\n$20\r\n38.78813451624225195\r\n*3\r\n$5\r\nedge1\r\n$8\r\n279.7405\r\n*2\r\n$19\r\n12.7584877610206604\r\n$20\r\n38.78813451624225195\r\n").await;
    s.expect(&["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km", "DESC", "WITHHASH"], "*5\r\n*2\r\n$5\r\nedge1\r\n:3479273021651468\r\n*2\r\n$5\r\nedge2\r\n:3481342659049484\r\n*2\r\n$7\r\nPalermo\r\n:3479099956230698\r\n*2\r\n$9\r\nAgrigento\r\n:3479030013248308\r\n*2\r\n$7\r\nCatania\r\n:3479447370796909\r\n").await;
    s.expect(
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "400",
            "400",
            "km",
        ],
        "*5\r\n$9\r\nAgrigento\r\n$7\r\nPalermo\r\n$5\r\nedge1\r\n$7\r\nCatania\r\n$5\r\nedge2\r\n",
    )
    .await;
    s.expect(
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "BYRADIUS",
            "500",
            "km",
        ],
        "*5\r\n$9\r\nAgrigento\r\n$7\r\nPalermo\r\n$5\r\nedge1\r\n$7\r\nCatania\r\n$5\r\nedge2\r\n",
    )
    .await;
    s.expect(
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "BYRADIUS",
            "500",
            "km",
            "COUNT",
            "2",
            "ANY",
        ],
        "*2\r\n$9\r\nAgrigento\r\n$7\r\nPalermo\r\n",
    )
    .await;
    s.expect(
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "BYRADIUS",
            "500",
            "km",
            "COUNT",
            "2",
        ],
        "*2\r\n$7\r\nPalermo\r\n$9\r\nAgrigento\r\n",
    )
    .await;
    s.expect(
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "1",
            "m",
        ],
        "*0\r\n",
    )
    .await;
    s.expect(
        &[
            "GEOSEARCH",
            "nokey",
            "FROMMEMBER",
            "nope",
            "BYRADIUS",
            "500",
            "km",
        ],
        "*0\r\n",
    )
    .await;
    s.expect(
        &[
            "GEOSEARCHSTORE",
            "dst",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "400",
            "400",
            "km",
            "ASC",
            "COUNT",
            "3",
        ],
        ":3\r\n",
    )
    .await;
    s.expect(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"], "*6\r\n$9\r\nAgrigento\r\n$16\r\n3479030013248308\r\n$7\r\nPalermo\r\n$16\r\n3479099956230698\r\n$7\r\nCatania\r\n$16\r\n3479447370796909\r\n").await;
    s.expect(
        &[
            "GEOSEARCHSTORE",
            "dst",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
            "STOREDIST",
        ],
        ":3\r\n",
    )
    .await;
    s.expect(
        &["ZSCORE", "dst", "Palermo"],
        "$18\r\n190.44242984775784\r\n",
    )
    .await;
    s.expect(
        &[
            "GEOSEARCHSTORE",
            "dst",
            "Sicily",
            "FROMLONLAT",
            "0",
            "0",
            "BYBOX",
            "1",
            "1",
            "km",
        ],
        ":0\r\n",
    )
    .await;
    s.expect(&["EXISTS", "dst"], ":0\r\n").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn geo_resp3_shapes() {
    let (_server, addr) = common::start("127.0.6.5", &[]);
    let mut s = Session::connect(addr).await;
    s.call(&["HELLO", "3"]).await;
    s.expect(
        &[
            "GEOADD",
            "Sicily",
            "13.361389",
            "38.115556",
            "Palermo",
            "15.087269",
            "37.502669",
            "Catania",
        ],
        ":2\r\n",
    )
    .await;
    s.expect(
        &["GEOPOS", "Sicily", "Palermo", "nope"],
        "*2\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n_\r\n",
    )
    .await;
    s.expect(
        &["GEOHASH", "Sicily", "Palermo", "nope"],
        "*2\r\n$11\r\nsqc8b49rny0\r\n_\r\n",
    )
    .await;
    s.expect(
        &["GEODIST", "Sicily", "Palermo", "Catania", "km"],
        "$8\r\n166.2742\r\n",
    )
    .await;
    s.expect(&["GEODIST", "Sicily", "Palermo", "nope"], "_\r\n")
        .await;
    s.expect(&["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC", "WITHCOORD", "WITHDIST", "WITHHASH"], "*2\r\n*4\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n:3479447370796909\r\n*2\r\n,15.08726745843887329\r\n,37.50266842333162032\r\n*4\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n:3479099956230698\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n").await;
}

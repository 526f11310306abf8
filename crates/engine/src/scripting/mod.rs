//! The Lua machinery behind EVAL and friends, with Redis 7.0's semantics: one Lua 5.1 state per
//! engine (via `mlua`, vendored), a script cache keyed by SHA1, the `redis` library (`prelude.lua`
//! plus `redis.call` implemented here on the normal command dispatcher), the conversions between
//! RESP replies and Lua values both ways, and the "a script is running" state that other
//! connections consult before touching the keyspace (so they wait asynchronously, or get `BUSY`
//! once the script passed `busy-reply-threshold`, instead of blocking a runtime worker on the gate).
//!
//! Redis 7 Functions (FUNCTION LOAD, FCALL) run on the same machinery with a second Lua state
//! (like Redis, so SCRIPT FLUSH leaves libraries alone): a library's code runs once at load time
//! with only `redis.register_function` and `redis.log` visible, and its registered callbacks are
//! later called with `(keys, args)` exactly like EVAL scripts are run.
//!
//! Isolation (see `prelude.lua`): the globals and every library table are read-only, as is the
//! string metatable; `loadstring`/`load` compile text only, into the caller's environment. So one
//! user's script cannot change what another user's script runs.
//!
//! Memory: each Lua state's heap is capped ([`lua_memory_cap`]) so that a script that allocates
//! without bound fails with an error (`not enough memory`, like Redis when its allocator gives up)
//! instead of the allocator aborting the process; the heap is reported apart from the data
//! ([`crate::alloc::lua_add`], INFO `used_memory_lua`), so it never makes `maxmemory` evict keys; and
//! after a script that left a large heap the state is fully collected.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mlua::{Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState};
use parking_lot::Mutex;

use crate::acl::Denied;
use crate::commands::{Ctx, Error, flag, run};
use crate::protocol::Out;

mod bitlib;
mod cjson;
mod cmsgpack;
mod libargs;
mod structlib;
mod tape;

/// Reply of a client whose command meets a script that ran past the threshold.
pub const BUSY: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// The same while a function (FCALL) runs.
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
/// How long a library's code may run at FUNCTION LOAD.
const LOAD_TIMEOUT: Duration = Duration::from_millis(500);
/// A script runs on the worker thread that received it. Once it has run this long, the worker's
/// other duties are handed to another thread ([`hand_off`]), so a long script cannot hold up the
/// clients that worker serves (SCRIPT KILL, SHUTDOWN NOSAVE) — most scripts end long before.
const HAND_OFF_AFTER: Duration = Duration::from_millis(1);
/// Interval of further hand-off attempts while the script goes on (an attempt can lose a race).
const HAND_OFF_AGAIN: Duration = Duration::from_millis(50);

/// Function flags (`redis.register_function{flags = ...}`), in Redis's order.
pub const FUNCTION_FLAGS: [&str; 5] = [
    "no-writes",
    "allow-oom",
    "allow-stale",
    "no-cluster",
    "allow-cross-slot-keys",
];
/// Bit of `no-writes` in a function's flags.
const NO_WRITES: u32 = 1;
/// Bit of `allow-oom` in a function's flags.
const ALLOW_OOM: u32 = 1 << 1;
/// Bit of `no-cluster` in a function's flags.
const NO_CLUSTER: u32 = 1 << 3;
/// Bit of `allow-cross-slot-keys` in a function's flags.
const ALLOW_CROSS_SLOT: u32 = 1 << 4;
/// Error of a script ended by SCRIPT KILL.
const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";
/// Text of the Rust error a library function (`redis.setresp`, `redis.log` ...) raises for a
/// failure whose `{err = ...}` table waits in the registry (`redis.call` raises its table itself).
const CALL_FAILED: &str = "\u{1}redis.call failed";
/// Registry slot of that table.
const PENDING: &str = "redlink.pending_error";
/// Nesting deeper than this in a reply (or a self-referencing table) is refused.
const MAX_DEPTH: usize = 256;
/// Runs between two collection steps (Redis's `LUA_GC_CYCLE_PERIOD`), each of that many KB.
const GC_STEP_EVERY: u32 = 50;
/// Smallest cap of a Lua state's heap (when `maxmemory` is smaller).
const LUA_CAP_FLOOR: u64 = 64 << 20;
/// Largest cap of a Lua state's heap, and the cap without `maxmemory`.
const LUA_CAP_CEILING: u64 = 1 << 30;
/// A run that grows the heap by more than this is followed by a full collection (scripts rarely
/// leave more; the incremental collector alone would hold on to a large garbage string for a
/// while, and Lua 5.1 has no emergency collection when an allocation meets the cap).
const GC_AFTER: usize = 8 << 20;

/// The most memory one Lua state (the EVAL state, or the functions' state) may hold: `maxmemory`,
/// kept between 64 MiB and 1 GiB; 1 GiB without `maxmemory`. Redis 7.0 has no such cap (its Lua
/// fails only when `malloc` does, or the kernel kills it); here an allocation past the cap fails
/// the script with `not enough memory`, and the server goes on. 1 GiB is twice the largest string
/// Redis stores (`proto-max-bulk-len`), so legitimate scripts do not meet it.
pub fn lua_memory_cap(maxmemory: u64) -> usize {
    let cap = if maxmemory == 0 {
        LUA_CAP_CEILING
    } else {
        maxmemory.clamp(LUA_CAP_FLOOR, LUA_CAP_CEILING)
    };
    usize::try_from(cap).unwrap_or(usize::MAX)
}

/// Run Lua code with the heap cap on. Why only then: while a memory limit is set, mlua runs every
/// API call (creating a string, a table, a callback) in protected mode, a `lua_pcall` each, which
/// cost EVAL 10-30% of its throughput. The cap is on while the script's own code runs, off in the
/// Rust code around it and in `redis.call` (whose allocations are bounded by the reply).
fn capped<R>(lua: &Lua, limit: usize, f: impl FnOnce() -> R) -> R {
    let _ = lua.set_memory_limit(limit);
    let r = f();
    let _ = lua.set_memory_limit(0);
    r
}

/// The heap cap off for the life of a `redis.call` (restored when it returns, however it returns).
struct Uncapped<'a> {
    lua: &'a Lua,
    limit: usize,
}

impl<'a> Uncapped<'a> {
    fn new(lua: &'a Lua, limit: usize) -> Self {
        let _ = lua.set_memory_limit(0);
        Uncapped { lua, limit }
    }
}

impl Drop for Uncapped<'_> {
    fn drop(&mut self) {
        let _ = self.lua.set_memory_limit(self.limit);
    }
}

/// A Lua state's heap as last reported to [`crate::alloc::lua_add`].
#[derive(Debug, Default)]
struct MemTrack(AtomicUsize);

impl MemTrack {
    /// Report the state's current heap size.
    fn sync(&self, lua: &Lua) {
        self.sync_to(lua.used_memory());
    }

    /// Report a heap size just read from the state.
    fn sync_to(&self, now: usize) {
        let before = self.0.swap(now, Ordering::Relaxed);
        crate::alloc::lua_add(now as isize - before as isize);
    }

    /// The state is gone.
    fn release(&self) {
        let before = self.0.swap(0, Ordering::Relaxed);
        crate::alloc::lua_add(-(before as isize));
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed) as u64
    }
}

/// Flags that the Lua hook reads while a script runs.
#[derive(Debug)]
struct Flags {
    /// SCRIPT KILL (or SHUTDOWN) asked the running script to stop.
    kill: AtomicBool,
    /// The protocol `redis.setresp` chose for the running script (2 or 3).
    resp: std::sync::atomic::AtomicI64,
    /// Deadline of the FUNCTION LOAD in progress.
    load_deadline: Mutex<Option<Instant>>,
    /// The FUNCTION LOAD in progress ran past its deadline.
    load_timed_out: AtomicBool,
    /// Cap of each Lua state's heap ([`lua_memory_cap`]), from the last `maxmemory` seen.
    mem_limit: AtomicUsize,
    /// When (ns after `epoch`) the running script's worker is next handed off; 0 = not running.
    hand_off_at: AtomicU64,
    /// Reference point of `hand_off_at`.
    epoch: Instant,
    /// The state of `math.random` (Redis's `redisLrand48`, a 48-bit LCG shared by every script
    /// of the server and never reset by SCRIPT FLUSH).
    rand48: AtomicU64,
}

impl Flags {
    fn elapsed_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// `redisLrand48`: the next 31-bit value.
    fn lrand48(&self) -> i64 {
        let step = |x: u64| (x.wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB)) & ((1 << 48) - 1);
        let mut x = self.rand48.load(Ordering::Relaxed);
        loop {
            match self.rand48.compare_exchange_weak(
                x,
                step(x),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return (step(x) >> 17) as i64,
                Err(now) => x = now,
            }
        }
    }
}

/// `f` behind a C function that calls it with its arguments and returns what it returns: the
/// prelude's Lua wrappers of Lua's C functions (`rawset`, `pcall`, `table.insert` ...) are
/// reached through it, so a script that tail-calls one keeps its own frame (a tail call replaces
/// the caller's frame only when the callee is a Lua function), as with Redis's C functions.
fn through(lua: &Lua, f: Function) -> mlua::Result<Function> {
    use mlua::ffi;
    lua.exec_raw_lua(|raw| {
        let state = raw.state();
        // SAFETY: room for the function and the closure is checked; the closure is popped as a
        // handle right away (stack balanced).
        unsafe {
            if ffi::lua_checkstack(state, 2) == 0 {
                return Err(mlua::Error::StackError);
            }
            raw.push(&f)?;
            ffi::lua_pushcclosure(state, lua_through, 1);
            match raw.pop_value() {
                Value::Function(f) => Ok(f),
                _ => Err(mlua::Error::RuntimeError("not a function".into())),
            }
        }
    })
}

unsafe extern "C-unwind" fn lua_through(state: *mut mlua::ffi::lua_State) -> std::ffi::c_int {
    use mlua::ffi;
    // SAFETY: called by Lua as the closure made in `through`, its upvalue the Lua function. No
    // Rust value lives in this frame, so an error unwinding through `lua_call` (a longjmp) skips
    // nothing that needs dropping.
    unsafe {
        let n = ffi::lua_gettop(state);
        ffi::luaL_checkstack(state, 1, std::ptr::null());
        ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
        ffi::lua_insert(state, 1);
        ffi::lua_call(state, n, ffi::LUA_MULTRET);
        ffi::lua_gettop(state)
    }
}

/// `redisLrand48`'s state before any `math.randomseed` (rand.c's X2:X1:X0).
const RAND48_UNSEEDED: u64 = 0x1234_ABCD_330E;

/// `luaL_checkint`: argument `i` (1-based) as a C int.
fn check_int(lua: &Lua, args: &MultiValue, i: usize) -> mlua::Result<i32> {
    Ok(c_long_long(libargs::check_number(lua, i as i32, args.get(i - 1))?) as i32)
}

impl Default for Flags {
    fn default() -> Self {
        Flags {
            kill: AtomicBool::new(false),
            resp: std::sync::atomic::AtomicI64::new(2),
            load_deadline: Mutex::new(None),
            load_timed_out: AtomicBool::new(false),
            mem_limit: AtomicUsize::new(lua_memory_cap(0)),
            hand_off_at: AtomicU64::new(0),
            epoch: Instant::now(),
            rand48: AtomicU64::new(RAND48_UNSEEDED),
        }
    }
}

/// A function registered by a library.
struct Func {
    name: String,
    description: Option<Vec<u8>>,
    /// Bits of [`FUNCTION_FLAGS`].
    flags: u32,
    callback: Function,
}

/// A library loaded by FUNCTION LOAD.
struct Library {
    /// The whole code as given (shebang included), for LIST WITHCODE and DUMP.
    code: Arc<[u8]>,
    functions: Vec<Func>,
}

/// The Lua states and the libraries, behind one lock (scripts and functions run one at a time).
#[derive(Default)]
struct States {
    /// The state of EVAL scripts.
    eval: Option<Vm>,
    /// The state of functions (its callbacks are referenced from `libs`).
    func: Option<Vm>,
    /// Libraries by name.
    libs: BTreeMap<String, Library>,
    /// Library of each function, by the function's name in lower case: Redis 7.0 matches
    /// function names without regard to case (FCALL, and the "already exists" check).
    index: HashMap<String, String>,
}

/// What FUNCTION STATS shows of the running script or function.
#[derive(Debug, Clone)]
struct Running {
    name: String,
    command: Vec<Vec<u8>>,
    started: Instant,
}

/// Engine-wide scripting state.
pub struct Scripting {
    /// The Lua states, also the lock that makes scripts run one at a time.
    vm: Mutex<States>,
    /// Number of libraries and of functions (FUNCTION STATS answers while a script runs).
    lib_count: AtomicUsize,
    fn_count: AtomicUsize,
    /// The running script or function (FUNCTION STATS).
    current: Mutex<Option<Running>>,
    /// The running script is a function (FCALL): BUSY and KILL texts differ.
    function_mode: AtomicBool,
    /// Script bodies by lower-case SHA1 hex.
    cache: Mutex<HashMap<String, Arc<[u8]>>>,
    flags: Arc<Flags>,
    /// Heap of the EVAL state and of the functions' state.
    eval_mem: Arc<MemTrack>,
    func_mem: Arc<MemTrack>,
    /// Notified when a script ends (connections waiting for it re-check `owner`).
    idle: tokio::sync::Notify,
    /// Client id of the running script's caller (0 = none).
    owner: AtomicU64,
    /// When the running script started (engine-relative ms).
    started_ms: AtomicU64,
    /// The running script already called a write command (SCRIPT KILL refuses).
    wrote: AtomicBool,
    /// Cluster mode: the hash slot the running script's keys must share (-1: not known yet, the
    /// first key accessed sets it; -2: any, `allow-cross-slot-keys` or a script without shebang).
    cluster_slot: std::sync::atomic::AtomicI32,
    /// Redis's `scriptVerifyOOM` for the running script: memory was over `maxmemory` when it
    /// started and it has no `allow-oom` flag, so its first `denyoom` call (before any write) fails.
    oom_refuses: AtomicBool,
    /// `DEBUG SET-DISABLE-DENY-SCRIPTS`: scripts may call `noscript` commands (Redis's
    /// `script_disable_deny_script`, a test hook).
    pub deny_disabled: AtomicBool,
    /// Reference point of `started_ms`.
    epoch: std::time::Instant,
    /// `busy-reply-threshold` in ms.
    pub busy_threshold_ms: AtomicU64,
}

impl Default for Scripting {
    fn default() -> Self {
        Scripting {
            vm: Mutex::new(States::default()),
            lib_count: AtomicUsize::new(0),
            fn_count: AtomicUsize::new(0),
            current: Mutex::new(None),
            function_mode: AtomicBool::new(false),
            cache: Mutex::new(HashMap::new()),
            flags: Arc::default(),
            eval_mem: Arc::default(),
            func_mem: Arc::default(),
            idle: tokio::sync::Notify::new(),
            owner: AtomicU64::new(0),
            started_ms: AtomicU64::new(0),
            wrote: AtomicBool::new(false),
            cluster_slot: std::sync::atomic::AtomicI32::new(-1),
            oom_refuses: AtomicBool::new(false),
            deny_disabled: AtomicBool::new(false),
            epoch: std::time::Instant::now(),
            busy_threshold_ms: AtomicU64::new(5000),
        }
    }
}

impl std::fmt::Debug for Scripting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scripting")
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

/// What a client should do with its next command while a script may be running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusyCheck {
    /// No script of another client runs: go on.
    Free,
    /// Another client's script runs, still under the threshold: wait (at most this long).
    Wait(Duration),
    /// Another client's script ran past the threshold: reply BUSY.
    Busy,
}

/// The reply to EVALSHA of a script that is not cached.
pub const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// Which script EVAL or EVALSHA runs.
#[derive(Debug, Clone, Copy)]
pub enum Script<'a> {
    /// EVAL: the body.
    Body(&'a [u8]),
    /// EVALSHA: the SHA1 as the client sent it.
    Sha(&'a [u8]),
}

/// The cache key of an EVALSHA argument (lower-case hex), if it has a SHA1's length.
fn sha_key(sha: &[u8]) -> Option<String> {
    (sha.len() == 40).then(|| String::from_utf8_lossy(sha).to_ascii_lowercase())
}

/// Lower-case hex SHA1 of a script body.
pub fn sha1_hex(body: &[u8]) -> String {
    // Written out by hand: `Digest`'s `Display` (a formatter call per word) cost as much as the
    // hashing itself for a short script.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = sha1_smol::Sha1::from(body).digest().bytes();
    let mut hex = String::with_capacity(40);
    for b in digest {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 15)]));
    }
    hex
}

impl Scripting {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Whether client `id` may run its next command now. One atomic load when no script runs.
    #[inline]
    pub fn check(&self, id: u64) -> BusyCheck {
        let owner = self.owner.load(Ordering::Acquire);
        if owner == 0 || owner == id {
            return BusyCheck::Free;
        }
        let elapsed = self
            .now_ms()
            .saturating_sub(self.started_ms.load(Ordering::Acquire));
        let limit = self.busy_threshold_ms.load(Ordering::Relaxed);
        if elapsed >= limit {
            BusyCheck::Busy
        } else {
            BusyCheck::Wait(Duration::from_millis(limit - elapsed + 1))
        }
    }

    /// Spin a few microseconds while another client's script runs (on another thread): most
    /// scripts end that fast, and waiting asynchronously instead costs the connection a flush,
    /// a park and a wake-up. Whether the way is free now (else wait with [`wait_idle`](Self::wait_idle)).
    pub fn spin_until_free(&self, id: u64) -> bool {
        const SPIN: Duration = Duration::from_micros(20);
        let started = Instant::now();
        loop {
            for _ in 0..64 {
                std::hint::spin_loop();
                let owner = self.owner.load(Ordering::Acquire);
                if owner == 0 || owner == id {
                    return true;
                }
            }
            if started.elapsed() >= SPIN {
                return false;
            }
        }
    }

    /// Wait until no script runs, or `max` passes.
    pub async fn wait_idle(&self, max: Option<Duration>) {
        let wait = async {
            loop {
                let ended = self.idle.notified();
                tokio::pin!(ended);
                // Registered before the check: an end between the two is not missed.
                ended.as_mut().enable();
                if self.owner.load(Ordering::Acquire) == 0 {
                    return;
                }
                ended.await;
            }
        };
        match max {
            Some(max) => {
                let _ = tokio::time::timeout(max, wait).await;
            }
            None => {
                let _ = wait.await;
            }
        }
    }

    /// The BUSY reply for other clients while a script runs.
    pub fn busy_text(&self) -> &'static str {
        if self.function_mode.load(Ordering::Acquire) {
            BUSY_FUNCTION
        } else {
            BUSY
        }
    }

    /// SCRIPT KILL (`is_eval`) or FUNCTION KILL.
    pub fn kill(&self, is_eval: bool) -> Result<(), Error> {
        if self.owner.load(Ordering::Acquire) == 0 {
            return Err(Error::from("NOTBUSY No scripts in execution right now."));
        }
        if self.wrote.load(Ordering::Acquire) {
            return Err(Error::from(
                "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
            ));
        }
        let function = self.function_mode.load(Ordering::Acquire);
        if is_eval && function {
            return Err(Error::from(BUSY_FUNCTION));
        }
        if !is_eval && !function {
            return Err(Error::from(BUSY));
        }
        self.flags.kill.store(true, Ordering::Release);
        Ok(())
    }

    /// SHUTDOWN: stop a running script whatever it did.
    pub fn abort(&self) {
        if self.owner.load(Ordering::Acquire) != 0 {
            self.flags.kill.store(true, Ordering::Release);
        }
    }

    /// The body of a cached script.
    pub fn get(&self, sha: &str) -> Option<Arc<[u8]>> {
        self.cache.lock().get(sha).cloned()
    }

    /// Whether a script is cached.
    pub fn exists(&self, sha: &[u8]) -> bool {
        let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
        self.cache.lock().contains_key(&sha)
    }

    /// Number of cached scripts.
    pub fn cached(&self) -> usize {
        self.cache.lock().len()
    }

    /// SCRIPT FLUSH: forget every script and start a fresh Lua state.
    pub fn flush(&self) -> Result<(), Error> {
        let mut states = self.lock_vm()?;
        self.cache.lock().clear();
        states.eval = None;
        Ok(())
    }

    fn lock_vm(&self) -> Result<parking_lot::MutexGuard<'_, States>, Error> {
        let limit = self.busy_threshold_ms.load(Ordering::Relaxed).max(1);
        self.vm
            .try_lock_for(Duration::from_millis(limit))
            .ok_or_else(|| Error::from(self.busy_text()))
    }

    /// Follow `maxmemory` (bytes, 0 = none): the cap of the Lua heaps ([`lua_memory_cap`]) applies
    /// from the next script, load or function on.
    pub fn note_maxmemory(&self, maxmemory: u64) {
        self.flags
            .mem_limit
            .store(lua_memory_cap(maxmemory), Ordering::Relaxed);
    }

    /// Heap of the EVAL state in bytes (INFO `used_memory_vm_eval`, `used_memory_lua`).
    pub fn eval_memory(&self) -> u64 {
        self.eval_mem.get()
    }

    /// Heap of the functions' state in bytes (INFO `used_memory_vm_functions`).
    pub fn functions_memory(&self) -> u64 {
        self.func_mem.get()
    }

    /// Bytes of the cached script bodies (INFO `used_memory_scripts_eval`).
    pub fn cached_bytes(&self) -> u64 {
        self.cache.lock().values().map(|b| b.len() as u64).sum()
    }

    /// Number of libraries loaded (INFO `number_of_libraries`).
    pub fn library_count(&self) -> usize {
        self.lib_count.load(Ordering::Acquire)
    }

    /// Whether `client` is running a script or function right now (a command it runs is one its
    /// script called: Redis's `CLIENT_SCRIPT`).
    pub fn runs_for(&self, client: &crate::client::Client) -> bool {
        self.owner.load(Ordering::Acquire) == client.handle.id
    }

    /// SCRIPT LOAD: compile and cache; returns the SHA1.
    pub fn load(&self, body: &[u8]) -> Result<String, Error> {
        let mut guard = self.lock_vm()?;
        let vm = vm_of(&mut guard.eval, &self.flags, &self.eval_mem)?;
        let sha = sha1_hex(body);
        vm.prepare();
        let compiled = vm.function(&sha, body);
        vm.settle();
        compiled?;
        self.cache.lock().insert(sha.clone(), Arc::from(body));
        Ok(sha)
    }

    /// Cluster mode before a script runs: `no-cluster` refuses it; otherwise the slot its keys
    /// must share is the declared keys' (checked by the dispatcher), or unknown yet.
    fn enter_cluster_mode(
        &self,
        ctx: &Ctx,
        keys: &[&[u8]],
        no_cluster: bool,
        cross_slot: bool,
    ) -> Result<(), Error> {
        if ctx.engine.cluster.get().is_none() {
            return Ok(());
        }
        if no_cluster {
            return Err(Error::from(
                "ERR Can not run script on cluster, 'no-cluster' flag is set.",
            ));
        }
        let slot = match keys.first() {
            _ if cross_slot => -2,
            Some(k) => crate::cluster::key_slot(k) as i32,
            None => -1,
        };
        self.cluster_slot.store(slot, Ordering::Release);
        Ok(())
    }

    /// Run a script: EVAL (`script` is the body) or EVALSHA (`script` is the SHA1, any case).
    pub fn eval(
        &self,
        ctx: &mut Ctx,
        script: Script,
        keys: &[&[u8]],
        argv: &[&[u8]],
        read_only: bool,
        command: &[&[u8]],
    ) -> Result<(), Error> {
        self.note_maxmemory(ctx.engine.hot.maxmemory.load(Ordering::Relaxed));
        let mut guard = self.lock_vm()?;
        let vm = vm_of(&mut guard.eval, &self.flags, &self.eval_mem)?;
        // A script compiled in this state is cached already (SCRIPT FLUSH drops both).
        let known = match script {
            Script::Body(body) => vm.by_body.get(body).cloned(),
            Script::Sha(sha) => {
                let sha = sha_key(sha).ok_or(Error::from(NOSCRIPT))?;
                let body = self.get(&sha).ok_or(Error::from(NOSCRIPT))?;
                match vm.by_body.get(&body[..]) {
                    Some(c) => Some(c.clone()),
                    None => Some(self.compile_into(vm, &sha, &body)?),
                }
            }
        };
        let script = match known {
            Some(c) => c,
            None => {
                let Script::Body(body) = script else {
                    return Err(Error::from(NOSCRIPT));
                };
                self.compile_into(vm, &sha1_hex(body), body)?
            }
        };
        let read_only = read_only || script.no_writes;
        self.enter_cluster_mode(ctx, keys, script.no_cluster, script.cross_slot)?;
        // A script with flags is `denyoom` unless it declares `no-writes` or `allow-oom`
        // (Redis's scriptFlagsToCmdFlags); one without a shebang is judged call by call.
        if script.shebang && !script.no_writes && !script.allow_oom && over_maxmemory(ctx.engine) {
            return Err(Error::from(crate::evict::OOM));
        }
        // A shebang script that may write is refused up front under `min-replicas-to-write`, as
        // Redis refuses any write command (a compatibility-mode script fails at its first write).
        if !read_only
            && script.shebang
            && ctx.engine.hot.min_replicas_to_write.load(Ordering::Relaxed) != 0
        {
            return Err(Error::msg(crate::commands::NOREPLICAS));
        }
        let call = Call {
            func: &script.func,
            keys,
            argv,
            read_only,
            allow_oom: script.shebang && script.allow_oom,
            name: &script.sha,
            as_function: false,
            command,
        };
        self.execute(ctx, vm, call)
    }

    /// Compile a script into the EVAL state and the script cache.
    fn compile_into(&self, vm: &mut Vm, sha: &str, body: &[u8]) -> Result<Compiled, Error> {
        vm.prepare();
        let compiled = vm.compile(sha, body);
        vm.settle();
        let compiled = compiled?;
        self.cache
            .lock()
            .entry(sha.to_string())
            .or_insert_with(|| Arc::from(body));
        Ok(compiled)
    }

    /// Run a script or function on `vm` (the state lock is held by the caller).
    fn execute(&self, ctx: &mut Ctx, vm: &mut Vm, call: Call) -> Result<(), Error> {
        let Call {
            func,
            keys,
            argv,
            read_only,
            allow_oom,
            name,
            as_function,
            command,
        } = call;
        // Only FUNCTION STATS reads it, and it answers BUSY while an EVAL script runs.
        if as_function {
            *self.current.lock() = Some(Running {
                name: name.to_string(),
                command: command.iter().map(|a| a.to_vec()).collect(),
                started: Instant::now(),
            });
        }
        self.function_mode.store(as_function, Ordering::Release);
        // Marked running before taking the gate: from now on other clients wait asynchronously.
        self.flags.kill.store(false, Ordering::Release);
        self.wrote.store(false, Ordering::Release);
        // Redis's `pre_command_oom_state`: the command's own eviction attempt left memory over
        // the limit (a master client's stream is obeyed whatever the memory).
        let oom = !allow_oom
            && over_maxmemory(ctx.engine)
            && ctx.client.handle.kind.load(Ordering::Relaxed) != crate::client::kind::MASTER;
        self.oom_refuses.store(oom, Ordering::Release);
        // One clock read for the start (SCRIPT KILL's busy time) and the hand-off's due time.
        let started = Instant::now();
        let started_ms = started.saturating_duration_since(self.epoch).as_millis() as u64;
        self.started_ms.store(started_ms, Ordering::Release);
        self.owner.store(ctx.client.handle.id, Ordering::Release);
        // However the run ends (a result, an error, a panic unwinding out of a command), nobody
        // is left answered BUSY or waiting for a script that no longer runs.
        let _running = RunningGuard(self);
        let _gate = ctx.exclusive();
        let was = std::mem::replace(&mut ctx.in_exec, true);
        let db = ctx.client.db;
        vm.prepare();
        // The script runs right here, on the worker thread that read the command: no thread
        // hand-off for the short scripts that are nearly all of them (a `block_in_place` per
        // call cost EVAL more than half its throughput). One that runs past `HAND_OFF_AFTER`
        // hands this worker's other tasks to another thread from the Lua hook ([`hand_off`]).
        let hand_off_at = started
            .saturating_duration_since(self.flags.epoch)
            .as_nanos() as u64
            + HAND_OFF_AFTER.as_nanos() as u64;
        self.flags.hand_off_at.store(hand_off_at, Ordering::Relaxed);
        let r = vm.run(self, ctx, func, keys, argv, read_only, name, as_function);
        self.flags.hand_off_at.store(0, Ordering::Relaxed);
        // Still under the gate: eviction sees the heap's final size.
        vm.settle();
        ctx.client.db = db;
        ctx.in_exec = was;
        r
    }
}

/// Hand the current tokio worker's duties (its queued tasks, the I/O driver) to another thread
/// while the script goes on running on this one: a `block_in_place` around nothing but a short
/// pause, long enough for the new thread to take the worker over (if it has not, the worker
/// stays here and the hook tries again `HAND_OFF_AGAIN` later). Either way the task tokio keeps
/// in the worker's unstealable LIFO slot moves to its stealable queue. Outside a multi-thread
/// runtime (a current-thread runtime, a plain thread) there is nothing to hand off.
fn hand_off() {
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi_thread {
        tokio::task::block_in_place(|| std::thread::sleep(Duration::from_micros(200)));
    }
}

/// Marks the end of a script run when dropped: no owner, nothing running, no pending kill.
struct RunningGuard<'a>(&'a Scripting);

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        let s = self.0;
        s.owner.store(0, Ordering::Release);
        if s.function_mode.load(Ordering::Relaxed) {
            *s.current.lock() = None;
        }
        s.idle.notify_waiters();
        s.flags.kill.store(false, Ordering::Release);
    }
}

/// One run of a script or function.
struct Call<'a> {
    func: &'a Function,
    keys: &'a [&'a [u8]],
    argv: &'a [&'a [u8]],
    read_only: bool,
    /// `allow-oom` (a function's or a shebang script's flag).
    allow_oom: bool,
    /// The script's SHA1 or the function's name (error texts, FUNCTION STATS).
    name: &'a str,
    /// Called as `f(keys, args)` rather than with KEYS/ARGV globals.
    as_function: bool,
    /// The client's command (FUNCTION STATS).
    command: &'a [&'a [u8]],
}

/// A library's name from its shebang (`#!lua name=<lib>`), with Redis 7.0's texts: the line is
/// split like `sdssplitargs` (so `name="foo"` is `foo`), the first word is `#!` and the engine.
fn library_name(code: &[u8]) -> Result<String, Error> {
    if !code.starts_with(b"#!") {
        return Err(Error::from("ERR Missing library metadata"));
    }
    let Some(line_end) = code.iter().position(|&b| b == b'\n') else {
        return Err(Error::from("ERR Invalid library metadata"));
    };
    let parts = match crate::protocol::split_args(&code[..line_end]) {
        Some(p) if !p.is_empty() => p,
        _ => return Err(Error::from("ERR Invalid library metadata")),
    };
    let engine = String::from_utf8_lossy(parts[0].get(2..).unwrap_or_default()).into_owned();
    let mut name = None;
    for p in &parts[1..] {
        let is_name = p.len() >= 5 && p[..5].eq_ignore_ascii_case(b"name=");
        if !is_name {
            return Err(Error::msg(format!(
                "ERR Invalid metadata value given: {}",
                String::from_utf8_lossy(p)
            )));
        }
        if name.is_some() {
            return Err(Error::from(
                "ERR Invalid metadata value, name argument was given multiple times",
            ));
        }
        name = Some(String::from_utf8_lossy(&p[5..]).into_owned());
    }
    let Some(name) = name else {
        return Err(Error::from("ERR Library name was not given"));
    };
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(Error::from(
            "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long",
        ));
    }
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(Error::msg(format!("ERR Engine '{engine}' not found")));
    }
    Ok(name)
}

/// Whether memory is over `maxmemory` (after the command's own eviction attempt, so Redis's
/// `pre_command_oom_state` when a script starts).
fn over_maxmemory(engine: &crate::Engine) -> bool {
    let max = engine.hot.maxmemory.load(Ordering::Relaxed);
    max != 0 && crate::alloc::used_memory() > max
}

/// Key of a function in [`States::index`]: its name in lower case.
fn fn_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// What FUNCTION RESTORE does with the libraries already loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestorePolicy {
    /// Delete them all first.
    Flush,
    /// Keep them; a library of the same name is an error (the default).
    Append,
    /// Keep them, but libraries of the same name are replaced.
    Replace,
}

/// Options of FUNCTION LIST.
#[derive(Debug, Default)]
pub struct ListOptions<'a> {
    /// LIBRARYNAME pattern.
    pub pattern: Option<&'a [u8]>,
    /// WITHCODE.
    pub with_code: bool,
}

impl Scripting {
    fn count_libraries(&self, states: &States) {
        self.lib_count.store(states.libs.len(), Ordering::Release);
        self.fn_count.store(states.index.len(), Ordering::Release);
    }

    /// Number of functions loaded (INFO memory).
    pub fn function_count(&self) -> usize {
        self.fn_count.load(Ordering::Acquire)
    }

    /// `FUNCTION LOAD [REPLACE]`: returns the library's name.
    pub fn function_load(&self, code: &[u8], replace: bool) -> Result<String, Error> {
        let name = library_name(code)?;
        let mut guard = self.lock_vm()?;
        let states = &mut *guard;
        if states.libs.contains_key(&name) && !replace {
            return Err(Error::msg(format!("ERR Library '{name}' already exists")));
        }
        let vm = vm_of(&mut states.func, &self.flags, &self.func_mem)?;
        vm.prepare();
        let loaded = vm.load_library(&self.flags, code);
        vm.settle();
        let mut functions = loaded?;
        // FUNCTION LIST shows them in name order (Redis: its dict's order).
        functions.sort_by(|a, b| a.name.cmp(&b.name));
        if functions.is_empty() {
            return Err(Error::from("ERR No functions registered"));
        }
        for f in &functions {
            if states
                .index
                .get(&fn_key(&f.name))
                .is_some_and(|lib| *lib != name)
            {
                return Err(Error::msg(format!(
                    "ERR Function {} already exists",
                    f.name
                )));
            }
        }
        if let Some(old) = states.libs.remove(&name) {
            for f in old.functions {
                states.index.remove(&fn_key(&f.name));
            }
        }
        for f in &functions {
            states.index.insert(fn_key(&f.name), name.clone());
        }
        states.libs.insert(
            name.clone(),
            Library {
                code: Arc::from(code),
                functions,
            },
        );
        self.count_libraries(states);
        Ok(name)
    }

    /// FUNCTION RESTORE: all the payload's libraries or nothing.
    pub fn function_restore(&self, payload: &[u8], policy: RestorePolicy) -> Result<(), Error> {
        let codes = crate::rdb::restore_functions(payload).map_err(Error::from)?;
        let mut guard = self.lock_vm()?;
        let states = &mut *guard;
        let mut new: Vec<(String, Library)> = Vec::new();
        for code in codes {
            let name = library_name(&code)?;
            if new.iter().any(|(n, _)| *n == name) {
                return Err(Error::msg(format!("ERR Library '{name}' already exists")));
            }
            let vm = vm_of(&mut states.func, &self.flags, &self.func_mem)?;
            vm.prepare();
            let loaded = vm.load_library(&self.flags, &code);
            vm.settle();
            let mut functions = loaded?;
            if functions.is_empty() {
                return Err(Error::from("ERR No functions registered"));
            }
            functions.sort_by(|a, b| a.name.cmp(&b.name));
            new.push((
                name,
                Library {
                    code: Arc::from(code),
                    functions,
                },
            ));
        }
        // The libraries that stay beside the restored ones.
        let stays = |lib: &str| match policy {
            RestorePolicy::Flush => false,
            RestorePolicy::Append => true,
            RestorePolicy::Replace => !new.iter().any(|(n, _)| n == lib),
        };
        if policy == RestorePolicy::Append
            && let Some((name, _)) = new.iter().find(|(n, _)| states.libs.contains_key(n))
        {
            return Err(Error::msg(format!("ERR Library {name} already exists")));
        }
        let mut seen: HashMap<String, ()> = HashMap::new();
        for (_, lib) in &new {
            for f in &lib.functions {
                let key = fn_key(&f.name);
                let taken = states.index.get(&key).is_some_and(|l| stays(l));
                if taken || seen.insert(key, ()).is_some() {
                    return Err(Error::msg(format!(
                        "ERR Function {} already exists",
                        f.name
                    )));
                }
            }
        }
        let gone: Vec<String> = states.libs.keys().filter(|l| !stays(l)).cloned().collect();
        for name in gone {
            if let Some(old) = states.libs.remove(&name) {
                for f in old.functions {
                    states.index.remove(&fn_key(&f.name));
                }
            }
        }
        for (name, lib) in new {
            for f in &lib.functions {
                states.index.insert(fn_key(&f.name), name.clone());
            }
            states.libs.insert(name, lib);
        }
        self.count_libraries(states);
        Ok(())
    }

    /// FUNCTION DELETE.
    pub fn function_delete(&self, name: &[u8]) -> Result<(), Error> {
        let mut guard = self.lock_vm()?;
        let states = &mut *guard;
        let name = String::from_utf8_lossy(name);
        let lib = states
            .libs
            .remove(name.as_ref())
            .ok_or(Error::from("ERR Library not found"))?;
        for f in lib.functions {
            states.index.remove(&fn_key(&f.name));
        }
        self.count_libraries(states);
        Ok(())
    }

    /// FUNCTION FLUSH: forget every library and start a fresh Lua state for functions.
    pub fn function_flush(&self) -> Result<(), Error> {
        let mut guard = self.lock_vm()?;
        let states = &mut *guard;
        states.libs.clear();
        states.index.clear();
        states.func = None;
        self.count_libraries(states);
        Ok(())
    }

    /// The code of every library (FUNCTION DUMP), in name order.
    pub fn function_codes(&self) -> Result<Vec<Arc<[u8]>>, Error> {
        let guard = self.lock_vm()?;
        Ok(guard.libs.values().map(|l| l.code.clone()).collect())
    }

    /// FUNCTION LIST.
    pub fn function_list(&self, out: &mut Out, opts: &ListOptions) -> Result<(), Error> {
        let guard = self.lock_vm()?;
        let libs: Vec<(&String, &Library)> = guard
            .libs
            .iter()
            .filter(|(name, _)| {
                // Matched without regard to case, like Redis.
                opts.pattern.is_none_or(|p| {
                    crate::glob::matches(
                        &p.to_ascii_lowercase(),
                        name.to_ascii_lowercase().as_bytes(),
                    )
                })
            })
            .collect();
        out.array(libs.len());
        for (name, lib) in libs {
            out.map(if opts.with_code { 4 } else { 3 });
            out.bulk(b"library_name");
            out.bulk(name.as_bytes());
            out.bulk(b"engine");
            out.bulk(b"LUA");
            out.bulk(b"functions");
            out.array(lib.functions.len());
            for f in &lib.functions {
                out.map(3);
                out.bulk(b"name");
                out.bulk(f.name.as_bytes());
                out.bulk(b"description");
                match &f.description {
                    Some(d) => out.bulk(d),
                    None => out.null(),
                }
                out.bulk(b"flags");
                let names: Vec<&str> = FUNCTION_FLAGS
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| f.flags & (1 << i) != 0)
                    .map(|(_, n)| *n)
                    .collect();
                out.set(names.len());
                for n in names {
                    out.bulk(n.as_bytes());
                }
            }
            if opts.with_code {
                out.bulk(b"library_code");
                out.bulk(&lib.code);
            }
        }
        Ok(())
    }

    /// FUNCTION STATS (answers while a function runs: it does not take the state lock; while
    /// an EVAL script runs it is BUSY, like Redis).
    pub fn function_stats(&self, out: &mut Out) -> Result<(), Error> {
        if self.owner.load(Ordering::Acquire) != 0 && !self.function_mode.load(Ordering::Acquire) {
            return Err(Error::from(BUSY));
        }
        out.map(2);
        out.bulk(b"running_script");
        match self.current.lock().clone() {
            None => out.null(),
            Some(r) => {
                out.map(3);
                out.bulk(b"name");
                out.bulk(r.name.as_bytes());
                out.bulk(b"command");
                out.array(r.command.len());
                for a in &r.command {
                    out.bulk(a);
                }
                out.bulk(b"duration_ms");
                out.int(r.started.elapsed().as_millis() as i64);
            }
        }
        out.bulk(b"engines");
        out.map(1);
        out.bulk(b"LUA");
        out.map(2);
        out.bulk(b"libraries_count");
        out.int(self.lib_count.load(Ordering::Acquire) as i64);
        out.bulk(b"functions_count");
        out.int(self.fn_count.load(Ordering::Acquire) as i64);
        Ok(())
    }

    /// FCALL / FCALL_RO.
    pub fn fcall(
        &self,
        ctx: &mut Ctx,
        name: &[u8],
        keys: &[&[u8]],
        argv: &[&[u8]],
        read_only: bool,
        command: &[&[u8]],
    ) -> Result<(), Error> {
        self.note_maxmemory(ctx.engine.hot.maxmemory.load(Ordering::Relaxed));
        let mut guard = self.lock_vm()?;
        let states = &mut *guard;
        let name = String::from_utf8_lossy(name).into_owned();
        let func = states
            .index
            .get(&fn_key(&name))
            .and_then(|lib| states.libs.get(lib))
            .and_then(|lib| {
                let exact = lib.functions.iter().find(|f| f.name == name);
                exact.or_else(|| {
                    lib.functions
                        .iter()
                        .find(|f| f.name.eq_ignore_ascii_case(&name))
                })
            })
            .ok_or(Error::from("ERR Function not found"))?;
        let no_writes = func.flags & NO_WRITES != 0;
        let allow_oom = func.flags & ALLOW_OOM != 0;
        self.enter_cluster_mode(
            ctx,
            keys,
            func.flags & NO_CLUSTER != 0,
            func.flags & ALLOW_CROSS_SLOT != 0,
        )?;
        // Without `no-writes` or `allow-oom` FCALL is `denyoom` (Redis's scriptFlagsToCmdFlags).
        if !no_writes && !allow_oom && over_maxmemory(ctx.engine) {
            return Err(Error::from(crate::evict::OOM));
        }
        if read_only && !no_writes {
            return Err(Error::from(
                "ERR Can not execute a script with write flag using *_ro command.",
            ));
        }
        let callback = func.callback.clone();
        let vm = states
            .func
            .as_mut()
            .ok_or(Error::from("ERR Function not found"))?;
        let call = Call {
            func: &callback,
            keys,
            argv,
            read_only: read_only || no_writes,
            allow_oom,
            name: &name,
            as_function: true,
            command,
        };
        self.execute(ctx, vm, call)
    }
}

/// A compiled EVAL script and what its shebang says.
#[derive(Clone)]
struct Compiled {
    /// Lower-case hex SHA1 of the body.
    sha: Arc<str>,
    func: Function,
    /// `#!lua flags=no-writes`.
    no_writes: bool,
    /// `no-cluster`.
    no_cluster: bool,
    /// `allow-oom`.
    allow_oom: bool,
    /// `allow-cross-slot-keys`, or no shebang (Redis 6's behaviour: keys of any local slot).
    cross_slot: bool,
    /// The body starts with a shebang (`#!lua`).
    shebang: bool,
}

/// What a script's shebang says: (no-writes, no-cluster, cross-slot keys allowed), or Redis's
/// error for a malformed one.
fn script_flags(body: &[u8]) -> Result<(bool, bool, bool), Error> {
    let no_writes = no_writes_flag(body)?;
    if !body.starts_with(b"#!") {
        return Ok((false, false, true));
    }
    Ok((
        no_writes,
        shebang_has(body, "no-cluster"),
        shebang_has(body, "allow-cross-slot-keys"),
    ))
}

/// Whether a shebang's `flags=` list names `flag` (the shebang itself is checked by
/// [`no_writes_flag`]).
fn shebang_has(body: &[u8], flag: &str) -> bool {
    let line_end = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
    String::from_utf8_lossy(&body[..line_end])
        .split(' ')
        .filter_map(|p| p.strip_prefix("flags="))
        .any(|flags| flags.split(',').any(|f| f == flag))
}

/// `#!lua flags=no-writes` makes an EVAL script read-only; other shebangs are checked like Redis.
fn no_writes_flag(body: &[u8]) -> Result<bool, Error> {
    if !body.starts_with(b"#!") {
        return Ok(false);
    }
    let line_end = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
    let line = String::from_utf8_lossy(&body[2..line_end]);
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if engine != "lua" {
        return Err(Error::msg(format!(
            "ERR Unexpected engine in script shebang: #!{engine}"
        )));
    }
    let mut ro = false;
    for p in parts {
        let Some(flags) = p.strip_prefix("flags=") else {
            return Err(Error::msg(format!("ERR Unknown lua shebang option: {p}")));
        };
        for f in flags.split(',').filter(|f| !f.is_empty()) {
            match f {
                "no-writes" => ro = true,
                "allow-oom" | "allow-stale" | "no-cluster" | "allow-cross-slot-keys" => {}
                other => {
                    return Err(Error::msg(format!(
                        "ERR Unexpected flag in script shebang: {other}"
                    )));
                }
            }
        }
    }
    Ok(ro)
}

fn vm_of<'g>(
    guard: &'g mut Option<Vm>,
    flags: &Arc<Flags>,
    mem: &Arc<MemTrack>,
) -> Result<&'g mut Vm, Error> {
    if guard.is_none() {
        *guard = Some(Vm::new(flags.clone(), mem.clone()).map_err(|e| {
            Error::msg(format!(
                "ERR Failed to initialize the Lua interpreter: {}",
                one_line(&e.to_string())
            ))
        })?);
    }
    guard
        .as_mut()
        .ok_or(Error::from("ERR Lua interpreter unavailable"))
}

fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// One Lua state with the Redis library loaded.
struct Vm {
    lua: Lua,
    flags: Arc<Flags>,
    /// The run in progress, for `redis.call` / `redis.pcall` (null between runs).
    slot: Arc<RunSlot>,
    runner: Function,
    compiler: Function,
    /// Runs a library's code at FUNCTION LOAD.
    library_loader: Function,
    /// Runs a function's callback with `(keys, args)`.
    function_runner: Function,
    /// Compiled scripts by SHA1 (EVALSHA, SCRIPT LOAD).
    functions: HashMap<Arc<str>, Function, ahash::RandomState>,
    /// The same scripts by body (EVAL): a known body costs a hash lookup, not a SHA1 digest.
    by_body: HashMap<Arc<[u8]>, Compiled, ahash::RandomState>,
    /// Where the commands a script calls write their replies (kept from run to run).
    reply: Out,
    /// Whether the registry holds a pending error table (also the state's app data).
    pending: Arc<Pending>,
    /// The heap size reported for this state.
    mem: Arc<MemTrack>,
    /// The heap cap in force.
    limit: usize,
    /// Heap size when the current run started.
    baseline: usize,
    /// Heap size after the last full collection.
    live: usize,
    /// Runs since the last collection step ([`GC_STEP_EVERY`]).
    runs: u32,
    /// What `redis.call` and `redis.pcall` point at. It holds a handle of the state, so the
    /// state closes when this drops (after `lua`), before `_release`.
    calls: Box<CallEnv>,
    /// Un-reports the heap once the state is gone. Declared last, so it drops after the state and
    /// every handle into it: un-reporting first would count the heap as data until it is freed,
    /// and a `maxmemory` check in that window could evict keys for a script's garbage.
    _release: Release,
}

/// See [`Vm::_release`].
struct Release(Arc<MemTrack>);

impl Drop for Release {
    fn drop(&mut self) {
        self.0.release();
    }
}

impl Vm {
    fn new(flags: Arc<Flags>, mem: Arc<MemTrack>) -> mlua::Result<Vm> {
        // SAFETY: the debug library is loaded only so the prelude can capture `debug.getinfo` for
        // its error handler; the prelude removes it from the globals before any script runs.
        let lua = unsafe {
            Lua::unsafe_new_with(
                StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG,
                LuaOptions::default(),
            )
        };
        let pending = Arc::new(Pending::default());
        lua.set_app_data(pending.clone());
        let imp = lua.create_table()?;
        // Library functions that can fail are Rust (C) functions, so that a failure reports the
        // caller's line even when the script tail-calls them (`return redis.setresp(4)`).
        imp.raw_set(
            "sha1hex",
            lua.create_function(|lua, args: MultiValue| {
                if args.len() != 1 {
                    return Err(raise(lua, "wrong number of arguments"));
                }
                Ok(sha1_hex(&lua_tostring(&args[0]).unwrap_or_default()))
            })?,
        )?;
        imp.raw_set(
            "log",
            lua.create_function(|lua, args: MultiValue| {
                if args.len() < 2 {
                    return Err(raise(lua, "redis.log() requires two arguments or more."));
                }
                let level = match &args[0] {
                    Value::Number(n) => *n as i64,
                    Value::Integer(i) => *i,
                    _ => return Err(raise(lua, "First argument must be a number (log level).")),
                };
                if !(0..=3).contains(&level) {
                    return Err(raise(lua, "Invalid debug level."));
                }
                let parts: Vec<String> = args
                    .iter()
                    .skip(1)
                    .filter_map(lua_tostring)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .collect();
                let msg = parts.join(" ");
                match level {
                    0 | 1 => tracing::debug!(target: "redlink::lua", "{msg}"),
                    2 => tracing::info!(target: "redlink::lua", "{msg}"),
                    _ => tracing::warn!(target: "redlink::lua", "{msg}"),
                }
                Ok(())
            })?,
        )?;
        let resp_flags = flags.clone();
        imp.raw_set(
            "setresp",
            lua.create_function(move |lua, args: MultiValue| {
                if args.len() != 1 {
                    return Err(raise(lua, "redis.setresp() requires one argument."));
                }
                let v = match &args[0] {
                    Value::Number(n) => *n as i64,
                    Value::Integer(i) => *i,
                    _ => 0,
                };
                if v != 2 && v != 3 {
                    return Err(raise(lua, "RESP version must be 2 or 3."));
                }
                resp_flags.resp.store(v, Ordering::Release);
                Ok(())
            })?,
        )?;
        imp.raw_set(
            "set_repl",
            lua.create_function(|lua, args: MultiValue| {
                if args.len() != 1 {
                    return Err(raise(lua, "redis.set_repl() requires two arguments."));
                }
                match &args[0] {
                    Value::Number(n) if (0.0..=3.0).contains(n) => Ok(()),
                    Value::Integer(i) if (0..=3).contains(i) => Ok(()),
                    _ => Err(raise(
                        lua,
                        "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                    )),
                }
            })?,
        )?;
        imp.raw_set("version", crate::commands::connection::REDIS_VERSION)?;
        imp.raw_set(
            "version_num",
            version_num(crate::commands::connection::REDIS_VERSION),
        )?;
        imp.raw_set("bit", bitlib::create(&lua)?)?;
        imp.raw_set("cjson", cjson::create(&lua)?)?;
        imp.raw_set("cmsgpack", cmsgpack::create(&lua)?)?;
        imp.raw_set("struct", structlib::create(&lua)?)?;
        imp.raw_set(
            "through",
            lua.create_function(|lua, f: Function| through(lua, f))?,
        )?;
        // math.random / math.randomseed: Lua's own, with rand() replaced by redisLrand48 (Redis's
        // script_lua.c), so seeded sequences are the ones redis-server gives.
        let rand_flags = flags.clone();
        imp.raw_set(
            "random",
            lua.create_function(move |lua, args: MultiValue| {
                const MAX: i64 = i32::MAX as i64;
                let r = (rand_flags.lrand48() % MAX) as f64 / MAX as f64;
                match args.len() {
                    0 => Ok(r),
                    1 => {
                        let u = check_int(lua, &args, 1)?;
                        if u < 1 {
                            return Err(libargs::arg_error(lua, 1, "interval is empty"));
                        }
                        Ok((r * f64::from(u)).floor() + 1.0)
                    }
                    2 => {
                        let l = check_int(lua, &args, 1)?;
                        let u = check_int(lua, &args, 2)?;
                        if l > u {
                            return Err(libargs::arg_error(lua, 2, "interval is empty"));
                        }
                        let span = u.wrapping_sub(l).wrapping_add(1);
                        Ok((r * f64::from(span)).floor() + f64::from(l))
                    }
                    _ => Err(mlua::Error::RuntimeError(
                        "wrong number of arguments".into(),
                    )),
                }
            })?,
        )?;
        let seed_flags = flags.clone();
        imp.raw_set(
            "randomseed",
            lua.create_function(move |lua, args: MultiValue| {
                let seed = check_int(lua, &args, 1)?;
                seed_flags
                    .rand48
                    .store((u64::from(seed as u32) << 16) | 0x330E, Ordering::Relaxed);
                Ok(())
            })?,
        )?;
        let kill_flags = flags.clone();
        imp.raw_set(
            "killed",
            lua.create_function(move |_, ()| Ok(kill_flags.kill.load(Ordering::Acquire)))?,
        )?;
        imp.raw_set(
            "take_pending",
            lua.create_function(|lua, text: mlua::String| {
                if !text
                    .as_bytes()
                    .windows(CALL_FAILED.len())
                    .any(|w| w == CALL_FAILED.as_bytes())
                {
                    return Ok(Value::Nil);
                }
                let v: Value = lua.named_registry_value(PENDING)?;
                set_pending(lua, Value::Nil)?;
                Ok(v)
            })?,
        )?;
        let (runner, compiler, redis, library_loader, function_runner): (
            Function,
            Function,
            Table,
            Function,
            Function,
        ) = lua
            .load(include_str!("prelude.lua"))
            .set_name("=redis")
            .call(imp.clone())?;
        let hook_flags_keep = flags.clone();
        let hook_flags = flags;
        let hook_mem = mem.clone();
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(1000),
            move |lua, _| {
                hook_mem.sync(lua);
                if hook_flags.kill.load(Ordering::Acquire) {
                    return Err(mlua::Error::RuntimeError(KILLED.into()));
                }
                let due = hook_flags.hand_off_at.load(Ordering::Relaxed);
                if due != 0 {
                    let now = hook_flags.elapsed_ns();
                    if now >= due {
                        let next = now + HAND_OFF_AGAIN.as_nanos() as u64;
                        hook_flags.hand_off_at.store(next, Ordering::Relaxed);
                        hand_off();
                    }
                }
                if hook_flags
                    .load_deadline
                    .lock()
                    .is_some_and(|d| Instant::now() > d)
                {
                    hook_flags.load_timed_out.store(true, Ordering::Release);
                    return Err(mlua::Error::RuntimeError("FUNCTION LOAD timeout".into()));
                }
                Ok(VmState::Continue)
            },
        )?;
        // `redis.call` and `redis.pcall` are made once; each run points `slot` at its context.
        let slot = Arc::new(RunSlot::default());
        let calls = Box::new(CallEnv {
            lua: lua.clone(),
            slot: slot.clone(),
            flags: hook_flags_keep.clone(),
            panic: Mutex::new(None),
        });
        // The prelude's garbage (its compilation) goes now: a fresh state reports only what
        // it holds (INFO used_memory_lua), as Redis's does.
        lua.gc_collect()?;
        redis.raw_set("call", call_function(&lua, &calls, CallMode::Call)?)?;
        redis.raw_set("pcall", call_function(&lua, &calls, CallMode::Pcall)?)?;
        redis.raw_set(
            "acl_check_cmd",
            call_function(&lua, &calls, CallMode::AclCheck)?,
        )?;
        Ok(Vm {
            lua,
            flags: hook_flags_keep,
            slot,
            runner,
            compiler,
            library_loader,
            function_runner,
            functions: HashMap::default(),
            by_body: HashMap::default(),
            reply: Out::new(false),
            pending,
            _release: Release(mem.clone()),
            mem,
            limit: 0,
            baseline: 0,
            live: 0,
            runs: 0,
            calls,
        })
    }

    /// Before running code: apply the current heap cap, and make room under it when the heap
    /// nears it with garbage (not again and again when it is live data).
    fn prepare(&mut self) {
        let limit = self.flags.mem_limit.load(Ordering::Relaxed);
        self.limit = limit;
        let mut used = self.lua.used_memory();
        if used > limit / 4 * 3 && used > self.live + GC_AFTER {
            self.collect();
            used = self.live;
        }
        self.baseline = used;
        self.mem.sync_to(used);
    }

    /// After running code: give back what a run that grew the heap a lot left (full collection),
    /// and report the heap size. Runs that allocate little cost two loads and a compare.
    fn settle(&mut self) {
        // Like Redis (script_lua.c): a collection step every 50 runs keeps the heap near its
        // live size without a full cycle's latency.
        self.runs += 1;
        if self.runs >= GC_STEP_EVERY {
            self.runs = 0;
            let _ = self.lua.gc_step_kbytes(GC_STEP_EVERY as std::ffi::c_int);
        }
        let mut used = self.lua.used_memory();
        if used > self.baseline + GC_AFTER {
            self.collect();
            used = self.live;
        }
        self.mem.sync_to(used);
    }

    fn collect(&mut self) {
        let _ = self.lua.gc_collect();
        self.live = self.lua.used_memory();
    }

    /// The compiled function of a script, compiling it on first use.
    fn function(&mut self, sha: &str, body: &[u8]) -> Result<Function, Error> {
        if let Some(f) = self.functions.get(sha) {
            return Ok(f.clone());
        }
        self.compile(sha, body).map(|c| c.func)
    }

    /// Compile a script and remember it by SHA1 and by body.
    fn compile(&mut self, sha: &str, body: &[u8]) -> Result<Compiled, Error> {
        // The shebang is checked first, as Redis's luaCreateFunction does.
        let (no_writes, no_cluster, cross_slot) = script_flags(body)?;
        // A shebang line is blanked (line numbers stay right).
        let source: &[u8] = if body.starts_with(b"#!") {
            let end = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
            &body[end..]
        } else {
            body
        };
        let lua_body = self
            .lua
            .create_string(source)
            .map_err(|e| Error::msg(format!("ERR {}", one_line(&e.to_string()))))?;
        let (f, e): (Option<Function>, Option<String>) = self
            .compiler
            .call((lua_body, "@user_script"))
            .map_err(|e| Error::msg(format!("ERR {}", one_line(&e.to_string()))))?;
        match f {
            Some(f) => {
                let sha: Arc<str> = Arc::from(sha);
                let compiled = Compiled {
                    sha: sha.clone(),
                    func: f.clone(),
                    no_writes,
                    no_cluster,
                    allow_oom: body.starts_with(b"#!") && shebang_has(body, "allow-oom"),
                    cross_slot,
                    shebang: body.starts_with(b"#!"),
                };
                self.functions.insert(sha, f);
                self.by_body.insert(Arc::from(body), compiled.clone());
                Ok(compiled)
            }
            None => Err(Error::msg(format!(
                "ERR Error compiling script (new function): {}",
                one_line(&e.unwrap_or_default())
            ))),
        }
    }

    /// Run a library's code (shebang line blanked): the functions it registered.
    fn load_library(&mut self, flags: &Flags, code: &[u8]) -> Result<Vec<Func>, Error> {
        let internal = |e: mlua::Error| Error::msg(format!("ERR {}", one_line(&e.to_string())));
        let end = code.iter().position(|&b| b == b'\n').unwrap_or(code.len());
        let source = self.lua.create_string(&code[end..]).map_err(internal)?;
        flags.load_timed_out.store(false, Ordering::Release);
        *flags.load_deadline.lock() = Some(Instant::now() + LOAD_TIMEOUT);
        clear_pending(&self.lua, &self.pending);
        let r: mlua::Result<(Value, Option<mlua::String>)> =
            capped(&self.lua, self.limit, || self.library_loader.call(source));
        *flags.load_deadline.lock() = None;
        if flags.load_timed_out.swap(false, Ordering::AcqRel) {
            return Err(Error::from(
                "ERR Error registering functions: ERR FUNCTION LOAD timeout",
            ));
        }
        let (registered, err) = r.map_err(internal)?;
        let Value::Table(list) = registered else {
            let text = err
                .map(|e| String::from_utf8_lossy(&e.as_bytes()).into_owned())
                .unwrap_or_else(|| "Error registering functions".to_string());
            return Err(Error::msg(format!("ERR {}", one_line(&text))));
        };
        let mut functions = Vec::new();
        for entry in list.sequence_values::<Table>() {
            let entry = entry.map_err(internal)?;
            let name: mlua::String = entry.raw_get("name").map_err(internal)?;
            let description: Option<mlua::String> =
                entry.raw_get("description").map_err(internal)?;
            let flags: f64 = entry.raw_get("flags").map_err(internal)?;
            functions.push(Func {
                name: String::from_utf8_lossy(&name.as_bytes()).into_owned(),
                description: description.map(|d| d.as_bytes().to_vec()),
                flags: flags as u32,
                callback: entry.raw_get("callback").map_err(internal)?,
            });
        }
        Ok(functions)
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        scripting: &Scripting,
        ctx: &mut Ctx,
        func: &Function,
        keys: &[&[u8]],
        argv: &[&[u8]],
        read_only: bool,
        name: &str,
        as_function: bool,
    ) -> Result<(), Error> {
        let lua = &self.lua;
        let runner = if as_function {
            &self.function_runner
        } else {
            &self.runner
        };
        let flags = &self.flags;
        let limit = self.limit;
        flags.resp.store(2, Ordering::Release);
        clear_pending(lua, &self.pending);
        let mut run = RunCtx {
            scripting,
            ctx: &mut *ctx,
            read_only,
            limit,
            reply: &mut self.reply,
        };
        let outcome: mlua::Result<(bool, Value)> = {
            let _set = self.slot.set(&mut run);
            call_runner(lua, limit, runner, func, keys, argv)
        };
        // A panic inside `redis.call` was stopped at the C boundary: it goes on from here.
        if let Some(payload) = self.calls.panic.lock().take() {
            std::panic::resume_unwind(payload);
        }
        let resp = flags.resp.load(Ordering::Acquire);
        let killed = scripting.flags.kill.load(Ordering::Acquire);
        let (ok, value) = outcome.map_err(|e| {
            if killed {
                Error::from(KILLED)
            } else {
                Error::msg(format!(
                    "ERR Error running script {name}, {}",
                    one_line(&e.to_string())
                ))
            }
        })?;
        if !ok {
            let t = match value {
                Value::Table(t) => t,
                // Errors that skip the error handler: an allocation past the cap ("not enough
                // memory") or an error inside the handler. Redis's text for them.
                Value::String(e) if !killed => {
                    return Err(Error::msg(format!(
                        "ERR Error running script {name}, {}",
                        one_line(&String::from_utf8_lossy(&e.as_bytes()))
                    )));
                }
                _ if killed => return Err(Error::from(KILLED)),
                _ => return Err(Error::from("ERR Error running script: execution failure")),
            };
            let mut msg = match t.raw_get::<Value>("err") {
                Ok(Value::String(s)) => one_line(&String::from_utf8_lossy(&s.as_bytes())),
                _ => "ERR execution failure".to_string(),
            };
            if killed {
                msg = KILLED.to_string();
            }
            let source: Option<String> = t.raw_get("source").ok().flatten();
            let line: Option<i64> = t.raw_get("line").ok().flatten();
            if let (Some(source), Some(line)) = (source, line) {
                msg = format!("{msg} script: {name}, on {source}:{line}.");
            }
            if !killed && counted_already(&t) {
                // The failed call counted this error; the script's reply does not again, but the
                // script did fail (Redis's ERR_REPLY_FLAG_NO_STATS_UPDATE: `failed_calls`).
                ctx.client.failed_uncounted = true;
                ctx.out.error(&msg);
                return Ok(());
            }
            return Err(Error::msg(msg));
        }
        // A returned error table is an error reply (counted unless a call counted it).
        if let Value::Table(t) = &value
            && let Ok(Value::String(e)) = t.raw_get::<Value>("err")
        {
            if counted_already(t) {
                ctx.client.failed_uncounted = true;
            } else {
                ctx.client.pending_stats.errors += 1;
                ctx.engine.stats.count_error_kind(&e.as_bytes());
            }
        }
        lua_to_resp(ctx.out, &value, resp == 3, 0);
        Ok(())
    }
}

/// `runner(func, KEYS, ARGV)` with the heap cap `limit` on, through Lua's C API: mlua's
/// `Function::call` plus a table and a string object per key cost a short script ~6,000
/// instructions, this ~1,000. Everything pushed before the cap goes on is allocated the way mlua
/// allocates without a memory limit (unprotected: only the process running out of memory fails
/// there); the call itself is protected.
fn call_runner(
    lua: &Lua,
    limit: usize,
    runner: &Function,
    func: &Function,
    keys: &[&[u8]],
    argv: &[&[u8]],
) -> mlua::Result<(bool, Value)> {
    use mlua::ffi;
    /// A Lua sequence of strings (KEYS, ARGV) on top of the stack.
    unsafe fn push_strings(state: *mut ffi::lua_State, items: &[&[u8]]) {
        let n = std::ffi::c_int::try_from(items.len()).unwrap_or(std::ffi::c_int::MAX);
        // SAFETY (whole block): the caller checked the stack has room for the table and one string.
        unsafe {
            ffi::lua_createtable(state, n, 0);
            for (i, item) in items.iter().enumerate().take(n as usize) {
                ffi::lua_pushlstring(state, item.as_ptr().cast(), item.len());
                ffi::lua_rawseti(state, -2, i as ffi::lua_Integer + 1);
            }
        }
    }
    lua.exec_raw_lua(|raw| {
        let state = raw.state();
        // SAFETY: the state is locked for the closure; the stack is checked for room (runner,
        // func, two tables and a string), balanced at the end (top restored), and only holds
        // values of the kinds pushed here; `pop_value` takes a ref of the top value.
        unsafe {
            let top = ffi::lua_gettop(state);
            if ffi::lua_checkstack(state, 8) == 0 {
                return Err(mlua::Error::StackError);
            }
            raw.push(runner)?;
            raw.push(func)?;
            push_strings(state, keys);
            push_strings(state, argv);
            let _ = lua.set_memory_limit(limit);
            let status = ffi::lua_pcall(state, 3, 2, 0);
            let _ = lua.set_memory_limit(0);
            let r = if status == ffi::LUA_OK {
                let value = raw.pop_value();
                let ok = ffi::lua_toboolean(state, -1) != 0;
                Ok((ok, value))
            } else {
                // Only an error of the error handler itself (or no memory for it) gets here:
                // the runner catches the script's.
                let e = raw.pop_value();
                let text = e
                    .to_string()
                    .unwrap_or_else(|_| "execution failure".to_string());
                Err(if status == ffi::LUA_ERRMEM {
                    mlua::Error::MemoryError(text)
                } else {
                    mlua::Error::RuntimeError(text)
                })
            };
            ffi::lua_settop(state, top);
            r
        }
    })
}

/// What `redis.call` needs of the run in progress.
struct RunCtx<'r, 'c> {
    scripting: &'r Scripting,
    ctx: &'r mut Ctx<'c>,
    read_only: bool,
    /// The heap cap of the run (lifted while a command runs).
    limit: usize,
    /// Where the called commands' replies are written (the state's, reused from run to run).
    reply: &'r mut Out,
}

/// Where a Vm's `redis.call` finds the run in progress: a pointer to the [`RunCtx`] on the stack
/// of [`Vm::run`], set for exactly the length of the run ([`RunSlot::set`]), null otherwise.
/// Made once per state instead of a scoped Lua function per run (creating and invalidating
/// those was a large part of a short script's cost).
#[derive(Default)]
struct RunSlot(AtomicPtr<RunCtx<'static, 'static>>);

/// Clears the slot when dropped (the run ended, however it ended).
struct SlotSet<'s>(&'s RunSlot);

impl Drop for SlotSet<'_> {
    fn drop(&mut self) {
        self.0.0.store(std::ptr::null_mut(), Ordering::Release);
    }
}

impl RunSlot {
    /// Point the slot at `run` until the returned guard drops (which must happen before `run`
    /// is used or moved again: the guard borrows nothing, so callers keep it in a block).
    fn set(&self, run: &mut RunCtx<'_, '_>) -> SlotSet<'_> {
        // The lifetimes are erased here (a pointer cast does not check them).
        let p: *mut RunCtx<'static, 'static> = run as *mut RunCtx<'_, '_> as *mut _;
        self.0.store(p, Ordering::Release);
        SlotSet(self)
    }
}

/// Puts the run back into the slot when a `redis.call` returns.
struct Taken<'s>(&'s RunSlot, *mut RunCtx<'static, 'static>);

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        self.0.0.store(self.1, Ordering::Release);
    }
}

/// What the C functions behind `redis.call` and `redis.pcall` reach through their upvalue (a
/// light userdata pointing here). Owned by the [`Vm`] (boxed: the address stays put), which
/// outlives every call; it holds a handle of the state to lift the heap cap around a call.
struct CallEnv {
    lua: Lua,
    slot: Arc<RunSlot>,
    flags: Arc<Flags>,
    /// A panic inside a call, caught at the C boundary (unwinding through Lua's C frames is not
    /// allowed) and resumed once the run is back in Rust ([`Vm::run`]).
    panic: Mutex<Option<Box<dyn std::any::Any + Send>>>,
}

/// `redis.call` (`raise`: a failed command raises its error table) or `redis.pcall` (returns
/// it): a C closure over the Vm's [`CallEnv`]. Plain Lua C API instead of an mlua callback: mlua
/// turned the arguments into a `MultiValue` of registry handles and the reply into a `Value`,
/// ~2,000 instructions of a short script's ~12,000; here arguments are read off the stack in
/// place and the reply is pushed straight onto it.
fn call_function(lua: &Lua, env: &CallEnv, mode: CallMode) -> mlua::Result<Function> {
    use mlua::ffi;
    let f: ffi::lua_CFunction = match mode {
        CallMode::Call => lua_redis_call,
        CallMode::Pcall => lua_redis_pcall,
        CallMode::AclCheck => lua_redis_acl_check,
    };
    let env: *const CallEnv = env;
    lua.exec_raw_lua(|raw| {
        let state = raw.state();
        // SAFETY: room for the upvalue and the closure is checked; the closure is popped as a
        // handle right away (stack balanced). The pointer stays valid for the state's life: the
        // Vm owns the box and drops it only with the state (see `Vm::calls`).
        unsafe {
            if ffi::lua_checkstack(state, 2) == 0 {
                return Err(mlua::Error::StackError);
            }
            ffi::lua_pushlightuserdata(state, env.cast_mut().cast());
            ffi::lua_pushcclosure(state, f, 1);
            match raw.pop_value() {
                Value::Function(f) => Ok(f),
                _ => Err(mlua::Error::RuntimeError(
                    "redis.call is not a function".into(),
                )),
            }
        }
    })
}

/// Which of the C functions over a [`CallEnv`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum CallMode {
    /// `redis.call`: a failed command raises its error table.
    Call,
    /// `redis.pcall`: a failed command's error table is returned.
    Pcall,
    /// `redis.acl_check_cmd`: whether the caller's user may run the command (not run).
    AclCheck,
}

unsafe extern "C-unwind" fn lua_redis_call(state: *mut mlua::ffi::lua_State) -> std::ffi::c_int {
    // SAFETY: called by Lua as the closure made in `call_function`.
    unsafe { call_c(state, CallMode::Call) }
}

unsafe extern "C-unwind" fn lua_redis_pcall(state: *mut mlua::ffi::lua_State) -> std::ffi::c_int {
    // SAFETY: called by Lua as the closure made in `call_function`.
    unsafe { call_c(state, CallMode::Pcall) }
}

unsafe extern "C-unwind" fn lua_redis_acl_check(
    state: *mut mlua::ffi::lua_State,
) -> std::ffi::c_int {
    // SAFETY: called by Lua as the closure made in `call_function`.
    unsafe { call_c(state, CallMode::AclCheck) }
}

/// The body of both C functions. Every Rust value of the call (guards, arguments, the run's
/// borrows) lives in [`call_inner`] and is dropped before `lua_error` unwinds the C stack with
/// `longjmp`, which runs no destructors; this frame holds nothing that needs one by then.
unsafe fn call_c(state: *mut mlua::ffi::lua_State, mode: CallMode) -> std::ffi::c_int {
    use mlua::ffi;
    // SAFETY (whole body): upvalue 1 is the light userdata `call_function` set, a live CallEnv.
    unsafe {
        let env = &*(ffi::lua_touserdata(state, ffi::lua_upvalueindex(1)) as *const CallEnv);
        let raise_now = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            call_inner(state, env, mode)
        })) {
            Ok(Ok(failed)) => mode != CallMode::Pcall && failed,
            Ok(Err(())) => true,
            Err(payload) => {
                *env.panic.lock() = Some(payload);
                ffi::lua_settop(state, 0);
                ffi::lua_pushstring(state, c"ERR redis.call panicked".as_ptr());
                true
            }
        };
        if raise_now {
            // The error value (an error table, or a message) is on the top of the stack.
            ffi::lua_error(state);
        }
        1
    }
}

/// Runs the command of a `redis.call` and leaves one value on the stack: the reply converted to
/// Lua (`Ok(failed)`: whether it is an error table), or the error to raise (`Err`).
unsafe fn call_inner(
    state: *mut mlua::ffi::lua_State,
    env: &CallEnv,
    mode: CallMode,
) -> Result<bool, ()> {
    use mlua::ffi;
    // SAFETY (whole body): `state` is the running thread of the call; values read off its stack
    // (argument strings) stay there, unchanged, until the call returns or they are copied.
    unsafe {
        // Strings are read in place (no copy); numbers are formatted.
        let n = ffi::lua_gettop(state).max(0);
        let mut owned: smallvec::SmallVec<[(usize, Vec<u8>); 2]> = smallvec::SmallVec::new();
        let mut argv: crate::protocol::ArgVec = crate::protocol::ArgVec::new();
        let mut bad = false;
        for i in 1..=n {
            match ffi::lua_type(state, i) {
                ffi::LUA_TSTRING => {
                    let mut len = 0usize;
                    let ptr = ffi::lua_tolstring(state, i, &mut len);
                    argv.push(std::slice::from_raw_parts(ptr.cast::<u8>(), len));
                }
                ffi::LUA_TNUMBER => {
                    owned.push((argv.len(), number_arg(ffi::lua_tonumber(state, i))));
                    argv.push(&[]);
                }
                _ => {
                    bad = true;
                    break;
                }
            }
        }
        for (i, text) in &owned {
            argv[*i] = text.as_slice();
        }
        // Room for what is pushed below (a reply pushes its own room as it nests).
        if ffi::lua_checkstack(state, 4) != 0 {
            return call_args(state, env, &argv, bad, mode);
        }
        // The arguments fill the C stack (`unpack` of ~8000 values): copied and popped, as
        // Redis's luaArgsToRedisArgv does, so the reply has room.
        let copies: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
        drop(argv);
        ffi::lua_settop(state, 0);
        if ffi::lua_checkstack(state, 4) == 0 {
            push_bytes(state, b"ERR Lua stack overflow");
            return Err(());
        }
        let refs: Vec<&[u8]> = copies.iter().map(|a| a.as_slice()).collect();
        call_args(state, env, &refs, bad, mode)
    }
}

/// [`call_inner`] once the arguments are read (`bad`: one was neither a string nor a number).
///
/// # Safety
/// `state` is the running thread of the call with room for four more values; `argv` stays valid
/// for the call.
unsafe fn call_args(
    state: *mut mlua::ffi::lua_State,
    env: &CallEnv,
    argv: &[&[u8]],
    bad: bool,
    mode: CallMode,
) -> Result<bool, ()> {
    // SAFETY (whole body): per the function's contract.
    unsafe {
        // Taken out of the slot for the call: nothing else can reach the run meanwhile.
        let p = env.slot.0.swap(std::ptr::null_mut(), Ordering::AcqRel);
        if p.is_null() {
            mlua::ffi::luaL_where(state, 1);
            push_bytes(
                state,
                b"ERR redis.call can only be used while a script runs",
            );
            mlua::ffi::lua_concat(state, 2);
            return Err(());
        }
        let _back = Taken(&env.slot, p);
        // SAFETY: a non-null slot points at the `RunCtx` of the run in progress on this thread
        // (`Vm::run` holds it in place until its `SlotSet` cleared the slot), and taking it out
        // of the slot made this the only reference until `_back` puts it back. Its lifetimes
        // were erased in `RunSlot::set`; nothing borrowed from it outlives this call.
        let run = &mut *p;
        let _uncapped = Uncapped::new(&env.lua, run.limit);
        let resp = env.flags.resp.load(Ordering::Acquire);
        if bad {
            push_err_table(
                state,
                "ERR Lua redis lib command arguments must be strings or integers",
            );
            return Ok(true);
        }
        if mode == CallMode::AclCheck {
            return Ok(acl_check(state, run.ctx, argv));
        }
        redis_call(
            state,
            run.scripting,
            run.ctx,
            run.reply,
            run.read_only,
            resp,
            argv,
        )
    }
}

/// Push a Lua string of `bytes`.
///
/// # Safety
/// `state` is a live Lua state with room for one more value.
unsafe fn push_bytes(state: *mut mlua::ffi::lua_State, bytes: &[u8]) {
    // SAFETY: per the function's contract; Lua copies the bytes.
    unsafe {
        mlua::ffi::lua_pushlstring(state, bytes.as_ptr().cast(), bytes.len());
    }
}

/// Push `{[key] = value}` where the value is already on the top of the stack (replaced by the
/// table).
///
/// # Safety
/// `state` is a live Lua state with a value on top and room for two more.
unsafe fn wrap_field(state: *mut mlua::ffi::lua_State, key: &[u8]) {
    use mlua::ffi;
    // SAFETY: per the function's contract.
    unsafe {
        ffi::lua_createtable(state, 0, 1);
        push_bytes(state, key);
        ffi::lua_pushvalue(state, -3);
        ffi::lua_rawset(state, -3);
        ffi::lua_replace(state, -2);
    }
}

fn version_num(v: &str) -> i64 {
    let mut n = 0;
    for part in v.split('.').take(3) {
        n = n * 256 + part.parse::<i64>().unwrap_or(0);
    }
    n
}

/// Whether a state's registry holds a pending error table ([`PENDING`]); the state's app data.
#[derive(Debug, Default)]
struct Pending(AtomicBool);

/// Put `v` in the registry's [`PENDING`] slot (nil: empty it).
fn set_pending(lua: &Lua, v: impl mlua::IntoLua) -> mlua::Result<()> {
    let v = v.into_lua(lua)?;
    let held = !v.is_nil();
    lua.set_named_registry_value(PENDING, v)?;
    if let Some(p) = lua.app_data_ref::<Arc<Pending>>() {
        p.0.store(held, Ordering::Relaxed);
    }
    Ok(())
}

/// Before a run: no error table of an earlier run is left to be picked up. Costs one load when
/// the slot is empty (setting a registry field is a protected call in mlua, ~2,700 instructions).
fn clear_pending(lua: &Lua, pending: &Pending) {
    if pending.0.load(Ordering::Relaxed) {
        let _ = set_pending(lua, Value::Nil);
    }
}

/// Raise `{err = "ERR msg"}` from a Rust library function (the table waits in the registry; the
/// error handler picks it up).
fn raise(lua: &Lua, msg: &str) -> mlua::Error {
    let stash = || -> mlua::Result<()> {
        let t = lua.create_table()?;
        t.raw_set("err", format!("ERR {msg}"))?;
        set_pending(lua, t)
    };
    match stash() {
        Ok(()) => mlua::Error::RuntimeError(CALL_FAILED.into()),
        Err(e) => e,
    }
}

/// `lua_tolstring`: strings as they are, numbers formatted like Lua; anything else has none.
fn lua_tostring(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        // Lua's own number-to-string conversion (LUAI_NUMFFORMAT "%.14g"); Lua 5.1's numbers are
        // all doubles (mlua reports the integral ones as integers).
        Value::Integer(i) => Some(printf_g(*i as f64, 14).into_bytes()),
        Value::Number(n) => Some(printf_g(*n, 14).into_bytes()),
        _ => None,
    }
}

/// Push an error table `{err = "CODE msg"}` made from a reply's error text.
///
/// # Safety
/// `state` is a live Lua state with room for three more values.
unsafe fn push_err_table(state: *mut mlua::ffi::lua_State, text: &str) {
    let text = text.trim_matches(['\r', '\n']);
    // SAFETY: per the function's contract.
    unsafe {
        // Like luaPushErrorBuff: the code is what precedes the first space (ERR when there is none).
        if text.contains(' ') {
            push_bytes(state, text.as_bytes());
        } else {
            push_bytes(state, format!("ERR {text}").as_bytes());
        }
        wrap_field(state, b"err");
    }
}

/// [`push_err_table`] for the error of a `redis.call`, counted where it happened: the table
/// also holds `ignore_error_stats_update = true`, as Redis's does, so a script that raises or
/// returns it does not count it again.
///
/// # Safety
/// `state` is a live Lua state with room for three more values.
unsafe fn push_call_err_table(state: *mut mlua::ffi::lua_State, text: &str) {
    // SAFETY: per the function's contract.
    unsafe {
        push_err_table(state, text);
        push_bytes(state, IGNORE_ERROR_STATS.as_bytes());
        mlua::ffi::lua_pushboolean(state, 1);
        mlua::ffi::lua_rawset(state, -3);
    }
}

/// The error-table field marking an error already counted (Redis's name).
const IGNORE_ERROR_STATS: &str = "ignore_error_stats_update";

/// Whether an error table is one [`push_call_err_table`] made.
fn counted_already(t: &Table) -> bool {
    matches!(
        t.raw_get::<Value>(IGNORE_ERROR_STATS),
        Ok(Value::Boolean(true))
    )
}

/// Format a Lua number as Redis 7.0 passes it to a command: C's `%.17g`
/// (`0.1` → `0.10000000000000001`, `1e20` → `1e+20`, `-0.0` → `-0`).
fn number_arg(n: f64) -> Vec<u8> {
    printf_g(n, 17).into_bytes()
}

/// C's `printf("%.{precision}g", n)` as glibc prints it: `precision` significant digits, fixed
/// notation unless the exponent is below -4 or at least `precision`, trailing zeros removed,
/// a two-digit exponent at least, `inf`, `-inf`, `nan`, `-nan`.
fn printf_g(n: f64, precision: usize) -> String {
    // An integral value below 10^precision prints all its digits (counters, lengths: most numbers
    // scripts pass around); the general path below costs a scientific format and a second one.
    if n.fract() == 0.0 && n.abs() < 1e15 && n.abs() < 10f64.powi(precision.min(15) as i32) {
        if n == 0.0 && n.is_sign_negative() {
            return "-0".to_string();
        }
        return (n as i64).to_string();
    }
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan" } else { "nan" }.to_string();
    }
    if n.is_infinite() {
        return if n > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let precision = precision.max(1);
    if let Some(text) = shortest_g(n, precision) {
        return text;
    }
    printf_g_exact(n, precision)
}

/// `%.<precision>g` from the shortest representation that reads back as `n` (Rust's `{:e}`,
/// Grisu with no big-number fallback for most values), when it has at most `precision` digits
/// and `precision` <= 15: then rounding `n` to `precision` digits gives those digits (`n` is
/// within half an ulp, 1.1e-16 relative, of them; the grid of 15 digits is 1e-14 relative wide),
/// so C would print them. `None` otherwise (`%.17g` of 0.1 is `0.10000000000000001`).
fn shortest_g(n: f64, precision: usize) -> Option<String> {
    // (A subnormal's ulp is far wider relative to it: the exact path.)
    if precision > 15 || !n.is_normal() {
        return None;
    }
    let sci = format!("{n:e}");
    let (mantissa, exp) = sci.split_once('e')?;
    let exp: i64 = exp.parse().ok()?;
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if digits.len() > precision {
        return None;
    }
    Some(if exp < -4 || exp >= precision as i64 {
        let e_sign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{e_sign}{:02}", exp.abs())
    } else if exp < 0 {
        format!("{sign}0.{}{digits}", "0".repeat((-exp - 1) as usize))
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            format!("{sign}{digits}{}", "0".repeat(int_len - digits.len()))
        } else {
            format!("{sign}{}.{}", &digits[..int_len], &digits[int_len..])
        }
    })
}

/// `%.<precision>g` by rounding to `precision` digits (C's way; the slow path of [`printf_g`]).
fn printf_g_exact(n: f64, precision: usize) -> String {
    // The exponent after rounding to `precision` digits decides the notation, as in C.
    let sci = format!("{n:.*e}", precision - 1);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let trim = |t: &str| -> String {
        if t.contains('.') {
            t.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            t.to_string()
        }
    };
    if exp < -4 || exp >= precision as i64 {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.abs())
    } else {
        let decimals = usize::try_from(precision as i64 - 1 - exp).unwrap_or(0);
        trim(&format!("{n:.decimals$}"))
    }
}

/// `redis.acl_check_cmd(cmd, args...)`: pushes whether the caller's user may run the command
/// with these arguments (Redis's luaRedisAclCheckCmdPermissionsCommand), or the error table to
/// raise for an unknown command (returns whether it failed).
///
/// # Safety
/// `state` is the running Lua thread of the call, with room for four more values.
unsafe fn acl_check(state: *mut mlua::ffi::lua_State, ctx: &mut Ctx, refs: &[&[u8]]) -> bool {
    if refs.is_empty() {
        // SAFETY: the caller's contract.
        unsafe {
            push_err_table(
                state,
                "ERR Please specify at least one argument for this redis lib call",
            )
        };
        return true;
    }
    // Redis's lookupCommand: a container's subcommand must exist too.
    let cmd = crate::commands::lookup_call(refs).filter(|c| !ctx.engine.disabled.contains(c.name));
    let Some(cmd) = cmd else {
        // SAFETY: the caller's contract.
        unsafe { push_err_table(state, "ERR Invalid command passed to redis.acl_check_cmd()") };
        return true;
    };
    let ok = crate::commands::acl::permitted(ctx, cmd, refs);
    // SAFETY: the caller's contract (room for one value).
    unsafe { mlua::ffi::lua_pushboolean(state, i32::from(ok)) };
    false
}

/// Whether XREAD/XREADGROUP arguments reach a `BLOCK` option before any argument the command
/// would refuse first (Redis's `xreadCommand` parses in order and refuses BLOCK from scripts as
/// it meets it; an earlier bad COUNT or syntax error is the command's own reply).
fn stream_read_blocks(refs: &[&[u8]], group_ok: bool) -> bool {
    let is = |a: &[u8], w: &str| a.eq_ignore_ascii_case(w.as_bytes());
    let mut i = 1;
    while i < refs.len() {
        let more = refs.len() - i - 1;
        let o = refs[i];
        if is(o, "BLOCK") && more > 0 {
            return true;
        } else if is(o, "COUNT") && more > 0 {
            if crate::protocol::parse_i64(refs[i + 1]).is_none() {
                return false;
            }
            i += 2;
        } else if is(o, "GROUP") && more >= 2 && group_ok {
            i += 3;
        } else if is(o, "NOACK") && group_ok {
            i += 1;
        } else {
            // STREAMS (the rest are keys and IDs) or an argument the command refuses.
            return false;
        }
    }
    false
}

/// `redis.call` / `redis.pcall` of `refs` (the command and its arguments): pushes the reply
/// converted to Lua, `Ok(failed)` (whether it is an error table), or the error to raise (`Err`).
///
/// # Safety
/// `state` is the running Lua thread of the call, with room for four more values.
unsafe fn redis_call(
    state: *mut mlua::ffi::lua_State,
    scripting: &Scripting,
    ctx: &mut Ctx,
    out: &mut Out,
    read_only: bool,
    resp: i64,
    refs: &[&[u8]],
) -> Result<bool, ()> {
    // A call refused before its command runs counts as an error reply right here (Redis's
    // scriptCall: afterErrorReply), so the script's own error does not count it again.
    let engine = ctx.engine;
    let fail = |text: &str| -> Result<bool, ()> {
        engine.stats.error_replies.fetch_add(1, Ordering::Relaxed);
        engine.stats.count_error_kind(text.as_bytes());
        // SAFETY: the caller's contract (room for the table, its key and value).
        unsafe { push_call_err_table(state, text) };
        Ok(true)
    };
    if refs.is_empty() {
        // SAFETY: the caller's contract (room for the table, its key and value).
        unsafe {
            push_err_table(
                state,
                "ERR Please specify at least one argument for this redis lib call",
            )
        };
        return Ok(true);
    }
    // A container's subcommand is looked up too (its own arity, flags and ACL), as in Redis; a
    // disabled command (`rename-command NAME ""`) is unknown.
    let Some(cmd) = crate::commands::lookup(refs[0])
        .filter(|c| !ctx.engine.disabled.contains(c.name))
        .and_then(|c| match refs.get(1) {
            Some(sub) if c.is_container() => c.sub(sub),
            _ => Some(c),
        })
    else {
        return fail("ERR Unknown Redis command called from script");
    };
    // Refused once the command is known: its `rejected_calls` (INFO commandstats) counts it.
    let refuse = |text: &str| -> Result<bool, ()> {
        engine.cmdstats.rejected(cmd.spec);
        fail(text)
    };
    if !cmd.arity_ok(refs.len()) {
        return refuse("ERR Wrong number of args calling Redis command from script");
    }
    // Redis 7.0 flags most blocking commands `noscript`; the others (BLMPOP, BZMPOP, XREAD,
    // XREADGROUP) run without blocking, as inside MULTI, but XREAD/XREADGROUP refuse BLOCK.
    if cmd.flags & flag::NOSCRIPT != 0 && !scripting.deny_disabled.load(Ordering::Relaxed) {
        return refuse("ERR This Redis command is not allowed from script");
    }
    if matches!(cmd.name, "xread" | "xreadgroup")
        && stream_read_blocks(refs, cmd.name == "xreadgroup")
    {
        let text = format!(
            "ERR {} command is not allowed with BLOCK option from scripts",
            String::from_utf8_lossy(refs[0])
        );
        return refuse(&text);
    }
    // The caller's ACL applies inside scripts too (logged with context `lua`), with 7.0's texts.
    if let Some(d) = crate::commands::acl::denial(ctx, cmd, refs, "lua") {
        return refuse(match d {
            Denied::Key(_) => {
                "ERR The user executing the script can't access at least one of the keys mentioned in the command arguments"
            }
            Denied::Channel(_) => {
                "ERR The user executing the script can't publish to the channel mentioned in the command"
            }
            Denied::Command(_) => {
                "ERR The user executing the script can't run this command or subcommand"
            }
        });
    }
    let writes = cmd.flags & flag::WRITE != 0;
    if writes {
        if read_only {
            return refuse("ERR Write commands are not allowed from read-only scripts.");
        }
        // Redis's scriptVerifyWriteCommandAllow: no writes while RDB saves fail.
        if crate::persist::rdb_save::writes_refused(ctx.engine) {
            return refuse(crate::persist::rdb_save::MISCONF);
        }
        // `min-replicas-to-write` without enough good replicas refuses a script's writes too.
        if ctx.engine.hot.min_replicas_to_write.load(Ordering::Relaxed) != 0
            && !crate::replication::primary::enough_good_replicas(ctx.engine)
        {
            return refuse(crate::commands::NOREPLICAS);
        }
        // A read-only replica refuses a script's writes (not its primary's stream's).
        if ctx.engine.replication.read_only.load(Ordering::Relaxed)
            && ctx.client.handle.kind.load(Ordering::Relaxed) != crate::client::kind::MASTER
        {
            return refuse(crate::replication::READONLY);
        }
    }
    // Redis's scriptVerifyOOM: over `maxmemory` when the script started, a `denyoom` command
    // fails unless the script already wrote (it cannot stop halfway) or has `allow-oom`.
    if cmd.flags & flag::DENYOOM != 0
        && scripting.oom_refuses.load(Ordering::Acquire)
        && !scripting.wrote.load(Ordering::Acquire)
        && ctx.engine.hot.maxmemory.load(Ordering::Relaxed) != 0
    {
        return refuse(crate::evict::OOM);
    }
    if writes {
        scripting.wrote.store(true, Ordering::Release);
    }
    // Cluster mode (Redis's scriptVerifyClusterState): local keys only, of one slot unless allowed.
    if let Some(m) = ctx.engine.cluster.get()
        && crate::cluster::redirect::applies(cmd)
    {
        use crate::cluster::redirect;
        if let Err(e) = redirect::route(ctx, m, cmd, refs, ctx.client.asking) {
            return refuse(match e.0.as_ref() {
                redirect::DOWN_READONLY => {
                    "ERR Script attempted to execute a write command while the cluster is down and readonly"
                }
                redirect::DOWN => {
                    "ERR Script attempted to execute a command while the cluster is down"
                }
                _ => "ERR Script attempted to access a non local key in a cluster node",
            });
        }
        if let Some(k) = cmd.keys(refs).first() {
            let slot = crate::cluster::key_slot(refs[k.pos]) as i32;
            let expected = scripting.cluster_slot.load(Ordering::Acquire);
            if expected == -1 {
                scripting.cluster_slot.store(slot, Ordering::Release);
            } else if expected != -2 && expected != slot {
                return refuse(
                    "ERR Script attempted to access keys that do not hash to the same slot",
                );
            }
        }
    }
    out.buf.clear();
    out.resp3 = resp == 3;
    {
        let mut inner = Ctx {
            engine: ctx.engine,
            client: &mut *ctx.client,
            out: &mut *out,
            // Redis 7 freezes time during a script: every call sees the script's start time
            // (the EVAL's own `now`), so a key cannot expire between two calls of one script.
            now: ctx.now,
            in_exec: true,
            retry: false,
        };
        let was = std::mem::replace(&mut inner.client.in_script, true);
        run(&mut inner, cmd, refs);
        inner.client.in_script = was;
    }
    let mut pos = 0;
    let failed = out.buf.first() == Some(&b'-');
    // SAFETY: the caller's contract; `push_reply` checks room as it nests.
    let pushed = unsafe { push_reply(state, &out.buf, &mut pos, 0) };
    // Do not keep a huge buffer around after one big reply.
    if out.buf.capacity() > 1 << 20 {
        *out = Out::new(false);
    }
    match pushed {
        Ok(()) => Ok(failed),
        Err(text) => {
            // SAFETY: the caller's contract; whatever the failed conversion pushed is dropped.
            unsafe { push_bytes(state, text.as_bytes()) };
            Err(())
        }
    }
}

fn line<'b>(buf: &'b [u8], pos: &mut usize) -> Result<&'b [u8], &'static str> {
    let start = *pos;
    let rel = buf[start..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or("truncated reply")?;
    *pos = start + rel + 2;
    Ok(&buf[start..start + rel])
}

fn num(l: &[u8]) -> i64 {
    crate::protocol::parse_i64(l).unwrap_or(0)
}

fn bulk_body<'b>(buf: &'b [u8], pos: &mut usize, n: i64) -> Result<&'b [u8], &'static str> {
    let n = n.max(0) as usize;
    let end = *pos + n;
    if end + 2 > buf.len() {
        return Err("truncated reply");
    }
    let b = &buf[*pos..end];
    *pos = end + 2;
    Ok(b)
}

/// Decode one RESP reply onto the Lua stack, the way Redis 7's `redisProtocolToLuaType` does.
/// On `Err` the stack may hold part of the value (the caller drops it by raising).
///
/// # Safety
/// `state` is a live Lua state with room for one more value (deeper levels check their own).
unsafe fn push_reply(
    state: *mut mlua::ffi::lua_State,
    buf: &[u8],
    pos: &mut usize,
    depth: usize,
) -> Result<(), &'static str> {
    use mlua::ffi;
    if *pos >= buf.len() {
        return Err("truncated reply");
    }
    if depth > MAX_DEPTH {
        return Err("reply nested too deeply");
    }
    let kind = buf[*pos];
    *pos += 1;
    let l = line(buf, pos)?;
    let count = |n: i64| std::ffi::c_int::try_from(n.clamp(0, 1 << 20)).unwrap_or(0);
    // SAFETY (whole block): the contract gives room for one value; nested levels and the keys
    // and values of tables get theirs from `lua_checkstack` first.
    unsafe {
        if ffi::lua_checkstack(state, 4) == 0 {
            return Err("reply nested too deeply");
        }
        match kind {
            b'+' => {
                push_bytes(state, l);
                wrap_field(state, b"ok");
            }
            // The command counted its error reply already.
            b'-' => push_call_err_table(state, &String::from_utf8_lossy(l)),
            b':' => ffi::lua_pushnumber(state, num(l) as f64),
            b'$' => {
                let n = num(l);
                if n < 0 {
                    ffi::lua_pushboolean(state, 0);
                } else {
                    push_bytes(state, bulk_body(buf, pos, n)?);
                }
            }
            b'*' | b'>' | b'~' => {
                let n = num(l);
                if n < 0 {
                    ffi::lua_pushboolean(state, 0);
                    return Ok(());
                }
                if kind == b'~' {
                    ffi::lua_createtable(state, 0, count(n));
                } else {
                    ffi::lua_createtable(state, count(n), 0);
                }
                for i in 0..n {
                    push_reply(state, buf, pos, depth + 1)?;
                    if kind == b'~' {
                        // A set member is a key (`true` its value); nil cannot be one.
                        if ffi::lua_type(state, -1) == ffi::LUA_TNIL {
                            ffi::lua_pop(state, 1);
                            continue;
                        }
                        ffi::lua_pushboolean(state, 1);
                        ffi::lua_rawset(state, -3);
                    } else {
                        ffi::lua_rawseti(state, -2, i as ffi::lua_Integer + 1);
                    }
                }
                if kind == b'~' {
                    wrap_field(state, b"set");
                }
            }
            b'%' => {
                let n = num(l);
                ffi::lua_createtable(state, 0, count(n));
                for _ in 0..n {
                    push_reply(state, buf, pos, depth + 1)?;
                    push_reply(state, buf, pos, depth + 1)?;
                    if ffi::lua_type(state, -2) == ffi::LUA_TNIL {
                        ffi::lua_pop(state, 2);
                        continue;
                    }
                    ffi::lua_rawset(state, -3);
                }
                wrap_field(state, b"map");
            }
            b'|' => {
                // Attributes are skipped; the reply follows.
                for _ in 0..num(l).max(0) * 2 {
                    push_reply(state, buf, pos, depth + 1)?;
                    ffi::lua_pop(state, 1);
                }
                push_reply(state, buf, pos, depth)?;
            }
            b'_' => ffi::lua_pushnil(state),
            b'#' => ffi::lua_pushboolean(state, std::ffi::c_int::from(l == b"t")),
            b',' => {
                let d = crate::commands::parse_float(l).unwrap_or(f64::NAN);
                ffi::lua_pushnumber(state, d);
                wrap_field(state, b"double");
            }
            b'(' => {
                push_bytes(state, l);
                wrap_field(state, b"big_number");
            }
            b'=' => {
                let body = bulk_body(buf, pos, num(l))?;
                let (format, text) = if body.len() >= 4 && body[3] == b':' {
                    (&body[..3], &body[4..])
                } else {
                    (&b"txt"[..], body)
                };
                ffi::lua_createtable(state, 0, 2);
                push_bytes(state, b"format");
                push_bytes(state, format);
                ffi::lua_rawset(state, -3);
                push_bytes(state, b"string");
                push_bytes(state, text);
                ffi::lua_rawset(state, -3);
                wrap_field(state, b"verbatim_string");
            }
            _ => return Err("unknown reply type"),
        }
    }
    Ok(())
}

/// Write a script's return value as a reply, the way Redis 7's `luaReplyToRedisReply` does.
/// A Lua number as Redis turns it into an integer reply: C's `(long long)` cast on x86-64,
/// which truncates toward zero and answers `LLONG_MIN` for NaN and anything out of range
/// (`return 1e30` and `return 0/0` both reply `-9223372036854775808` on redis-server 7.0.15).
fn c_long_long(n: f64) -> i64 {
    // 2^63: the first double past i64::MAX.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if n.is_nan() || !(-LIMIT..LIMIT).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

fn lua_to_resp(out: &mut Out, v: &Value, resp3: bool, depth: usize) {
    if depth > MAX_DEPTH {
        out.error("ERR reached lua stack limit");
        return;
    }
    match v {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) => {
            if resp3 {
                out.boolean(*b);
            } else if *b {
                out.int(1);
            } else {
                out.null();
            }
        }
        Value::Number(n) => out.int(c_long_long(*n)),
        Value::Integer(i) => out.int(*i),
        Value::Table(t) => table_to_resp(out, t, resp3, depth),
        _ => out.null(),
    }
}

fn table_to_resp(out: &mut Out, t: &Table, resp3: bool, depth: usize) {
    if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
        let text = String::from_utf8_lossy(&e.as_bytes()).into_owned();
        out.error(&text);
        return;
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("ok") {
        let text = String::from_utf8_lossy(&s.as_bytes()).replace(['\r', '\n'], " ");
        out.simple(&text);
        return;
    }
    if let Ok(Value::Number(d)) = t.raw_get::<Value>("double") {
        out.double(d);
        return;
    }
    if let Ok(Value::Integer(d)) = t.raw_get::<Value>("double") {
        out.double(d as f64);
        return;
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("big_number") {
        let text = String::from_utf8_lossy(&s.as_bytes()).replace(['\r', '\n'], " ");
        if out.resp3 {
            out.raw(format!("({text}\r\n").as_bytes());
        } else {
            out.bulk(text.as_bytes());
        }
        return;
    }
    // `{verbatim_string = {format = 'txt', string = '...'}}` (Redis's addReplyVerbatim: the
    // format's first three bytes, spaces for missing ones; a bulk string in RESP2).
    if let Ok(Value::Table(v)) = t.raw_get::<Value>("verbatim_string")
        && let Ok(Value::String(format)) = v.raw_get::<Value>("format")
        && let Ok(Value::String(text)) = v.raw_get::<Value>("string")
    {
        let text = text.as_bytes();
        if out.resp3 {
            let format = format.as_bytes();
            let mut ext = [b' '; 3];
            for (d, &c) in ext.iter_mut().zip(format.iter().take_while(|&&c| c != 0)) {
                *d = c;
            }
            out.raw(format!("={}\r\n", text.len() + 4).as_bytes());
            out.raw(&ext);
            out.raw(b":");
            out.raw(&text);
            out.raw(b"\r\n");
        } else {
            out.bulk(&text);
        }
        return;
    }
    if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
        let pairs: Vec<(Value, Value)> = m.pairs::<Value, Value>().filter_map(|p| p.ok()).collect();
        out.map(pairs.len());
        for (k, v) in &pairs {
            lua_to_resp(out, k, resp3, depth + 1);
            lua_to_resp(out, v, resp3, depth + 1);
        }
        return;
    }
    if let Ok(Value::Table(s)) = t.raw_get::<Value>("set") {
        let keys: Vec<Value> = s
            .pairs::<Value, Value>()
            .filter_map(|p| p.ok().map(|(k, _)| k))
            .collect();
        out.set(keys.len());
        for k in &keys {
            lua_to_resp(out, k, resp3, depth + 1);
        }
        return;
    }
    let mut items = Vec::new();
    let mut i = 1i64;
    loop {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(v),
        }
        i += 1;
    }
    out.array(items.len());
    for v in &items {
        lua_to_resp(out, v, resp3, depth + 1);
    }
}

#[cfg(test)]
mod number_format_tests {
    use super::{printf_g, printf_g_exact, shortest_g};

    /// Expected texts from C's printf (glibc), as redis-server 7.0.15 passes numbers of scripts.
    #[test]
    fn c_long_long_matches_x86_casts() {
        for (n, want) in [
            (3.99, 3),
            (-3.99, -3),
            (f64::NAN, i64::MIN),
            (1e30, i64::MIN),
            (-1e30, i64::MIN),
            (f64::INFINITY, i64::MIN),
            (9_223_372_036_854_775_808.0, i64::MIN),
            (-9_223_372_036_854_775_808.0, i64::MIN),
            (9_223_372_036_854_774_784.0, 9_223_372_036_854_774_784),
        ] {
            assert_eq!(super::c_long_long(n), want, "{n}");
        }
    }

    #[test]
    fn shortest_g_is_the_exact_rounding() {
        // Doubles of every magnitude and digit count, from a fixed-seed generator: where the
        // shortest path answers, it answers what rounding to `precision` digits prints.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut answered = 0;
        for i in 0..200_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = match i % 4 {
                0 => f64::from_bits(x),
                // Short decimals, as scripts write them (3.25, 0.001, 12.5e-7).
                1 => (x % 100_000) as f64 / 10f64.powi((x >> 40) as i32 % 12),
                2 => (x % 1000) as f64 * 10f64.powi((x >> 40) as i32 % 40 - 20),
                _ => {
                    ((x >> 11) as f64 / (1u64 << 53) as f64) * 10f64.powi((x >> 3) as i32 % 30 - 15)
                }
            };
            if !n.is_finite() {
                continue;
            }
            for precision in [1, 6, 14, 15] {
                if let Some(fast) = shortest_g(n, precision) {
                    answered += 1;
                    assert_eq!(
                        fast,
                        printf_g_exact(n, precision),
                        "%.{precision}g of {n:e}"
                    );
                }
            }
        }
        assert!(answered > 100_000, "{answered}");
        assert_eq!(shortest_g(0.1, 17), None);
        assert_eq!(shortest_g(3.25, 14).as_deref(), Some("3.25"));
        assert_eq!(shortest_g(-1.5e-7, 14).as_deref(), Some("-1.5e-07"));
        assert_eq!(shortest_g(0.000125, 14).as_deref(), Some("0.000125"));
        assert_eq!(shortest_g(1.0 / 3.0, 14), None);
    }

    #[test]
    fn printf_g_matches_c() {
        let g17 = [
            (3.0, "3"),
            (0.1, "0.10000000000000001"),
            (-7.0, "-7"),
            (1e20, "1e+20"),
            (9007199254740992.0, "9007199254740992"),
            (-0.0, "-0"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (9223372036854775808.0, "9.2233720368547758e+18"),
            (1.0 / 3.0, "0.33333333333333331"),
            (1e-7, "9.9999999999999995e-08"),
            (1e-4, "0.0001"),
            (1e300, "1.0000000000000001e+300"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (n, want) in g17 {
            assert_eq!(printf_g(n, 17), want, "%.17g of {n}");
        }
        assert_eq!(printf_g(0.1, 14), "0.1");
        assert_eq!(printf_g(1e15, 14), "1e+15");
        // The integral fast path's edges.
        assert_eq!(printf_g(1e14, 14), "1e+14");
        assert_eq!(printf_g(99_999_999_999_999.0, 14), "99999999999999");
        assert_eq!(printf_g(-42.0, 14), "-42");
        assert_eq!(printf_g(-0.0, 14), "-0");
        assert_eq!(printf_g(123.0, 17), "123");
        assert_eq!(printf_g(1e16, 17), "10000000000000000");
        assert_eq!(printf_g(999_999_999_999_999.0, 17), "999999999999999");
        assert_eq!(printf_g(123456.0, 14), "123456");
        assert_eq!(printf_g(-f64::NAN, 17), "-nan");
    }
}

//! Decoded values built with Lua's C API, for the libraries that turn bytes into Lua values
//! (`cjson.decode`, `cmsgpack.unpack`). The input is read first, every error found with the C
//! library's text, into a [`Tape`] of steps; the steps then run in one protected call
//! ([`Tape::run`]) in the C library's order, so tables fill (and `lua_next` later walks them) as
//! they do in redis-server. Why not mlua's `create_table`/`raw_set`: each value then costs a
//! registry reference and, under the script's heap cap, a protected call of its own — most of
//! a small decode's time — and deep input cannot hold a reference per level.
//!
//! The tape is memory the decode uses before Lua holds any of it: the caller bounds it by the
//! room under the heap cap ([`Tape::full`]).

use std::ffi::c_int;

use mlua::{Lua, ffi};

/// One step of building values on Lua's stack.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Step {
    /// A string: the next `len` bytes of the tape's text.
    Str(usize),
    Num(f64),
    Bool(bool),
    Nil,
    /// A NULL light userdata (`cjson.null`).
    Null,
    /// A new empty table (`lua_newtable`; the C libraries give no size hints).
    Table,
    /// Pops the value into the table below it at this index (`lua_rawseti`).
    SetIndex(i64),
    /// Pops a key and its value into the table below them (`lua_rawset`; the key is never nil
    /// or NaN: the reader refuses those first).
    SetField,
}

/// Steps and the bytes of their strings.
#[derive(Default)]
pub(super) struct Tape {
    steps: Vec<Step>,
    text: Vec<u8>,
}

impl Tape {
    /// Bytes the tape holds.
    pub(super) fn size(&self) -> usize {
        self.steps.len() * std::mem::size_of::<Step>() + self.text.len()
    }

    /// Whether the tape holds more than `room` bytes.
    pub(super) fn full(&self, room: usize) -> bool {
        self.size() > room
    }

    /// Adds a step (strings go through [`Self::string`]).
    pub(super) fn push(&mut self, step: Step) {
        self.steps.push(step);
    }

    /// Adds a string.
    pub(super) fn string(&mut self, s: &[u8]) {
        self.text.extend_from_slice(s);
        self.steps.push(Step::Str(s.len()));
    }

    /// Builds the values (the top-level ones, in order) with the heap cap in force; a memory
    /// error is Lua's (`not enough memory`).
    pub(super) fn run<R: mlua::FromLuaMulti>(&self, lua: &Lua) -> mlua::Result<R> {
        // SAFETY: `build` only pushes and sets values, inside mlua's protected call; its frame
        // holds nothing that needs dropping, so a memory error may unwind it.
        unsafe { lua.exec_raw::<R>((), |state| self.build(state)) }
    }

    /// # Safety
    /// `state` is live, inside a protected call, and the tape well formed (every set has its
    /// table, key and value below it).
    unsafe fn build(&self, state: *mut ffi::lua_State) {
        let mut at = 0usize;
        // SAFETY (whole body): per the caller; room is made before each push (a tape may leave
        // thousands of values on the stack: the readers stop where the C libraries' stack
        // runs out, so this check does not fail first), strings lie inside `self.text`.
        unsafe {
            for step in &self.steps {
                if !matches!(step, Step::SetIndex(_) | Step::SetField)
                    && ffi::lua_checkstack(state, 1) == 0
                {
                    ffi::luaL_error(state, c"stack overflow".as_ptr());
                }
                match *step {
                    Step::Str(len) => {
                        let bytes = self.text.get(at..at + len).unwrap_or(&[]);
                        ffi::lua_pushlstring(state, bytes.as_ptr().cast(), bytes.len());
                        at += len;
                    }
                    Step::Num(n) => ffi::lua_pushnumber(state, n),
                    Step::Bool(b) => ffi::lua_pushboolean(state, c_int::from(b)),
                    Step::Nil => ffi::lua_pushnil(state),
                    Step::Null => ffi::lua_pushlightuserdata(state, std::ptr::null_mut()),
                    Step::Table => ffi::lua_createtable(state, 0, 0),
                    Step::SetIndex(i) => ffi::lua_rawseti(state, -2, i as _),
                    Step::SetField => ffi::lua_rawset(state, -3),
                }
            }
        }
    }
}

/// The room the script's heap cap leaves (no cap: unbounded).
pub(super) fn room(lua: &Lua) -> usize {
    let cap = lua.set_memory_limit(0).unwrap_or(0);
    let _ = lua.set_memory_limit(cap);
    if cap == 0 {
        usize::MAX
    } else {
        cap.saturating_sub(lua.used_memory())
    }
}

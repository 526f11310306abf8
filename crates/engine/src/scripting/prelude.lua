-- Runs once in a fresh Lua state (chunk name "=redis"). Receives the Rust-side table `impl`
-- (helpers written in Rust) and returns the runner, the compiler and the raw `redis` table (whose
-- `call` and `pcall` Rust sets for each run). Builds the `redis` library, removes what Redis does not
-- expose and gives scripts a protected global environment like Redis 7 (no new globals, no access
-- to undefined ones, read-only library tables, no bytecode).
--
-- Why proxies: Redis patches its Lua with a read-only flag on tables; the vendored Lua 5.1 has none.
-- Every table a script can reach and must not change (the globals, the library tables, the string
-- metatable) is therefore an empty proxy whose metatable reads from the real table and refuses
-- writes. The only ways Lua 5.1 writes a table without going through `__newindex` are `rawset`,
-- `table.insert` (lua_rawseti) and `setmetatable`; they are wrapped to refuse proxies. `rawget`,
-- `next` and `pairs` read through proxies, so scripts see the tables as Redis shows them. The real
-- tables are never handed out: `_G` is the proxy, nested tables are proxies too. Functions compiled
-- by `loadstring`/`load` would get the thread's real global table (Lua 5.1's rule), so they get the
-- script's environment instead, and binary chunks are parsed as text like Redis does (bytecode
-- would let a script forge values and read memory).
local impl = ...
local dbg = debug
local G = _G
local loadstring, setfenv, setmetatable, xpcall = loadstring, setfenv, setmetatable, xpcall
local type, tostring, error, select, rawget = type, tostring, error, select, rawget
local raw_rawset, raw_next, raw_getmetatable, tonumber = rawset, next, getmetatable, tonumber
local raw_insert, concat = table.insert, table.concat

for _, name in ipairs({ 'debug', 'print', 'setfenv', 'getfenv', 'newproxy', 'module', 'require',
  'package', 'dofile', 'loadfile', 'os', 'io', '_G' }) do
  G[name] = nil
end

local READONLY = 'Attempt to modify a readonly table'

local function readonly()
  error(READONLY, 2)
end

-- proxy -> the real table it shows; proxy -> what getmetatable answers for it.
local targets, shown = {}, {}

local function protect(t, index)
  local p = setmetatable({}, { __index = index or t, __newindex = readonly, __metatable = false })
  targets[p] = t
  return p
end

-- The raw writers refuse proxies, with Redis's text raised like a C function would (no position).
-- Wrappers are Lua functions, so they check their arguments themselves (Redis's texts); what
-- remains for the real function cannot fail with a position. Scripts reach each wrapper through
-- a C function (`impl.through`) like the C function it stands for: a script that tail-calls it
-- (`return setmetatable(1)`) keeps its frame, so errors name its line. Levels therefore count the
-- wrapper (1), the C function (2), the caller (3); the checks below run one level deeper.
local through = impl.through
local function typename(n, ...)
  if select('#', ...) < n then
    return 'no value'
  end
  return type((select(n, ...)))
end
-- luaL_argerror: the function named as its caller called it (`?` if it cannot tell, as under
-- pcall), a method call counting `self` out. `level`: where the C function (`through`'s) is,
-- seen from the function calling argerror.
local function argerror(level, narg, msg)
  local i = dbg.getinfo(level + 1, 'n')
  local name = i and i.name or '?'
  if i and i.namewhat == 'method' then
    narg = narg - 1
    if narg == 0 then
      error("calling '" .. name .. "' on bad self (" .. msg .. ')', level + 2)
    end
  end
  error('bad argument #' .. narg .. " to '" .. name .. "' (" .. msg .. ')', level + 2)
end
local function check_table(...)
  if type((...)) ~= 'table' then
    argerror(3, 1, 'table expected, got ' .. typename(1, ...))
  end
end
local function check_any(n, ...)
  if select('#', ...) < n then
    argerror(3, n, 'value expected')
  end
end
G.rawset = through(function(...)
  check_table(...)
  check_any(2, ...)
  check_any(3, ...)
  local t, k, v = ...
  if targets[t] then
    error(READONLY, 0)
  end
  raw_rawset(t, k, v)
  return t
end)
G.setmetatable = through(function(...)
  check_table(...)
  local t, mt = ...
  if mt ~= nil and type(mt) ~= 'table' then
    argerror(2, 2, 'nil or table expected')
  end
  if targets[t] then
    error(READONLY, 0)
  end
  local current = dbg.getmetatable(t)
  if current ~= nil and rawget(current, '__metatable') ~= nil then
    error('cannot change a protected metatable', 3)
  end
  return (setmetatable(t, mt))
end)
G.getmetatable = through(function(...)
  check_any(1, ...)
  local v = ...
  if targets[v] then
    return shown[v]
  end
  return (raw_getmetatable(v))
end)
G.rawget = through(function(...)
  check_table(...)
  check_any(2, ...)
  local t, k = ...
  return (rawget(targets[t] or t, k))
end)
local function next_through(...)
  check_table(...)
  local t, k = ...
  local k2, v2 = raw_next(targets[t] or t, k)
  return k2, v2
end
G.next = through(next_through)
G.pairs = through(function(...)
  check_table(...)
  local t = ...
  return G.next, t, nil
end)
table.insert = through(function(...)
  check_table(...)
  local n = select('#', ...)
  if n ~= 2 and n ~= 3 then
    error("wrong number of arguments to 'insert'", 3)
  end
  local t, pos, v = ...
  if n == 3 and tonumber(pos) == nil then
    argerror(2, 2, 'number expected, got ' .. type(pos))
  end
  if targets[t] then
    error(READONLY, 0)
  end
  if n == 2 then
    raw_insert(t, pos)
  else
    raw_insert(t, pos, v)
  end
end)

-- Compile text only: a chunk starting with the bytecode signature is handed to the parser (one
-- space in front, the chunk name unchanged), which rejects it as Redis's patched Lua does:
-- `[string "?LuaQ"]:1: unexpected symbol near 'char(27)'`.
local function compile_text(body, chunkname)
  if body:byte(1) == 27 then
    return loadstring(' ' .. body, chunkname)
  end
  return loadstring(body, chunkname)
end
-- Turn an error text into Redis's Lua error table: "-CODE msg" or "msg" (code ERR).
local function errtable(s)
  local code, msg
  if s:sub(1, 1) == '-' then
    local sp = s:find(' ', 1, true)
    if sp then
      code, msg = s:sub(2, sp - 1), s:sub(sp + 1)
    else
      code, msg = 'ERR', s:sub(2)
    end
  else
    code, msg = 'ERR', s
  end
  msg = msg:gsub('^[\r\n]+', ''):gsub('[\r\n]+$', '')
  return { err = code .. ' ' .. msg }
end

local redis = {}
function redis.error_reply(...)
  local e = ...
  if select('#', ...) ~= 1 or type(e) ~= 'string' then
    return errtable('wrong number or type of arguments')
  end
  if e:sub(1, 1) ~= '-' then
    e = '-' .. e
  end
  return errtable(e)
end
function redis.status_reply(...)
  local s = ...
  if select('#', ...) ~= 1 or type(s) ~= 'string' then
    return errtable('wrong number or type of arguments')
  end
  return { ok = s }
end
redis.sha1hex = impl.sha1hex
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.log = impl.log
redis.setresp = impl.setresp
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.set_repl = impl.set_repl
function redis.replicate_commands()
  return true
end
function redis.breakpoint()
  return false
end
function redis.debug() end
redis.REDIS_VERSION = impl.version
redis.REDIS_VERSION_NUM = impl.version_num

G.redis = protect(redis)
G.bit = impl.bit and protect(impl.bit) or nil
G.cjson = impl.cjson and protect(impl.cjson) or nil
G.cmsgpack = impl.cmsgpack and protect(impl.cmsgpack) or nil
G.struct = impl.struct and protect(impl.struct) or nil
math.random, math.randomseed = impl.random, impl.randomseed
for _, name in ipairs({ 'string', 'table', 'math', 'coroutine' }) do
  G[name] = protect(G[name])
end
-- Strings find their methods through their metatable: its `__index` becomes the read-only
-- `string`, and `getmetatable('')` answers a read-only view of the metatable (its `__metatable`).
do
  local string_mt = raw_getmetatable('')
  string_mt.__index = G.string
  string_mt.__metatable = protect(string_mt)
end

-- The message of an error a Rust library function raised (an mlua error value), as luaL_error
-- would have put it. A memory error (an allocation past the heap cap inside the function, or a
-- decode whose values cannot fit under it) is Lua's own: `not enough memory`, and `true`.
local function rust_error_text(e)
  local text = tostring(e):gsub('\n?stack traceback:.*$', '')
  local memory = text:match('^memory error: (.*)$')
  if memory then
    return memory, true
  end
  return (text:gsub('^runtime error: ', '')), false
end

-- Like Redis 7, a script's pcall sees an error table (from redis.call or error({err=...})) as
-- its message string.
local raw_pcall = pcall
local function caught(ok, ...)
  if ok then
    return true, ...
  end
  local e = ...
  if impl.killed() then
    -- SCRIPT KILL cannot be caught.
    error(e, 0)
  end
  if type(e) == 'userdata' then
    local pending = impl.take_pending(tostring(e))
    if pending then
      e = pending
    else
      e = rust_error_text(e)
    end
  end
  if type(e) == 'table' and type(rawget(e, 'err')) == 'string' then
    e = rawget(e, 'err')
  end
  return false, e
end
G.pcall = through(function(...)
  -- Redis 7's pcall (luaRedisPcall) calls what sits where the function should be: with no
  -- argument at all, its own result placeholder `true`.
  if select('#', ...) == 0 then
    return false, 'attempt to call a boolean value'
  end
  return caught(raw_pcall(...))
end)

-- The environment of scripts and library code (defined below).
local env

-- Like Redis's __redis__err__handler: a table {err=..., source=..., line=...}, with the position
-- of the first Lua frame that is neither C nor this prelude.
local function handler(err)
  local level = 2
  local i = dbg.getinfo(level, 'nSl')
  -- A tail call's placeholder frame (`=(tail call)`, line -1) is skipped too: the prelude's
  -- wrappers (`pcall`) tail-call, and Redis, whose pcall is Lua's own, names the script's line.
  -- When the script's own frame was the one replaced (`return table.insert(...)`), nothing
  -- follows and the placeholder is all there is.
  local tail
  while i and (i.what == 'C' or i.what == 'tail' or i.source == '=redis') do
    if i.what == 'tail' and not tail then
      tail = i
    end
    level = level + 1
    i = dbg.getinfo(level, 'nSl')
  end
  i = i or tail
  if type(err) == 'userdata' then
    -- redis.call raises its error table itself; the Rust library functions (mlua callbacks)
    -- raise a marker instead, their error table waits in impl.
    local pending = impl.take_pending(tostring(err))
    if pending then
      err = pending
    end
  end
  if type(err) == 'userdata' then
    -- Another error raised by a Rust library function: report it like luaL_error would, a
    -- memory error like Lua's own (which skips the handler: no position, no error table).
    local text, memory = rust_error_text(err)
    if memory then
      return text
    end
    if i then
      text = i.short_src .. ':' .. tostring(i.currentline) .. ': ' .. text
    end
    err = text
  end
  if type(err) ~= 'table' then
    err = { err = 'ERR ' .. tostring(err) }
  elseif type(rawget(err, 'err')) ~= 'string' then
    err = { err = 'ERR ' .. tostring(rawget(err, 'err')) }
  end
  if i then
    err.source = i.source
    err.line = i.currentline
  end
  return err
end

local function run(f, keys, argv)
  G.KEYS = keys
  G.ARGV = argv
  local ok, r = xpcall(f, handler)
  return ok, r
end

local function compile(body, name)
  local f, e = compile_text(body, name)
  if not f then
    return nil, e
  end
  setfenv(f, env)
  return f
end

-- Functions (FUNCTION LOAD / FCALL). A library's chunk gets an environment of its own whose
-- lookups go, while the library loads, to a small API (`redis.register_function`, `redis.log`,
-- the constants) and afterwards, when its functions run, to the usual globals, like Redis 7.
local flag_names = { 'no-writes', 'allow-oom', 'allow-stale', 'no-cluster', 'allow-cross-slot-keys' }
local flag_bits = {}
for i, name in ipairs(flag_names) do
  flag_bits[name] = 2 ^ (i - 1)
end

local registered

local function fail(msg)
  error({ err = 'ERR ' .. msg })
end

local function is_string(v)
  local t = type(v)
  return t == 'string' or t == 'number'
end

local function register(...)
  local argc = select('#', ...)
  if argc < 1 or argc > 2 then
    fail('wrong number of arguments to redis.register_function')
  end
  local name, callback, flags, description
  flags = 0
  if argc == 1 then
    local args = ...
    if type(args) ~= 'table' then
      fail('calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).')
    end
    for k, v in G.pairs(args) do
      if type(k) ~= 'string' then
        fail('named argument key given to redis.register_function is not a string')
      end
      if k == 'function_name' then
        if not is_string(v) then
          fail('function_name argument given to redis.register_function must be a string')
        end
        name = tostring(v)
      elseif k == 'description' then
        if not is_string(v) then
          fail('description argument given to redis.register_function must be a string')
        end
        description = tostring(v)
      elseif k == 'callback' then
        if type(v) ~= 'function' then
          fail('callback argument given to redis.register_function must be a function')
        end
        callback = v
      elseif k == 'flags' then
        if type(v) ~= 'table' then
          fail('flags argument to redis.register_function must be a table representing function flags')
        end
        for _, f in G.ipairs(v) do
          local bit = type(f) == 'string' and flag_bits[f]
          if not bit then
            fail('unknown flag given')
          end
          if flags % (2 * bit) < bit then
            flags = flags + bit
          end
        end
      else
        fail('unknown argument given to redis.register_function')
      end
    end
    if name == nil then
      fail('redis.register_function must get a function name argument')
    end
    if callback == nil then
      fail('redis.register_function must get a callback argument')
    end
  else
    name, callback = ...
    if not is_string(name) then
      fail('first argument to redis.register_function must be a string')
    end
    name = tostring(name)
    if type(callback) ~= 'function' then
      fail('second argument to redis.register_function must be a function')
    end
  end
  if not registered then
    fail('redis.register_function can only be called on FUNCTION LOAD command')
  end
  if name == '' or name:find('[^%w_]') then
    fail('Library names can only contain letters, numbers, or underscores(_) and must be at least one character long')
  end
  for _, f in G.ipairs(registered) do
    if f.name == name then
      fail('Function already exists in the library')
    end
  end
  registered[#registered + 1] = { name = name, callback = callback, flags = flags, description = description }
end

local function strict(t)
  return protect(t, function(_, k)
    local v = rawget(t, k)
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
    end
    return v
  end)
end

local load_globals = {
  redis = strict({
    register_function = register,
    log = redis.log,
    LOG_DEBUG = redis.LOG_DEBUG,
    LOG_VERBOSE = redis.LOG_VERBOSE,
    LOG_NOTICE = redis.LOG_NOTICE,
    LOG_WARNING = redis.LOG_WARNING,
    REDIS_VERSION = redis.REDIS_VERSION,
    REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM,
  }),
}

-- Scripts and functions see the globals through `env`; while a library loads, only `load_globals`.
-- Lookups follow `__index` tables (the VM's own loop, no Lua call per global read): env -> the
-- globals (or `load_globals`) -> a function raising Redis's error for a name that is not there.
local function nonexistent(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end
setmetatable(load_globals, { __index = nonexistent })
local env_mt = { __index = G, __newindex = readonly, __metatable = false }
env = setmetatable({}, env_mt)
targets[env] = G
local function loading(on)
  if on then
    env_mt.__index = load_globals
  else
    env_mt.__index = G
  end
end
G._G = env
-- Redis's globals have a metatable with `__index` (the nonexistent-global check).
shown[env] = protect({ __index = function() end })

-- Load a library's code: the registered functions, or nil and the error text.
local function load_library(body)
  local f, e = compile_text(body, '@user_function')
  if not f then
    return nil, 'Error compiling function: ' .. tostring(e)
  end
  setfenv(f, env)
  registered = {}
  loading(true)
  local ok, err = raw_pcall(f)
  loading(false)
  local result = registered
  registered = nil
  if not ok then
    if type(err) == 'table' and type(rawget(err, 'err')) == 'string' then
      err = rawget(err, 'err')
    elseif type(err) == 'userdata' then
      local pending = impl.take_pending(tostring(err))
      if type(pending) == 'table' and type(rawget(pending, 'err')) == 'string' then
        err = rawget(pending, 'err')
      else
        err = 'ERR ' .. tostring(err):gsub('^runtime error: ', ''):gsub('\n?stack traceback:.*$', '')
      end
    else
      err = 'ERR ' .. tostring(err)
    end
    return nil, 'Error registering functions: ' .. err
  end
  return result
end

local function run_function(f, keys, args)
  -- Whatever ended the last load, a function always sees the usual globals.
  loading(false)
  registered = nil
  return xpcall(function()
    return f(keys, args)
  end, handler)
end

-- `loadstring` and `load` for scripts: text only, and the new function runs in the scripts'
-- environment, never in the real globals.
local function load_text(body, chunkname)
  local f, e = compile_text(body, chunkname)
  if not f then
    return nil, e
  end
  setfenv(f, env)
  return f
end
G.loadstring = through(function(...)
  local body, chunkname = ...
  if type(body) ~= 'string' and type(body) ~= 'number' then
    argerror(2, 1, 'string expected, got ' .. typename(1, ...))
  end
  if chunkname ~= nil and type(chunkname) ~= 'string' and type(chunkname) ~= 'number' then
    argerror(2, 2, 'string expected, got ' .. type(chunkname))
  end
  body = tostring(body)
  return load_text(body, chunkname and tostring(chunkname) or body)
end)
G.load = through(function(...)
  local reader, chunkname = ...
  if type(reader) ~= 'function' then
    argerror(2, 1, 'function expected, got ' .. typename(1, ...))
  end
  if chunkname ~= nil and type(chunkname) ~= 'string' and type(chunkname) ~= 'number' then
    argerror(2, 2, 'string expected, got ' .. type(chunkname))
  end
  local parts = {}
  while true do
    local piece = reader()
    if piece == nil or piece == '' then
      break
    end
    if type(piece) ~= 'string' then
      return nil, 'reader function must return a string'
    end
    parts[#parts + 1] = piece
  end
  return load_text(concat(parts), chunkname and tostring(chunkname) or '=(load)')
end)

-- Last: from here on a read of a missing global fails (the code above may read them freely).
setmetatable(G, { __index = nonexistent })

return run, compile, redis, load_library, run_function

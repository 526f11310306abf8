return cjson.encode({1/3, 1e15, 1e20, 0.1, -0.0, 2^53, 123456789012, -1e-7, 1e-5})
====
return cjson.encode({a=1,b=2,c=3,zz=4,key=5,x={y='/'}})
====
return cjson.encode({'\255\1\127\8\9\10\11\12\13\31 "\\'})
====
return cjson.decode('"\255\1"')
====
return cjson.encode({[1]=1,[3]=3})
====
return cjson.encode({[1]=1,a=3})
====
return cjson.decode('[1e400, 0x10, -0, 1E2]')[2]
====
return tostring(cjson.decode('[1e400]')[1])
====
return cjson.encode(cjson.decode('{"1":2}'))
====
return cjson.encode({[1.5]=2})
====
return cjson.encode(function() end)
====
return cjson.encode({[true]=1})
====
return cjson.decode('[1,2,]')
====
return cjson.decode('{"a":1,}')
====
return cjson.decode(' ["\\u00e9\\ud83d\\ude00"] ')[1]
====
return cjson.decode('"\\x"')
====
return tostring(cjson.decode('nan'))
====
return tostring(cjson.decode('Infinity'))
====
return tostring(cjson.decode('-Infinity'))
====
return tostring(cjson.decode('+5'))
====
return cjson.decode('{')
====
return cjson.decode('[1,2')
====
return cjson.decode('{"a":}')
====
return cjson.decode('tru')
====
return cjson.decode('"abc')
====
return cjson.decode('1 2')
====
return cjson.decode('')
====
return cjson.decode('-')
====
return cjson.decode('[-]')
====
return cjson.decode('{"a" 1}')
====
return cjson.decode('{1:2}')
====
return cjson.decode('"\\u12"')
====
return cjson.decode('"\\ud800"')
====
return cjson.decode('"\\ud800\\u0041"')
====
return cjson.decode('"\\udc00"')
====
return cjson.decode('[1]\0garbage')[1]
====
return cjson.decode('\0[')
====
return cjson.decode(5)
====
return cjson.decode(1.5)
====
return cjson.decode({})
====
return cjson.decode()
====
return cjson.decode('1', 2)
====
return cjson.encode()
====
return cjson.encode(1, 2)
====
return cjson.encode(0/0)
====
return cjson.encode(1/0)
====
return cjson.encode({[1/0]=1})
====
return cjson.encode({})
====
return cjson.encode({{}, {{}}})
====
return cjson.encode({[1]=1,[2]=2,[20]=20})
====
return cjson.encode({[1]=1,[11]=1})
====
return cjson.encode({[1]=1,[10]=1})
====
return cjson.encode(cjson.null)
====
return cjson.encode({cjson.null, true, false})
====
return cjson.encode(nil)
====
return cjson.encode('x')
====
return cjson.encode(12)
====
local t = {} local c = t for i=1,1000 do c[1] = {} c = c[1] end return cjson.encode(t)
====
local t = {} local c = t for i=1,999 do c[1] = {} c = c[1] end return #cjson.encode(t)
====
return #cjson.decode(string.rep('[', 1000) .. string.rep(']', 1000))
====
return cjson.decode(string.rep('[', 1001) .. string.rep(']', 1001))
====
return cjson.decode(string.rep('{"a":', 1001))
====
return {cjson.encode_max_depth(), cjson.decode_max_depth(), cjson.encode_number_precision(), tostring(cjson.encode_keep_buffer()), tostring(cjson.encode_invalid_numbers()), tostring(cjson.decode_invalid_numbers())}
====
return {cjson.encode_sparse_array()}
====
local c = cjson.new() c.encode_number_precision(3) return c.encode({1/3, 12345})
====
local c = cjson.new() c.encode_invalid_numbers('null') return {c.encode({0/0, 1/0}), c.encode_invalid_numbers()}
====
local c = cjson.new() c.encode_invalid_numbers(true) return c.encode({0/0, 1/0, -1/0})
====
local c = cjson.new() c.decode_invalid_numbers(false) return c.decode('0x10')
====
local c = cjson.new() c.decode_invalid_numbers(false) return c.decode('Infinity')
====
local c = cjson.new() c.decode_invalid_numbers(false) return c.decode('+1')
====
local c = cjson.new() c.decode_invalid_numbers(false) return c.decode('012')
====
local c = cjson.new() c.decode_invalid_numbers(false) return c.decode('-0')
====
local c = cjson.new() c.encode_sparse_array(true) return c.encode({[1]=1,[20]=2})
====
local c = cjson.new() return {c.encode_sparse_array(true, 3, 5)}
====
local c = cjson.new() c.encode_sparse_array(false, 0) return #c.encode({[1]=1,[200]=2})
====
return cjson.encode_number_precision(15)
====
return cjson.encode_number_precision(0)
====
return cjson.encode_number_precision('x')
====
return cjson.encode_number_precision('5')
====
return cjson.encode_max_depth(1, 2)
====
return cjson.encode_invalid_numbers('maybe')
====
return cjson.encode_invalid_numbers(5)
====
return cjson.encode_sparse_array(true, -1)
====
return cjson.encode_sparse_array(true, 1, 'z')
====
return cjson.encode_sparse_array('z')
====
return cjson.encode_keep_buffer('on')
====
return cjson.encode_keep_buffer('yes')
====
return {cjson._NAME, cjson._VERSION}
====
local c = cjson.new() return c.encode_max_depth(3)
====
local c = cjson.new() c.encode_max_depth(2) return c.encode({{{1}}})
====
local c = cjson.new() c.decode_max_depth(2) return c.decode('[[[1]]]')
====
local c = cjson.new() c.decode_max_depth(100000) return c.decode(string.rep('[', 9000) .. string.rep(']', 9000))
====
local c = cjson.new() c.decode_max_depth(100000) return c.decode(string.rep('{"a":', 9000))
====
local c = cjson.new() c.encode_max_depth(100000) local t = {} local x = t for i=1,9000 do x[1] = {} x = x[1] end return c.encode(t)
====
local c = cjson.new() c.encode_max_depth(100000) local t = {} local x = t for i=1,9000 do x.k = {} x = x.k end return c.encode(t)
====
return cjson.encode({a={b={c={1,2,{d='e'}}}}, [5]=1})
====
return cjson.decode('{"a":{"b":[1,2,{"c":null}]},"d":"\\/\\b\\f\\n\\r\\t\\"\\\\"}').d
====
return cjson.encode(cjson.decode('{"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10}'))
====
return cjson.encode({1, 2, nil, 4})
====
return cjson.encode({[0]=1})
====
return cjson.encode({[-1]=1})
====
return cjson.encode({1, 2, x=3})
====
return cjson.decode('1.5e3xyz')
====
return cjson.decode('  \t\n\r 42  ')
====
return cjson.decode('[1,\t2 , 3 ]')
====
return cjson.decode('{"a":1, "a":2}').a
====
return cjson.decode('0x1p4')
====
return cjson.decode('00012')
====
return cjson.decode('[nul]')
====
return cjson.decode('[true,false,null]')[2]
====
return cjson.encode(cjson.decode('[true,false,null]'))
====
return cjson.encode({["\0"]="\0"})
====
return cjson.decode('"a\0b"')
====
return cjson.encode(coroutine.create(function() end))
====
return cjson.encode({[{}]=1})
====
return cjson:encode({})
====
local e = cjson.encode return e()
local t={} for i=1,10000 do t['k'..i]=i end return #cjson.encode(t)
====
local t={} for i=1,10000 do t['k'..i]=i end return cjson.encode(t):sub(1, 300)
====
local t={} for i=1,10000 do t[i]='v'..i end return #cjson.encode(t)
====
local s = '{' for i=1,10000 do s = s .. '"k'..i..'":' .. i .. ',' end s = s .. '"z":1}' local t = cjson.decode(s) return t.k5000
====
local s = '[' for i=1,10000 do s = s .. '[' .. i .. '],' end s = s .. '1]' local t = cjson.decode(s) return t[5000][1]
====
local c = cjson.new() c.decode_max_depth(100000) local t = c.decode(string.rep('[', 7000) .. '5' .. string.rep(']', 7000)) for i=1,7000 do t = t[1] end return t
====
local c = cjson.new() c.decode_max_depth(100000) return c.decode(string.rep('{"a":', 2700))
====
local c = cjson.new() c.decode_max_depth(100000) return c.decode(string.rep('{"a":', 2600) .. '1' .. string.rep('}', 2600)).a.a.a.a ~= nil
====
local c = cjson.new() c.encode_max_depth(100000) local t = {} local x = t for i=1,7990 do x[1] = {} x = x[1] end return #c.encode(t)
====
local c = cjson.new() c.encode_max_depth(100000) local t = {} local x = t for i=1,2700 do x.k = {} x = x.k end return c.encode(t)
====
local c = cjson.new() c.encode_max_depth(100000) local t = {} local x = t for i=1,2600 do x.k = {} x = x.k end return #c.encode(t)
====
local t = {} t[1] = t return cjson.encode(t)
====
local t = {a=1} t.b = t return cjson.encode(t)
====
return cjson.encode({string.rep('\1', 3), string.rep('é', 2), {['\255']='\254'}})
====
local ok, e = pcall(cjson.decode, '[') return {tostring(ok), e}
====
local ok, e = pcall(cjson.encode, {function() end}) return {tostring(ok), e}
====
return cjson.decode('[1.7976931348623157e308, 4.9e-324, 2.2250738585072014e-308, 123456789012345678901234567890]')[4]
====
return tostring(cjson.decode('[1.7976931348623157e308, 4.9e-324, 2.2250738585072014e-308, 0.1]')[2])
====
return cjson.encode({1.7976931348623157e308, 4.9e-324, 2.2250738585072014e-308, 123456789012345678901234567890, 0.1, 100, 1e14, 1e-4, 1e-5, 123.456})
====
return cjson.encode(cjson.decode('[0x1p-1074, 0x1.fffffffffffffp1023, 0x1.0000000000000fffp0, 0xABCDEF0123456789ABC]'))
====
return cjson.encode(cjson.decode('[1e-400, -1e-400, 1e+, 5]'))
====
return cjson.decode('[1e+]')
====
return cjson.encode(cjson.decode('[-0.0, 0e0, 1E+2, 1e-2, 12.50]'))
====
return cjson.encode(cjson.decode('[infinity, -inf, InFiNiTy]'))
====
local c = cjson.new() c.encode_invalid_numbers(true) return c.encode(cjson.decode('[infinity, -inf, nan, -nan]'))
====
return cjson.decode('[inx]')
====
return cjson.decode('[nanx]')
====
return cjson.decode('[NaN(123)]')[1] ~= nil
====
return cjson.decode('[-x]')
====
return cjson.decode('[--1]')
====
return cjson.decode('[.5]')
====
return cjson.decode('[5.]')[1]
====
return cjson.decode('"\\u0000"'):byte(1)
====
return cjson.decode('"\\uD834\\uDD1E"')
====
return cjson.decode('"\\uDFFF"'):len()
====
return cjson.decode('"\\uFFFF"'):len()
====
return cjson.decode('"\\u00"')
====
return cjson.decode('"\\uD834\\uDD"')
====
return cjson.decode('"\\uD834x"')
====
return cjson.decode('"\\uD834\\u0000"')
====
return cjson.decode('[1] ]')
====
return cjson.decode('{"a":1}}')
====
return cjson.decode('{"a":1 "b":2}')
====
return cjson.decode('{"a"}')
====
return cjson.decode('{"a":1,"b"}')
====
return cjson.decode('{"a":1,"b":')
====
return cjson.decode('{,}')
====
return cjson.decode('[,]')
====
return cjson.decode(':')
====
return cjson.decode('  ')
====
return cjson.decode('\255')
====
return cjson.decode('"\255\254"')
====
return cjson.decode('a\0')
====
return cjson.decode('aa\0')
====
return cjson.encode_sparse_array(nil, 5)
====
return {cjson.encode_sparse_array(nil, nil, 3)}
====
return cjson.encode_sparse_array(1)
====
return cjson.encode_max_depth(1.9)
====
return cjson.encode_max_depth(-1)
====
return cjson.encode_max_depth(2^32 + 5)
====
return cjson.encode_max_depth({})
====
return cjson.encode_max_depth(nil)
====
return cjson.encode_invalid_numbers('null')
====
return cjson.decode_invalid_numbers('off')
====
return cjson.encode_keep_buffer(false)
====
return cjson.new(1,2,3)._NAME
====
return cjson.new().encode({1})
====
return cjson.encode({[2^31]=1})
====
return cjson.encode({[2^31]=1, [2]=1})
====
local c = cjson.new() c.encode_sparse_array(false, 0) return c.encode({[2^31]=1})
local t={} for i=1,10000 do t['k'..i]=i end return #cmsgpack.pack(t)
====
local t={} for i=1,10000 do t[i]=i end return #cmsgpack.pack(t)
====
local t={} for i=1,10000 do t[i]=i end return #cmsgpack.unpack(cmsgpack.pack(t))
====
return cmsgpack.pack({1,2,3,'a',{b=1}, true, false, 1.5, -1, -200, 70000, 2^40, -2^40, 0.1})
====
return cmsgpack.pack({a=1,b=2,c=3,zz=4,key=5})
====
return cmsgpack.pack('\255\0')
====
return {cmsgpack.unpack(cmsgpack.pack(1, 'a', {1,2}))}
====
return cmsgpack.pack()
====
return cmsgpack.unpack('')
====
return cmsgpack.unpack('\193')
====
return cmsgpack.unpack('\146\1')
====
return cmsgpack.pack({[1]=1,[3]=3})
====
return cmsgpack.pack(function() end)
====
return cmsgpack.pack(0/0)
====
return cmsgpack.pack(1/0)
====
return cmsgpack.pack(-0.0)
====
local t = {} t[1] = t return #cmsgpack.pack(t)
====
local t = {} local c = t for i=1,100 do c[1] = {} c = c[1] end return cmsgpack.pack(t)
====
return cmsgpack.unpack_one(cmsgpack.pack(1, 2))
====
return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}
====
return {cmsgpack.unpack_one(cmsgpack.pack(1, 2), 2)}
====
local r={} for k,v in pairs(cmsgpack) do r[#r+1]=k end table.sort(r) return r
====
return cmsgpack.pack(string.rep('x', 40))
====
return cmsgpack.pack(string.rep('x', 300))
====
return cmsgpack.pack({[1.5]=1})
====
return cmsgpack.pack({[true]=1})
====
return cmsgpack.pack(cjson.null)
return cmsgpack.unpack('\129\192\1')
====
return cmsgpack.unpack('\129\203\255\248\0\0\0\0\0\0\1')
====
return cmsgpack.pack({})
====
return {cmsgpack.unpack('\196\1a')}
====
return cmsgpack.unpack(string.rep('\145', 5000) .. '\1')
====
return cmsgpack.unpack(string.rep('\129\1', 5000) .. '\1')
====
local t = cmsgpack.unpack(string.rep('\145', 3000) .. '\7') for i=1,3000 do t = t[1] end return t
====
local t = cmsgpack.unpack(string.rep('\129\1', 3000) .. '\7') for i=1,3000 do t = t[1] end return t
====
local t = cmsgpack.unpack(string.rep('\129\145\1', 1500) .. '\7') return t[{1}] == nil
====
return #{cmsgpack.unpack(string.rep('\1', 7998))}
====
return #{cmsgpack.unpack(string.rep('\1', 8000))}
====
return #{cmsgpack.unpack(string.rep('\1', 9000), 1, 2, 3)}
====
return cmsgpack.unpack_one('\1', 5)
====
return cmsgpack.unpack_one('\1\2', -1)
====
return cmsgpack.unpack_limit('\1\2', -1)
====
return {cmsgpack.unpack_limit('\1\2', 0)}
====
return {cmsgpack.unpack_limit('\1\2', 0, 1)}
====
return {cmsgpack.unpack_limit('\1\2\3', 5, 1)}
====
return {cmsgpack.unpack_one('\1\2\3', '1')}
====
return {cmsgpack.unpack_one('\1\2\3', 1.9)}
====
return cmsgpack.unpack_one('\1', 'x')
====
return cmsgpack.unpack_limit('\1')
====
return cmsgpack.unpack_limit('\1', {})
====
return cmsgpack.unpack({})
====
return cmsgpack.unpack()
====
return {cmsgpack.unpack(12)}
====
return {cmsgpack.unpack('')}
====
return {cmsgpack.unpack_one('')}
====
return cmsgpack.unpack('\207\255\255\255\255\255\255\255\255')
====
return tostring(cmsgpack.unpack('\207\128\0\0\0\0\0\0\0'))
====
return cmsgpack.pack(2^62, -2^63, 2^63, 1e19, 0/0, 1/0, -1/0, 0.5, 0.1, -0.0, 2^31, -2^31-1)
====
return cmsgpack.pack({[1]=1,[2^31]=2})
====
return cmsgpack.pack({[1]=1,[2]=2,[4]=4})
====
return cmsgpack.pack({[1]=1,[1.5]=2})
====
return cmsgpack.pack({[2]=1})
====
return cmsgpack.pack(unpack((function() local t = {} for i=1,4001 do t[i]=i end return t end)()))
====
return #cmsgpack.pack(unpack((function() local t = {} for i=1,4000 do t[i]=i end return t end)()))
====
local t = {} local c = t for i=1,20 do c[1] = {} c = c[1] end return cmsgpack.pack(t)
====
local t = {} local c = t for i=1,20 do c.k = {} c = c.k end return cmsgpack.pack(t)
====
local t = {} t[{}] = {} return cmsgpack.pack(t)
====
return cmsgpack.pack({f=function() end, c=coroutine.create(function() end), n=cjson.null})
====
return {cmsgpack.unpack(cmsgpack.pack({a={b={c={1,2,3}}}}, 'x', 3.25, true))}
====
return cmsgpack.unpack('\146\1')
====
return cmsgpack.unpack('\218\0')
====
return cmsgpack.unpack('\219\0\0\0\5abc')
====
return cmsgpack.unpack('\217\5abc')
====
return cmsgpack.unpack('\165abc')
====
return cmsgpack.unpack('\220\0')
====
return cmsgpack.unpack('\221\0\0\0\2\1')
====
return cmsgpack.unpack('\222\0\1\1')
====
return cmsgpack.unpack('\223\0\0\0\0')
====
return {cmsgpack.unpack('\193\1')}
====
return {cmsgpack.unpack('\212\1\1')}
====
return {cmsgpack.unpack('\199\1\1\1')}
====
return {cmsgpack.unpack('\202\64\73\15\219')}
====
return {cmsgpack.unpack('\202\64\73')}
====
return {cmsgpack.unpack('\203\64\9\33\251\84\68\45\24')}
====
return {cmsgpack.unpack('\208\255\209\255\0\210\255\255\255\0\211\255\255\255\255\255\255\255\0\204\255\205\255\255\206\255\255\255\255')}
====
return {cmsgpack.unpack('\224\255\127\0')}
====
local ok, e = pcall(cmsgpack.unpack, '\146\1') return {tostring(ok), e}

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
return struct.pack('>I', 1)
====
return {struct.unpack('>I', '\0\0\0\1')}
====
return struct.pack('xyz', 1)
====
return struct.size('i')
====
return struct.pack('>I')
====
return {struct.unpack('>I', 'ab')}
====
return struct.pack('s', 'abc') .. struct.pack('c0', 'x')
====
return {struct.unpack('c0', 'x')}
====
return struct.pack('!4 i b', 1, 2)
====
return struct.pack('i99999999999', 1)
====
return struct.pack('i33', 1)
====
return {struct.unpack('b', 'a', 0)}
====
return {struct.unpack('b', 'a', -5)}
====
return {struct.unpack('b', 'abc', 2)}
====
return {struct.unpack('b', 'a', 2)}
====
return struct.pack('>II', 1)
====
return struct.pack('>III', 1)
====
return struct.pack('>c3', 'ab')
====
return struct.pack('>c3c3', 'abc', 'a')
====
return struct.size('iy')
====
return struct.size('!3')
====
return struct.size('s')
====
return struct.size('c0')
====
return struct.size('!i b i d')
====
return {struct.unpack('c0', '5hello')}
====
return {struct.unpack('c0', '5')}
====
return {struct.unpack('bc0', '\3hello')}
====
return {struct.unpack('bc0', '\9hello')}
====
return {struct.unpack('s', 'abc')}
====
return struct.pack('<i16', -1)
====
return {struct.unpack('<i16', struct.pack('<i16', -1))}
====
return {struct.unpack('>i16', struct.pack('>i16', -1))}
====
return {struct.unpack('<i3', '\255\255\255')}
====
return {struct.unpack('<I3', '\255\255\255')}
====
return struct.pack('>f', 1.5)
====
return struct.pack('<f', 1.5)
====
return struct.pack('>d', 1.5)
====
return struct.pack('b', 2^70)
====
return struct.pack('B', -1)
====
return struct.pack('>L', -2^70)
====
return struct.pack('>L', 2^63)
====
return struct.pack('>L', 2^64 - 4096)
====
return {struct.unpack('>L', '\255\255\255\255\255\255\255\255')}
====
return {struct.unpack('>l', '\255\255\255\255\255\255\255\255')}
====
return {struct.unpack('>l', '\128\0\0\0\0\0\0\0')}
====
return struct.pack('i', 'x')
====
return struct.pack('i', '12')
====
return struct.pack('c', 12)
====
return struct.pack('c2', {})
====
return struct.pack()
====
return struct.unpack('b')
====
return struct.unpack()
====
return struct.size()
====
return struct.size(12)
====
return struct.pack('!2 b i b d', 1, 2, 3, 4.5)
====
return struct.pack('!8 b d', 1, 4.5)
====
return struct.pack('!b d', 1, 4.5)
====
return struct.pack('! b h', 1, 2)
====
return struct.pack('b\0b', 1, 2)
====
return {struct.unpack('>I2 x c2 s', '\0\5zab cd\0')}
====
return struct.pack('i3', 2^23)
====
return struct.size('i3 !4 i3')
====
return struct.pack('!4 b i3 b', 1, 2, 3)
====
return {struct.unpack('i99', 'x')}
====
return struct.pack('!99999999999', 1)
====
return struct.pack('c99999999999', 'x')
====
return struct.unpack('c99999999999', 'x')
====
return {struct.unpack('i', 'abcd', 99999999999)}
====
return {struct.unpack('!4 b i', '\1\0\0\0\2\0\0\0')}
====
return {struct.unpack('>hHbB', '\255\254\255\254\255\254')}
====
return {struct.unpack('<TlL', string.rep('\1', 24))}
====
return {struct.unpack('f d', struct.pack('f d', 0.1, 0.1))}
====
return {struct.unpack('d', struct.pack('d', 0/0))}
====
return struct.pack('d', 1/0) .. struct.pack('f', -1/0)
====
return {struct.unpack('xxb', 'abc')}
====
return {struct.unpack('  >  b', 'abc', 3)}
====
return {struct.unpack('s s', 'ab\0cd\0')}
====
return {struct.unpack('c2', 'abc', 2)}
====
return struct.pack('s', 'a\0b')
====
return struct.pack('c0', '')
====
return {struct.unpack('c0', '')}
====
return {struct.unpack('', 'abc')}
====
return {struct.unpack('b', 'abc', '2')}
====
return {struct.unpack('b', 'abc', 'x')}
====
return {struct.unpack('b', 'abc', nil)}
====
return struct.pack('b', 1, 2, 3)
====
return struct.pack('I', 0/0)
====
return struct.pack('i', 1.9) .. struct.pack('i', -1.9)
====
return #struct.pack(string.rep('b', 100), unpack((function() local t = {} for i=1,100 do t[i]=i end return t end)()))
====
return #{struct.unpack(string.rep('b', 7990), string.rep('a', 7990))}
====
return #{struct.unpack(string.rep('b', 8000), string.rep('a', 8000))}
====
local s = struct.pack('>I2 s d', 513, 'hi', 2.5) return {struct.unpack('>I2 s d', s)}
return tostring(math.random())
====
return {tostring(math.random()), math.random(10), math.random(5, 7)}
====
math.randomseed(42) return {math.random(100), math.random(100), math.random(100)}
====
math.randomseed(-7) return {math.random(1000000), math.random(-5, 5), tostring(math.random())}
====
return math.random(0)
====
return math.random(3, 2)
====
return math.random(1, 2, 3)
====
return math.random('x')
====
return math.random('5')
====
return math.random(1, 'y')
====
return math.randomseed()
====
return math.randomseed('z')
====
math.randomseed(2^40) return math.random(1000)
====
return math.random(-2^31, 2^31 - 1) ~= nil
====
return bit.band('x')
====
return bit.band()
====
return bit.band(1, 'x', 'y')
====
return bit.bor(1, 2, 4, 8.6)
====
return bit.tohex(255, 'x')
====
return bit.tohex(255, nil)
====
return bit.tohex(255, 0)
====
return bit.tohex(255, -3)
====
return bit.tohex(-1, 20)
====
return bit.tohex(255, -2^31)
====
return bit.lshift(1)
====
return bit.lshift(1, 33)
====
return bit.rol('3', 1)
====
return bit.tobit()
====
return {pcall()}
====
return {pcall(1)}
====
return pcall()
return table.insert(KEYS,1,2,3)
====
table.insert(KEYS,1,2,3)
====
return string.rep()
====
return string.rep('x')
====
return ('x'):rep()
====
return tonumber()
====
return tostring()
====
return setmetatable(1)
====
return setmetatable({}, 1)
====
return getmetatable()
====
return rawset(1)
====
return rawget({})
====
return rawequal(1)
====
return select(-5)
====
return select('x')
====
return unpack({}, 1, 1e8)
====
return unpack()
====
return pcall()
====
return xpcall()
====
return error()
====
return error('x', 0)
====
return error('x', 2)
====
return error(nil)
====
return assert(false)
====
return assert(nil, 'msg')
====
return assert(false, {err='E'})
====
return type()
====
return next({}, 'nokey')
====
return ipairs()
====
return pairs(nil)
====
return math.floor('x')
====
return math.max()
====
return math.random(2, 1)
====
return string.format('%d', 'x')
====
return string.format('%q')
====
return string.format('%y', 1)
====
return string.sub()
====
return string.byte('a', 1, 1e9)
====
return string.char(256)
====
return string.find('a', '[')
====
return string.gsub('a', '(', 'b')
====
return string.gsub('abc', '%w', '%2')
====
return string.format('%5.2s|%-5d|%+.3f|%x|%X|%o|%e|%g|%c|%%|%i', 'abc', 42, 3.14159, 255, 255, 8, 12345.678, 0.0001, 65, 7)
====
return table.concat({1, {}, 3})
====
return table.concat({}, 1)
====
return table.sort({3, 1, 'x'})
====
return table.sort({1,2,3}, 1)
====
return table.remove()
====
return table.getn()
====
return #KEYS
====
return coroutine.resume()
====
return coroutine.wrap(function() error('in co') end)()
====
local co = coroutine.create(function() error('in co') end) return {coroutine.resume(co)}
====
return loadstring()
====
return loadstring('return +')
====
local f = loadstring('return 1') return f()
====
return redis.call()
====
return redis.call('nosuchcmd')
====
return redis.call('get')
====
return redis.call({})
====
return redis.call('set', 'k', {})
====
return redis.pcall('get')
====
return redis.sha1hex()
====
return redis.sha1hex({})
====
return redis.error_reply()
====
return redis.status_reply()
====
return redis.setresp(4)
====
return redis.set_repl(7)
====
return redis.log(1)
====
return redis.log(7, 'x')
====
return {bit.band(0xff, 0x0f), bit.bor(1, 2), bit.bxor(3, 1), bit.lshift(1, 4), bit.rshift(256, 4), bit.arshift(-256, 4), bit.rol(1, 1), bit.ror(1, 1), bit.bnot(0), bit.tobit(2^32 + 1), bit.tohex(255), bit.tohex(-1, -4), bit.bswap(0x12345678)}
====
return struct.pack('>I', 1)
====
return math.huge
====
return tostring(math.huge) .. tostring(-math.huge) .. tostring(0/0)
====
return tostring(1e15) .. ' ' .. tostring(0.1) .. ' ' .. tostring(2^53) .. ' ' .. tostring(-0.0)
====
return string.format('%.20f', 0.1)
====
return string.format('%s %s', 1e100, 123456789012)
====
return ('%d'):format(3.7)
====
return os.time()
====
return os.clock() >= 0
====
return io
====
return print
====
return dofile
====
return {type(os), type(os.time), type(os.exit)}
====
return gcinfo() > 0
====
return collectgarbage('count') > 0
====
return _VERSION
====
return newproxy
====
return {string.len('\0abc'), #'\0\0'}
====
return tostring(nil) .. tostring(true)
====
return tonumber('0x10') .. ' ' .. tonumber('  12  ') .. ' ' .. tostring(tonumber('1e')) .. ' ' .. tonumber('z', 36) .. ' ' .. tostring(tonumber('8', 8))
====
return tonumber('10', 99)
====
local t = setmetatable({}, {__index=function(t,k) return k..'!' end}) return t.x
====
local t = setmetatable({}, {__tostring=function() return 'T' end}) return tostring(t)
====
return string.format('%s', setmetatable({}, {__tostring=function() return 'T' end}))
====
x = 1
====
return _G.x
====
local a = nil; return a.b
====
local a = {}; return a.b.c
====
return 1 + {}
====
return 'a' + 1
====
return 'a' .. {}
====
return #5
====
return -{}
====
return {} < {}
====
return 1 < 'x'
====
local f = 5; f()
====
undefinedfunc()
====
return string.nofunc()
====
return ("x"):nomethod()
====
while true do break end return 'done'
====
return redis.call('set', 'k', 'v', 'ex', 0)
====
return redis.call('incr', 'nonint')
====
redis.call('set', 'nonint', 'a') return redis.call('incr', 'nonint')
====
return redis.pcall('incr', 'nonint')
====
local r = redis.pcall('incr', 'nonint') return r.err
====
return {pcall(redis.call, 'incr', 'nonint')}
====
return {pcall(error, {err='X'})}
====
return {pcall(error, 'plain')}
====
return {pcall(error)}
====
return {pcall(function() local x = nil; return x.y end)}
====
return {xpcall(function() error('e1') end, function(m) return 'handled: ' .. m end)}
====
return {pcall(string.rep)}
====
return {pcall(cjson.decode, '{')}
====
return {pcall(redis.sha1hex)}
====
return {pcall(redis.call)}
====
return {pcall(redis.call, 'nosuch')}
====
return {pcall(table.insert, {}, 1, 2, 3)}
====
return redis.breakpoint()
====
return redis.debug('x')
====
return redis.replicate_commands()
====
return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING, redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL}
====
return string.format('%5s|%-5s|', 'ab', 'cd')
====
return string.format('%q', 'a\n\0"\\')
====
return {string.find('hello world', 'o w'), string.find('hello', 'l+'), string.match('key:123', '(%a+):(%d+)')}
====
return {string.gsub('hello world', 'o', '0', 1)}
====
return string.gsub('abc', '%w', {a='1', b=true})
====
return string.gsub('abc', '%w', function(c) if c == 'b' then return false end return c:upper() end)
====
return {string.byte('abc', -1), string.sub('abcdef', -3, -2), string.upper('aBc'), string.lower('AbC'), string.reverse('abc')}
====
return table.concat({1, 2, 3}, ', ', 2, 3)
====
local t = {5, 2, 8, 1} table.sort(t, function(a, b) return a > b end) return t
====
local t = {} table.insert(t, 'a') table.insert(t, 1, 'b') return {t[1], t[2], table.remove(t), #t}
====
return math.fmod(7, 3) .. ' ' .. math.floor(-3.5) .. ' ' .. math.ceil(-3.5) .. ' ' .. math.abs(-2) .. ' ' .. math.sqrt(16) .. ' ' .. math.pow(2, 10) .. ' ' .. math.log(1) .. ' ' .. math.exp(0) .. ' ' .. math.pi
====
return {math.modf(3.7)}
====
return {math.frexp(8)}
====
return math.ldexp(1, 3)
====
return {math.min(3, 1, 2), math.max(3, 1, 2)}
====
return math.random(1, 1)
====
local ok, e = pcall(setmetatable, 1) return e
====
return (setmetatable(1))
====
local x = setmetatable(1) return x
====
local t = {} for k, v in pairs(t) do end return 'ok'
====
for k in pairs(nil) do end
====
return next({})
====
return {next({5})}
====
local t = {a=1} local k, v = next(t) return {k, v}
====
return rawset(redis, 'x', 1)
====
rawset(redis, 'x', 1)
====
return table.insert(redis, 1)
====
return setmetatable(redis, {})
====
return rawget(redis, 'call') ~= nil
====
return loadstring(1)()
====
return loadstring({})
====
return load('x')
====
local co = coroutine.create(function() return pcall(function() coroutine.yield(1) end) end) return {coroutine.resume(co)}
====
local co = coroutine.wrap(function() coroutine.yield(5) return 6 end) return {co(), co()}
====
return {pcall(pcall)}
====
return {pcall(pcall, error, 'x')}
====
return select('#', pcall(function() return 1, 2, 3 end))
====
return {pcall(function(...) return ... end, 1, nil, 3)}
====
return {xpcall(function() return setmetatable(1) end, function(e) return 'H: ' .. e end)}
====
return getmetatable('').__index == string
====
return getmetatable(redis)
====
return {pcall(rawset, redis, 'x', 1)}
====
local s = setmetatable return s(1)
====
local t = {} return t:insert()
====
local t = {insert = table.insert} return t:insert()
====
local ok, e = pcall(table.insert, {}, 'x', 1) return e
====
local ok, e = pcall(rawget) return e
====
local ok, e = pcall(loadstring) return e
====
return next(1)
====
local n = next return n(1)

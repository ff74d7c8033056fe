-- replay --append: commit one batch. KEYS: current, meta, inputs. ARGV: generation; the
-- number of meta times to raise and their (field, value) pairs (clock, horizon, a
-- strategy's `x:` times, the sketches' `d:horizon`); the number of input positions and their (field, value) pairs;
-- then metric/delta pairs. Refuses when the generation is no longer live. A position never
-- moves backwards for the same file (same device, inode, head and head length);
-- positions older hitcounts wrote are compared the same way.
-- Returns the shared clock, horizon and d:horizon.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('HITCOUNT_REPLACED the state was replaced while replaying')
end
local function raise(field, value)
  if value == '' then return end
  local old = redis.call('HGET', KEYS[2], field)
  if old == false or old == '' or tonumber(value) > tonumber(old) then
    redis.call('HSET', KEYS[2], field, value)
  end
end
local at = 2
for _ = 1, tonumber(ARGV[at]) do raise(ARGV[at + 1], ARGV[at + 2]); at = at + 2 end
at = at + 1
local function shape(p)  -- a position as hitcount writes it now, from either shape
  local i = p.identity
  if type(i) == 'table' then
    return {device = i.dev, inode = i.ino, head_bytes = p.head_len, head_sha256 = i.head,
            lines = p.lines}
  end
  return p
end
local function same_file(a, b)
  a, b = shape(a), shape(b)
  return a.device == b.device and a.inode == b.inode
    and a.head_bytes == b.head_bytes and a.head_sha256 == b.head_sha256
end
local function place(field, value)
  local old = redis.call('HGET', KEYS[3], field)
  if old then
    local ok, was = pcall(cjson.decode, old)
    local new = cjson.decode(value)
    if ok and type(was) == 'table' and same_file(was, new)
        and tonumber(was.lines) and tonumber(was.lines) > new.lines then
      return
    end
  end
  redis.call('HSET', KEYS[3], field, value)
end
for _ = 1, tonumber(ARGV[at]) do place(ARGV[at + 1], ARGV[at + 2]); at = at + 2 end
for i = at + 1, #ARGV, 2 do redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[i + 1]) end
return {redis.call('HGET', KEYS[2], 'clock'), redis.call('HGET', KEYS[2], 'horizon'),
  redis.call('HGET', KEYS[2], 'd:horizon')}

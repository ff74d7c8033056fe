-- replay --append: commit one batch. KEYS: current, meta, inputs. ARGV: generation; the
-- number of meta times to raise and their (field, value) pairs (clock, horizon, a
-- strategy's `x:` times); the number of input positions and their (field, value) pairs;
-- then metric/delta pairs. Refuses when the generation is no longer live.
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
for _ = 1, tonumber(ARGV[at]) do
  redis.call('HSET', KEYS[3], ARGV[at + 1], ARGV[at + 2]); at = at + 2
end
for i = at + 1, #ARGV, 2 do redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[i + 1]) end
return {redis.call('HGET', KEYS[2], 'clock'), redis.call('HGET', KEYS[2], 'horizon')}

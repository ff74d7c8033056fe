-- morris: the levels of the hash KEYS[1] (field i -> level, absent: 0) become ARGV[k+2..2k+1]
-- only if they still are ARGV[2..k+1] (k = ARGV[1]). The new levels were computed by the
-- strategy's own update rule (MorrisCounter.advanced) from the expected ones; this script
-- only applies them atomically. Returns 1 when written, 0 when another writer came first.
local k = tonumber(ARGV[1])
for i = 0, k - 1 do
  local now = redis.call('HGET', KEYS[1], i) or '0'
  if tonumber(now) ~= tonumber(ARGV[i + 2]) then return 0 end
end
for i = 0, k - 1 do
  redis.call('HSET', KEYS[1], i, ARGV[k + i + 2])
end
return 1

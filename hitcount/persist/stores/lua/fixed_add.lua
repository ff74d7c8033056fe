-- fixed: add the (bucket, count) pairs after ARGV[2 + ARGV[2]] to the hash KEYS[1], then
-- drop the buckets below ARGV[1] (the first kept bucket; empty: keep all). ARGV[3..2+n]
-- (n = ARGV[2]) are buckets the batch already counted as pruned. Returns the buckets
-- dropped, but those.
-- Damaged data (a value hitcount could not have written) is refused before any write.
local function damaged(what)
  return redis.error_reply('HITCOUNT_DAMAGED ' .. KEYS[1] .. ': ' .. what)
end
local kind = redis.call('TYPE', KEYS[1]).ok
if kind ~= 'none' and kind ~= 'hash' then return damaged('it holds another type of value') end
local held = redis.call('HGETALL', KEYS[1])
for i = 1, #held, 2 do
  if not string.match(held[i], '^%-?%d+$') then return damaged('bad field ' .. held[i]) end
  if not string.match(held[i + 1], '^%d+$') then
    return damaged('the count of ' .. held[i] .. ' is not a count: ' .. held[i + 1])
  end
end
local counted = {}
local n = tonumber(ARGV[2])
for i = 3, 2 + n do counted[ARGV[i]] = true end
for i = 3 + n, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
local removed = 0
local first_kept = tonumber(ARGV[1])
if first_kept ~= nil then
  for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
    if tonumber(field) < first_kept then
      redis.call('HDEL', KEYS[1], field)
      if not counted[field] then removed = removed + 1 end
    end
  end
end
return removed

-- tiered: add the (tier, bucket, count) triples after ARGV[4 + ARGV[4]] to the hash KEYS[1]
-- (fields `tier:bucket`), then drop each tier's buckets below its first kept index
-- (ARGV[1..3], empty: keep all). ARGV[5..4+n] (n = ARGV[4]) are fields the batch already
-- counted as pruned. Returns the coarse buckets dropped, but those (`pruned_events` counts
-- only the coarse tier: how many finer buckets a batch fills and drops depends on batching).
-- Damaged data (a value hitcount could not have written) is refused before any write.
local function damaged(what)
  return redis.error_reply('HITCOUNT_DAMAGED ' .. KEYS[1] .. ': ' .. what)
end
local kind = redis.call('TYPE', KEYS[1]).ok
if kind ~= 'none' and kind ~= 'hash' then return damaged('it holds another type of value') end
local held = redis.call('HGETALL', KEYS[1])
for i = 1, #held, 2 do
  if not string.match(held[i], '^[0-2]:%-?%d+$') then return damaged('bad field ' .. held[i]) end
  if not string.match(held[i + 1], '^%d+$') then
    return damaged('the count of ' .. held[i] .. ' is not a count: ' .. held[i + 1])
  end
end
local first = {tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])}
local counted = {}
local n = tonumber(ARGV[4])
for i = 5, 4 + n do counted[ARGV[i]] = true end
for i = 5 + n, #ARGV, 3 do
  redis.call('HINCRBY', KEYS[1], ARGV[i] .. ':' .. ARGV[i + 1], ARGV[i + 2])
end
local removed = 0
if first[1] or first[2] or first[3] then
  for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
    local sep = string.find(field, ':', 1, true)
    local tier = tonumber(string.sub(field, 1, sep - 1)) + 1
    if first[tier] and tonumber(string.sub(field, sep + 1)) < first[tier] then
      redis.call('HDEL', KEYS[1], field)
      if tier == 3 and not counted[field] then removed = removed + 1 end
    end
  end
end
return removed

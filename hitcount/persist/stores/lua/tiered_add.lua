-- tiered: add ARGV[4..] (tier, bucket, count triples) to the hash KEYS[1] (fields
-- `tier:bucket`), then drop each tier's buckets below its first kept index (ARGV[1..3],
-- empty: keep all). Returns the buckets dropped.
local first = {tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])}
for i = 4, #ARGV, 3 do
  redis.call('HINCRBY', KEYS[1], ARGV[i] .. ':' .. ARGV[i + 1], ARGV[i + 2])
end
local removed = 0
if first[1] or first[2] or first[3] then
  for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
    local sep = string.find(field, ':', 1, true)
    local tier = tonumber(string.sub(field, 1, sep - 1)) + 1
    if first[tier] and tonumber(string.sub(field, sep + 1)) < first[tier] then
      redis.call('HDEL', KEYS[1], field)
      removed = removed + 1
    end
  end
end
return removed

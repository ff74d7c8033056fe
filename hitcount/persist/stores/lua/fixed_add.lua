-- fixed: add ARGV[2..] (bucket, count pairs) to the hash KEYS[1], then drop the buckets
-- below ARGV[1] (the first kept bucket; empty: keep all). Returns the buckets dropped.
for i = 2, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
local removed = 0
local first_kept = tonumber(ARGV[1])
if first_kept ~= nil then
  for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
    if tonumber(field) < first_kept then
      redis.call('HDEL', KEYS[1], field)
      removed = removed + 1
    end
  end
end
return removed

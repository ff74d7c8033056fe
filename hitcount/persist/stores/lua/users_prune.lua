-- Distinct-user sketches: delete the buckets of the users hash KEYS[1] before ARGV[1] (the
-- first bucket kept). Returns how many were deleted.
local first, gone = tonumber(ARGV[1]), 0
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  local bucket = tonumber(field)
  if bucket ~= nil and bucket < first then
    redis.call('HDEL', KEYS[1], field)
    gone = gone + 1
  end
end
return gone

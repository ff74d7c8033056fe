-- Distinct-user sketches on a cluster: KEYS[1] is an endpoint's users hash; ARGV[1] = n,
-- then n (bucket, expected, new) triples. Writes every new sketch only if each bucket still
-- holds the expected one ('' : absent). Returns 1 when written, 0 when another writer came
-- first (the caller reads again and merges again).
local n = tonumber(ARGV[1])
for i = 0, n - 1 do
  local now = redis.call('HGET', KEYS[1], ARGV[2 + 3 * i]) or ''
  if now ~= ARGV[3 + 3 * i] then return 0 end
end
for i = 0, n - 1 do redis.call('HSET', KEYS[1], ARGV[2 + 3 * i], ARGV[4 + 3 * i]) end
return 1

-- A sweep's pruned entries, added to `m:pruned_events` of the meta hash KEYS[2] only while
-- the generation ARGV[1] is still the live one (KEYS[1]: current): a replaced generation's
-- meta hash is deleted, and must not come back. ARGV[2]: the entries. Returns 1 if added.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('HINCRBY', KEYS[2], 'm:pruned_events', ARGV[2])
return 1

-- ehist, auto: replace the document of the hash KEYS[1] by ARGV[2] with ARGV[3] entries
-- (delete the key when ARGV[2] is empty) only if it still is ARGV[1] (empty: absent).
-- Returns 1 when written, 0 when another writer came first.
local now = redis.call('HGET', KEYS[1], 'doc')
if (now or '') ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'doc', ARGV[2], 'entries', ARGV[3])
end
return 1

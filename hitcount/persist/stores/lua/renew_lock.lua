-- Extend the lease of the lock KEYS[1] to ARGV[2] ms, only if it still holds this writer's
-- token ARGV[1]. Returns 1 when renewed, 0 when the lock is no longer this writer's.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0

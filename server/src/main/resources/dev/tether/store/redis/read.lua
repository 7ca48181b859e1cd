-- Reads streams of the Redis store (RedisStreamStore) as they are now, for cluster mode's lookups.
-- KEYS[1]: the key prefix. ARGV[1]: 'path' or 'id' (what ARGV[3..] are); ARGV[2]: '1' to include
-- producer state. Returns one entry per stream found: {id, record JSON, fork count, renewed-at
-- millis, {producer, "epoch:seq", ...}}; a path or id with no stream is left out.
local p = KEYS[1]
local out = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  if ARGV[1] == 'path' then id = redis.call('HGET', p .. 'paths', ARGV[i]) end
  local rec = id and redis.call('HGET', p .. 'streams', id)
  if rec then
    local producers = {}
    if ARGV[2] == '1' then producers = redis.call('HGETALL', p .. 'prod:' .. id) end
    out[#out + 1] = {
      id, rec,
      redis.call('HGET', p .. 'forks', id) or '0',
      redis.call('HGET', p .. 'access', id) or '0',
      producers}
  end
end
return out

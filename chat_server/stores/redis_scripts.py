"""The Redis store's Lua scripts: each write is one script, atomic across processes."""

from __future__ import annotations

from typing import Final

# KEYS: user, users, names, session, user_sessions. ARGV: userID, username, name key,
# created, unique, session hash
CREATE_USER: Final = """
if ARGV[5] == '1' and tonumber(redis.call('HGET', KEYS[3], ARGV[3]) or '0') > 0 then
  return 'taken'
end
if redis.call('HSETNX', KEYS[1], 'username', ARGV[2]) == 0 then
  return 'idtaken'
end
redis.call('HSET', KEYS[1], 'created', ARGV[4])
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
redis.call('SET', KEYS[4], ARGV[1])
redis.call('HSET', KEYS[5], ARGV[6], ARGV[4])
return 'ok'
"""

# KEYS: msgid, conv, peers:from, peers:to, convs, idmarks, cid (or ""), msgcount
# ARGV: from, to, content, ts, clientId (or ""), minute, conv key, cid ttl (0: none)
# Returns {created (0/1), id, from, to, content, ts, clientId}
SAVE_MESSAGE: Final = """
if ARGV[5] ~= '' then
  local found = redis.call('GET', KEYS[7])
  if found then
    local sp = string.find(found, ' ')
    local id = string.sub(found, 1, sp - 1)
    local conv = string.sub(found, sp + 1)
    local entry = redis.call('XRANGE', conv, id .. '-0', id .. '-0')
    if #entry == 1 then
      local f = {}
      local fields = entry[1][2]
      for i = 1, #fields, 2 do f[fields[i]] = fields[i + 1] end
      return {0, id, f['f'], f['t'], f['c'], f['ts'], f['cid'] or ''}
    end
  end
end
local id = redis.call('INCR', KEYS[1])
redis.call('INCR', KEYS[8])
redis.call('XADD', KEYS[2], id .. '-0', 'f', ARGV[1], 't', ARGV[2], 'c', ARGV[3],
           'ts', ARGV[4], 'cid', ARGV[5])
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('SADD', KEYS[5], ARGV[7])
redis.call('HSETNX', KEYS[6], ARGV[6], id)
if ARGV[5] ~= '' then
  if tonumber(ARGV[8]) > 0 then
    redis.call('SET', KEYS[7], id .. ' ' .. ARGV[7], 'EX', ARGV[8])
  else
    redis.call('SET', KEYS[7], id .. ' ' .. ARGV[7])
  end
end
return {1, tostring(id), ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]}
"""

# KEYS: read (user's markers), receipt (user's public markers), the conversation stream
# ARGV: peer, up to, private ('1' or '0'), at (ms). Returns {marker or '', moved (0/1)}
MARK_READ: Final = """
local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
local current = redis.call('HGET', KEYS[1], ARGV[1])
if #last == 0 then
  return {current or '', 0}
end
local last_id = tonumber(string.match(last[1][1], '^(%d+)'))
local target = math.min(tonumber(ARGV[2]), last_id)
if current and target <= tonumber(current) then
  return {current, 0}
end
redis.call('HSET', KEYS[1], ARGV[1], target)
if ARGV[3] == '0' then
  redis.call('HSET', KEYS[2], ARGV[1], target .. ' ' .. ARGV[4])
end
return {tostring(target), 1}
"""

# KEYS: the conversation stream. ARGV: the peer, the marker (entries after it count), cap.
# Returns how many of the peer's messages come after the marker (at most cap).
COUNT_UNREAD: Final = """
local count, after, cap = 0, ARGV[2] .. '-0', tonumber(ARGV[3])
while count < cap do
  local entries = redis.call('XRANGE', KEYS[1], '(' .. after, '+', 'COUNT', 500)
  if #entries == 0 then break end
  for _, entry in ipairs(entries) do
    local fields = entry[2]
    for i = 1, #fields, 2 do
      if fields[i] == 'f' then
        if fields[i + 1] == ARGV[1] then count = count + 1 end
        break
      end
    end
    after = entry[1]
  end
end
return math.min(count, cap)
"""
